package engine

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTaskStoreHistory(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{t: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)}
	s := newTaskStore(dir, clock.now, 3, 0)
	var mu sync.Mutex
	var sunk []string
	ctx := WithLog(context.Background(), func(line string) { mu.Lock(); sunk = append(sunk, line); mu.Unlock() })
	ok, err := s.create(WithTaskOrigin(ctx, "test"), TaskSpec{Kind: "label", Name: "label TEST01L8"})
	if err != nil {
		t.Fatal(err)
	}
	s.logLine(ok, "labelled TEST01L8")
	clock.add(time.Second)
	s.progress(ok, TaskProgress{Bytes: 10, Tape: "TEST01L8"})
	s.finish(ok, nil, "")
	failed, err := s.create(context.Background(), TaskSpec{Kind: "backup", Name: "backup /x daily"})
	if err != nil {
		t.Fatal(err)
	}
	s.finish(failed, errors.New("no writable tape"), "")

	list, err := s.list(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != 1 || list[1].ID != 2 {
		t.Fatalf("list: %+v", list)
	}
	if list[0].State != TaskOK || list[0].Origin != "test" || list[0].Duration(time.Time{}) != time.Second || list[0].Progress == nil || list[0].Progress.Tape != "TEST01L8" {
		t.Errorf("task 1: %+v", list[0])
	}
	if got := list[1].Result(); got != "error: no writable tape" || list[1].Origin != "engine" {
		t.Errorf("task 2: %q, origin %q", got, list[1].Origin)
	}
	if !slices.Contains(sunk, "labelled TEST01L8") || slices.Contains(sunk, "TASK ERROR: no writable tape") {
		t.Errorf("sink got %q: want task 1's lines only", sunk)
	}

	// A second store on the same directory (a restarted daemon) reads the
	// records from disk and continues the ids.
	s2 := newTaskStore(dir, clock.now, 3, 0)
	info, err := s2.load(2)
	if err != nil || info.State != TaskError {
		t.Fatalf("reloaded task 2: %+v, %v", info, err)
	}
	third, err := s2.create(context.Background(), TaskSpec{Kind: "clean", Name: "clean"})
	if err != nil {
		t.Fatal(err)
	}
	if third.info.ID != 3 {
		t.Errorf("id after restart: %d, want 3", third.info.ID)
	}
	// The process dies: its log's lock goes with it. The record is left
	// "running" and a reader marks it aborted.
	third.log.Close()
	s3 := newTaskStore(dir, clock.now, 3, 0)
	info, err = s3.load(3)
	if err != nil || info.State != TaskAborted || info.Running() {
		t.Errorf("task of a dead process: %+v, %v", info, err)
	}
	// Meanwhile a task that still runs (its lock held) stays running for
	// another process's reader.
	fourth, err := s2.create(context.Background(), TaskSpec{Kind: "clean", Name: "clean"})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s3.load(fourth.info.ID); err != nil || info.State != TaskRunning {
		t.Errorf("task of a live process seen from another: %+v, %v", info, err)
	}
	s2.finish(fourth, nil, "")

	// Retention: 3 finished tasks kept, oldest dropped (s2 still counts
	// task 3 as its own running one: s3 prunes).
	s3.prune()
	list, err = s3.list(0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, ti := range list {
		ids = append(ids, ti.ID)
	}
	if !slices.Equal(ids, []uint64{2, 3, 4}) {
		t.Errorf("kept ids %v, want [2 3 4]", ids)
	}
	if _, err := s3.load(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned task: %v", err)
	}
}

func TestTaskStoreMaxAge(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)}
	s := newTaskStore(t.TempDir(), clock.now, 100, time.Hour)
	old, _ := s.create(context.Background(), TaskSpec{Kind: "a", Name: "a"})
	s.finish(old, nil, "")
	clock.add(2 * time.Hour)
	running, _ := s.create(context.Background(), TaskSpec{Kind: "b", Name: "b"})
	recent, _ := s.create(context.Background(), TaskSpec{Kind: "c", Name: "c"})
	s.finish(recent, nil, "")
	list, _ := s.list(0)
	if len(list) != 2 || list[0].ID != running.info.ID || list[1].ID != recent.info.ID {
		t.Errorf("after max age: %+v", list)
	}
	s.finish(running, nil, "")
}

func TestRunTaskStopAndFollow(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{ConfigDir: dir + "/etc", StateDir: dir + "/state", Opener: vtapeOpener{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	started := make(chan struct{})
	id, done, err := e.StartTask(context.Background(), TaskSpec{Kind: "backup", Name: "backup test"}, func(ctx context.Context) error {
		e.ctxLogf(ctx, "first line")
		close(started)
		<-ctx.Done()
		e.ctxLogf(ctx, "last line")
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	var followed bytes.Buffer
	followDone := make(chan error, 1)
	go func() { followDone <- e.TaskLog(context.Background(), id, &followed, true) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-followDone:
		t.Fatalf("follow returned while the task runs: %v", err)
	default:
	}
	if err := e.StopTask(id); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("task error: %v", err)
	}
	if err := <-followDone; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first line", "last line", "stop requested", "TASK STOPPED"} {
		if !strings.Contains(followed.String(), want) {
			t.Errorf("followed log lacks %q:\n%s", want, followed.String())
		}
	}
	info, err := e.Task(id)
	if err != nil || info.State != TaskStopped {
		t.Errorf("stopped task: %+v, %v", info, err)
	}
	if err := e.StopTask(id); !errors.Is(err, ErrRefused) {
		t.Errorf("stopping an ended task: %v", err)
	}
}
