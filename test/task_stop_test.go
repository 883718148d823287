package test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/engine/device"
	"tapefs/engine/staging"
	"tapefs/vtape"
)

// gate holds one drive operation ("write" or "read") until released, so a
// test can act while a job is in the middle of its tape work.
type gate struct {
	mu      sync.Mutex
	armed   string
	reached chan struct{}
	release chan struct{}
}

// arm makes the next op wait; reached is closed when it does.
func (g *gate) arm(op string) (reached, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.reached, g.release = op, make(chan struct{}), make(chan struct{})
	return g.reached, g.release
}

func (g *gate) pass(op string) {
	g.mu.Lock()
	if g.armed != op {
		g.mu.Unlock()
		return
	}
	g.armed = ""
	reached, release := g.reached, g.release
	g.mu.Unlock()
	close(reached)
	<-release
}

type gateDrive struct {
	device.Drive
	g *gate
}

func (d gateDrive) WriteRecord(ctx context.Context, p []byte) error {
	d.g.pass("write")
	return d.Drive.WriteRecord(ctx, p)
}

func (d gateDrive) ReadRecord(ctx context.Context, buf []byte) (int, error) {
	d.g.pass("read")
	return d.Drive.ReadRecord(ctx, buf)
}

type gateOpener struct {
	vtapeOpener
	g *gate
}

func (o gateOpener) OpenDrive(p string) (device.Drive, error) {
	d, err := o.vtapeOpener.OpenDrive(p)
	if err != nil {
		return nil, err
	}
	return gateDrive{d, o.g}, nil
}

// stopInTape runs fn as a task, stops it (`tapefs task stop`) while it
// waits in a tape operation op, and returns the task's record.
func stopInTape(t *testing.T, eng *engine.Engine, g *gate, op, name string, fn func(ctx context.Context) error) engine.TaskInfo {
	t.Helper()
	reached, release := g.arm(op)
	id, done, err := eng.StartTask(context.Background(), engine.TaskSpec{Kind: name, Name: name}, fn)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("%s ended before its first tape %s: %v", name, op, err)
	}
	if err := eng.StopTask(id); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err == nil {
		t.Fatalf("%s: stopped, but it succeeded", name)
	}
	info, err := eng.Task(id)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != engine.TaskStopped {
		t.Errorf("%s: task state %q (%s), want stopped", name, info.State, info.Message)
	}
	return info
}

