package calendar

import "time"

// wall is a wall-clock time: a date and the time of day, with the seconds
// in microseconds of the minute. Fields are always a valid date and time.
type wall struct {
	year, month, day, hour, minute, usec int
}

func (w wall) less(v wall) bool {
	a := [...]int{w.year, w.month, w.day, w.hour, w.minute, w.usec}
	b := [...]int{v.year, v.month, v.day, v.hour, v.minute, v.usec}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func wallOf(t time.Time) wall {
	return wall{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(),
		t.Second()*usecPerSec + t.Nanosecond()/1000}
}

func (w wall) in(loc *time.Location) time.Time {
	return time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute,
		w.usec/usecPerSec, w.usec%usecPerSec*1000, loc)
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// weekday returns 0 for Monday through 6 for Sunday.
func weekday(year, month, day int) int {
	return (int(time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
}

// Starts of the next larger unit; each returns a later valid wall time.
func (w wall) nextYear() wall { return wall{year: w.year + 1, month: 1, day: 1} }
func (w wall) nextMonth() wall {
	if w.month == 12 {
		return w.nextYear()
	}
	return wall{year: w.year, month: w.month + 1, day: 1}
}
func (w wall) nextDay() wall {
	if w.day == daysIn(w.year, w.month) {
		return w.nextMonth()
	}
	return wall{year: w.year, month: w.month, day: w.day + 1}
}
func (w wall) nextHour() wall {
	if w.hour == 23 {
		return w.nextDay()
	}
	return wall{w.year, w.month, w.day, w.hour + 1, 0, 0}
}
func (w wall) nextMinute() wall {
	if w.minute == 59 {
		return w.nextHour()
	}
	return wall{w.year, w.month, w.day, w.hour, w.minute + 1, 0}
}
func (w wall) nextUsec() wall {
	if w.usec == maxUsecOfMinute {
		return w.nextMinute()
	}
	w.usec++
	return w
}

// next returns the smallest value v' >= v in the chain with v' <= hi.
// first..last is the day range of the month when the chain counts days from
// the end of the month (eomDays > 0).
func (c chain) next(v, hi, eomDays int) (int, bool) {
	if c == nil {
		return v, v <= hi
	}
	best, found := 0, false
	for _, x := range c {
		start, stop := x.start, x.stop
		if eomDays > 0 {
			// Day n from the end is day eomDays+1-n; a range swaps ends.
			start = eomDays + 1 - x.start
			if x.stop >= 0 {
				start, stop = eomDays+1-x.stop, start
			}
		}
		var k int
		switch {
		case start >= v:
			k = start
		case x.repeat > 0:
			k = start + x.repeat*((v-start+x.repeat-1)/x.repeat)
			if stop >= 0 && k > stop {
				continue
			}
		default:
			continue
		}
		if k <= hi && (!found || k < best) {
			best, found = k, true
		}
	}
	return best, found
}

// nextWall returns the first wall time at or after w that matches the event,
// ignoring time zones; false if there is none up to the year 2199.
func (e *Event) nextWall(w wall) (wall, bool) {
	for {
		y, ok := e.year.next(w.year, maxYear, 0)
		if !ok {
			return wall{}, false
		}
		if y != w.year {
			w = wall{year: y, month: 1, day: 1}
		}
		mo, ok := e.month.next(w.month, 12, 0)
		if !ok {
			w = w.nextYear()
			continue
		}
		if mo != w.month {
			w = wall{year: w.year, month: mo, day: 1}
		}
		dim, eom := daysIn(w.year, w.month), 0
		if e.endOfMonth {
			eom = dim
		}
		d, ok := e.day.next(w.day, dim, eom)
		if !ok {
			w = w.nextMonth()
			continue
		}
		if d != w.day {
			w = wall{year: w.year, month: w.month, day: d}
		}
		if e.weekdays != 0 && e.weekdays&(1<<weekday(w.year, w.month, w.day)) == 0 {
			w = w.nextDay()
			continue
		}
		h, ok := e.hour.next(w.hour, 23, 0)
		if !ok {
			w = w.nextDay()
			continue
		}
		if h != w.hour {
			w = wall{w.year, w.month, w.day, h, 0, 0}
		}
		mi, ok := e.minute.next(w.minute, 59, 0)
		if !ok {
			w = w.nextHour()
			continue
		}
		if mi != w.minute {
			w = wall{w.year, w.month, w.day, w.hour, mi, 0}
		}
		us, ok := e.usec.next(w.usec, maxUsecOfMinute, 0)
		if !ok {
			w = w.nextMinute()
			continue
		}
		w.usec = us
		return w, true
	}
}

// Next returns the first time the event elapses strictly after after, in
// after's location, and true; or false if it never elapses again (events end
// with the year 2199). Events written with " UTC" or a zone name are
// evaluated in that zone, all others in after's location. Times are
// microsecond precise; times before 1970 count from 1970-01-01 00:00:00.
//
// Across daylight saving changes: a wall-clock time skipped by the change
// does not elapse that day, and a wall-clock time that occurs twice elapses
// at its first occurrence after after. Next always terminates.
func (e *Event) Next(after time.Time) (time.Time, bool) {
	loc := after.Location()
	switch {
	case e.utc:
		loc = time.UTC
	case e.loc != nil:
		loc = e.loc
	}
	from := after.Truncate(time.Microsecond).Add(time.Microsecond).In(loc)
	w := wallOf(from)
	if w.year < minYear {
		w = wall{year: minYear, month: 1, day: 1}
	}
	for {
		var ok bool
		if w, ok = e.nextWall(w); !ok {
			return time.Time{}, false
		}
		t, valid := resolve(w, loc, after)
		if valid {
			return t.In(after.Location()), true
		}
		w = skip(w, loc)
	}
}

// resolve returns the earliest instant after 'after' whose wall time in loc
// is w. A wall time occurs twice when clocks are set back and not at all
// when they are set forward; false if no occurrence is after 'after'.
func resolve(w wall, loc *time.Location, after time.Time) (time.Time, bool) {
	t := w.in(loc)
	// The other occurrence, if any, uses the offset of a neighbouring zone
	// period.
	candidates := [3]time.Time{t, t, t}
	start, end := t.ZoneBounds()
	_, off := t.Zone()
	if !start.IsZero() {
		_, prev := start.Add(-time.Second).Zone()
		candidates[1] = t.Add(time.Duration(off-prev) * time.Second)
	}
	if !end.IsZero() {
		_, nextOff := end.Zone()
		candidates[2] = t.Add(time.Duration(off-nextOff) * time.Second)
	}
	var best time.Time
	found := false
	for _, c := range candidates {
		if wallOf(c.In(loc)) != w || !c.After(after) {
			continue
		}
		if !found || c.Before(best) {
			best, found = c, true
		}
	}
	return best, found
}

// skip returns the wall time to continue the search from after w gave no
// instant: the next microsecond if w exists in loc (its occurrences were not
// after the start of the search), or the end of the gap if clocks were set
// forward over w.
func skip(w wall, loc *time.Location) wall {
	t := w.in(loc)
	if wallOf(t) == w {
		return w.nextUsec()
	}
	start, end := t.ZoneBounds()
	var best wall
	found := false
	for _, c := range [...]time.Time{t, start, end} {
		if c.IsZero() {
			continue
		}
		cw := wallOf(c.In(loc))
		if w.less(cw) && (!found || cw.less(best)) {
			best, found = cw, true
		}
	}
	if !found {
		return w.nextUsec()
	}
	return best
}
