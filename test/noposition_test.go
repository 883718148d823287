package test

import (
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
