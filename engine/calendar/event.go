// Calendar events (systemd.time(7) subset): the parser and the search for
// the next matching time. Over 600 lines: the grammar and its evaluation
// share the field types and are one subject.

package calendar

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrInvalidEvent is wrapped by every error ParseEvent returns.
var ErrInvalidEvent = errors.New("invalid calendar event")

const (
	minYear = 1970
	maxYear = 2199

	usecPerSec = 1_000_000
	// maxUsecOfMinute is the last microsecond of a minute: the seconds
	// field of an event counts microseconds.
	maxUsecOfMinute = 60*usecPerSec - 1

	// maxValues bounds the values listed in one field ("1,2,3,..."), so a
	// hostile expression cannot make evaluation slow.
	maxValues = 240

	// maxInt is the largest number a field accepts before range checks (the
	// C int of systemd).
	maxInt = 1<<31 - 1
)

// Event is a parsed calendar event: a set of points in time given by
// weekdays, a date pattern and a time pattern, as in systemd.time(7). Build
// one with ParseEvent; the zero Event is not valid. An Event is immutable and
// safe for concurrent use.
type Event struct {
	// weekdays has bit 0 for Monday through bit 6 for Sunday; 0 means any
	// weekday.
	weekdays uint8

	year, month, day, hour, minute chain
	// usec is the seconds field in microseconds of the minute. It is never
	// nil: "*" is stored as 0/1s, like systemd.
	usec chain

	// endOfMonth: the day field counts back from the last day of the month
	// ("~", 1 is the last day).
	endOfMonth bool

	// utc: the event is evaluated in UTC. Otherwise tz names the time zone
	// written in the expression (loc is its location), or both are empty and
	// the event is evaluated in the location of the time passed to Next.
	utc bool
	tz  string
	loc *time.Location
}

// component is one element of a field list: the value start, a range
// start..stop (repeat 1), a repetition start/repeat (stop < 0: up to the end
// of the field's range) or both start..stop/repeat.
type component struct {
	start, stop, repeat int
}

// chain is the list of one field; nil matches every value ("*").
type chain []component

// ParseEvent parses a calendar event in systemd.time(7) syntax:
//
//	[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [UTC|TIMEZONE]
//
// Weekdays are names (Mon or Monday, any case) in lists (Mon,Wed) and ranges
// (Mon..Fri, Mon-Fri). Each date and time field is "*" or a list of values,
// ranges a..b and repetitions a/b or a..b/c. Seconds may have up to six
// decimals. "~" instead of the last "-" counts days from the end of the
// month ("*-02~1" is the last day of February). Two-digit years mean
// 1970..2069. A missing date means every day, a missing time 00:00:00, a
// missing seconds field 00. The keywords minutely, hourly, daily, weekly,
// monthly, quarterly, semiannually (semi-annually, biannually,
// bi-annually), yearly and annually stand for their systemd expansions, and
// "@SECONDS" for one fixed UTC time.
//
// A trailing " UTC" (any case) evaluates the event in UTC; a trailing IANA
// zone name ("Europe/Berlin") in that zone. Without either, Next uses the
// location of the time it is given.
//
// Errors wrap ErrInvalidEvent and name the part of s that is wrong:
// "invalid calendar event 'mon..xyz 18:00': unknown weekday 'xyz'".
func ParseEvent(s string) (*Event, error) {
	e, err := parseEvent(s)
	if err != nil {
		return nil, fmt.Errorf("%w '%s': %s", ErrInvalidEvent, s, err.Error())
	}
	return e, nil
}

// keywords maps the shorthand names to their expansions (systemd.time(7),
// "Calendar Events").
var keywords = map[string]string{
	"minutely":      "*-*-* *:*:00",
	"hourly":        "*-*-* *:00:00",
	"daily":         "*-*-* 00:00:00",
	"monthly":       "*-*-01 00:00:00",
	"weekly":        "Mon *-*-* 00:00:00",
	"yearly":        "*-01-01 00:00:00",
	"annually":      "*-01-01 00:00:00",
	"anually":       "*-01-01 00:00:00", // an old systemd spelling
	"quarterly":     "*-01,04,07,10-01 00:00:00",
	"semiannually":  "*-01,07-01 00:00:00",
	"semi-annually": "*-01,07-01 00:00:00",
	"biannually":    "*-01,07-01 00:00:00",
	"bi-annually":   "*-01,07-01 00:00:00",
}

