package test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestorePathPatterns plans restores with --path globs as an
// administrator types them. A pattern that matches nothing (a typo) or
// cannot be parsed used to plan, and restore, zero files and exit 0; a
// leading "./" matched nothing.
func TestRestorePathPatterns(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 1)
	b := s.backup(src, "daily")
	target := filepath.Join(s.root, "restore")

	for _, tc := range []struct {
		paths    []string
		code     int
		files    int64  // with code 0
		errWords string // with another code
	}{
		{paths: []string{"small.txt"}, files: 1},
		{paths: []string{"./small.txt"}, files: 1},
		{paths: []string{"/small.txt"}, files: 1},
		{paths: []string{"dir/sub/"}, files: 3},
		{paths: []string{"small.txt", "no-such-file"}, code: 3, errWords: `--path "no-such-file" matches nothing`},
		{paths: []string{"sm[al"}, code: 2, errWords: `--path "sm[al"`},
	} {
		args := []string{"restore", b.Set, target, b.Snapshot, "--dry-run", "--output-format", "json"}
		for _, p := range tc.paths {
			args = append(args, "--path", p)
		}
		r := s.run(nil, "tapefs", args...)
		if r.code != tc.code {
			t.Errorf("restore --path %q: exit %d, want %d\n%s%s", tc.paths, r.code, tc.code, r.stdout, r.stderr)
			continue
		}
		if tc.code != 0 {
			if !strings.Contains(r.stderr, tc.errWords) {
				t.Errorf("restore --path %q: error %q lacks %q", tc.paths, r.stderr, tc.errWords)
			}
			continue
		}
		var res struct {
			Plan struct {
				Files int64 `json:"files"`
			} `json:"plan"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("restore --dry-run output %q: %v", r.stdout, err)
		}
		if res.Plan.Files != tc.files {
			t.Errorf("restore --path %q plans %d files, want %d", tc.paths, res.Plan.Files, tc.files)
		}
	}
	// Nothing restored by a pattern that matches nothing, not even the
	// snapshot directory.
	r := s.run(nil, "tapefs", "restore", b.Set, target, b.Snapshot, "--path", "no-such-file")
	if r.code != 3 {
		t.Errorf("restore of a pattern that matches nothing: exit %d\n%s", r.code, r.stderr)
	}
}
