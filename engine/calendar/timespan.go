package calendar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidTimeSpan is wrapped by every error ParseTimeSpan returns.
var ErrInvalidTimeSpan = errors.New("invalid time span")

// Time span units in microseconds, as systemd.time(7) defines them: a month
// is 30.44 days and a year 365.25 days.
const (
	usecMinute = 60 * usecPerSec
	usecHour   = 60 * usecMinute
	usecDay    = 24 * usecHour
	usecWeek   = 7 * usecDay
	usecMonth  = 2_629_800 * usecPerSec
	usecYear   = 31_557_600 * usecPerSec
)

// spanUnits lists the unit suffixes ParseTimeSpan accepts. Order matters:
// the first suffix that is a prefix of the text wins, so longer spellings
// come before their abbreviations and "M" (month) before "m" (minute).
var spanUnits = []struct {
	suffix string
	usec   uint64
}{
	{"seconds", usecPerSec}, {"second", usecPerSec}, {"sec", usecPerSec}, {"s", usecPerSec},
	{"minutes", usecMinute}, {"minute", usecMinute}, {"min", usecMinute},
	{"months", usecMonth}, {"month", usecMonth}, {"M", usecMonth},
	{"msec", 1000}, {"ms", 1000}, {"m", usecMinute},
	{"hours", usecHour}, {"hour", usecHour}, {"hr", usecHour}, {"h", usecHour},
	{"days", usecDay}, {"day", usecDay}, {"d", usecDay},
	{"weeks", usecWeek}, {"week", usecWeek}, {"w", usecWeek},
	{"years", usecYear}, {"year", usecYear}, {"y", usecYear},
	{"usec", 1}, {"us", 1}, {"μs", 1}, {"µs", 1},
}

// maxSpanUsec is the longest span a time.Duration holds, in microseconds
// (about 292 years).
const maxSpanUsec = uint64(math.MaxInt64 / 1000)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ParseTimeSpan parses a time span in systemd.time(7) syntax: a sequence of
// numbers, each followed by an optional unit, added up: "7days", "2 weeks",
// "1h 30min", "1.5h", "2w 3d". Units are usec (us, µs), msec (ms), seconds
// (second, sec, s), minutes (minute, min, m), hours (hour, hr, h), days
// (day, d), weeks (week, w), months (month, M; 30.44 days) and years (year,
// y; 365.25 days); a number without a unit counts seconds. The result is
// precise to the microsecond.
//
// Errors wrap ErrInvalidTimeSpan and name the bad part; spans longer than a
// time.Duration holds (about 292 years), "infinity" and negative numbers are
// errors.
func ParseTimeSpan(s string) (time.Duration, error) {
	usec, err := parseSpan(s)
	if err != nil {
		return 0, fmt.Errorf("%w '%s': %s", ErrInvalidTimeSpan, s, err.Error())
	}
	return time.Duration(usec) * time.Microsecond, nil
}

func parseSpan(s string) (uint64, error) {
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	skip()
	if strings.HasPrefix(s[i:], "infinity") {
		return 0, errors.New("an infinite span is not supported")
	}
	var total uint64
	add := func(v uint64) error {
		if v > maxSpanUsec-total {
			return errors.New("span is too long (at most about 292 years)")
		}
		total += v
		return nil
	}
	something := false
	// unitStart and unitEnd delimit the last unit read, to report text glued
	// to it ("dayz") as one unknown unit.
	unitStart, unitEnd := -1, -1
	for {
		skip()
		if i == len(s) {
			if !something {
				return 0, errors.New("no number given")
			}
			return total, nil
		}
		start := i
		if s[i] == '-' {
			return 0, errors.New("negative spans are not allowed")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		intPart := s[start:i]
		var fracPart string
		if i < len(s) && s[i] == '.' {
			i++
			f := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			fracPart = s[f:i]
			if fracPart == "" {
				return 0, fmt.Errorf("digits expected after '%s'", s[start:i])
			}
		} else if intPart == "" {
			if start == unitEnd {
				return 0, fmt.Errorf("unknown unit '%s'", word(s[unitStart:]))
			}
			return 0, fmt.Errorf("number expected at '%s'", word(s[start:]))
		}
		numEnd := i
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		unit := uint64(usecPerSec)
		matched := false
		for _, u := range spanUnits {
			if strings.HasPrefix(s[j:], u.suffix) {
				unit, matched, i = u.usec, true, j+len(u.suffix)
				unitStart, unitEnd = j, i
				break
			}
		}
		if !matched && j == numEnd && j < len(s) {
			// Text glued to the number that is no unit: "5x", "1.2.3".
			return 0, fmt.Errorf("unknown unit '%s'", word(s[j:]))
		}
		if !matched {
			i = j
		}
		if intPart != "" {
			n, err := strconv.ParseUint(intPart, 10, 64)
			if err != nil || n > maxSpanUsec/unit {
				return 0, fmt.Errorf("'%s' is too long (at most about 292 years)", s[start:i])
			}
			if err := add(n * unit); err != nil {
				return 0, err
			}
		}
		m := unit
		for k := 0; k < len(fracPart); k++ {
			m /= 10
			if err := add(uint64(fracPart[k]-'0') * m); err != nil {
				return 0, err
			}
		}
		something = true
	}
}

// word returns s up to the first space.
func word(s string) string {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return s[:i]
		}
	}
	return s
}

// FormatTimeSpan formats d the way systemd-analyze timespan shows spans:
// the largest units first, "1w 2d 3h", "1y 2month", "1min 30s", and below a
// minute with decimals ("1.500000s"). Zero is "0"; precision is one
// microsecond (less is dropped); a negative span gets a leading "-".
// ParseTimeSpan reads every result back to d truncated to microseconds.
func FormatTimeSpan(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			d++ // keep -d representable; the lost nanosecond is below precision
		}
		return "-" + FormatTimeSpan(-d)
	}
	t := uint64(d / time.Microsecond)
	if t == 0 {
		return "0"
	}
	units := [...]struct {
		suffix string
		usec   uint64
	}{
		{"y", usecYear}, {"month", usecMonth}, {"w", usecWeek}, {"d", usecDay},
		{"h", usecHour}, {"min", usecMinute}, {"s", usecPerSec}, {"ms", 1000}, {"us", 1},
	}
	var b strings.Builder
	for _, u := range units {
		if t == 0 {
			break
		}
		if t < u.usec {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		a, rem := t/u.usec, t%u.usec
		if t < usecMinute && rem > 0 && u.usec > 1 {
			// Below a minute the rest is written as decimals of this unit.
			digits := len(strconv.FormatUint(u.usec, 10)) - 1
			fmt.Fprintf(&b, "%d.%0*d%s", a, digits, rem, u.suffix)
			return b.String()
		}
		fmt.Fprintf(&b, "%d%s", a, u.suffix)
		t = rem
	}
	return b.String()
}
