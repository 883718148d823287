package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseEventNormalized(t *testing.T) {
	tests := []struct{ in, want string }{
		{"daily", "*-*-* 00:00:00"},
		{"weekly", "Mon *-*-* 00:00:00"},
		{"monthly", "*-*-01 00:00:00"},
		{"yearly", "*-01-01 00:00:00"},
		{"quarterly", "*-01,04,07,10-01 00:00:00"},
		{"semiannually", "*-01,07-01 00:00:00"},
		{"hourly", "*-*-* *:00:00"},
		{"minutely", "*-*-* *:*:00"},
		{"mon..fri 18:00", "Mon..Fri *-*-* 18:00:00"},
		{"Mon,Wed *-*-* 00:00:00", "Mon,Wed *-*-* 00:00:00"},
		{"*-*-1 02:00", "*-*-01 02:00:00"},
		{"*:0/15", "*-*-* *:00/15:00"},
		{"2026-12-24 12:00", "2026-12-24 12:00:00"},
		{"sat", "Sat *-*-* 00:00:00"},
		{"*-*-* 00/2:00", "*-*-* 00/2:00:00"},
		{"Sun,Sat,Mon,Tue", "Mon,Tue,Sat,Sun *-*-* 00:00:00"},
		{"Mon..Sun 1:2:3", "*-*-* 01:02:03"},
		{"*-02~1", "*-02~01 00:00:00"},
		{"*:*:1.5", "*-*-* *:*:01.500000"},
		{"3,1,2,1:00", "*-*-* 01,02,03:00:00"},
		{"10..20/4:00", "*-*-* 10..18/4:00:00"},
		{"30-1-1", "2030-01-01 00:00:00"},
		{"12:00 uTc", "*-*-* 12:00:00 UTC"},
	}
	for _, tt := range tests {
		e, err := ParseEvent(tt.in)
		if err != nil {
			t.Errorf("ParseEvent(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("ParseEvent(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mon..xyz 18:00", "invalid calendar event 'mon..xyz 18:00': unknown weekday 'xyz'"},
		{"", "no date or time given"},
		{"xyz", "invalid calendar event 'xyz': unknown keyword or weekday 'xyz'"},
		{"fortnightly", "unknown keyword or weekday 'fortnightly'"},
		{"Mon foo", "unknown keyword or weekday 'foo'"},
		{"mond", "unknown weekday 'mond'"},
		{"Wed..Mon", "weekday range 'Wed..Mon' runs backwards"},
		{"Mon..", "weekday range 'Mon..' has no end"},
		{"Mon..Wed..Fri", "bad weekday range 'Mon..Wed..Fri'"},
		{"*-*-* 24:00", "hour '24' is out of range 0..23"},
		{"*-13-01", "month '13' is out of range 1..12"},
		{"*-*-32", "day '32' is out of range 1..31"},
		{"*:60", "minute '60' is out of range 0..59"},
		{"*:*:60", "second '60' is out of range 0..59"},
		{"1969-01-01", "year '1969' is out of range 1970..2199"},
		{"5..1:00", "hour range '5..1' is empty or runs backwards"},
		{"*:*:1/0", "bad second '1/0': repetition must not be 0"},
		{"*-*~29", "day '29' is out of range 1..28"},
		{"*-*~01/2", "day '~1/2' repeats past the last day of the month"},
		{"*-*-* 23/1:00", "hour '23/1' repeats past the end of the range 0..23"},
		{"12:00 Mon", "bad time '12:00'"},
		{"1:2:3:4", "bad time '1:2:3:4'"},
		{"*/2:00", "bad date or time '*/2:00'"},
		{"4294967297:00", "bad date or time '4294967297': number too large"},
		{"00:00:00.", "bad second '00.': digits expected after the decimal point"},
		{"2026-01-01 12:00 Mars/Olympus", "bad time '12:00'"},
		{"@x", "bad timestamp '@x'"},
		{"@7258118400", "timestamp '@7258118400' is after the year 2199"},
		{"@99999999999999999999", "bad timestamp '@99999999999999999999': number too large"},
	}
	for _, tt := range tests {
		e, err := ParseEvent(tt.in)
		if err == nil {
			t.Errorf("ParseEvent(%q) = %q, want error %q", tt.in, e, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("ParseEvent(%q) error %v does not wrap ErrInvalidEvent", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEvent(%q) error\n %q\nwant it to contain\n %q", tt.in, err, tt.want)
		}
	}
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t
}

// nextN returns n successive elapses of e after base, formatted with
// microseconds; it stops early if the event ends.
func nextN(t *testing.T, e *Event, base time.Time, n int) []string {
	t.Helper()
	var out []string
	for range n {
		next, ok := e.Next(base)
		if !ok {
			break
		}
		if !next.After(base) {
			t.Fatalf("%q: Next(%s) = %s, not after it", e, base, next)
		}
		out = append(out, next.Format("2006-01-02 15:04:05.999999"))
		base = next
	}
	return out
}

func TestNext(t *testing.T) {
	tests := []struct {
		expr, base string
		want       []string
	}{
		{"daily", "2026-03-01 00:00:00", []string{"2026-03-02 00:00:00", "2026-03-03 00:00:00"}},
		{"daily", "2026-02-28 23:59:59.999999", []string{"2026-03-01 00:00:00", "2026-03-02 00:00:00"}},
		{"weekly", "2026-03-04 12:00:00", []string{"2026-03-09 00:00:00", "2026-03-16 00:00:00"}},
		{"monthly", "2026-01-31 00:00:00", []string{"2026-02-01 00:00:00", "2026-03-01 00:00:00"}},
		{"yearly", "2026-06-01 00:00:00", []string{"2027-01-01 00:00:00", "2028-01-01 00:00:00"}},
		{"quarterly", "2026-11-01 00:00:00", []string{"2027-01-01 00:00:00", "2027-04-01 00:00:00"}},
		{"mon..fri 18:00", "2026-03-06 18:00:00", []string{"2026-03-09 18:00:00", "2026-03-10 18:00:00"}},
		{"*:0/15", "2026-03-01 23:50:00", []string{"2026-03-02 00:00:00", "2026-03-02 00:15:00"}},
		{"*-*-31", "2026-04-01 00:00:00", []string{"2026-05-31 00:00:00", "2026-07-31 00:00:00"}},
		{"*-2-29 12:00", "2026-01-01 00:00:00", []string{"2028-02-29 12:00:00", "2032-02-29 12:00:00"}},
		{"*-02~01", "2027-06-01 00:00:00", []string{"2028-02-29 00:00:00", "2029-02-28 00:00:00"}},
		{"Fri *-*~07/1", "2026-03-01 00:00:00", []string{"2026-03-27 00:00:00", "2026-04-24 00:00:00"}},
		{"*:*:00/0.5", "2026-03-01 00:00:59", []string{"2026-03-01 00:00:59.5", "2026-03-01 00:01:00"}},
		{"2026-12-24 12:00", "2026-03-01 00:00:00", []string{"2026-12-24 12:00:00"}},
		{"2026-12-24 12:00", "2026-12-24 12:00:00", nil},
		{"Wed 2026-02-29", "2020-01-01 00:00:00", nil},
		{"*-02-30", "2026-01-01 00:00:00", nil},
		{"2199-12-31 23:59:59", "2199-12-31 23:59:58.5", []string{"2199-12-31 23:59:59"}},
		{"daily", "2199-12-31 00:00:00", nil},
		{"daily", "1900-05-05 10:00:00", []string{"1970-01-01 00:00:00", "1970-01-02 00:00:00"}},
		{"@1700000000", "2000-01-01 00:00:00", []string{"2023-11-14 22:13:20"}},
	}
	for _, tt := range tests {
		e, err := ParseEvent(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		got := nextN(t, e, utc(tt.base), len(tt.want)+1)
		if len(tt.want) > 0 {
			got = got[:min(len(got), len(tt.want))]
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%q after %s: got %v, want %v", tt.expr, tt.base, got, tt.want)
		}
	}
}

// TestNextRepetitionAtMonthEnd covers the cases systemd 252 gets wrong (see
// oracleBugs): the first value of a repetition right after a month or year
// change.
func TestNextRepetitionAtMonthEnd(t *testing.T) {
	tests := []struct {
		expr, base string
		want       []string
	}{
		{"0/5:00", "2027-12-31 23:59:59", []string{"2028-01-01 00:00:00", "2028-01-01 05:00:00"}},
		{"0/5:00", "2026-03-31 23:59:59", []string{"2026-04-01 00:00:00", "2026-04-01 05:00:00"}},
		{"*-*-1/7", "2027-12-31 23:59:59", []string{"2028-01-01 00:00:00", "2028-01-08 00:00:00"}},
		{"*-*-1/5 04:00", "2022-02-28 01:00:00", []string{"2022-03-01 04:00:00", "2022-03-06 04:00:00"}},
		{"*-*-1/11 23:00", "2025-12-23 23:00:00", []string{"2026-01-01 23:00:00", "2026-01-12 23:00:00"}},
	}
	for _, tt := range tests {
		e, err := ParseEvent(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := nextN(t, e, utc(tt.base), len(tt.want)); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%q after %s: got %v, want %v", tt.expr, tt.base, got, tt.want)
		}
	}
}

func TestNextLocation(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	base := time.Date(2026, 7, 1, 12, 0, 0, 0, berlin) // CEST, UTC+2
	tests := []struct {
		expr string
		want time.Time
	}{
		// Without a zone the event follows after's location.
		{"18:00", time.Date(2026, 7, 1, 16, 0, 0, 0, time.UTC)},
		{"18:00 UTC", time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC)},
		{"18:00 America/New_York", time.Date(2026, 7, 1, 22, 0, 0, 0, time.UTC)},
		// Clocks go forward at 02:00 on 2026-03-29: 02:30 does not exist.
		{"2026-03-29 02:30", time.Time{}},
		{"2026-03-29 03:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		e, err := ParseEvent(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		b := base
		if tt.want.IsZero() || tt.want.Before(b) {
			b = time.Date(2026, 1, 1, 0, 0, 0, 0, berlin)
		}
		got, ok := e.Next(b)
		if tt.want.IsZero() {
			if ok {
				t.Errorf("%q after %s = %s, want never", tt.expr, b, got)
			}
			continue
		}
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%q after %s = %s %v, want %s", tt.expr, b, got, ok, tt.want)
		}
		if ok && got.Location() != berlin {
			t.Errorf("%q: result in %s, want after's location", tt.expr, got.Location())
		}
	}

	// A wall time skipped by the change elapses the next day; one repeated
	// when clocks go back elapses once per occurrence search.
	e, err := ParseEvent("02:30")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin))
	if want := time.Date(2026, 3, 30, 2, 30, 0, 0, berlin); !got.Equal(want) {
		t.Errorf("02:30 over the spring change: %s, want %s", got, want)
	}
	got, _ = e.Next(time.Date(2026, 10, 24, 12, 0, 0, 0, berlin))
	if want := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("02:30 over the autumn change: %s, want %s (first occurrence)", got, want)
	}
	// From inside the repeated hour (second occurrence), the next 02:45 is
	// the one in that same hour, not the earlier first occurrence.
	e, err = ParseEvent("*:45")
	if err != nil {
		t.Fatal(err)
	}
	after := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC) // 02:30 CET
	got, _ = e.Next(after)
	if want := time.Date(2026, 10, 25, 1, 45, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("*:45 inside the repeated hour: %s, want %s", got, want)
	}
}

// TestStringRoundTrip checks that the normalized form parses to the same
// event.
func TestStringRoundTrip(t *testing.T) {
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, s := range oracleExprs {
		e, err := ParseEvent(s)
		if err != nil {
			t.Fatalf("ParseEvent(%q): %v", s, err)
		}
		e2, err := ParseEvent(e.String())
		if err != nil {
			t.Errorf("ParseEvent(%q) (normalized from %q): %v", e, s, err)
			continue
		}
		if e2.String() != e.String() {
			t.Errorf("%q: normalized %q, again %q", s, e, e2)
		}
		if a, b := nextN(t, e, base, 3), nextN(t, e2, base, 3); strings.Join(a, "|") != strings.Join(b, "|") {
			t.Errorf("%q: elapses %v, after round trip %v", s, a, b)
		}
	}
}
