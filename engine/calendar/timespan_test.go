package calendar

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 2_629_800 * time.Second
	year  = 31_557_600 * time.Second
)

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"7days", 7 * day},
		{"2 weeks", 2 * week},
		{"1h 30min", 90 * time.Minute},
		{"5 d", 5 * day},
		{"1y", year},
		{"3 months", 3 * month},
		{"90s", 90 * time.Second},
		{"2w 3d", 2*week + 3*day},
		{"1.5h", 90 * time.Minute},
		{"0", 0},
		{"42", 42 * time.Second},
		{"1 2", 3 * time.Second},
		{".5s", 500 * time.Millisecond},
		{"5 .5s", 5500 * time.Millisecond},
		{"1h1m", 61 * time.Minute},
		{"1 h 1 m", 61 * time.Minute},
		{"1M", month},
		{"1m", time.Minute},
		{"1msec", time.Millisecond},
		{"1ms 1us", time.Millisecond + time.Microsecond},
		{"1µs", time.Microsecond},
		{"1μs", time.Microsecond},
		{"1sec2min", 121 * time.Second},
		{"3 hours 25 minutes", 3*time.Hour + 25*time.Minute},
		{" \t1hr\n", time.Hour},
		{"1.0000001s", time.Second}, // below a microsecond is dropped
		{"290y", 290 * year},
	}
	for _, tt := range tests {
		got, err := ParseTimeSpan(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseTimeSpanErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "invalid time span '': no number given"},
		{"  ", "no number given"},
		{"1x", "unknown unit 'x'"},
		{"7 dayz", "unknown unit 'dayz'"},
		{"1hh", "unknown unit 'hh'"},
		{"1h x", "number expected at 'x'"},
		{"1..2", "digits expected after '1.'"},
		{"1.s", "digits expected after '1.'"},
		{"-1s", "negative spans are not allowed"},
		{"1,5h", "unknown unit ',5h'"},
		{"1e3s", "unknown unit 'e3s'"},
		{"infinity", "an infinite span is not supported"},
		{"300y", "'300y' is too long"},
		{"290y 290y", "span is too long"},
		{"99999999999999999999s", "is too long"},
		{"1ns", "unknown unit 'ns'"},
	}
	for _, tt := range tests {
		d, err := ParseTimeSpan(tt.in)
		if err == nil {
			t.Errorf("ParseTimeSpan(%q) = %v, want error %q", tt.in, d, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidTimeSpan) {
			t.Errorf("ParseTimeSpan(%q) error %v does not wrap ErrInvalidTimeSpan", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTimeSpan(%q) error %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestFormatTimeSpan(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0"},
		{week + 2*day + 3*time.Hour, "1w 2d 3h"},
		{90 * time.Second, "1min 30s"},
		{1500 * time.Millisecond, "1.500000s"},
		{1500 * time.Microsecond, "1.500ms"},
		{time.Microsecond, "1us"},
		{999 * time.Nanosecond, "0"},
		{3 * month, "3month"},
		{year + month, "1y 1month"},
		{-time.Hour, "-1h"},
		{time.Hour + time.Millisecond, "1h 1ms"},
	}
	for _, tt := range tests {
		if got := FormatTimeSpan(tt.in); got != tt.want {
			t.Errorf("FormatTimeSpan(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatTimeSpanRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{
		1, time.Microsecond, 59*time.Second + 999999*time.Microsecond,
		year + month + week + day + time.Hour + time.Minute + time.Second + time.Millisecond + time.Microsecond,
		290 * year, time.Duration(1<<63 - 1),
	} {
		s := FormatTimeSpan(d)
		got, err := ParseTimeSpan(s)
		if want := d.Truncate(time.Microsecond); err != nil || got != want {
			t.Errorf("ParseTimeSpan(FormatTimeSpan(%d) = %q) = %d, %v; want %d", d, s, got, err, want)
		}
	}
}

// TestTimeSpanOracle compares ParseTimeSpan and FormatTimeSpan with
// systemd-analyze timespan.
func TestTimeSpanOracle(t *testing.T) {
	needOracle(t)
	inputs := []string{
		"7days", "2 weeks", "1h 30min", "5 d", "1y", "3 months", "90s", "2w 3d",
		"1.5h", "0", "1", "1ms", "1us", "1.5", "100000d", "1M", "1y 1M", "61min",
		"3 hours 25 minutes", "1000000000s", "1 2", ".5s", "5 .5s", "1h1m",
		"1 h 1 m", "1sec2min", "1.25ms", "59.999999s", "1.0000005s", "2.5y",
		"1 month 2 days", "12hr", "1week", "30 seconds", "1.75 minutes",
		"", " ", "1x", "1..2", "1.s", "1hh", "1,5h", "1ns", "1e3s", "7 dayz",
		"1 mo", "s", ".", "1.2.3",
	}
	for _, in := range inputs {
		cmd := exec.Command(systemdAnalyze, "timespan", "--", in)
		cmd.Env = []string{"TZ=UTC", "LANG=C.UTF-8", "SYSTEMD_COLORS=0"}
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		runErr := cmd.Run()
		var usec, human string
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			key, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
			switch key {
			case "μs":
				usec = val
			case "Human":
				human = val
			}
		}
		got, err := ParseTimeSpan(in)
		if runErr != nil || usec == "" {
			if err == nil {
				t.Errorf("ParseTimeSpan(%q) = %v, systemd rejects it", in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTimeSpan(%q): %v; systemd says %s µs", in, err, usec)
			continue
		}
		want, perr := strconv.ParseInt(usec, 10, 64)
		if perr != nil {
			t.Fatalf("oracle printed %q: %v", usec, perr)
		}
		if got != time.Duration(want)*time.Microsecond {
			t.Errorf("ParseTimeSpan(%q) = %d µs, systemd %d", in, got/time.Microsecond, want)
		}
		if f := FormatTimeSpan(got); f != human {
			t.Errorf("FormatTimeSpan(%q) = %q, systemd %q", in, f, human)
		}
	}
}
