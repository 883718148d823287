package config

import (
	"bytes"
	"fmt"
	"strings"
)

// ParseError is a syntax or content error at one line of a configuration
// file.
type ParseError struct {
	File string // path of the file
	Line int    // 1-based line number
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// section is one "type: name" block of a section-config file.
type section struct {
	typ, name string
	line      int // line of the header
	props     []property
}

// property is one "key value" line of a section.
type property struct {
	key, value string
	line       int
}

// isBlank reports whether c is whitespace as the format knows it (ASCII
// only, so that parsing does not depend on the encoding of values).
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimBlank(s string) string {
	i, j := 0, len(s)
	for i < j && isBlank(s[i]) {
		i++
	}
	for j > i && isBlank(s[j-1]) {
		j--
	}
	return s[i:j]
}

// parseSections splits data into sections. It checks only the syntax: which
// types and keys exist is up to the caller. file names the file in errors.
func parseSections(file string, data []byte) ([]section, error) {
	var secs []section
	var cur *section
	errorf := func(line int, format string, args ...any) error {
		return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	for n, raw := range strings.Split(string(data), "\n") {
		line := n + 1
		text := trimBlank(raw)
		switch {
		case text == "":
			cur = nil
		case text[0] == '#':
			// A comment; it does not end the section.
		case isBlank(raw[0]):
			if cur == nil {
				return nil, errorf(line, "indented line '%s' outside of a section; sections start with a 'type: name' line", text)
			}
			key, value := text, ""
			if i := strings.IndexFunc(text, func(r rune) bool { return r < 0x80 && isBlank(byte(r)) }); i >= 0 {
				key, value = text[:i], trimBlank(text[i:])
			}
			if value == "" {
				return nil, errorf(line, "key '%s' has no value", key)
			}
			for _, p := range cur.props {
				if p.key == key {
					return nil, errorf(line, "key '%s' repeated in %s '%s' (first on line %d)", key, cur.typ, cur.name, p.line)
				}
			}
			cur.props = append(cur.props, property{key: key, value: value, line: line})
		default:
			typ, name, ok := strings.Cut(text, ":")
			typ, name = trimBlank(typ), trimBlank(name)
			if !ok || typ == "" || name == "" || strings.ContainsFunc(typ+name, isBlankRune) {
				return nil, errorf(line, "malformed line '%s': expected a section header 'type: name' or an indented 'key value' line", text)
			}
			secs = append(secs, section{typ: typ, name: name, line: line})
			cur = &secs[len(secs)-1]
		}
	}
	return secs, nil
}

func isBlankRune(r rune) bool { return r < 0x80 && isBlank(byte(r)) }

// formatSections writes sections separated by blank lines, properties
// indented by a tab.
func formatSections(secs []section) []byte {
	var b bytes.Buffer
	for i, s := range secs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %s\n", s.typ, s.name)
		for _, p := range s.props {
			fmt.Fprintf(&b, "\t%s %s\n", p.key, p.value)
		}
	}
	return b.Bytes()
}

// unknownKey is the error for a key the section type does not have.
func unknownKey(file string, s section, p property, known ...string) error {
	return &ParseError{File: file, Line: p.line, Msg: fmt.Sprintf(
		"unknown key '%s' in %s '%s' (known keys: %s)", p.key, s.typ, s.name, strings.Join(known, ", "))}
}

// unknownType is the error for a section type the file does not have.
func unknownType(file string, s section, known ...string) error {
	return &ParseError{File: file, Line: s.line, Msg: fmt.Sprintf(
		"unknown section type '%s' (known types: %s)", s.typ, strings.Join(known, ", "))}
}

// badValue is the error for a value that cannot be decoded.
func badValue(file string, s section, p property, err error) error {
	return &ParseError{File: file, Line: p.line, Msg: fmt.Sprintf(
		"invalid %s '%s' in %s '%s': %v", p.key, p.value, s.typ, s.name, err)}
}
