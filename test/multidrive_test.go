package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// vtapeOpener opens virtual devices only (the command layer's opener also
// knows SCSI devices).
type vtapeOpener struct{ lib string }

func (o vtapeOpener) OpenDrive(p string) (device.Drive, error)     { return vtape.OpenDrive(p) }
func (o vtapeOpener) OpenChanger(p string) (device.Changer, error) { return vtape.OpenChanger(p) }
func (o vtapeOpener) ScanDrives() ([]device.ScanEntry, error) {
	d, _, err := vtape.ScanLibraries([]string{o.lib})
	return d, err
}
func (o vtapeOpener) ScanChangers() ([]device.ScanEntry, error) {
	_, c, err := vtape.ScanLibraries([]string{o.lib})
	return c, err
}

// TestBackupAndRestoreOnTwoDrives runs a backup on one drive while a
// restore reads another media set on the other drive, in one engine, and
// checks that a second job on a busy drive is refused at once.
func TestBackupAndRestoreOnTwoDrives(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "vlib")
	if err := vtape.Create(lib, vtape.LibraryOptions{Drives: 2, Slots: 8, Cartridges: 6, BarcodePrefix: "TEST", Capacity: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(root, "etc"), StateDir: filepath.Join(root, "state"), Opener: vtapeOpener{lib}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(eng.ChangerCreate("sl3", lib, nil))
	must(eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0), Changer: "sl3"}))
	must(eng.DriveCreate(config.Drive{Name: "d1", Path: vtape.DrivePath(lib, 1), Changer: "sl3", ChangerDriveNum: 1}))
	must(eng.PoolCreate(config.Pool{Name: "pa", Drive: "d0"}))
	must(eng.PoolCreate(config.Pool{Name: "pb", Drive: "d1"}))
	// Unassigned tapes: either pool may take them.
	_, err = eng.BarcodeLabel(ctx, "d0", "")
	must(err)

	srcA := filepath.Join(root, "src", "a")
	srcB := filepath.Join(root, "src", "b")
	must(os.MkdirAll(srcA, 0o755))
	must(os.MkdirAll(srcB, 0o755))
	for i := 0; i < 8; i++ {
		makeRandomFile(t, filepath.Join(srcA, "f"+string(rune('a'+i))), 3<<20, uint64(i))
		makeRandomFile(t, filepath.Join(srcB, "f"+string(rune('a'+i))), 1<<20, uint64(50+i))
	}
	resB, err := eng.Backup(ctx, engine.BackupOptions{Source: srcB, Pool: "pb"})
	must(err)
	wantB := describeTree(t, srcB)

	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var backupErr, restoreErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, backupErr = eng.Backup(ctx, engine.BackupOptions{Source: srcA, Pool: "pa", Progress: func(engine.BackupProgress) {
			once.Do(func() { close(started) })
		}})
		once.Do(func() { close(started) })
	}()
	target := filepath.Join(root, "restore")
	go func() {
		defer wg.Done()
		<-started
		_, restoreErr = eng.Restore(ctx, engine.RestoreOptions{Set: resB.Set, Target: target})
	}()
	<-started
	// d0 is busy with the backup: another job on it fails at once, unless
	// the backup already finished.
	if err := eng.LoadMedia(ctx, "d0", "TEST06L8"); err != nil && !errors.Is(err, engine.ErrBusy) {
		t.Errorf("load-media on the busy drive: %v, want ErrBusy", err)
	}
	wg.Wait()
	must(backupErr)
	must(restoreErr)
	diffTrees(t, wantB, describeTree(t, filepath.Join(target, filepath.FromSlash(resB.Snapshot))))
}

// TestStandaloneDriveAsksForTape: a backup on a drive without a changer
// says which tape to insert and waits until an operator inserts it.
func TestStandaloneDriveAsksForTape(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "vlib")
	if err := vtape.Create(lib, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, BarcodePrefix: "TEST", Capacity: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	asked := make(chan string, 4)
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(root, "etc"), StateDir: filepath.Join(root, "state"), Opener: vtapeOpener{lib},
		Logf: func(format string, args ...any) {
			if line := fmt.Sprintf(format, args...); strings.HasPrefix(line, "insert tape") {
				asked <- line
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	// The operator's hands: the library's robot, which the drive's
	// configuration knows nothing about.
	operator := func(from, to device.Element) {
		t.Helper()
		ch, err := vtape.OpenChanger(lib)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := ch.Move(ctx, from, to); err != nil {
			t.Fatal(err)
		}
	}
	slot := func(n int) device.Element { return device.Element{Kind: device.ElementSlot, ID: n} }
	drive := device.Element{Kind: device.ElementDrive, ID: 0}
	if err := eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := eng.PoolCreate(config.Pool{Name: "pa", Drive: "d0"}); err != nil {
		t.Fatal(err)
	}
	operator(slot(1), drive)
	if _, err := eng.Label(ctx, "d0", "TEST01L8", "pa"); err != nil {
		t.Fatal(err)
	}
	if err := eng.Eject(ctx, "d0"); err != nil {
		t.Fatal(err)
	}
	operator(drive, slot(1))

	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 1<<20, 3)
	done := make(chan error, 1)
	go func() {
		_, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"})
		done <- err
	}()
	select {
	case line := <-asked:
		if !strings.Contains(line, "TEST01L8") {
			t.Errorf("asked for the wrong tape: %q", line)
		}
	case err := <-done:
		t.Fatalf("backup finished without asking for a tape: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("backup did not ask for a tape")
	}
	operator(slot(1), drive)
	if err := <-done; err != nil {
		t.Fatalf("backup after the operator inserted the tape: %v", err)
	}
}
