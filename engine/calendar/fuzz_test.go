package calendar

import (
	"testing"
	"time"
)

func FuzzParseEvent(f *testing.F) {
	for _, s := range oracleExprs {
		f.Add(s)
	}
	for _, s := range oracleInvalid {
		f.Add(s)
	}
	bases := []time.Time{
		time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if berlin, err := time.LoadLocation("Europe/Berlin"); err == nil {
		bases = append(bases, time.Date(2026, 10, 25, 2, 59, 0, 0, berlin))
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEvent(s)
		if err != nil {
			return
		}
		norm := e.String()
		e2, err := ParseEvent(norm)
		if err != nil {
			t.Fatalf("normalized form %q of %q does not parse: %v", norm, s, err)
		}
		if e2.String() != norm {
			t.Fatalf("normalized form of %q is %q, then %q", s, norm, e2)
		}
		for _, base := range bases {
			after := base
			for range 3 {
				next, ok := e.Next(after)
				if !ok {
					break
				}
				if !next.After(after) {
					t.Fatalf("%q: Next(%s) = %s is not after it", s, after, next)
				}
				if n2, ok2 := e2.Next(after); !ok2 || !n2.Equal(next) {
					t.Fatalf("%q: Next(%s) = %s, normalized form gives %s", s, after, next, n2)
				}
				after = next
			}
		}
	})
}

func FuzzParseTimeSpan(f *testing.F) {
	for _, s := range []string{
		"7days", "2 weeks", "1h 30min", "5 d", "1y", "3 months", "90s", "2w 3d",
		"1.5h", ".5s", "1 2", "1sec2min", "1µs", "1..2", "infinity", "-1",
		"290y 290y", "99999999999999999999s", "1.0000001s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTimeSpan(s)
		if err != nil {
			return
		}
		if d < 0 || d%time.Microsecond != 0 {
			t.Fatalf("ParseTimeSpan(%q) = %d", s, d)
		}
		f := FormatTimeSpan(d)
		d2, err := ParseTimeSpan(f)
		if err != nil || d2 != d {
			t.Fatalf("ParseTimeSpan(%q) = %v, formatted %q parses to %v, %v", s, d, f, d2, err)
		}
	})
}
