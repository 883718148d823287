package test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// fakeClock is the engine's clock in scheduler tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// waitTask waits until a task has ended and returns its record.
func waitTask(t *testing.T, eng *engine.Engine, id uint64) engine.TaskInfo {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := eng.Task(id)
		if err != nil {
			t.Fatal(err)
		}
		if !info.Running() {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d still %s", id, info.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitJobIdle waits until a backup job's run has been recorded (its
// state written after the task ended).
func waitJobIdle(t *testing.T, eng *engine.Engine, id string) engine.JobStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := eng.JobShow(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Running == 0 && st.LastResult != engine.TaskRunning {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jobSource(t *testing.T, dir, name string, seed uint64) string {
	t.Helper()
	src := filepath.Join(dir, "src", name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 1<<20, seed)
	return src
}

// labelTapes labels library tapes for a pool with drive d0.
func labelTapes(t *testing.T, eng *engine.Engine, pool string, labels ...string) {
	t.Helper()
	ctx := context.Background()
	for _, l := range labels {
		if err := eng.LoadMedia(ctx, "d0", l); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Label(ctx, "d0", l, pool); err != nil {
			t.Fatal(err)
		}
		if err := eng.Unload(ctx, "d0", 0); err != nil {
			t.Fatal(err)
		}
	}
}

func taskLog(t *testing.T, eng *engine.Engine, id uint64) string {
	t.Helper()
	var b strings.Builder
	if err := eng.TaskLog(context.Background(), id, &b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSchedule runs backup jobs under a controlled clock: a job fires when
// its calendar event elapses and not before; a run missed while the
// daemon was down runs once at start; two due jobs on one drive queue for
// it; jobs on two drives run side by side; a trigger that comes while the
// job still runs is skipped.
func TestSchedule(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 11, 23, 1, 59, 0, 0, time.UTC)} // a Monday
	g := &gate{}
	opener := func(lib string) device.Opener { return gateOpener{vtapeOpener{lib}, g} }
	eng, lib := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 2, Slots: 8, Cartridges: 6, Capacity: 1 << 30},
		engine.Options{Now: clock.now}, opener, nil)
	if err := eng.PoolCreate(config.Pool{Name: "pb", Drive: "d1"}); err != nil {
		t.Fatal(err)
	}
	labelTapes(t, eng, "pa", "TEST01L8", "TEST02L8", "TEST03L8")
	labelTapes(t, eng, "pb", "TEST04L8", "TEST05L8", "TEST06L8")
	www, db, home := jobSource(t, dir, "www", 1), jobSource(t, dir, "db", 2), jobSource(t, dir, "home", 3)
	for _, j := range []config.BackupJob{
		{ID: "nightly", Sources: []config.JobSource{{Path: www}}, Pool: "pa", Schedule: "mon..fri 02:00"},
		{ID: "db", Sources: []config.JobSource{{Path: db}}, Pool: "pa", Schedule: "mon..fri 02:00"},
		{ID: "home", Sources: []config.JobSource{{Path: home}}, Pool: "pb", Schedule: "03:00"},
	} {
		if err := eng.JobCreate(j); err != nil {
			t.Fatal(err)
		}
	}
	if got := eng.RunDueJobs(ctx); len(got) != 0 {
		t.Fatalf("started %v at 01:59", got)
	}
	st, _ := eng.JobShow("nightly")
	if want := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC); !st.NextRun.Equal(want) {
		t.Errorf("next run %v, want %v", st.NextRun, want)
	}

	// 02:00: nightly and db are due, both on d0: one waits for the other.
	reached, release := g.arm("write")
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open) // before the engine closes, also when the test fails
	clock.set(time.Date(2026, 11, 23, 2, 0, 1, 0, time.UTC))
	started := eng.RunDueJobs(ctx)
	if len(started) != 2 {
		t.Fatalf("started %v at 02:00, want nightly and db", started)
	}
	<-reached // one of them writes; the other must wait for d0
	var waiting uint64
	deadline := time.Now().Add(30 * time.Second)
	for waiting == 0 && time.Now().Before(deadline) {
		for _, id := range started {
			if strings.Contains(taskLog(t, eng, id), "waiting for drive d0") {
				waiting = id
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waiting == 0 {
		t.Fatal("neither job says it waits for drive d0")
	}

	// Meanwhile it is Tuesday 02:00: the two jobs on d0 are due again
	// while they run: skipped. home (due since Monday 03:00) runs on d1,
	// side by side with the job that holds d0 at its first write.
	clock.set(time.Date(2026, 11, 24, 2, 0, 1, 0, time.UTC))
	homeTasks := eng.RunDueJobs(ctx)
	if len(homeTasks) != 1 {
		t.Fatalf("started %v on Tuesday 02:00, want home only", homeTasks)
	}
	if info := waitTask(t, eng, homeTasks[0]); info.State != engine.TaskOK || !slices.Equal(info.Drives, []string{"d1"}) {
		t.Fatalf("home: %+v", info)
	}
	for _, id := range started {
		if info, _ := eng.Task(id); !info.Running() {
			t.Fatalf("task %d ended while d0 was held: the d1 job did not run beside it", id)
		}
	}
	open()
	for _, id := range started {
		if info := waitTask(t, eng, id); info.State != engine.TaskOK {
			t.Errorf("task %d: %s", id, info.Result())
		}
	}
	for _, id := range []string{"nightly", "db"} {
		st := waitJobIdle(t, eng, id)
		if st.LastResult != "ok" || st.LastSkipped.IsZero() {
			t.Errorf("%s: %+v", id, st.JobState)
		}
	}
	waitJobIdle(t, eng, "home")
	// The skipped trigger does not fire once the run has ended.
	if got := eng.RunDueJobs(ctx); len(got) != 0 {
		t.Errorf("started %v after the skipped trigger", got)
	}

	// The daemon is down from Tuesday 02:00 to Thursday 12:00: each job
	// missed runs, and runs once at start.
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	clock.set(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	eng2, err := engine.New(engine.Options{ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "state"), Opener: vtapeOpener{lib}, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng2.Close() })
	again := eng2.RunDueJobs(ctx)
	if len(again) != 3 {
		t.Fatalf("started %v at restart, want the 3 missed jobs once each", again)
	}
	for _, id := range again {
		if info := waitTask(t, eng2, id); info.State != engine.TaskOK || info.Origin != "schedule" {
			t.Errorf("task %d: %+v", id, info)
		}
	}
	for _, id := range []string{"nightly", "db", "home"} {
		waitJobIdle(t, eng2, id)
	}
	if got := eng2.RunDueJobs(ctx); len(got) != 0 {
		t.Errorf("started %v again", got)
	}
	st, _ = eng2.JobShow("nightly")
	if want := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC); !st.NextRun.Equal(want) {
		t.Errorf("next run after the missed one %v, want %v", st.NextRun, want)
	}
}
