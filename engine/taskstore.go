// The task store: the task history on disk (one directory per task with
// its record and log) and the running tasks in memory.

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// task is a running task of this process. info is guarded by the store's
// mutex; the log file is written under it too, so lines never interleave.
type task struct {
	info    TaskInfo
	log     *os.File // flock'ed while the task runs: see taskStore.load
	sink    func(string)
	cancel  context.CancelCauseFunc
	stopped bool   // StopTask or the engine's Close asked it to end
	stopWhy string // who asked
	lastLog time.Time
	// media is the media request the task waits for (see waitMedia).
	media string
}

// taskStore is the persistent task history in the state directory.
// Several processes may share it: ids come from exclusive mkdir, and a
// running task holds an flock on its log, so a record left "running" by a
// dead process is recognised and marked aborted. Methods are safe for
// concurrent use.
type taskStore struct {
	dir    string
	now    func() time.Time
	keep   int
	maxAge time.Duration

	mu       sync.Mutex
	last     uint64 // highest id seen
	scanned  bool
	running  map[uint64]*task
	finished map[uint64]TaskInfo // records read from disk (they no longer change)
}

func newTaskStore(stateDir string, now func() time.Time, keep int, maxAge time.Duration) *taskStore {
	if keep == 0 {
		keep = DefaultTaskKeep
	}
	return &taskStore{dir: filepath.Join(stateDir, tasksDir), now: now, keep: keep, maxAge: maxAge,
		running: map[uint64]*task{}, finished: map[uint64]TaskInfo{}}
}

// ids lists the task directories by id, oldest first.
func (s *taskStore) ids() ([]uint64, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("task history: %w", err)
	}
	var out []uint64
	for _, de := range ents {
		if id, err := strconv.ParseUint(de.Name(), 10, 64); err == nil && de.IsDir() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *taskStore) taskDir(id uint64) string {
	return filepath.Join(s.dir, strconv.FormatUint(id, 10))
}

// LogPath is the log file of a task.
func (s *taskStore) logPath(id uint64) string { return filepath.Join(s.taskDir(id), "log") }

// create makes a new running task with the next free id.
func (s *taskStore) create(ctx context.Context, spec TaskSpec) (*task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("task history: %w", err)
	}
	if !s.scanned {
		ids, err := s.ids()
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			s.last = max(s.last, ids[len(ids)-1])
		}
		s.scanned = true
	}
	var id uint64
	for {
		id = s.last + 1
		s.last = id
		err := os.Mkdir(s.taskDir(id), 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("task history: %w", err)
		}
	}
	f, err := os.OpenFile(s.logPath(id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("task log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("task log: %w", err)
	}
	origin := spec.Origin
	if origin == "" {
		origin, _ = ctx.Value(originKey{}).(string)
	}
	if origin == "" {
		origin = "engine"
	}
	sink, _ := ctx.Value(logSinkKey{}).(func(string))
	t := &task{log: f, sink: sink, info: TaskInfo{
		ID: id, Kind: spec.Kind, Name: spec.Name, Job: spec.Job, Origin: origin,
		PID: os.Getpid(), Start: s.now(), State: TaskRunning,
	}}
	if err := s.writeRecord(t.info); err != nil {
		f.Close()
		return nil, err
	}
	s.running[id] = t
	return t, nil
}

// writeRecord replaces a task's task.json (a temporary file renamed over
// it: a reader never sees half a record). Called with s.mu held or for a
// record no other goroutine writes.
func (s *taskStore) writeRecord(info TaskInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	dir := s.taskDir(info.ID)
	tmp := filepath.Join(dir, ".task.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return s.recordErr(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "task.json")); err != nil {
		return s.recordErr(err)
	}
	return nil
}

// recordErr says why a task record could not be written; a full state
// filesystem is named as such (the error stays ENOSPC: no space).
func (s *taskStore) recordErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("task record: the filesystem of the state directory %s is full; free space there: %w", s.dir, err)
	}
	return fmt.Errorf("task record: %w", err)
}

// line appends one line, with its time, to the task's log. Called with
// s.mu held.
func (s *taskStore) line(t *task, text string) {
	fmt.Fprintf(t.log, "%s %s\n", s.now().UTC().Format(time.RFC3339), text)
}

// logLine appends a line of the task's work to its log and sends it to
// the sink of the context that started the task (the caller sees what
// the work does; the task's own bookkeeping lines stay in the log).
func (s *taskStore) logLine(t *task, text string) {
	s.mu.Lock()
	s.line(t, text)
	s.mu.Unlock()
	if t.sink != nil {
		t.sink(text)
	}
}

