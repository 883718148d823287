package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreWithFewDescriptors restores more files than the process may
// have open at once: a restore opens a file when its data arrives and
// closes it once written, so any number of files restores under a low
// RLIMIT_NOFILE (it used to open every file first and fail with EMFILE).
func TestRestoreWithFewDescriptors(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "many")
	const n = 1500
	content := func(i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("file %d\n", i)), 1+i%7)
	}
	for i := range n {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%30))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), content(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := s.backup(src, "daily")
	target := filepath.Join(s.root, "restore")
	// 128 descriptors in all: well below the number of files.
	cmd := s.command(nil, "sh", "-c", `ulimit -n 128 && exec "$0" "$@"`,
		filepath.Join(binDir, "tapefs"), "restore", b.Set, target)
	cmd.Path = "/bin/sh"
	r := s.runCmd(cmd)
	if r.code != 0 {
		t.Fatalf("restore under ulimit -n 128: exit %d\n%s%s", r.code, r.stdout, lastLines(r.stderr, 5))
	}
	root := filepath.Join(target, b.Snapshot)
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%30), fmt.Sprintf("f%04d", i))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content(i)) {
			t.Fatalf("%s: %q, want %q", p, got, content(i))
		}
	}
}

// lastLines is the end of a long output, for failure messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
