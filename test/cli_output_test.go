package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/vtape"
)

// TestBackupSameSecondDuration backs up one group three times within one
// second of the clock: the snapshot names move on to the next free second,
// and the durations stay what the jobs took (never negative).
func TestBackupSameSecondDuration(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	eng, _ := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 1, Capacity: 64 << 20},
		engine.Options{Now: func() time.Time { return now }}, nil, ptr("pa"))
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		res, err := eng.Backup(context.Background(), engine.BackupOptions{Source: src, Pool: "pa"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[res.Snapshot] {
			t.Errorf("backup %d: snapshot name %s given twice", i, res.Snapshot)
		}
		seen[res.Snapshot] = true
		if res.ElapsedNanos < 0 {
			t.Errorf("backup %d (%s): elapsed %v, negative", i, res.Snapshot, time.Duration(res.ElapsedNanos))
		}
	}
}

// TestNoWritableMediaMessage: a backup into a pool without tapes says so
// once (it said `pool enc: pool 'enc': no writable media`).
func TestNoWritableMediaMessage(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	s.ok("pool", "create", "enc", "--drive", "mydrive")
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	r := s.run(nil, "tapefs", "backup", src, "enc")
	if r.code != 7 {
		t.Fatalf("backup into a pool without tapes: exit %d, want 7\n%s", r.code, r.stderr)
	}
	last := strings.TrimSpace(r.stderr)
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "tapefs: pool 'enc': no writable media: ") || strings.Count(last, "enc") != 3 {
		t.Errorf("error message %q: want it to name the pool once, then say what to do", last)
	}
}
