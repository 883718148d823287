package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

func TestSetName(t *testing.T) {
	s := Set{
		UUID:  uuid.MustParse("9da37a55-aac7-4deb-91c6-482b3b675f30"),
		Pool:  "p2",
		Ctime: time.Date(2021, time.January, 13, 13, 55, 55, 0, cet),
	}
	early := s
	early.Ctime = time.Date(2021, time.January, 6, 9, 7, 51, 0, cet)
	tests := []struct {
		name     string
		template string
		set      Set
		want     string
	}{
		{"default", "", s, "Wed Jan 13 13:55:55 2021"},
		{"default single-digit day", "", early, "Wed Jan 6 09:07:51 2021"},
		{"%c", "%c", s, "Wed Jan 13 13:55:55 2021"},
		{"date and time", "%Y-%m-%d %H:%M:%S", s, "2021-01-13 13:55:55"},
		{"zero padding", "%Y%m%d-%H%M%S", early, "20210106-090751"},
		{"names", "%a %A %b %B", s, "Wed Wednesday Jan January"},
		{"day of year", "%j", early, "006"},
		{"day of year late", "%j", Set{Ctime: time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC)}, "366"},
		{"short forms", "%F %T %y %e", early, "2021-01-06 09:07:51 21  6"},
		{"zone", "%H %Z", s, "13 CET"},
		{"uuid", "set-%id%", s, "set-9da37a55-aac7-4deb-91c6-482b3b675f30"},
		{"uuid twice with date", "%id%_%Y_%id%", s,
			"9da37a55-aac7-4deb-91c6-482b3b675f30_2021_9da37a55-aac7-4deb-91c6-482b3b675f30"},
		{"percent", "100%% %Y", s, "100% 2021"},
		{"literal percent before id", "%%id%%", s, "%id%"},
		{"plain text", "weekly tapes", s, "weekly tapes"},
		{"unicode", "Sicherung %d. %b – Woche", s, "Sicherung 13. Jan – Woche"},
		{"location of ctime", "%H:%M", Set{Ctime: s.Ctime.UTC()}, "12:55"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetName(tc.template, tc.set)
			if err != nil || got != tc.want {
				t.Errorf("SetName(%q) = %q, %v; want %q", tc.template, got, err, tc.want)
			}
			if err := ValidateTemplate(tc.template); err != nil {
				t.Errorf("ValidateTemplate(%q) = %v", tc.template, err)
			}
		})
	}
}

func TestSetNameInvalid(t *testing.T) {
	tests := []struct {
		name     string
		template string
		want     string // part of the message
	}{
		{"unknown conversion", "%Y-%q", "unknown conversion '%q'"},
		{"unknown multibyte conversion", "%ä", "unknown conversion '%ä'"},
		{"lone percent", "backup %", "lone '%'"},
		{"unterminated id", "%id", "unknown conversion '%i'"},
		{"slash", "%Y/%m", "contains '/'"},
		{"control character", "a\tb", "control character"},
		{"invalid utf-8", "a\xffb", "not valid UTF-8"},
		{"blank result", "   ", "empty"},
		{"dot", ".", "not a directory name"},
		{"dot dot", "..", "not a directory name"},
		{"too long", strings.Repeat("%id%", 8), "more than 255"},
	}
	s := Set{UUID: id(1), Ctime: at(1, 5, 10, 0)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetName(tc.template, s)
			if !errors.Is(err, ErrInvalidTemplate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SetName(%q) = %q, %v; want ErrInvalidTemplate mentioning %q", tc.template, got, err, tc.want)
			}
			if err := ValidateTemplate(tc.template); !errors.Is(err, ErrInvalidTemplate) {
				t.Errorf("ValidateTemplate(%q) = %v, want ErrInvalidTemplate", tc.template, err)
			}
		})
	}
}

// TestValidateTemplateLongestDate: a template whose name fits for a short
// month and weekday but not for the longest ones is rejected.
func TestValidateTemplateLongestDate(t *testing.T) {
	tmpl := strings.Repeat("x", 255-len("May"+"Monday")) + "%B%A"
	if _, err := SetName(tmpl, Set{Ctime: time.Date(2026, time.May, 4, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatalf("SetName for May, Monday: %v", err)
	}
	if err := ValidateTemplate(tmpl); !errors.Is(err, ErrInvalidTemplate) {
		t.Errorf("ValidateTemplate = %v, want ErrInvalidTemplate", err)
	}
}

func FuzzSetName(f *testing.F) {
	for _, s := range []string{"", "%c", "%Y-%m-%d %H:%M:%S", "%id%", "%%", "%", "%id", "%%id%%",
		"%a %A %b %B %j %F %T %y %e %Z", "a/b", "\x00", "\xff", ".", strings.Repeat("%B", 40)} {
		f.Add(s, int64(1610546155))
	}
	f.Fuzz(func(t *testing.T, template string, unix int64) {
		s := Set{UUID: id(7), Ctime: time.Unix(unix, 0).In(cet)}
		name, err := SetName(template, s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("SetName(%q) error %v does not wrap ErrInvalidTemplate", template, err)
			}
			return
		}
		if name == "" || name == "." || name == ".." || len(name) > maxNameLen || !utf8.ValidString(name) {
			t.Fatalf("SetName(%q) = %q, not a directory name", template, name)
		}
		for _, r := range name {
			if r == '/' || unicode.IsControl(r) {
				t.Fatalf("SetName(%q) = %q contains %q", template, name, r)
			}
		}
		// A template without conversions renders to itself.
		if template != "" && !strings.Contains(template, "%") && name != template {
			t.Fatalf("SetName(%q) = %q, want the text unchanged", template, name)
		}
	})
}
