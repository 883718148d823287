package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// TestRestoreStaysInTarget feeds the restore layout entries a hostile tape
// could carry: a symlink to a directory outside the target followed by
// entries below it, and paths with "..". Nothing may appear outside the
// target, and every refused entry is reported.
func TestRestoreStaysInTarget(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	target := filepath.Join(base, "target")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	ents := []*format.Entry{
		{Path: "", Type: format.EntryDir, Mode: 0o755, Mtime: now, Atime: now, Ctime: now},
		{Path: "a", Type: format.EntrySymlink, Target: outside, Mode: 0o777, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/evil", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/sub", Type: format.EntryDir, Mode: 0o700, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/sub/deeper", Type: format.EntryFIFO, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "../escape", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "ok", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
	}
	r := &restoreJob{target: target, res: &RestoreResult{}}
	r.add("g/2026-11-25T17:00:00Z", ents, nil)
	r.plan(func([32]byte) (catalog.ChunkLoc, error) { return catalog.ChunkLoc{}, nil })
	if err := r.layout(); err != nil {
		t.Fatal(err)
	}
	err := r.finish()
	if err == nil {
		t.Fatal("hostile entries restored without failures")
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("restore changed the directory outside the target: %v %v", fi.Mode(), err)
	}
	left, _ := os.ReadDir(outside)
	if len(left) != 0 {
		t.Errorf("restore wrote outside the target: %v", left)
	}
	if _, err := os.Stat(filepath.Join(base, "escape")); err == nil {
		t.Errorf("../escape was created")
	}
	all := strings.Join(r.res.Failed, "\n")
	for _, p := range []string{"a/evil", "a/sub", "../escape"} {
		if !strings.Contains(all, p) {
			t.Errorf("refused entry %s not reported:\n%s", p, all)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "g/2026-11-25T17:00:00Z/ok")); err != nil {
		t.Errorf("the harmless file was not restored: %v", err)
	}
}

// TestRestoreNeverRemovesOutside: a hostile entry whose path climbs out of
// the target must not make the restore touch (or delete) anything there.
func TestRestoreNeverRemovesOutside(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "t")
	now := time.Unix(1700000000, 0)
	ents := []*format.Entry{
		{Path: "", Type: format.EntryDir, Mode: 0o755, Mtime: now, Atime: now, Ctime: now},
		{Path: "../../../victim", Type: format.EntryFile, Mode: 0o644, Size: 4, Mtime: now, Atime: now, Ctime: now},
	}
	r := &restoreJob{target: target, res: &RestoreResult{}}
	r.add("g/2026-11-25T17:00:00Z", ents, nil)
	r.plan(func([32]byte) (catalog.ChunkLoc, error) { return catalog.ChunkLoc{}, nil })
	if err := r.layout(); err != nil {
		t.Fatal(err)
	}
	if err := r.finish(); err == nil {
		t.Error("hostile path restored without failure")
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep me" {
		t.Errorf("file outside the target touched: %q, %v", b, err)
	}
}
