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
	"time"

	"tapefs/engine/calendar"
	"tapefs/engine/config"
)

// jobStateDir holds one JSON file per backup job in the state directory:
// when it last ran and how that ended (the task history may have dropped
// the task by then).
const jobStateDir = "backup-jobs"

// JobState is what the engine remembers of a backup job between runs.
type JobState struct {
	// Since is when the schedule started counting: the job's creation
	// or the last change of its schedule.
	Since time.Time `json:"since,omitzero"`
	// LastRun is when the last run started (by the schedule or by hand).
	LastRun  time.Time `json:"last-run,omitzero"`
	LastTask uint64    `json:"last-task,omitempty"`
	// LastResult is the last run's task result ("ok", "error: ...").
	LastResult   string        `json:"last-result,omitempty"`
	LastDuration time.Duration `json:"last-duration-ns,omitempty"`
	// LastSkipped is when a scheduled run was skipped because the job
	// was still running.
	LastSkipped time.Time `json:"last-skipped,omitzero"`
	// NotifyError is why the last notification could not be sent.
	NotifyError string `json:"notify-error,omitempty"`
}

// JobStatus is a backup job with its state, as `backup-job list` shows it.
type JobStatus struct {
	config.BackupJob
	JobState
	// NextRun is the next scheduled run; zero without a schedule.
	NextRun time.Time `json:"next-run,omitzero"`
	// Running is the task id of the run in progress, 0 if none.
	Running uint64 `json:"running-task,omitempty"`
}

// JobUpdate holds the fields `backup-job update` may change; nil leaves a
// field alone. Delete names fields to reset.
type JobUpdate struct {
	Sources                                                 *[]config.JobSource
	Pool, Drive, Schedule, Notify, NotifyMode, MediaTimeout *string
	Comment                                                 *string
	EjectMedia, ExportMediaSet                              *bool
	Delete                                                  []string
}

func (e *Engine) jobStatePath(id string) string {
	return filepath.Join(e.opts.StateDir, jobStateDir, id+".json")
}

func (e *Engine) loadJobState(id string) (JobState, error) {
	var st JobState
	b, err := os.ReadFile(e.jobStatePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("backup job %s state: %w", id, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("backup job %s state: %w", id, err)
	}
	return st, nil
}

// updateJobState changes a job's state file under the engine's job lock.
func (e *Engine) updateJobState(id string, fn func(*JobState)) error {
	e.jobMu.Lock()
	defer e.jobMu.Unlock()
	st, err := e.loadJobState(id)
	if err != nil {
		return err
	}
	fn(&st)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(e.jobStatePath(id))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup job state: %w", err)
	}
	tmp := e.jobStatePath(id) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup job state: %w", err)
	}
	return os.Rename(tmp, e.jobStatePath(id))
}

// checkJob checks what the configuration file cannot: the pool and the
// drive exist, and every source is a directory. All are usage errors.
func (e *Engine) checkJob(j config.BackupJob) error {
	pc, err := e.cfg.LoadPools()
	if err != nil {
		return err
	}
	if _, err := pc.Pool(j.Pool); err != nil {
		return invalidf("backup job %s: unknown pool %s (see `tapefs pool list`)", j.ID, j.Pool)
	}
	if j.Drive != "" {
		tc, err := e.cfg.LoadTape()
		if err != nil {
			return err
		}
		if _, err := tc.Drive(j.Drive); err != nil {
			return invalidf("backup job %s: unknown drive %s (see `tapefs drive list`)", j.ID, j.Drive)
		}
	}
	for _, s := range j.Sources {
		fi, err := os.Stat(s.Path)
		if err != nil {
			return invalidf("backup job %s: source %v", j.ID, err)
		}
		if !fi.IsDir() {
			return invalidf("backup job %s: source %s is not a directory", j.ID, s.Path)
		}
	}
	return nil
}

// JobCreate adds a backup job. Its schedule starts counting now.
func (e *Engine) JobCreate(j config.BackupJob) error {
	if err := e.checkJob(j); err != nil {
		return err
	}
	err := e.cfg.UpdateJobs(func(c *config.JobConfig) error {
		if _, err := c.Job(j.ID); err == nil {
			return classify(ErrExists, "backup job %s already exists", j.ID)
		}
		c.Jobs = append(c.Jobs, j)
		return nil
	})
	if err != nil {
		return err
	}
	now := e.now()
	return e.updateJobState(j.ID, func(st *JobState) { *st = JobState{Since: now} })
}