// stageFile writes a file into pool pa's incoming/<group>/.
func stageFile(t *testing.T, eng *engine.Engine, group, name string, data []byte) {
	t.Helper()
	st, err := eng.Staging("pa")
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.Lookup(staging.RootID, group)
	if err != nil {
		if g, err = st.Make(staging.RootID, group, syscall.S_IFDIR|0o755, 0, 0, 0, "", false); err != nil {
			t.Fatal(err)
		}
	}
	_, f, err := st.Create(g.ID, name, 0o644, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTaskStop stops a backup, a commit and a restore in the middle of
// their tape work: each ends as "stopped", and afterwards what was on
// tape restores, the next backup and the commit succeed and restore too.
func TestTaskStop(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := &gate{}
	eng, _ := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, Capacity: 1 << 30}, engine.Options{},
		func(lib string) device.Opener { return gateOpener{vtapeOpener{lib}, g} }, ptr("pa"))
	src1, src2 := filepath.Join(dir, "src", "one"), filepath.Join(dir, "src", "two")
	for _, d := range []string{src1, src2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	makeRandomFile(t, filepath.Join(src1, "a"), 3<<20, 1)
	makeRandomFile(t, filepath.Join(src2, "b"), 3<<20, 2)
	r1, err := eng.Backup(ctx, engine.BackupOptions{Source: src1, Pool: "pa"})
	if err != nil {
		t.Fatal(err)
	}

	stopInTape(t, eng, g, "write", "backup", func(ctx context.Context) error {
		_, err := eng.Backup(ctx, engine.BackupOptions{Source: src2, Pool: "pa"})
		return err
	})
	staged := bytes.Repeat([]byte("staged "), 300_000)
	stageFile(t, eng, "www", "index", staged)
	stopInTape(t, eng, g, "write", "commit", func(ctx context.Context) error {
		_, err := eng.Commit(ctx, engine.CommitOptions{Pool: "pa"})
		return err
	})
	stopInTape(t, eng, g, "read", "restore", func(ctx context.Context) error {
		_, err := eng.Restore(ctx, engine.RestoreOptions{Set: r1.Set, Target: filepath.Join(dir, "stopped-restore")})
		return err
	})

	// Everything goes on as after a crash.
	r2, err := eng.Backup(ctx, engine.BackupOptions{Source: src2, Pool: "pa"})
	if err != nil {
		t.Fatalf("backup after the stops: %v", err)
	}
	rc, err := eng.Commit(ctx, engine.CommitOptions{Pool: "pa"})
	if err != nil || len(rc) != 1 {
		t.Fatalf("commit after the stop: %v, %v", rc, err)
	}
	target := filepath.Join(dir, "restore")
	res, err := eng.Restore(ctx, engine.RestoreOptions{Set: r1.Set, Target: target})
	if err != nil {
		t.Fatalf("restore after the stops: %v", err)
	}
	// The tasks' progress: the restore's bytes and files of its plan,
	// the backup's of its source.
	tasks, err := eng.TaskList(0)
	if err != nil {
		t.Fatal(err)
	}
	last := tasks[len(tasks)-1]
	if p := last.Progress; last.Kind != "restore" || p == nil || p.Bytes != res.Plan.Bytes || p.TotalBytes != res.Plan.Bytes ||
		p.Files != res.Plan.Files || p.Tape != "TEST01L8" || p.Drive != "d0" {
		t.Errorf("restore task %+v, progress %+v; plan %d bytes, %d files", last, last.Progress, res.Plan.Bytes, res.Plan.Files)
	}
	for _, ti := range tasks {
		if ti.Kind == "backup" && ti.State == engine.TaskDone && ti.Progress != nil && ti.Progress.Bytes == 3<<20 && ti.Progress.TotalBytes == 3<<20 {
			goto backupSeen
		}
	}
	t.Errorf("no backup task with the progress of its 3 MiB source: %+v", tasks)
backupSeen:
	for _, c := range []struct {
		snap, name string
		want       []byte
	}{{r1.Snapshot, "a", nil}, {r2.Snapshot, "b", nil}, {rc[0].Snapshot, "index", staged}} {
		want := c.want
		if want == nil {
			src := src1
			if c.name == "b" {
				src = src2
			}
			want, _ = os.ReadFile(filepath.Join(src, c.name))
		}
		got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(c.snap), c.name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s/%s restored: %d bytes, %v; want %d bytes", c.snap, c.name, len(got), err, len(want))
		}
	}
}

// TestTaskStopEnded: stopping a task that has ended is refused.
func TestTaskStopEnded(t *testing.T) {
	eng, _ := engineLibrary(t, t.TempDir(), vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 1, Capacity: 1 << 30}, engine.Options{}, nil, ptr("pa"))
	tasks, err := eng.TaskList(0)
	if err != nil || len(tasks) == 0 {
		t.Fatalf("task list after barcode-label: %v, %v", tasks, err)
	}
	last := tasks[len(tasks)-1]
	// barcode-label was called directly on the engine: a drive job
	// outside any task records itself, without a result.
	if last.State != engine.TaskDone || last.Kind != "barcode-label" || time.Since(last.End) > time.Minute {
		t.Errorf("implicit task: %+v", last)
	}
	if err := eng.StopTask(last.ID); !errors.Is(err, engine.ErrRefused) {
		t.Errorf("stop of an ended task: %v", err)
	}
}
