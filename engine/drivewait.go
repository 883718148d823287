package engine

import (
	"context"
	"fmt"
	"time"
)

// Drive reservations: who may use a drive, and who waits.
//
// A job (label, backup, restore, a batch of snapshot reads, ...) reserves
// its drive for its whole run. A job that finds the drive reserved by
// another job of this process waits for it, up to Options.DriveWait
// (default DefaultDriveWait), with a line in its log and "waiting" in its
// progress; then it fails with ErrBusy naming the holder. A drive held by
// another process is not seen here: the device itself refuses to open,
// and that error is ErrBusy at once.
//
// Speculative work (the read-ahead of snapshot reads) gives way: when a
// job waits for a drive a speculative holder has, the holder is told
// (driveHold.yield) and releases the drive as soon as the reads that were
// waiting at that moment are served; and a speculative job does not take
// a free drive while another job waits for it.
//
// A backup job's context (withDriveWait) waits without a limit.
//
// Everything about waiting for a drive is here, in acquireDrive.

// DefaultDriveWait is how long a job waits for a drive another job of
// this process holds when Options.DriveWait is 0.
const DefaultDriveWait = 10 * time.Minute

// driveHold is one drive's reservation by a job. Its fields are guarded
// by Engine.mu.
type driveHold struct {
	job         string
	speculative bool
	// yield is closed when another job waits for the drive: a
	// speculative holder then releases it soon.
	yield   chan struct{}
	yielded bool
}

// holdOpts say how a job takes a drive.
type holdOpts struct {
	// speculative: the job's work may be put off (read-ahead); it yields
	// to jobs that wait and waits for them without a limit.
	speculative bool
	// waiting reports the start of a wait (a line for the job's log and
	// progress), waited its end (a line for the log); nil: not reported.
	waiting, waited func(line string)
}

type driveWaitKey struct{}

// withDriveWait returns a context whose drive jobs wait for a drive
// another job has without a time limit (as long as ctx lasts): a backup
// job queues behind whatever has its drive.
func withDriveWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, driveWaitKey{}, true)
}

// driveWait is how long a job waits for a drive held by another job.
func (e *Engine) driveWait() time.Duration {
	if e.opts.DriveWait > 0 {
		return e.opts.DriveWait
	}
	return DefaultDriveWait
}

// reserve marks a drive as used by job until release is called, without
// waiting: a drive already reserved gives an ErrBusy error naming the job
// that holds it.
func (e *Engine) reserve(drive, job string) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h, ok := e.busy[drive]; ok {
		return nil, classify(ErrBusy, "drive %s is busy (%s); try again when that job has finished", drive, h.job)
	}
	_, release = e.holdLocked(drive, job, holdOpts{})
	return release, nil
}

// holdLocked reserves a free drive. e.mu is held.
func (e *Engine) holdLocked(drive, job string, o holdOpts) (*driveHold, func()) {
	h := &driveHold{job: job, speculative: o.speculative, yield: make(chan struct{})}
	e.busy[drive] = h
	return h, func() {
		e.mu.Lock()
		if e.busy[drive] == h {
			delete(e.busy, drive)
		}
		e.changedLocked()
		e.mu.Unlock()
	}
}

// changedLocked wakes every job waiting for a drive. e.mu is held.
func (e *Engine) changedLocked() {
	if e.holdChanged != nil {
		close(e.holdChanged)
	}
	e.holdChanged = make(chan struct{})
}

// acquireDrive reserves drive for job, waiting while another job of this
// process holds it (see the comment at the top of this file): up to
// driveWait, or as long as ctx lasts for a speculative job. It returns
// the hold and the function that releases it. Errors: ErrBusy after the
// wait, or ctx's error.
func (e *Engine) acquireDrive(ctx context.Context, drive, job string, o holdOpts) (*driveHold, func(), error) {
	limit := e.driveWait()
	var timeout <-chan time.Time
	if !o.speculative && ctx.Value(driveWaitKey{}) == nil {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
	}
	start := time.Now()
	waiting, registered := false, false
	defer func() {
		if registered {
			e.mu.Lock()
			e.waiters[drive]--
			e.changedLocked()
			e.mu.Unlock()
		}
	}()
	for {
		e.mu.Lock()
		h := e.busy[drive]
		if h == nil && !(o.speculative && e.waiters[drive] > 0) {
			nh, release := e.holdLocked(drive, job, o)
			e.mu.Unlock()
			if waiting && o.waited != nil {
				o.waited(fmt.Sprintf("drive %s is free after a wait of %s", drive, time.Since(start).Round(time.Millisecond)))
			}
			return nh, release, nil
		}
		holder := "a job that waits for it"
		if h != nil {
			holder = h.job
			if h.speculative && !o.speculative && !h.yielded {
				close(h.yield)
				h.yielded = true
			}
		}
		if !o.speculative && !registered {
			e.waiters[drive]++
			registered = true
		}
		changed := e.holdChanged
		if changed == nil {
			e.changedLocked()
			changed = e.holdChanged
		}
		e.mu.Unlock()
		if !waiting {
			waiting = true
			if o.waiting != nil {
				if o.speculative {
					o.waiting(fmt.Sprintf("waiting for drive %s (in use by %s)", drive, holder))
				} else {
					o.waiting(fmt.Sprintf("waiting for drive %s (in use by %s), up to %s", drive, holder, limit))
				}
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-timeout:
			return nil, nil, classify(ErrBusy, "drive %s is busy (%s): waited %s; try again when that job has finished", drive, holder, limit)
		}
	}
}

// yieldRequested reports whether another job waits for the drive this
// speculative job holds.
func (h *driveHold) yieldRequested() bool {
	select {
	case <-h.yield:
		return true
	default:
		return false
	}
}