func parseEvent(s string) (*Event, error) {
	e := &Event{}
	body := s
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		last := s[i+1:]
		switch {
		case strings.EqualFold(last, "UTC"):
			e.utc = true
			body = s[:i]
		case isZoneName(last):
			loc, err := time.LoadLocation(last)
			if err == nil {
				e.tz, e.loc, body = last, loc, s[:i]
			}
		}
	}
	if body == "" {
		return nil, errors.New("no date or time given")
	}

	if exp, ok := keywords[strings.ToLower(body)]; ok {
		body = exp
	}
	p := &parser{s: body}
	if err := p.parse(e); err != nil {
		return nil, err
	}
	if err := e.normalize(); err != nil {
		return nil, err
	}
	return e, nil
}

// isZoneName reports whether name looks like an IANA time zone name
// ("Europe/Berlin", "Etc/GMT+1", "UTC"), the precondition for trying to load
// it. "Local" is excluded: it is not a zone but the host's setting.
func isZoneName(name string) bool {
	if name == "" || name == "Local" || name[0] == '/' || len(name) > 64 {
		return false
	}
	prevSlash := false
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '-', r == '_', r == '+':
			prevSlash = false
		case r == '/':
			if prevSlash {
				return false
			}
			prevSlash = true
		default:
			return false
		}
	}
	return !prevSlash
}

// parser reads the body of an expression (without keywords and time zone).
type parser struct {
	s string
	i int
}

func (p *parser) rest() string { return p.s[p.i:] }

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) skipSpaces() {
	for p.peek() == ' ' {
		p.i++
	}
}

// word returns the text at position i up to the next field or list
// separator, for error messages; at a separator, up to the next space.
func (p *parser) word(i int) string {
	j := i
	for j < len(p.s) && !strings.ContainsRune(" ,-~:", rune(p.s[j])) {
		j++
	}
	if j == i {
		return p.field(i)
	}
	return p.s[i:j]
}

// field returns the text at position i up to the next space, for error
// messages.
func (p *parser) field(i int) string {
	j := strings.IndexByte(p.s[i:], ' ')
	if j < 0 {
		return p.s[i:]
	}
	return p.s[i : i+j]
}

func (p *parser) parse(e *Event) error {
	if err := p.parseWeekdays(e); err != nil {
		return err
	}
	if p.peek() == '@' {
		return p.parseTimestamp(e)
	}
	if c := p.peek() | 0x20; c >= 'a' && c <= 'z' {
		return fmt.Errorf("unknown keyword or weekday '%s'", p.word(p.i))
	}
	if err := p.parseDate(e); err != nil {
		return err
	}
	// parseTime consumes the rest of the input or fails.
	return p.parseTime(e)
}

var weekdayNames = []struct {
	name string
	nr   int
}{
	{"monday", 0}, {"mon", 0},
	{"tuesday", 1}, {"tue", 1},
	{"wednesday", 2}, {"wed", 2},
	{"thursday", 3}, {"thu", 3},
	{"friday", 4}, {"fri", 4},
	{"saturday", 5}, {"sat", 5},
	{"sunday", 6}, {"sun", 6},
}

// matchWeekday returns the day number (0 = Monday) of the weekday name at
// the parser's position and its length, or -1 when no name starts there.
func (p *parser) matchWeekday() (nr, n int) {
	rest := p.rest()
	for _, w := range weekdayNames {
		if len(rest) >= len(w.name) && strings.EqualFold(rest[:len(w.name)], w.name) {
			return w.nr, len(w.name)
		}
	}
	return -1, 0
}

