package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
)

// Task states. A task is running until it ends in one of the final states.
const (
	TaskRunning = "running"
	// TaskWaitingMedia: the task waits for a tape (see TaskInfo.Message).
	TaskWaitingMedia = "waiting for media"
	TaskOK           = "ok"
	TaskWarnings     = "warnings"
	TaskError        = "error"
	// TaskStopped: `tapefs task stop` (or the daemon's shutdown) ended it.
	TaskStopped = "stopped"
	// TaskAborted: the process running it died (kill -9, power loss).
	TaskAborted = "aborted"
	// TaskDone: a drive job an engine caller started outside any task
	// (RunTask); it ended, but nobody reported its result.
	TaskDone = "done"
)

// DefaultTaskKeep is how many finished tasks the history keeps when
// Options.TaskKeep is 0.
const DefaultTaskKeep = 1000

// progressInterval is how often a running task writes a progress line to
// its log and its record.
const progressInterval = 5 * time.Second

// tasksDir is the task history in the state directory: one directory per
// task (named by its id) holding task.json and log.
const tasksDir = "tasks"

// TaskInfo is the record of one task: a command that used the tape
// engine (backup, restore, label, ...), a backup job run, or a drive job
// started outside a command.
type TaskInfo struct {
	ID uint64 `json:"id"`
	// Kind is the command ("backup", "label", "backup-job", ...).
	Kind string `json:"kind"`
	// Name says what it does: the command line, or "backup-job nightly".
	Name string `json:"name"`
	// Job is the backup job's id for a backup-job task.
	Job string `json:"job,omitempty"`
	// Origin says who started it: "cli (pid 123, uid 0)", "control file
	// pools/daily/commit", "schedule", ...
	Origin string `json:"origin,omitempty"`
	// PID is the process that runs (ran) it.
	PID    int       `json:"pid"`
	Drives []string  `json:"drives,omitempty"`
	Start  time.Time `json:"start"`
	// End is zero while the task runs.
	End   time.Time `json:"end,omitzero"`
	State string    `json:"state"`
	// Message is the final message (the error of a failed task), or
	// while it waits for media, the request in words.
	Message string `json:"message,omitempty"`
	// Waiting says what a running task waits for now (a drive another
	// job has), in words; empty when it does not wait.
	Waiting  string        `json:"waiting,omitempty"`
	Warnings int           `json:"warnings,omitempty"`
	Progress *TaskProgress `json:"progress,omitempty"`
}

// Running reports whether the task has not ended (running or waiting).
func (t TaskInfo) Running() bool { return t.End.IsZero() }

// Result is the state with its message, as lists show it: "ok",
// "error: no writable tape", "waiting for media: insert ...".
func (t TaskInfo) Result() string {
	if t.Message == "" {
		if t.State == TaskWarnings {
			return fmt.Sprintf("warnings: %d", t.Warnings)
		}
		return t.State
	}
	return t.State + ": " + t.Message
}

// logResult is the result as the last line of the log says it: "TASK OK",
// "TASK ERROR: message".
func (t TaskInfo) logResult() string {
	r := t.Result()
	state, _, _ := strings.Cut(r, ":")
	return strings.ToUpper(state) + r[len(state):]
}

// Duration is how long the task ran (until now while it runs).
func (t TaskInfo) Duration(now time.Time) time.Duration {
	end := t.End
	if end.IsZero() {
		end = now
	}
	return end.Sub(t.Start)
}

// TaskProgress is how far a running task is.
type TaskProgress struct {
	Bytes      int64 `json:"bytes"`
	TotalBytes int64 `json:"total-bytes,omitempty"` // 0: not known (yet)
	Files      int64 `json:"files"`
	TotalFiles int64 `json:"total-files,omitempty"`
	// Rate is bytes per second since the operation started.
	Rate float64 `json:"rate"`
	// ETA is the estimated time left, 0 when the total is not known.
	ETA     time.Duration `json:"eta-ns,omitempty"`
	Tape    string        `json:"tape,omitempty"`
	Drive   string        `json:"drive,omitempty"`
	Updated time.Time     `json:"updated"`
}

// String is the progress as one log line (without "progress: ").
func (p TaskProgress) String() string {
	total, files := "?", "?"
	if p.TotalBytes > 0 || p.TotalFiles > 0 {
		total, files = humanize.IBytes(uint64(p.TotalBytes)), strconv.FormatInt(p.TotalFiles, 10)
	}
	s := fmt.Sprintf("%s of %s, %d of %s files, %s/s", humanize.IBytes(uint64(p.Bytes)), total, p.Files, files, humanize.IBytes(uint64(p.Rate)))
	if p.ETA > 0 {
		s += ", eta " + p.ETA.Round(time.Second).String()
	}
	if p.Tape != "" {
		s += ", tape " + p.Tape
	}
	if p.Drive != "" {
		s += ", drive " + p.Drive
	}
	return s
}

