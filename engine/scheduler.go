package engine

import (
	"context"
	"time"
)

// schedulerMaxSleep bounds how long the scheduler sleeps between checks, so
// jobs created or changed meanwhile are seen and a changed system clock is
// noticed.
const schedulerMaxSleep = 30 * time.Second

// RunDueJobs starts every backup job whose next run is due (at the
// engine's clock) and returns the ids of the tasks it started. A run
// missed while no daemon ran is due, once. A job that is still running is
// not started twice: its due trigger is skipped (and logged). The jobs run
// in the background; jobs on one drive queue for it, jobs on different
// drives run side by side.
func (e *Engine) RunDueJobs(ctx context.Context) []uint64 {
	jobs, err := e.JobList()
	if err != nil {
		e.logf("scheduler: %v", err)
		return nil
	}
	now := e.now()
	var started []uint64
	for _, j := range jobs {
		if j.Since.IsZero() && j.LastRun.IsZero() && !j.NextRun.IsZero() {
			// Written into the file by hand: its schedule counts from
			// when the scheduler first sees it.
			if err := e.updateJobState(j.ID, func(st *JobState) { st.Since = now }); err != nil {
				e.logf("scheduler: %v", err)
			}
			continue
		}
		if j.NextRun.IsZero() || j.NextRun.After(now) {
			continue
		}
		if j.Running != 0 {
			e.logf("scheduler: backup job %s is due (%s) but still running (task %d): this run is skipped", j.ID, j.NextRun.Format(time.RFC3339), j.Running)
			if err := e.updateJobState(j.ID, func(st *JobState) { st.LastSkipped = now }); err != nil {
				e.logf("scheduler: %v", err)
			}
			continue
		}
		// The run is not the scheduler's to cancel: task stop or the
		// engine's Close end it (as stopped).
		id, _, err := e.RunJob(context.WithoutCancel(ctx), j.ID, "schedule")
		if err != nil {
			e.logf("scheduler: backup job %s: %v", j.ID, err)
			continue
		}
		e.logf("scheduler: backup job %s started as task %d (due %s)", j.ID, id, j.NextRun.Format(time.RFC3339))
		started = append(started, id)
	}
	return started
}

// RunScheduler runs the backup job schedule until ctx is done: it starts
// due jobs (RunDueJobs) and sleeps until the next is due. The daemon runs
// it.
func (e *Engine) RunScheduler(ctx context.Context) {
	for {
		e.RunDueJobs(ctx)
		sleep := schedulerMaxSleep
		if jobs, err := e.JobList(); err == nil {
			now := e.now()
			for _, j := range jobs {
				if !j.NextRun.IsZero() && j.Running == 0 {
					sleep = min(sleep, max(j.NextRun.Sub(now), time.Second))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sleep):
		}
	}
}