// parseWeekdays reads an optional weekday list followed by spaces. A range
// stays open until the next comma, so "Mon..Wed..Fri" is rejected.
func (p *parser) parseWeekdays(e *Event) error {
	from, fromPos := -1, 0
	for first := true; ; first = false {
		start := p.i
		nr, n := p.matchWeekday()
		if nr < 0 {
			if first {
				return nil // no weekdays: the date follows
			}
			return fmt.Errorf("unknown weekday '%s'", p.word(start))
		}
		p.i += n
		switch p.peek() {
		case 0, '-', '.', ',', ' ':
		default:
			return fmt.Errorf("unknown weekday '%s'", p.word(start))
		}
		e.weekdays |= 1 << nr
		if from >= 0 {
			if from > nr {
				return fmt.Errorf("weekday range '%s' runs backwards", p.s[fromPos:p.i])
			}
			for d := from; d < nr; d++ {
				e.weekdays |= 1 << d
			}
		}
		switch p.peek() {
		case 0:
			return nil
		case ' ':
			p.skipSpaces()
			return nil
		case '.', '-':
			dots := p.peek() == '.'
			if from >= 0 || (dots && !strings.HasPrefix(p.rest(), "..")) {
				return fmt.Errorf("bad weekday range '%s'", p.field(fromPosOr(from, fromPos, start)))
			}
			if dots {
				p.i += 2
			} else {
				p.i++
			}
			from, fromPos = nr, start
		case ',':
			p.i++
			from = -1
		}
		if c := p.peek(); c == 0 || c == ' ' {
			if from >= 0 {
				return fmt.Errorf("weekday range '%s' has no end", p.s[fromPos:p.i])
			}
			p.skipSpaces()
			return nil
		}
	}
}

// fromPosOr returns the start of the open weekday range, or cur if none is
// open.
func fromPosOr(from, fromPos, cur int) int {
	if from >= 0 {
		return fromPos
	}
	return cur
}

// parseTimestamp reads "@SECONDS": one fixed point in time, in UTC.
func (p *parser) parseTimestamp(e *Event) error {
	p.i++
	start := p.i
	v, err := p.number(math.MaxInt64)
	if err != nil {
		return fmt.Errorf("bad timestamp '%s': %v", p.field(start-1), err)
	}
	if p.i < len(p.s) {
		return fmt.Errorf("unexpected '%s' after the timestamp", p.rest())
	}
	if int64(v) >= time.Date(maxYear+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		return fmt.Errorf("timestamp '@%d' is after the year %d", v, maxYear)
	}
	t := time.Unix(int64(v), 0).UTC()
	one := func(x int) chain { return chain{{start: x, stop: -1}} }
	e.year, e.month, e.day = one(t.Year()), one(int(t.Month())), one(t.Day())
	e.hour, e.minute, e.usec = one(t.Hour()), one(t.Minute()), one(t.Second()*usecPerSec)
	e.utc, e.tz, e.loc = true, "", nil
	return nil
}

// parseDate reads an optional [YEAR-]MONTH-DAY followed by spaces. A first
// field followed by ':' or by nothing belongs to the time and is left for
// parseTime.
func (p *parser) parseDate(e *Event) error {
	if p.i == len(p.s) {
		return nil
	}
	start := p.i
	first, err := p.chain(false, "date or time")
	if err != nil {
		return err
	}
	if c := p.peek(); c == 0 || c == ':' {
		p.i = start
		return nil
	}
	sep := func(what string) error {
		switch p.peek() {
		case '~':
			e.endOfMonth = true
		case '-':
		default:
			return fmt.Errorf("bad %s '%s'", what, p.field(start))
		}
		p.i++
		return nil
	}
	if err := sep("date or time"); err != nil {
		return err
	}
	second, err := p.chain(false, "day")
	if err != nil {
		return err
	}
	if c := p.peek(); c == 0 || c == ' ' {
		e.month, e.day = first, second
		p.skipSpaces()
		return nil
	}
	if e.endOfMonth {
		return fmt.Errorf("bad date '%s': '~' must come before the day", p.field(start))
	}
	if err := sep("date"); err != nil {
		return err
	}
	third, err := p.chain(false, "day")
	if err != nil {
		return err
	}
	if c := p.peek(); c != 0 && c != ' ' {
		return fmt.Errorf("bad date '%s'", p.field(start))
	}
	e.year, e.month, e.day = first, second, third
	p.skipSpaces()
	return nil
}