// update changes a running task's record under the lock and writes it.
func (s *taskStore) update(t *task, fn func(*TaskInfo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&t.info)
	_ = s.writeRecord(t.info) // the next write or the end retries
}

// progress records a task's progress; every progressInterval it also
// writes a "progress:" line and the record.
func (s *taskStore) progress(t *task, p TaskProgress) {
	s.mu.Lock()
	p.Updated = s.now()
	t.info.Progress = &p
	if p.Updated.Sub(t.lastLog) < progressInterval {
		s.mu.Unlock()
		return
	}
	t.lastLog = p.Updated
	line := "progress: " + p.String()
	s.line(t, line)
	_ = s.writeRecord(t.info)
	s.mu.Unlock()
	if t.sink != nil {
		t.sink(line)
	}
}

// finish ends a task with the result of its work: err nil is ok (or
// warnings), a stopped task is stopped, anything else an error. It
// returns why the record could not be written (it then still says
// running; with the log's lock released, the next reader marks it
// aborted).
func (s *taskStore) finish(t *task, err error, final string) error {
	s.mu.Lock()
	info := &t.info
	info.End = s.now()
	switch {
	case final != "":
		info.State = final
	case t.stopped && err != nil:
		info.State, info.Message = TaskStopped, t.stopWhy
	case err != nil:
		info.State, info.Message = TaskError, err.Error()
	case info.Warnings > 0:
		info.State, info.Message = TaskWarnings, ""
	default:
		info.State, info.Message = TaskOK, ""
	}
	s.line(t, "TASK "+info.logResult())
	werr := s.writeRecord(*info)
	t.log.Close() // releases the flock
	delete(s.running, info.ID)
	s.finished[info.ID] = *info
	s.mu.Unlock()
	s.prune()
	return werr
}

// load returns one task's record. A record left running by a process
// that no longer holds its log's lock is marked aborted (and rewritten).
func (s *taskStore) load(id uint64) (TaskInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.running[id]; ok {
		info := t.info
		if info.Progress != nil {
			p := *info.Progress
			info.Progress = &p
		}
		info.Drives = slices.Clone(info.Drives)
		return info, nil
	}
	if info, ok := s.finished[id]; ok {
		return info, nil
	}
	b, err := os.ReadFile(filepath.Join(s.taskDir(id), "task.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return TaskInfo{}, notFoundf("no task %d (see `tapefs task list --all`; the history keeps the last %d tasks)", id, s.keep)
	}
	if err != nil {
		return TaskInfo{}, fmt.Errorf("task %d: %w", id, err)
	}
	var info TaskInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return TaskInfo{}, fmt.Errorf("task %d: bad record: %w", id, err)
	}
	if info.Running() {
		f, err := os.OpenFile(s.logPath(id), os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return info, nil
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return info, nil // its process runs it
		}
		end := info.Start
		if fi, err := f.Stat(); err == nil && fi.ModTime().After(end) {
			end = fi.ModTime()
		}
		info.End = end
		info.State = TaskAborted
		info.Message = fmt.Sprintf("the process running it (pid %d) ended before the task did", info.PID)
		fmt.Fprintf(f, "%s TASK %s\n", s.now().UTC().Format(time.RFC3339), info.logResult())
		if err := s.writeRecord(info); err != nil {
			return info, nil
		}
	}
	s.finished[id] = info
	return info, nil
}

// list returns the records, oldest first; limit > 0 keeps the newest
// limit ones.
func (s *taskStore) list(limit int) ([]TaskInfo, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[len(ids)-limit:]
	}
	out := make([]TaskInfo, 0, len(ids))
	for _, id := range ids {
		info, err := s.load(id)
		if errors.Is(err, ErrNotFound) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// prune deletes the oldest finished tasks beyond keep and those that
// ended more than maxAge ago. Running tasks are never deleted.
func (s *taskStore) prune() {
	ids, err := s.ids()
	if err != nil {
		return
	}
	var finished []TaskInfo
	for _, id := range ids {
		info, err := s.load(id)
		if err == nil && !info.Running() {
			finished = append(finished, info)
		}
	}
	drop := len(finished) - s.keep
	now := s.now()
	for i, info := range finished {
		if i < drop || s.maxAge > 0 && now.Sub(info.End) > s.maxAge {
			s.mu.Lock()
			delete(s.finished, info.ID)
			s.mu.Unlock()
			os.RemoveAll(s.taskDir(info.ID))
		}
	}
}

// runningTasks are this process's running tasks.
func (s *taskStore) runningTasks() []*task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*task, 0, len(s.running))
	for _, t := range s.running {
		out = append(out, t)
	}
	return out
}
