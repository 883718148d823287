package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"tapefs/internal/procs"
)

// maxFinishedJobs is how many finished jobs the registry remembers; older
// ones are dropped first.
const maxFinishedJobs = 64

// maxJobLogLines bounds the log kept per job; the first lines are dropped
// when a job logs more.
const maxJobLogLines = 1000

// JobInfo is a snapshot of one job: a drive reserved for one operation
// (label, clean, inventory, ...).
type JobInfo struct {
	ID    uint64    `json:"id"`
	Name  string    `json:"name"`
	Drive string    `json:"drive"`
	Start time.Time `json:"start"`
	// End is zero while the job runs.
	End time.Time `json:"end,omitzero"`
	// Waiting says what the job waits for before it can run (a drive
	// another job holds); empty once it runs.
	Waiting string `json:"waiting,omitempty"`
	// Log holds the job's progress lines, oldest first.
	Log []string `json:"log"`
}

// Running reports whether the job has not finished yet.
func (j JobInfo) Running() bool { return j.End.IsZero() }

// job is the registry's record of one job. Its fields are guarded by the
// registry's mutex.
type job struct {
	info JobInfo
	sink func(line string) // from WithLog on the context that started it
	idle func()            // from procs.Busy: a job may run in parallel
}

// jobRegistry remembers running jobs and the most recent finished ones.
// The zero value is ready to use; its methods are safe for concurrent use.
type jobRegistry struct {
	mu   sync.Mutex
	next uint64
	jobs []*job // in start order
}

type logSinkKey struct{}

// WithLog returns a context whose jobs also send each progress line to fn,
// besides the engine's Logf and the job's own log. The daemon uses it to
// show a forwarded command's progress on that command's stderr. fn must be
// safe to call from any goroutine.
func WithLog(ctx context.Context, fn func(line string)) context.Context {
	return context.WithValue(ctx, logSinkKey{}, fn)
}

func (r *jobRegistry) start(ctx context.Context, name, drive string, now time.Time) *job {
	sink, _ := ctx.Value(logSinkKey{}).(func(string))
	idle := procs.Busy() // may resize the scheduler: not under r.mu
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	j := &job{info: JobInfo{ID: r.next, Name: name, Drive: drive, Start: now}, sink: sink, idle: idle}
	r.jobs = append(r.jobs, j)
	r.trim()
	return j
}

// trim drops the oldest finished jobs beyond maxFinishedJobs.
func (r *jobRegistry) trim() {
	finished := 0
	for _, j := range r.jobs {
		if !j.info.End.IsZero() {
			finished++
		}
	}
	if finished <= maxFinishedJobs {
		return
	}
	drop := finished - maxFinishedJobs
	kept := r.jobs[:0]
	for _, j := range r.jobs {
		if drop > 0 && !j.info.End.IsZero() {
			drop--
			continue
		}
		kept = append(kept, j)
	}
	clear(r.jobs[len(kept):])
	r.jobs = kept
}

func (r *jobRegistry) log(j *job, line string) {
	r.mu.Lock()
	j.info.Log = append(j.info.Log, line)
	if len(j.info.Log) > maxJobLogLines {
		j.info.Log = j.info.Log[len(j.info.Log)-maxJobLogLines:]
	}
	sink := j.sink
	r.mu.Unlock()
	if sink != nil {
		sink(line)
	}
}

// setWaiting sets what j waits for ("" once it runs).
func (r *jobRegistry) setWaiting(j *job, what string) {
	r.mu.Lock()
	j.info.Waiting = what
	r.mu.Unlock()
}

func (r *jobRegistry) finish(j *job, now time.Time) {
	defer j.idle()
	r.mu.Lock()
	defer r.mu.Unlock()
	j.info.End = now
	r.trim()
}

func (r *jobRegistry) list() []JobInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]JobInfo, len(r.jobs))
	for i, j := range r.jobs {
		out[i] = j.info
		out[i].Log = append([]string(nil), j.info.Log...)
	}
	return out
}

// JobList returns the running jobs and the most recent finished ones, by
// id (which is start order). It never touches a device.
func (e *Engine) JobList() []JobInfo {
	out := e.jobs.list()
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Job returns one job of JobList by id; an unknown or forgotten id is
// ErrNotFound.
func (e *Engine) Job(id uint64) (JobInfo, error) {
	for _, j := range e.jobs.list() {
		if j.ID == id {
			return j, nil
		}
	}
	return JobInfo{}, notFoundf("no job %d (finished jobs are kept for the last %d only)", id, maxFinishedJobs)
}

// logf writes a progress line of this job to the engine's Logf, the job's
// log and the sink of the context that started it.
func (j *driveJob) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	j.e.opts.Logf("%s", line)
	if j.job != nil {
		j.e.jobs.log(j.job, line)
	}
}

// ctxLogf writes a progress line that belongs to no drive job to the
// engine's Logf and to the sink of ctx (see WithLog).
func (e *Engine) ctxLogf(ctx context.Context, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	e.opts.Logf("%s", line)
	if sink, _ := ctx.Value(logSinkKey{}).(func(string)); sink != nil {
		sink(line)
	}
}
