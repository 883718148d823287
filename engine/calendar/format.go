package calendar

import (
	"strconv"
	"strings"
)

var weekdayAbbr = [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// String returns the normalized form of the event, as systemd-analyze
// calendar prints it: "Mon..Fri *-*-* 18:00:00", "*-*-01 02:00:00 UTC".
// ParseEvent(e.String()) describes the same event.
func (e *Event) String() string {
	var b strings.Builder
	if e.weekdays != 0 {
		e.formatWeekdays(&b)
		b.WriteByte(' ')
	}
	e.year.format(&b, 4, false)
	b.WriteByte('-')
	e.month.format(&b, 2, false)
	if e.endOfMonth {
		b.WriteByte('~')
	} else {
		b.WriteByte('-')
	}
	e.day.format(&b, 2, false)
	b.WriteByte(' ')
	e.hour.format(&b, 2, false)
	b.WriteByte(':')
	e.minute.format(&b, 2, false)
	b.WriteByte(':')
	e.usec.format(&b, 2, true)
	switch {
	case e.utc:
		b.WriteString(" UTC")
	case e.tz != "":
		b.WriteByte(' ')
		b.WriteString(e.tz)
	}
	return b.String()
}

// formatWeekdays writes runs of three or more days as ranges (Mon..Wed) and
// shorter runs as lists (Sat,Sun).
func (e *Event) formatWeekdays(b *strings.Builder) {
	first := true
	for d := 0; d < 7; {
		if e.weekdays&(1<<d) == 0 {
			d++
			continue
		}
		end := d
		for end+1 < 7 && e.weekdays&(1<<(end+1)) != 0 {
			end++
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(weekdayAbbr[d])
		switch {
		case end-d >= 2:
			b.WriteString("..")
			b.WriteString(weekdayAbbr[end])
		case end-d == 1:
			b.WriteByte(',')
			b.WriteString(weekdayAbbr[end])
		}
		d = end + 1
	}
}

// format writes a field: "*", or its components separated by commas, with
// numbers zero-padded to width. usec marks the seconds field, whose every
// full second is written as "*".
func (c chain) format(b *strings.Builder, width int, usec bool) {
	if c == nil || (usec && len(c) == 1 && c[0] == component{start: 0, stop: -1, repeat: usecPerSec}) {
		b.WriteByte('*')
		return
	}
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		x.format(b, width, usec)
	}
}

// format writes start[..stop][/repeat]. A range's default step (one unit)
// is left out.
func (x component) format(b *strings.Builder, width int, usec bool) {
	unit := 1
	if usec {
		unit = usecPerSec
	}
	writeValue(b, x.start, width, unit)
	if x.stop >= 0 {
		b.WriteString("..")
		writeValue(b, x.stop, width, unit)
	}
	if x.repeat > 0 && !(x.stop >= 0 && x.repeat == unit) {
		b.WriteByte('/')
		writeValue(b, x.repeat, 0, unit)
	}
}

// writeValue writes v/unit zero-padded to width, with six decimals when v is
// not a whole multiple of unit.
func writeValue(b *strings.Builder, v, width, unit int) {
	s := strconv.Itoa(v / unit)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
	if frac := v % unit; frac > 0 {
		f := strconv.Itoa(frac)
		b.WriteByte('.')
		for i := len(f); i < 6; i++ {
			b.WriteByte('0')
		}
		b.WriteString(f)
	}
}
