package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"tapefs/engine/config"
)

// CachedDrive is the last drive status the engine read, for callers that
// must not touch a device (the FUSE tree lists and stats from it).
type CachedDrive struct {
	// Status is nil when the drive has not been read yet or the last read
	// failed.
	Status *DriveStatusInfo `json:"status,omitempty"`
	// Err is the message of the last failed read.
	Err string `json:"error,omitempty"`
	// Read is when Status (or Err) was read; zero if never.
	Read time.Time `json:"read,omitzero"`
}

// CachedChanger is the last changer status the engine read.
type CachedChanger struct {
	Entries []ChangerEntry `json:"entries"`
	Err     string         `json:"error,omitempty"`
	Read    time.Time      `json:"read,omitzero"`
}

// statusCache holds the last status read from each drive and changer, by
// name. Every successful Status and every changer status read inside an
// operation updates it, and each drive job refreshes its drive and changer
// when it ends. The zero value is ready; methods are safe for concurrent
// use.
type statusCache struct {
	mu       sync.Mutex
	drives   map[string]CachedDrive
	changers map[string]CachedChanger
}

// putDrive stores a drive's status and reports whether the drive asks
// for cleaning now and did not in the status stored before.
func (c *statusCache) putDrive(name string, d CachedDrive) (newCleaning bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drives == nil {
		c.drives = map[string]CachedDrive{}
	}
	old := c.drives[name]
	c.drives[name] = d
	cleaning := func(d CachedDrive) bool { return d.Status != nil && d.Status.CleaningRequired }
	return cleaning(d) && !cleaning(old)
}

func (c *statusCache) putChanger(name string, ch CachedChanger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changers == nil {
		c.changers = map[string]CachedChanger{}
	}
	c.changers[name] = ch
}

func (e *Engine) cacheDrive(name string, st *DriveStatusInfo, err error) {
	d := CachedDrive{Read: e.now()}
	if err != nil {
		d.Err = err.Error()
	} else {
		cp := *st
		d.Status = &cp
	}
	if e.cache.putDrive(name, d) {
		e.notifyLater(context.Background(), Event{Kind: EventCleaning, State: "cleaning required", Drive: name,
			Message: fmt.Sprintf("drive %s asks for cleaning (TapeAlert): run `tapefs clean --drive %s`", name, name)})
	}
}

func (e *Engine) cacheChanger(name string, v *changerView, err error) {
	c := CachedChanger{Read: e.now()}
	if err != nil {
		c.Err = err.Error()
	} else {
		c.Entries = v.entries()
	}
	e.cache.putChanger(name, c)
	e.signalMedia()
}

// CachedDriveStatus returns the last status read from a drive, with the
// job that holds the drive now. It never touches the device; a drive that
// has not been read yet has a nil Status and a zero Read time. An unknown
// drive is ErrNotFound.
func (e *Engine) CachedDriveStatus(name string) (CachedDrive, error) {
	if _, err := e.DriveConfig(name); err != nil {
		return CachedDrive{}, err
	}
	e.cache.mu.Lock()
	d := e.cache.drives[name]
	e.cache.mu.Unlock()
	if d.Status != nil {
		cp := *d.Status
		cp.Job = e.Jobs()[name]
		d.Status = &cp
	}
	return d, nil
}

// CachedChangerStatus returns the last element status read from a changer
// (the rows of `changer status`). It never touches the device. An unknown
// changer is ErrNotFound.
func (e *Engine) CachedChangerStatus(name string) (CachedChanger, error) {
	if _, err := e.ChangerConfig(name); err != nil {
		return CachedChanger{}, err
	}
	e.cache.mu.Lock()
	defer e.cache.mu.Unlock()
	c := e.cache.changers[name]
	c.Entries = append([]ChangerEntry(nil), c.Entries...)
	return c, nil
}

// RefreshStatus reads the status of every configured drive and changer into
// the cache (see CachedDriveStatus). It runs on the engine's context and
// waits behind running operations; errors are recorded in the cache, not
// returned, except a configuration that cannot be read.
func (e *Engine) RefreshStatus() error {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return err
	}
	for _, c := range tc.Changers {
		e.refreshChanger(c)
	}
	for _, d := range tc.Drives {
		_, _ = e.Status(e.ctx, d.Name)
	}
	return nil
}

func (e *Engine) refreshChanger(c config.Changer) {
	_, _ = e.view(e.ctx, c)
}

// refreshAfterJob re-reads a drive's status and its changer's after a job,
// so the cache shows what the job did.
func (e *Engine) refreshAfterJob(j *driveJob) {
	if !e.opts.RefreshAfterJobs || e.ctx.Err() != nil {
		return
	}
	if j.ch != nil {
		e.refreshChanger(*j.ch)
	}
	_, _ = e.Status(e.ctx, j.cfg.Name)
}