// JobUpdate changes a backup job, with the checks of JobCreate. A new
// schedule starts counting now.
func (e *Engine) JobUpdate(id string, u JobUpdate) error {
	var changed config.BackupJob
	scheduleChanged := false
	err := e.cfg.UpdateJobs(func(c *config.JobConfig) error {
		j, err := c.Job(id)
		if err != nil {
			return err
		}
		before := j.Schedule
		for _, f := range u.Delete {
			switch f {
			case "drive":
				j.Drive = ""
			case "schedule":
				j.Schedule = ""
			case "notify":
				j.Notify = ""
			case "notify-mode":
				j.NotifyMode = ""
			case "media-timeout":
				j.MediaTimeout = ""
			case "comment":
				j.Comment = ""
			case "eject-media":
				j.EjectMedia = false
			case "export-media-set":
				j.ExportMediaSet = false
			default:
				return invalidf("--delete %s: not a property that can be reset (drive, schedule, notify, notify-mode, media-timeout, comment, eject-media, export-media-set)", f)
			}
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		if u.Sources != nil {
			j.Sources = *u.Sources
		}
		set(&j.Pool, u.Pool)
		set(&j.Drive, u.Drive)
		set(&j.Schedule, u.Schedule)
		set(&j.Notify, u.Notify)
		set(&j.NotifyMode, u.NotifyMode)
		set(&j.MediaTimeout, u.MediaTimeout)
		set(&j.Comment, u.Comment)
		if u.EjectMedia != nil {
			j.EjectMedia = *u.EjectMedia
		}
		if u.ExportMediaSet != nil {
			j.ExportMediaSet = *u.ExportMediaSet
		}
		scheduleChanged = before != j.Schedule
		changed = *j
		// The file is validated after fn; an error here leaves it
		// unchanged too.
		return e.checkJob(changed)
	})
	if err != nil {
		return err
	}
	if scheduleChanged {
		now := e.now()
		return e.updateJobState(id, func(st *JobState) { st.Since = now })
	}
	return nil
}

// JobRemove removes a backup job (its run in progress goes on).
func (e *Engine) JobRemove(id string) error {
	err := e.cfg.UpdateJobs(func(c *config.JobConfig) error {
		if _, err := c.Job(id); err != nil {
			return err
		}
		c.Jobs = slices.DeleteFunc(c.Jobs, func(j config.BackupJob) bool { return j.ID == id })
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.Remove(e.jobStatePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// JobList returns every backup job with its state and next run.
func (e *Engine) JobList() ([]JobStatus, error) {
	c, err := e.cfg.LoadJobs()
	if err != nil {
		return nil, err
	}
	out := make([]JobStatus, 0, len(c.Jobs))
	for _, j := range c.Jobs {
		st, err := e.jobStatus(j)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// JobShow returns one backup job with its state.
func (e *Engine) JobShow(id string) (JobStatus, error) {
	c, err := e.cfg.LoadJobs()
	if err != nil {
		return JobStatus{}, err
	}
	j, err := c.Job(id)
	if err != nil {
		return JobStatus{}, err
	}
	return e.jobStatus(*j)
}

func (e *Engine) jobStatus(j config.BackupJob) (JobStatus, error) {
	st, err := e.loadJobState(j.ID)
	if err != nil {
		return JobStatus{}, err
	}
	s := JobStatus{BackupJob: j, JobState: st}
	e.jobMu.Lock()
	s.Running = e.jobRunning[j.ID]
	e.jobMu.Unlock()
	// The task record is the truth while it is kept: a run in progress,
	// or one whose process died (aborted) before it wrote the job state.
	if s.Running != 0 {
		if t, err := e.Task(s.Running); err == nil {
			s.LastResult = t.Result()
		}
	} else if s.LastTask != 0 {
		if t, err := e.Task(s.LastTask); err == nil {
			s.LastResult = t.Result()
			if !t.Running() {
				s.LastDuration = t.Duration(t.End)
			}
		}
	}
	s.NextRun = e.nextRun(j, st)
	return s, nil
}

// nextRun is the job's next scheduled run: the first time its calendar
// event elapses after its last run (or after the schedule started
// counting); zero without a schedule.
func (e *Engine) nextRun(j config.BackupJob, st JobState) time.Time {
	ev, err := j.ScheduleEvent()
	if err != nil || ev == nil {
		return time.Time{}
	}
	now := e.now()
	from := st.Since
	for _, t := range []time.Time{st.LastRun, st.LastSkipped} {
		if t.After(from) {
			from = t
		}
	}
	if from.IsZero() {
		// A job written into the file by hand: its schedule starts now.
		from = now
	}
	// In the clock's zone (the state file keeps only offsets), so daylight
	// saving changes count.
	from = from.In(now.Location())
	next, ok := ev.Next(from)
	if !ok {
		return time.Time{}
	}
	return next
}

// RunJob runs a backup job now as a task (kind backup-job) and returns
// its id; done receives the job's error when the task has ended and its
// notification was sent. A job runs once at a time: a second run while
// one is in progress is ErrBusy. Each source becomes a snapshot of its
// group; a source that fails does not stop the others, and the task ends
// with the errors.
func (e *Engine) RunJob(ctx context.Context, id, origin string) (uint64, <-chan error, error) {
	c, err := e.cfg.LoadJobs()
	if err != nil {
		return 0, nil, err
	}
	jp, err := c.Job(id)
	if err != nil {
		return 0, nil, err
	}
	job := *jp
	e.jobMu.Lock()
	if t := e.jobRunning[id]; t != 0 {
		e.jobMu.Unlock()
		return 0, nil, classify(ErrBusy, "backup job %s is already running (task %d)", id, t)
	}
	e.jobRunning[id] = ^uint64(0) // reserved until the task has its id
	e.jobMu.Unlock()
	unmark := func() {
		e.jobMu.Lock()
		delete(e.jobRunning, id)
		e.jobMu.Unlock()
	}
	start := e.now()
	// The job counts as running until its work is done: by the time its
	// task's record says how it ended, the next run may start.
	taskID, done, err := e.StartTask(ctx, TaskSpec{Kind: "backup-job", Name: "backup-job " + id, Job: id, Origin: origin},
		func(ctx context.Context) error { defer unmark(); return e.runJob(ctx, job) })
	if err != nil {
		unmark()
		return 0, nil, err
	}
	e.jobMu.Lock()
	if e.jobRunning[id] == ^uint64(0) { // not ended already
		e.jobRunning[id] = taskID
	}
	e.jobMu.Unlock()
	if err := e.updateJobState(id, func(st *JobState) { st.LastRun, st.LastTask = start, taskID }); err != nil {
		e.logf("backup job %s: %v", id, err)
	}
	out := make(chan error, 1)
	e.taskWG.Add(1)
	go func() {
		defer e.taskWG.Done()
		err := <-done
		info, terr := e.Task(taskID)
		if terr == nil {
			if err := e.updateJobState(id, func(st *JobState) {
				if st.LastTask == taskID { // not a newer run's
					st.LastResult, st.LastDuration = info.Result(), info.Duration(info.End)
				}
			}); err != nil {
				e.logf("backup job %s: %v", id, err)
			}
			e.notifyJob(job, info)
		}
		out <- err
	}()
	return taskID, out, nil
}

// runJob backs up each source of the job.
func (e *Engine) runJob(ctx context.Context, job config.BackupJob) error {
	var timeout time.Duration
	if job.MediaTimeout != "" {
		var err error
		if timeout, err = calendar.ParseTimeSpan(job.MediaTimeout); err != nil {
			return invalidf("backup job %s: media-timeout: %v", job.ID, err)
		}
	}
	ctx = withMediaWait(withDriveWait(ctx), timeout)
	var errs []error
	for i, src := range job.Sources {
		last := i == len(job.Sources)-1
		res, err := e.Backup(ctx, BackupOptions{
			Source: src.Path, Group: src.GroupName(), Pool: job.Pool, Drive: job.Drive,
			EjectMedia: last && job.EjectMedia, ExportMediaSet: last && job.ExportMediaSet,
		})
		if ctx.Err() != nil {
			return errors.Join(append(errs, err)...)
		}
		if err != nil {
			e.ctxLogf(ctx, "error: source %s: %v", src.Path, err)
			errs = append(errs, fmt.Errorf("source %s: %w", src.Path, err))
			continue
		}
		e.ctxLogf(ctx, "source %s: snapshot %s", src.Path, res.Snapshot)
	}
	return errors.Join(errs...)
}