// TaskSpec says what a new task is (see RunTask).
type TaskSpec struct {
	Kind, Name, Job string
	// Origin: who starts it; empty takes the origin of the context
	// (WithTaskOrigin), else "engine".
	Origin string
}

type taskKey struct{}

type originKey struct{}

// WithTaskOrigin returns a context whose tasks say they were started by
// origin ("cli (pid 12, uid 0)", "control file pools/daily/commit").
func WithTaskOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

func taskOf(ctx context.Context) *task {
	t, _ := ctx.Value(taskKey{}).(*task)
	return t
}

// ---- engine API ----

// WithLog returns a context whose tasks also send each log line to fn,
// besides the task's log (and, for progress lines of drive jobs, the
// engine's Logf). The daemon uses it to show a forwarded command's progress
// on that command's stderr. fn must be safe to call from any goroutine.
func WithLog(ctx context.Context, fn func(line string)) context.Context {
	return context.WithValue(ctx, logSinkKey{}, fn)
}

type logSinkKey struct{}

// StartTask records a new task and runs fn in a goroutine with a context
// that carries it (drive jobs log into it) and is cancelled by StopTask or
// when the engine closes. done receives fn's error once the task is
// recorded as ended.
func (e *Engine) StartTask(ctx context.Context, spec TaskSpec, fn func(ctx context.Context) error) (id uint64, done <-chan error, err error) {
	t, tctx, err := e.beginTask(ctx, spec)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan error, 1)
	e.taskWG.Add(1)
	go func() {
		defer e.taskWG.Done()
		err := e.endTask(t, tctx, fn)
		ch <- err
	}()
	return t.info.ID, ch, nil
}

// RunTask runs fn as a task (see StartTask) and returns its error. Inside
// a task, it runs fn in that task.
func (e *Engine) RunTask(ctx context.Context, spec TaskSpec, fn func(ctx context.Context) error) error {
	if taskOf(ctx) != nil {
		return fn(ctx)
	}
	t, tctx, err := e.beginTask(ctx, spec)
	if err != nil {
		return err
	}
	return e.endTask(t, tctx, fn)
}

