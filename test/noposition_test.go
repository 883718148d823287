package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"tapefs/engine"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// noPositionOpener opens virtual drives that do not report their position,
// the way sgio reports a drive whose READ POSITION does not follow the tape
// (tgt's emulation): ReadPosition fails with ErrUnsupported.
type noPositionOpener struct{ vtapeOpener }

func (o noPositionOpener) OpenDrive(p string) (device.Drive, error) {
	d, err := o.vtapeOpener.OpenDrive(p)
	if err != nil {
		return nil, err
	}
	return noPositionDrive{d}, nil
}

type noPositionDrive struct{ device.Drive }

func (noPositionDrive) ReadPosition(context.Context) (device.Position, error) {
	return device.Position{}, fmt.Errorf("read position: the drive does not report where the tape is: %w", device.ErrUnsupported)
}

// TestBackupRefusedWithoutPosition: a backup on a drive that cannot report
// its position fails with the drive's reason before it writes anything: no
// tape joins a media set (before, the tape got the set's label and a place
// in the set, and only then did the backup fail).
func TestBackupRefusedWithoutPosition(t *testing.T) {
	ctx := context.Background()
	eng, _ := engineLibrary(t, t.TempDir(), vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2}, engine.Options{},
		func(lib string) device.Opener { return noPositionOpener{vtapeOpener{lib}} }, ptr("pa"))
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"})
	if !errors.Is(err, device.ErrUnsupported) {
		t.Fatalf("Backup = %v, want the drive's ErrUnsupported", err)
	}
	media, err := eng.MediaList("pa")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range media {
		if m.Set != nil {
			t.Errorf("tape %s joined media set %s although the backup was refused", m.LabelText, m.Set.UUID)
		}
	}
}

// TestRestoreAndCatalogWithoutPosition: a media set written on a drive
// that reports its position, read back on one that does not. A restore
// locates archives by the logical object the catalog holds and checks
// every record it reads (content, sequence), so it needs no position and
// restores the data; the catalog rebuild, which takes archive places from
// the position, fails with the drive's reason.
func TestRestoreAndCatalogWithoutPosition(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, lib := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2}, engine.Options{}, nil, ptr("pa"))
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 1<<20, 1)
	r, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	eng, err = engine.New(engine.Options{ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "state"),
		Opener: noPositionOpener{vtapeOpener{lib}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	target := filepath.Join(dir, "restore")
	if _, err := eng.Restore(ctx, engine.RestoreOptions{Set: r.Set, Target: target}); err != nil {
		t.Errorf("Restore: %v", err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "f"))
	if got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(r.Snapshot), "f")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("restored f: %d bytes, %v; want the %d bytes of the source", len(got), err, len(want))
	}
	if _, err := eng.RestoreCatalog(ctx, "d0", true, true); !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("catalog --scan --force = %v, want the drive's ErrUnsupported", err)
	}
	if _, err := eng.RestoreCatalog(ctx, "d0", false, true); !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("catalog --force = %v, want the drive's ErrUnsupported", err)
	}
}
