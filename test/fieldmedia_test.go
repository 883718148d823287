package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests in this file run the commands of the field report's "State and
// media handling" section (issue 11) as users ran them.

// smallLibrary creates a virtual library of n cartridges (slots 1..16,
// import/export slots 17 and 18) with changer sl3 and drive mydrive, and
// returns its directory.
func smallLibrary(s *sandbox, cartridges string) string {
	s.t.Helper()
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "16", "--drives", "2", "--import-export", "2",
		"--cartridges", cartridges, "--barcode-prefix", "TEST", "--cleaning", "0", "--generation", "LTO-8", "--capacity", "64MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"))
	s.ok("drive", "update", "mydrive", "--changer", "sl3", "--changer-drivenum", "0")
	return lib
}

// smallSource writes a directory with one file and returns it.
func smallSource(t *testing.T, s *sandbox, name, content string) string {
	t.Helper()
	src := filepath.Join(s.root, "src", name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestFailedNewSetKeepsCurrentSet (item 1): a forced new media set that
// finds no writable tape fails, and the pool keeps appending to its
// current set afterwards; the same after a key change that is undone.
func TestFailedNewSetKeepsCurrentSet(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "1")
	s.ok("pool", "create", "kp", "--drive", "mydrive", "--allocation", "continue", "--retention", "keep")
	s.ok("barcode-label", "--pool", "kp")
	src := smallSource(t, s, "docs", "one\n")
	b1 := s.backup(src, "kp")
	b2 := s.backup(src, "kp")
	if b2.Set != b1.Set {
		t.Fatalf("second backup went to set %s, want the current set %s", b2.Set, b1.Set)
	}
	r := s.run(nil, "tapefs", "backup", src, "kp", "--force-media-set")
	if r.code != 7 || !strings.Contains(r.stderr, "no writable media") {
		t.Fatalf("backup --force-media-set with the only tape in use: exit %d, stderr %q; want 7, no writable media", r.code, r.stderr)
	}
	b3 := s.backup(src, "kp")
	if b3.Set != b1.Set {
		t.Errorf("backup after the failed new set went to set %s, want the current set %s", b3.Set, b1.Set)
	}
	if list := s.ok("media", "list").stdout; !lineHas(list, b1.Tapes[0], "writable") {
		t.Errorf("media list after the failed new set:\n%s", list)
	}

	// A key change starts a new set; with no tape for it the backup
	// fails, and once the key is set back the pool appends again.
	m := fingerprintRe.FindStringSubmatch(s.okIn("secret\nsecret\n", "key", "create", "--hint", "h").stdout)
	if m == nil {
		t.Fatal("key create printed no fingerprint")
	}
	fp := m[1]
	s.ok("pool", "update", "kp", "--encrypt", fp)
	if r := s.run(nil, "tapefs", "backup", src, "kp"); r.code != 7 {
		t.Fatalf("backup after the key change with no free tape: exit %d, stderr %q; want 7", r.code, r.stderr)
	}
	s.ok("pool", "update", "kp", "--delete", "encrypt")
	if b4 := s.backup(src, "kp"); b4.Set != b1.Set {
		t.Errorf("backup after the key was set back went to set %s, want the current set %s", b4.Set, b1.Set)
	}
}
