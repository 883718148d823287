package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidTemplate is wrapped by every error SetName and ValidateTemplate
// return.
var ErrInvalidTemplate = errors.New("invalid media set name template")

// maxNameLen bounds a rendered set name: it is a single path element in the
// FUSE tree.
const maxNameLen = 255

// defaultLayout renders a set name without template, like the reference's
// "Wed Jan 13 13:55:55 2021" (the day of the month is not padded).
const defaultLayout = "Mon Jan 2 15:04:05 2006"

// directives maps the strftime conversions a template may use to Go time
// layouts.
var directives = map[byte]string{
	'Y': "2006",    // year, 4 digits
	'y': "06",      // year, 2 digits
	'm': "01",      // month 01-12
	'd': "02",      // day of the month 01-31
	'e': "_2",      // day of the month, space padded
	'H': "15",      // hour 00-23
	'M': "04",      // minute 00-59
	'S': "05",      // second 00-60
	'a': "Mon",     // abbreviated weekday
	'A': "Monday",  // weekday
	'b': "Jan",     // abbreviated month
	'B': "January", // month
	'j': "002",     // day of the year 001-366
	'F': "2006-01-02",
	'T': "15:04:05",
	'c': defaultLayout,
	'Z': "MST", // time zone abbreviation
}

// SetName renders the name of media set s from template, in the location
// of s.Ctime (the engine passes local time). The template is text with
// strftime-like conversions: %Y %y %m %d %e %H %M %S %a %A %b %B %j %F %T
// %c %Z, "%%" for a percent sign and "%id%" for the set's UUID. An empty
// template gives the set's creation time as "Wed Jan 13 13:55:55 2021"
// (also what %c gives).
//
// Errors wrap ErrInvalidTemplate: an unknown conversion, a lone '%' at the
// end, text that is not valid UTF-8 or holds control characters or '/'
// (the name is a directory in the FUSE tree), or a name that is empty or
// longer than 255 bytes.
func SetName(template string, s Set) (string, error) {
	if template == "" {
		return s.Ctime.Format(defaultLayout), nil
	}
	if err := checkText(template); err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		c := template[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if strings.HasPrefix(template[i:], "%id%") {
			b.WriteString(s.UUID.String())
			i += len("%id%") - 1
			continue
		}
		if i+1 == len(template) {
			return "", fmt.Errorf("%w %s: it ends with a lone '%%'; write %%%% for a percent sign", ErrInvalidTemplate, strconv.Quote(template))
		}
		i++
		d := template[i]
		if d == '%' {
			b.WriteByte('%')
			continue
		}
		layout, ok := directives[d]
		if !ok {
			r, _ := utf8.DecodeRuneInString(template[i:])
			return "", fmt.Errorf("%w %s: unknown conversion '%%%c'; use %%Y %%m %%d %%H %%M %%S %%a %%b %%j %%%% or %%id%%", ErrInvalidTemplate, strconv.Quote(template), r)
		}
		b.WriteString(s.Ctime.Format(layout))
	}
	name := b.String()
	if strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("%w %s: the name it gives is empty", ErrInvalidTemplate, strconv.Quote(template))
	}
	if name == "." || name == ".." {
		return "", fmt.Errorf("%w %s: the name it gives, %s, is not a directory name", ErrInvalidTemplate, strconv.Quote(template), name)
	}
	if len(name) > maxNameLen {
		return "", fmt.Errorf("%w %s: the name it gives is %d bytes, more than %d", ErrInvalidTemplate, strconv.Quote(template), len(name), maxNameLen)
	}
	if err := checkText(name); err != nil {
		return "", err
	}
	return name, nil
}

// Template lengths proxmox-tape accepts.
const (
	minTemplateLen = 2
	maxTemplateLen = 64
)

// ValidateTemplate checks a pool's media set name template as SetName
// would, without a set, and its length: 2 to 64 bytes, as proxmox-tape
// allows. "" (the default name) is valid. Errors wrap ErrInvalidTemplate.
func ValidateTemplate(template string) error {
	if template == "" {
		return nil
	}
	if len(template) < minTemplateLen || len(template) > maxTemplateLen {
		return fmt.Errorf("%w %s: it is %d bytes long; a template has %d to %d", ErrInvalidTemplate, strconv.Quote(template), len(template), minTemplateLen, maxTemplateLen)
	}
	// The longest weekday and month names, so the length check holds for
	// every date.
	longest := Set{Ctime: time.Date(2000, time.September, 27, 23, 59, 59, 0, time.Local)}
	_, err := SetName(template, longest)
	return err
}

// checkText rejects text that cannot be part of a set name.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w %s: not valid UTF-8", ErrInvalidTemplate, strconv.Quote(s))
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("%w %s: contains a control character", ErrInvalidTemplate, strconv.Quote(s))
		case r == '/':
			return fmt.Errorf("%w %s: contains '/', but a set name is one directory name", ErrInvalidTemplate, strconv.Quote(s))
		}
	}
	return nil
}