// parseTime reads an optional HOUR:MINUTE[:SECOND]; the rest of the input
// must be empty afterwards.
func (p *parser) parseTime(e *Event) error {
	zero := chain{{start: 0, stop: -1}}
	if p.i == len(p.s) {
		e.hour, e.minute, e.usec = zero, zero, zero
		return nil
	}
	start := p.i
	h, err := p.chain(false, "hour")
	if err != nil {
		return err
	}
	if p.peek() != ':' {
		return fmt.Errorf("bad time '%s'", p.field(start))
	}
	p.i++
	m, err := p.chain(false, "minute")
	if err != nil {
		return err
	}
	s := zero
	switch p.peek() {
	case 0:
	case ':':
		p.i++
		if s, err = p.chain(true, "second"); err != nil {
			return err
		}
		if p.i < len(p.s) {
			return fmt.Errorf("bad time '%s'", p.field(start))
		}
	default:
		return fmt.Errorf("bad time '%s'", p.field(start))
	}
	e.hour, e.minute, e.usec = h, m, s
	return nil
}

// chain reads "*" or a comma separated list of components. usec selects the
// seconds field: values in microseconds, decimals allowed, and "*" stored as
// every full second. what names the field in error messages.
func (p *parser) chain(usec bool, what string) (chain, error) {
	if p.peek() == '*' {
		p.i++
		if usec {
			return chain{{start: 0, stop: -1, repeat: usecPerSec}}, nil
		}
		return nil, nil
	}
	var c chain
	for {
		if len(c) == maxValues {
			return nil, fmt.Errorf("more than %d values in one field", maxValues)
		}
		x, err := p.component(usec, what)
		if err != nil {
			return nil, err
		}
		c = append(c, x)
		if p.peek() != ',' {
			return c, nil
		}
		p.i++
	}
}

// component reads a, a..b, a/r or a..b/r.
func (p *parser) component(usec bool, what string) (component, error) {
	start := p.i
	bad := func(err error) (component, error) {
		return component{}, fmt.Errorf("bad %s '%s': %v", what, p.word(start), err)
	}
	x := component{stop: -1}
	var err error
	if x.start, err = p.decimal(usec); err != nil {
		return bad(err)
	}
	if strings.HasPrefix(p.rest(), "..") {
		p.i += 2
		if x.stop, err = p.decimal(usec); err != nil {
			return bad(err)
		}
		x.repeat = 1
		if usec {
			x.repeat = usecPerSec
		}
	}
	if p.peek() == '/' {
		p.i++
		if x.repeat, err = p.decimal(usec); err != nil {
			return bad(err)
		}
		if x.repeat == 0 {
			return bad(errors.New("repetition must not be 0"))
		}
	}
	switch p.peek() {
	case 0, ' ', ',', '-', '~', ':':
	default:
		return bad(fmt.Errorf("unexpected '%c'", p.peek()))
	}
	return x, nil
}

// number reads decimal digits, at most limit; at least one digit is
// required.
func (p *parser) number(limit int) (int, error) {
	start := p.i
	v := 0
	for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
		if v > (limit-int(c-'0'))/10 {
			return 0, errors.New("number too large")
		}
		v = v*10 + int(c-'0')
		p.i++
	}
	if p.i == start {
		if p.i == len(p.s) {
			return 0, errors.New("number expected")
		}
		return 0, fmt.Errorf("number expected, found '%c'", p.peek())
	}
	return v, nil
}

