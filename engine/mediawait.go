package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tapefs/catalog"
)

// DefaultMediaRecheck is how often a job waiting for media looks at the
// library again when Options.MediaRecheck is 0. It also looks whenever a
// changer's status is read (`tapefs changer status`, inventory, transfer,
// import/export).
const DefaultMediaRecheck = 5 * time.Second

// minMediaRecheck keeps two waiting jobs, each waking the other by
// reading its changer, from spinning.
const minMediaRecheck = time.Second

type mediaWaitKey struct{}

// mediaWait is the media request setting of a context: jobs wait for
// media instead of failing, up to timeout (0: until stopped).
type mediaWait struct {
	timeout time.Duration
}

// withMediaWait returns a context whose backups wait for a tape they need
// and do not find (a tape of the set not in the library, no writable tape
// in the pool): the task enters TaskWaitingMedia with the request in
// words, the request is notified, and the job goes on when the tape
// appears. After timeout (0: never) it fails.
func withMediaWait(ctx context.Context, timeout time.Duration) context.Context {
	return context.WithValue(ctx, mediaWaitKey{}, mediaWait{timeout: timeout})
}

// mediaNeeded is an error that a tape is missing, with the request to the
// operator in words ("insert tape TEST07L8 into changer sl3").
type mediaNeeded struct {
	request string
	err     error
}

func (m *mediaNeeded) Error() string { return m.err.Error() }
func (m *mediaNeeded) Unwrap() error { return m.err }

func needMedia(request string, err error) error { return &mediaNeeded{request: request, err: err} }

// mediaChanged returns a channel closed at the next changer status read.
func (e *Engine) mediaChanged() <-chan struct{} {
	e.mediaMu.Lock()
	defer e.mediaMu.Unlock()
	if e.mediaCh == nil {
		e.mediaCh = make(chan struct{})
	}
	return e.mediaCh
}

// signalMedia wakes the jobs waiting for media (a changer was read).
func (e *Engine) signalMedia() {
	e.mediaMu.Lock()
	defer e.mediaMu.Unlock()
	if e.mediaCh != nil {
		close(e.mediaCh)
		e.mediaCh = nil
	}
}

// waitForMedia calls try until it returns anything but a mediaNeeded
// error. With media waiting on (withMediaWait, or always when always is
// set: a standalone drive asks for its tape), a mediaNeeded error puts the
// task of ctx into TaskWaitingMedia with the request, notifies it, and
// tries again every few seconds and at every changer status read, until
// the tape is there, the timeout passes or ctx ends.
func (e *Engine) waitForMedia(ctx context.Context, always bool, try func() error) error {
	mw, on := ctx.Value(mediaWaitKey{}).(mediaWait)
	t := taskOf(ctx)
	var start time.Time
	request := ""
	defer func() {
		if request != "" && t != nil {
			e.tasks.update(t, func(i *TaskInfo) {
				if i.State == TaskWaitingMedia {
					i.State, i.Message = TaskRunning, ""
				}
			})
		}
	}()
	for {
		err := try()
		var mn *mediaNeeded
		if !errors.As(err, &mn) || !(on || always) {
			if err == nil && request != "" {
				e.ctxLogf(ctx, "media request done: %s", request)
			}
			return err
		}
		if mn.request != request {
			if request == "" {
				start = e.now()
			}
			request = mn.request
			e.ctxLogf(ctx, "%s (waiting for media: %v)", request, mn.err)
			if t != nil {
				e.tasks.update(t, func(i *TaskInfo) { i.State, i.Message = TaskWaitingMedia, request })
			}
			e.notifyMedia(ctx, request)
		}
		if mw.timeout > 0 && e.now().Sub(start) >= mw.timeout {
			return fmt.Errorf("%w; no tape came within %s of the request: %s", err, mw.timeout, request)
		}
		changed := e.mediaChanged()
		recheck := e.opts.MediaRecheck
		if recheck <= 0 {
			recheck = DefaultMediaRecheck
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; waiting for media: %s", context.Cause(ctx), request)
		case <-time.After(recheck):
		case <-changed:
			select {
			case <-ctx.Done():
			case <-time.After(minMediaRecheck):
			}
		}
	}
}

// noteOnline records as online every tape of the inventory that the
// changer holds but the catalog has offline: a tape the operator put into
// the library while a job waits for it. It needs no drive (the waiting
// job holds it), only the changer.
func (j *driveJob) noteOnline(ctx context.Context) error {
	if j.ch == nil {
		return nil
	}
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	cat, err := j.e.Catalog()
	if err != nil {
		return err
	}
	for _, el := range v.all() {
		if !el.Full || el.VolumeTag == "" || v.offline(el) {
			continue
		}
		m, err := cat.FindLabel(el.VolumeTag)
		if err != nil || m.Location.Kind == catalog.LocationOnline {
			continue
		}
		j.logf("tape %s is in changer %s now", el.VolumeTag, j.ch.Name)
		if err := j.e.noteLocation(*j.ch, el.VolumeTag, el, v); err != nil {
			return err
		}
	}
	return nil
}
