package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
	// Unassigned tapes: either pool may take them.
	eng, _ := engineLibrary(t, root, vtape.LibraryOptions{Drives: 2, Slots: 8, Cartridges: 6, Capacity: 256 << 20}, engine.Options{}, nil, ptr(""))
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(eng.PoolCreate(config.Pool{Name: "pb", Drive: "d1"}))

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
	// d0 is busy with the backup: another job on it waits for it (up to
	// the engine's DriveWait) and then runs, or fails with ErrBusy.
	if err := eng.LoadMedia(ctx, "d0", "TEST06L8"); err != nil && !errors.Is(err, engine.ErrBusy) {
		t.Errorf("load-media on the busy drive: %v, want ErrBusy", err)
	}
	// A restore refused for a busy drive creates nothing.
	busyTarget := filepath.Join(root, "refused")
	if _, err := eng.Restore(ctx, engine.RestoreOptions{Set: resB.Set, Target: busyTarget, Drive: "d0"}); errors.Is(err, engine.ErrBusy) {
		if _, serr := os.Lstat(busyTarget); serr == nil {
			t.Errorf("a restore refused with %v created %s", err, busyTarget)
		}
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
	// The job looks for the inserted tape every 50 ms, not every 5 s.
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(root, "etc"), StateDir: filepath.Join(root, "state"), Opener: vtapeOpener{lib},
		MediaRecheck: 50 * time.Millisecond,
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

// sourceClock is a virtual clock driven by a source's reads: it stands at
// the time a source reading at rate bytes/s would need for what it has
// read so far. The virtual drive measures the host's pace with it, so the
// test needs no sleeping and gives the same counts on a busy machine.
type sourceClock struct {
	mu    sync.Mutex
	bytes int64
	rate  float64
	base  time.Time
}

func (c *sourceClock) add(n int) {
	c.mu.Lock()
	c.bytes += int64(n)
	c.mu.Unlock()
}

func (c *sourceClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Duration(float64(c.bytes) / c.rate * float64(time.Second)))
}

// countingSource reports every byte read to a sourceClock.
type countingSource struct {
	engine.BackupSource
	clock *sourceClock
}

type countingReader struct {
	io.ReadCloser
	clock *sourceClock
}

func (s countingSource) Open(rel string) (io.ReadCloser, error) {
	r, err := s.BackupSource.Open(rel)
	return countingReader{r, s.clock}, err
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.clock.add(n)
	return n, err
}

// clockOpener opens virtual drives that measure the host's pace with clock.
type clockOpener struct {
	vtapeOpener
	clock func() time.Time
}

func (o clockOpener) OpenDrive(p string) (device.Drive, error) {
	d, err := vtape.OpenDrive(p)
	if err != nil {
		return nil, err
	}
	d.SetClock(o.clock)
	return d, nil
}

// TestSpoolKeepsTheDriveStreaming backs up the same 384 MiB from a source
// that reads at 10 MB/s (an LTO-5 drive streams at 40 MB/s at least), once
// feeding the drive chunk by chunk and once through the spool: feeding it
// directly makes the drive back-hitch again and again, the spool's bursts
// let it stream.
func TestSpoolKeepsTheDriveStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 × 384 MiB")
	}
	root := t.TempDir()
	src := filepath.Join(root, "src")
	os.MkdirAll(src, 0o755)
	for i := 0; i < 12; i++ {
		makeRandomFile(t, filepath.Join(src, "f"+strconv.Itoa(i)), 32<<20, uint64(i))
	}
	backHitches := func(name string, spoolBytes int64) uint64 {
		clock := &sourceClock{rate: 10e6, base: time.Unix(1700000000, 0)}
		dir := filepath.Join(root, name)
		eng, _ := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, Generation: "LTO-5", Capacity: 1 << 30},
			engine.Options{SpoolBytes: spoolBytes, Now: clock.now},
			func(lib string) device.Opener { return clockOpener{vtapeOpener{lib}, clock.now} }, ptr("pa"))
		ctx := context.Background()
		before, err := eng.Status(ctx, "d0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Backup(ctx, engine.BackupOptions{From: countingSource{engine.DirSource(src), clock}, Group: "slow", Pool: "pa"}); err != nil {
			t.Fatal(err)
		}
		after, err := eng.Status(ctx, "d0")
		if err != nil {
			t.Fatal(err)
		}
		return after.Status.Sim.BackHitches - before.Status.Sim.BackHitches
	}
	direct := backHitches("direct", 1) // bursts of one chunk: the drive follows the source
	spooled := backHitches("spooled", 512<<20)
	t.Logf("source at 10 MB/s into LTO-5: %d back-hitches chunk by chunk, %d through the spool", direct, spooled)
	if direct < 2 {
		t.Fatalf("feeding chunk by chunk back-hitched only %d times: the test does not exercise the drive model", direct)
	}
	if spooled*2 > direct {
		t.Errorf("spooled backup back-hitched %d times, chunk by chunk %d: the spool does not keep the drive streaming", spooled, direct)
	}
}