func (e *Engine) beginTask(ctx context.Context, spec TaskSpec) (*task, context.Context, error) {
	t, err := e.tasks.create(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	tctx, cancel := context.WithCancelCause(context.WithValue(ctx, taskKey{}, t))
	const why = "stopped: the engine (daemon) is shutting down"
	stop := context.AfterFunc(e.ctx, func() {
		e.tasks.mu.Lock()
		t.stopped, t.stopWhy = true, why
		e.tasks.mu.Unlock()
		cancel(errors.New(why))
	})
	t.cancel = func(cause error) { stop(); cancel(cause) }
	e.tasks.mu.Lock()
	e.tasks.line(t, fmt.Sprintf("task %d: %s (started by %s)", t.info.ID, t.info.Name, t.info.Origin))
	e.tasks.mu.Unlock()
	return t, tctx, nil
}

func (e *Engine) endTask(t *task, ctx context.Context, fn func(ctx context.Context) error) error {
	err := fn(ctx)
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
		err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	t.cancel(nil)
	if werr := e.tasks.finish(t, err, ""); werr != nil {
		e.logf("task %d: %v", t.info.ID, werr)
	}
	return err
}

// TaskWarn records a warning of the task in ctx (it ends as "warnings"
// instead of "ok") and logs it.
func (e *Engine) taskWarn(ctx context.Context, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	e.logf("warning: %s", line)
	t := taskOf(ctx)
	if t == nil {
		return
	}
	e.tasks.update(t, func(i *TaskInfo) { i.Warnings++ })
	e.tasks.logLine(t, "warning: "+line)
}

// TaskList returns the task history, oldest first: the newest limit
// records (all with limit 0). Records left running by a dead process show
// as aborted.
func (e *Engine) TaskList(limit int) ([]TaskInfo, error) { return e.tasks.list(limit) }

// Task returns one task's record; an unknown or pruned id is ErrNotFound.
func (e *Engine) Task(id uint64) (TaskInfo, error) { return e.tasks.load(id) }

// RunningTasks returns the tasks that have not ended, this process's and
// others'.
func (e *Engine) RunningTasks() []TaskInfo {
	var out []TaskInfo
	for _, t := range e.tasks.runningTasks() {
		if info, err := e.tasks.load(t.info.ID); err == nil {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b TaskInfo) int { return int(a.ID) - int(b.ID) })
	return out
}

// StopTask asks a running task to end: its context is cancelled, and the
// operation stops at its next step, leaving the tape as a crash would (the
// on-tape format is safe against that). A task of another process (a
// command run without the daemon) gets SIGINT, as Ctrl-C would. Stopping
// a task that has ended is an ErrRefused error.
func (e *Engine) StopTask(id uint64) error {
	e.tasks.mu.Lock()
	t, ok := e.tasks.running[id]
	if ok {
		t.stopped, t.stopWhy = true, "stopped by `tapefs task stop`"
		e.tasks.line(t, "stop requested")
	}
	e.tasks.mu.Unlock()
	if ok {
		t.cancel(errors.New("stopped by `tapefs task stop`"))
		return nil
	}
	info, err := e.tasks.load(id)
	if err != nil {
		return err
	}
	if !info.Running() {
		return refusedf("task %d has already ended (%s)", id, info.Result())
	}
	if err := syscall.Kill(info.PID, syscall.SIGINT); err != nil {
		return fmt.Errorf("stop task %d (pid %d): %w", id, info.PID, err)
	}
	return nil
}

// TaskLog copies a task's log to w. With follow, it keeps copying what the
// task writes until the task ends or ctx is cancelled.
func (e *Engine) TaskLog(ctx context.Context, id uint64, w io.Writer, follow bool) error {
	if _, err := e.tasks.load(id); err != nil {
		return err
	}
	f, err := os.Open(e.tasks.logPath(id))
	if err != nil {
		return fmt.Errorf("task %d: %w", id, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	for {
		// Copy whole lines only: a line being written is finished on
		// the next round.
		for {
			b, err := r.ReadBytes('\n')
			partial = append(partial, b...)
			if err != nil {
				break
			}
			if _, err := w.Write(partial); err != nil {
				return err
			}
			partial = partial[:0]
		}
		if !follow {
			if len(partial) > 0 {
				_, err := w.Write(partial)
				return err
			}
			return nil
		}
		info, err := e.tasks.load(id)
		if err != nil {
			return err
		}
		if !info.Running() {
			// One more round reads what was written before it ended.
			follow = false
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TaskLogTail returns the last n lines of a task's log.
func (e *Engine) TaskLogTail(id uint64, n int) ([]string, error) {
	b, err := os.ReadFile(e.tasks.logPath(id))
	if err != nil {
		return nil, fmt.Errorf("task %d: %w", id, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// TaskLogPath is the file holding a task's log.
func (e *Engine) TaskLogPath(id uint64) string { return e.tasks.logPath(id) }

// logf writes a progress line of this job to the engine's Logf and its
// task's log (which sends it to the sink of the context that started the
// task).
func (j *driveJob) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	j.e.opts.Logf("%s", line)
	if j.task != nil {
		j.e.tasks.logLine(j.task, line)
	}
}

// ctxLogf writes a progress line that belongs to no drive job to the
// engine's Logf and to the task of ctx, or without one to the sink of ctx
// (see WithLog).
func (e *Engine) ctxLogf(ctx context.Context, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	e.opts.Logf("%s", line)
	if t := taskOf(ctx); t != nil {
		e.tasks.logLine(t, line)
	} else if sink, _ := ctx.Value(logSinkKey{}).(func(string)); sink != nil {
		sink(line)
	}
}

// Fields are the task's record as name/value pairs, in the order `tapefs
// task status` and jobs/<id>/status show them; now gives the duration of
// a running task. Empty values are left out.
func (t TaskInfo) Fields(now time.Time) [][2]string {
	var kv [][2]string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, [2]string{k, v})
		}
	}
	add("id", strconv.FormatUint(t.ID, 10))
	add("task", t.Name)
	add("kind", t.Kind)
	add("job", t.Job)
	add("started-by", t.Origin)
	add("pid", strconv.Itoa(t.PID))
	add("drives", strings.Join(t.Drives, ", "))
	add("state", t.State)
	add("message", t.Message)
	add("waiting", t.Waiting)
	if t.Warnings > 0 {
		add("warnings", strconv.Itoa(t.Warnings))
	}
	add("start", t.Start.Format(time.RFC3339))
	if !t.End.IsZero() {
		add("end", t.End.Format(time.RFC3339))
	}
	add("duration", t.Duration(now).Round(time.Second).String())
	if p := t.Progress; p != nil {
		add("progress", p.String())
		add("progress-updated", p.Updated.Format(time.RFC3339))
	}
	return kv
}
