package test

import (
	"context"
	"os"
	"path/filepath"
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
