package test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fingerprint hashes every file of the config directory and the library's
// element state, plus the inventory as the CLI shows it, so a test can tell
// that a failed command changed nothing.
func (s *sandbox) fingerprint(lib string) string {
	s.t.Helper()
	var parts []string
	add := func(root string, skip func(string) bool) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || skip(p) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			parts = append(parts, fmt.Sprintf("%s %x", strings.TrimPrefix(p, s.root), sha256.Sum256(b)))
			return nil
		})
	}
	add(filepath.Join(s.root, "etc"), func(p string) bool { return strings.HasSuffix(p, ".lock") })
	add(filepath.Join(lib, "library.json"), func(string) bool { return false })
	sort.Strings(parts)
	parts = append(parts, s.run(nil, "tapefs", "media", "list", "--output-format", "json").stdout)
	return strings.Join(parts, "\n")
}

// TestBadInput gives each command a bad argument: every one must exit
// non-zero with one line on stderr naming the problem, and change nothing.
func TestBadInput(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	s.ok("load-media", "TEST01L8")
	// A tape with foreign data in slot 10.
	if r := s.run(nil, "tapefs", "vtape", "insert", lib, "DATA01L8", "--slot", "10"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	s.ok("--drive", "mydrive", "load-media", "DATA01L8")
	if r := s.run(nil, "pmt", "weof", "1"); r.code != 0 {
		t.Fatalf("pmt weof: %s", r.stderr)
	}
	s.ok("load-media", "TEST01L8")

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status", "--drive", "nosuch"}, 3, "nosuch"},
		{[]string{"drive", "config", "nosuch"}, 3, "nosuch"},
		{[]string{"changer", "status", "nosuch"}, 3, "nosuch"},
		{[]string{"pool", "config", "nosuch"}, 3, "nosuch"},
		{[]string{"pool", "create", "weekly", "--drive", "nosuch"}, 3, "nosuch"},
		{[]string{"label", "--label-text", "TEST20L8", "--pool", "nosuch"}, 3, "nosuch"},
		{[]string{"drive", "create", "mydrive", "--path", lib + "/drive1"}, 6, "mydrive"},
		{[]string{"drive", "create", "other", "--path", lib + "/drive0"}, 6, "already configured"},
		{[]string{"drive", "create", "d2", "--path", "/nonexistent/nst0"}, 2, "/nonexistent/nst0"},
		{[]string{"drive", "create", "bad name!", "--path", lib + "/drive1"}, 2, "bad name!"},
		{[]string{"changer", "create", "sl3", "--path", lib}, 6, "sl3"},
		{[]string{"changer", "create", "sl4", "--path", "relative/path"}, 2, "relative/path"},
		{[]string{"changer", "update", "sl3", "--export-slots", "15,x"}, 2, "15,x"},
		{[]string{"changer", "remove", "sl3"}, 6, "mydrive"},
		{[]string{"drive", "remove", "mydrive"}, 6, "daily"},
		{[]string{"changer", "transfer", "--from", "1", "--to", "99"}, 2, "99"},
		{[]string{"changer", "transfer", "--from", "0", "--to", "3"}, 2, "0"},
		{[]string{"changer", "transfer", "--from", "2", "--to", "3"}, 2, "slot 3"},
		{[]string{"changer", "transfer", "--from", "14", "--to", "13"}, 2, "empty"},
		{[]string{"load-media-from-slot", "99"}, 2, "99"},
		{[]string{"load-media-from-slot", "14"}, 2, "empty"},
		{[]string{"load-media", "NOSUCH"}, 3, "NOSUCH"},
		{[]string{"unload", "--target-slot", "2"}, 2, "slot 2"},
		{[]string{"export-media", "NOSUCH"}, 3, "NOSUCH"},
		{[]string{"pool", "update", "daily", "--allocation", "mon..xyz 18:00"}, 2, "mon..xyz"},
		{[]string{"pool", "update", "daily", "--retention", "7 fortnights"}, 2, "fortnights"},
		{[]string{"pool", "remove", "daily"}, 6, "daily"},
		{[]string{"label", "--label-text", "TEST01L8"}, 6, "already used"},
		{[]string{"label", "--label-text", "DATA01L8"}, 6, "load-media DATA01L8"},
		{[]string{"label", "--label-text", "has space"}, 2, "has space"},
		{[]string{"label", "--label-text", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}, 2, "32"},
		{[]string{"label", "--label-text", "TEST1!L8"}, 2, "TEST1!L8"},
		{[]string{"label", "--label-text", "TEST01L3"}, 2, "L3"},
		{[]string{"label", "--label-text", ""}, 2, "label"},
		{[]string{"label", "--label-text", "TEST02L8"}, 6, "TEST02L8"},
		{[]string{"vtape", "create", lib}, 1, "library"},
		{[]string{"vtape", "create", s.root + "/lib2", "--barcode-prefix", "TOOLONGPREFIX"}, 1, "TOOLONGPREFIX"},
		{[]string{"media", "list", "--output-format", "yaml"}, 2, "yaml"},
		{[]string{"status", "extra-arg", "--nosuchflag"}, 2, "nosuchflag"},
		// Usage errors of the command tree itself are exit 2 as well, not
		// urfave/cli's 3 (unknown command) or 1 (missing required flag).
		{[]string{"nosuch"}, 2, `unknown command "nosuch": see ` + "`tapefs --help`"},
		{[]string{"media", "nosuch"}, 2, "`tapefs media --help`"},
		{[]string{"changer", "create", "sl4"}, 2, "changer create: --path is required"},
		{[]string{"label", "--pool", "daily"}, 2, "label: --label-text is required"},
		{[]string{"changer", "transfer", "--from", "1"}, 2, "--to is required"},
		{[]string{"pool", "create"}, 2, "pool create: expected 1 argument"},
		{[]string{"help", "nosuch"}, 2, "nosuch"},
	}
	before := s.fingerprint(lib)
	for _, c := range cases {
		r := s.run(nil, "tapefs", c.args...)
		name := strings.Join(c.args, " ")
		if r.code != c.code {
			t.Errorf("tapefs %s: exit %d, want %d (stderr %q)", name, r.code, c.code, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "tapefs: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("tapefs %s: stderr should be one line naming %q, got %q", name, c.want, r.stderr)
		}
		if after := s.fingerprint(lib); after != before {
			t.Errorf("tapefs %s changed state:\nbefore:\n%s\nafter:\n%s", name, before, after)
			before = after
		}
	}
	for _, bin := range []string{"pmt", "pmtx"} {
		r := s.run(nil, bin, "nosuch")
		if r.code != 2 || r.stderr != bin+": unknown command \"nosuch\": see `"+bin+" --help`\n" || r.stdout != "" {
			t.Errorf("%s nosuch: exit %d, stdout %q, stderr %q; want exit 2 and one line", bin, r.code, r.stdout, r.stderr)
		}
	}
	// The foreign tape is refused by label too.
	s.ok("load-media", "DATA01L8")
	before = s.fingerprint(lib)
	if r := s.run(nil, "tapefs", "label", "--label-text", "DATA01L8"); r.code != 6 || !strings.Contains(r.stderr, "tapefs format") {
		t.Errorf("label of a tape with foreign data: exit %d, %q", r.code, r.stderr)
	}
	if after := s.fingerprint(lib); after != before {
		t.Errorf("refused label changed state")
	}
}