// decimal reads a number; for the seconds field (usec) in microseconds, with
// up to six decimals (more are rounded). A ".." after the number is a range,
// not a decimal point.
func (p *parser) decimal(usec bool) (int, error) {
	v, err := p.number(maxInt)
	if err != nil || !usec {
		return v, err
	}
	if v > maxInt/usecPerSec {
		return 0, errors.New("number too large")
	}
	v *= usecPerSec
	if p.peek() == '.' && !strings.HasPrefix(p.rest(), "..") {
		p.i++
		start := p.i
		frac, scale := 0, usecPerSec
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			switch {
			case scale > 1:
				scale /= 10
				frac += int(c-'0') * scale
			case p.i == start+6 && c >= '5':
				frac++ // round at the seventh decimal
			}
			p.i++
		}
		if p.i == start {
			return 0, errors.New("digits expected after the decimal point")
		}
		v += frac
	}
	return v, nil
}

// normalize completes a parsed event the way systemd does before validation:
// two-digit years, sorted and de-duplicated lists, ranges shortened to a
// multiple of their repetition. It then checks every value against its
// field's range.
func (e *Event) normalize() error {
	if e.weekdays == 0x7f {
		e.weekdays = 0
	}
	if e.endOfMonth && e.day == nil {
		e.endOfMonth = false
	}
	for i := range e.year {
		e.year[i].start = fixYear(e.year[i].start)
		e.year[i].stop = fixYear(e.year[i].stop)
	}
	fields := []struct {
		c        *chain
		name     string
		from, to int
		eom      bool
	}{
		{&e.year, "year", minYear, maxYear, false},
		{&e.month, "month", 1, 12, false},
		{&e.day, "day", 1, 31, e.endOfMonth},
		{&e.hour, "hour", 0, 23, false},
		{&e.minute, "minute", 0, 59, false},
		{&e.usec, "second", 0, maxUsecOfMinute, false},
	}
	for _, f := range fields {
		*f.c = normalizeChain(*f.c)
		if err := f.c.validate(f.from, f.to, f.eom, f.c == &e.usec); err != nil {
			return fmt.Errorf("%s %v", f.name, err)
		}
	}
	return nil
}

// fixYear turns two-digit years into 1970..2069.
func fixYear(y int) int {
	switch {
	case y >= 0 && y < 70:
		return y + 2000
	case y >= 70 && y < 100:
		return y + 1900
	}
	return y
}

func normalizeChain(c chain) chain {
	for i := range c {
		x := &c[i]
		if x.stop > x.start && x.repeat > 0 {
			x.stop -= (x.stop - x.start) % x.repeat
		}
		if x.stop == x.start {
			x.stop, x.repeat = -1, 0
		}
	}
	slices.SortFunc(c, func(a, b component) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.stop != b.stop {
			return a.stop - b.stop
		}
		return a.repeat - b.repeat
	})
	return slices.Compact(c)
}

// validate checks a normalized chain against the field range from..to. For
// days counted from the end of the month (eom) values may not exceed 28 and
// a repetition must fit before the first day. usec marks the seconds field
// (for messages).
func (c chain) validate(from, to int, eom, usec bool) error {
	if eom {
		to -= 3
	}
	bounds := fmt.Sprintf("%d..%d", from, to)
	if usec {
		bounds = "0..59"
	}
	for _, x := range c {
		var b strings.Builder
		x.format(&b, 1, usec)
		show := b.String()
		if x.start < from || x.start > to {
			return fmt.Errorf("'%s' is out of range %s", show, bounds)
		}
		if x.repeat > to-from {
			return fmt.Errorf("'%s' repeats with a step larger than the range %s", show, bounds)
		}
		switch {
		case x.stop >= 0:
			if x.stop < from || x.stop > to {
				return fmt.Errorf("'%s' is out of range %s", show, bounds)
			}
			if x.start+x.repeat > x.stop {
				return fmt.Errorf("range '%s' is empty or runs backwards", show)
			}
		case eom && x.start-x.repeat < from:
			return fmt.Errorf("'~%s' repeats past the last day of the month", show)
		case !eom && x.start+x.repeat > to:
			return fmt.Errorf("'%s' repeats past the end of the range %s", show, bounds)
		}
	}
	return nil
}
