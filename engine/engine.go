package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/staging"
)

// Options configure an Engine.
type Options struct {
	// ConfigDir holds tape.cfg and media-pool.cfg.
	ConfigDir string
	// StateDir holds the catalog, the spool and runtime files.
	StateDir string
	// Opener opens devices by path (vtape and sgio, chosen by the command
	// layer).
	Opener device.Opener
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logf receives progress lines of long operations (one line each,
	// no trailing newline); nil discards them.
	Logf func(format string, args ...any)
	// RefreshAfterJobs makes every drive job re-read its drive's and
	// changer's status when it ends, so CachedDriveStatus and
	// CachedChangerStatus show its effect. The daemon sets it; a one-shot
	// command does not need the extra device reads.
	RefreshAfterJobs bool
	// SnapshotCacheBytes bounds the chunk cache of snapshot file reads;
	// 0 means DefaultSnapshotCacheBytes.
	SnapshotCacheBytes int64
	// SnapshotSkipBytes is the gap in a chunk archive beyond which a
	// snapshot read spaces over records to its chunk instead of reading
	// through them; 0 means DefaultSnapshotSkipBytes.
	SnapshotSkipBytes int64
	// SpoolBytes is the burst a backup writes when its source is slower
	// than the drive (the spool's high mark); 0 means DefaultSpoolBytes.
	SpoolBytes int64
	// DriveWait is how long a job waits for a drive that another job of
	// this process holds before it fails with ErrBusy; 0 means
	// DefaultDriveWait.
	DriveWait time.Duration
	// StagingSync makes pools' incoming/ trees fsync a written file and
	// the staging journal when the file is closed, so it survives power
	// loss (see the staging package); slower.
	StagingSync bool
	// TaskKeep is how many finished tasks the history keeps (0:
	// DefaultTaskKeep); TaskMaxAge, if set, also drops tasks that ended
	// longer ago.
	TaskKeep   int
	TaskMaxAge time.Duration
	// MediaRecheck is how often a job waiting for a tape looks again
	// (0: DefaultMediaRecheck).
	MediaRecheck time.Duration
	// CatalogWait is how long opening the catalog waits while another
	// process holds it (a command that ran beside, for a moment) before
	// it fails naming the holder; 0 fails at once.
	CatalogWait time.Duration
}

// Engine owns configuration, catalog and devices. Its methods are safe for
// concurrent use.
type Engine struct {
	opts   Options
	cfg    config.Dir
	ctx    context.Context // tape operations run on this, never on a caller's
	cancel context.CancelFunc

	mu       sync.Mutex
	cat      *catalog.Catalog
	drives   map[string]*owner[device.Drive]   // by device path
	changers map[string]*owner[device.Changer] // by device path
	busy     map[string]*driveHold             // drive name → the job holding it (drivewait.go)
	waiters  map[string]int                    // drive name → jobs waiting for it
	// holdChanged is closed (and replaced) when a drive is released or a
	// waiter gives up: waiting jobs look again.
	holdChanged chan struct{}
	setLocks    map[uuid.UUID]int         // media sets restores are reading
	claims      map[uuid.UUID]*setWriter  // tapes backup jobs chose to write
	names       *idNames                  // uid/gid → name cache for backups
	stores      map[string]*staging.Store // pools' incoming/ trees, by pool

	taskWG sync.WaitGroup // StartTask's goroutines
	tasks  *taskStore     // the task history: running and finished tasks, with their logs
	cache  statusCache    // last drive and changer status, for readers that must not wait for a device

	// jobMu guards jobRunning and the backup job state files.
	jobMu      sync.Mutex
	jobRunning map[string]uint64 // backup job id → its running task

	// mediaMu guards mediaCh, closed at every changer status read to wake
	// jobs waiting for media.
	mediaMu sync.Mutex
	mediaCh chan struct{}

	snapOnce sync.Once
	snaps    *snapReaders // snapshot file reads (snapread.go), made on first use
}

// New creates an engine. It does not open devices or the catalog; they are
// opened on first use, so configuration commands work while another process
// holds them.
func New(opts Options) (*Engine, error) {
	if opts.ConfigDir == "" || opts.StateDir == "" {
		return nil, errors.New("engine: config and state directories must be set")
	}
	if opts.Opener == nil {
		return nil, errors.New("engine: no device opener")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		opts:       opts,
		cfg:        config.Dir{Path: opts.ConfigDir},
		ctx:        ctx,
		cancel:     cancel,
		drives:     map[string]*owner[device.Drive]{},
		changers:   map[string]*owner[device.Changer]{},
		busy:       map[string]*driveHold{},
		waiters:    map[string]int{},
		setLocks:   map[uuid.UUID]int{},
		claims:     map[uuid.UUID]*setWriter{},
		names:      newIDNames(),
		jobRunning: map[string]uint64{},
		tasks:      newTaskStore(opts.StateDir, opts.Now, opts.TaskKeep, opts.TaskMaxAge),
	}, nil
}

// Close stops the running tasks (they end as stopped) and the device
// owners (after their current operation), releases the devices and closes
// the catalog.
func (e *Engine) Close() error {
	e.cancel()
	// Background tasks (StartTask) end at their next step and record it.
	e.taskWG.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, o := range e.drives {
		<-o.done
	}
	for _, o := range e.changers {
		<-o.done
	}
	err := e.closeStores()
	if e.cat != nil {
		err = errors.Join(err, e.cat.Close())
		e.cat = nil
	}
	return err
}

// Config returns the configuration directory.
func (e *Engine) Config() config.Dir { return e.cfg }

// Catalog opens the catalog on first use and returns it.
func (e *Engine) Catalog() (*catalog.Catalog, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cat != nil {
		return e.cat, nil
	}
	dir := filepath.Join(e.opts.StateDir, "catalog")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}
	c, err := catalog.Open(dir, catalog.Options{TreeLink: treeLinkTarget})
	for deadline := time.Now().Add(e.opts.CatalogWait); errors.Is(err, catalog.ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		c, err = catalog.Open(dir, catalog.Options{TreeLink: treeLinkTarget})
	}
	if errors.Is(err, catalog.ErrLocked) {
		// Another process's engine: a CLI command run without the
		// daemon (one with the daemon runs in it).
		return nil, fmt.Errorf("%w; without a daemon, commands that change the catalog run one at a time: run this one when that one has finished (read-only commands such as `media list` run beside it; while `tapefs mount` runs, all commands go to it and run side by side)", err)
	}
	if err != nil {
		return nil, err
	}
	e.cat = c
	return c, nil
}

func (e *Engine) now() time.Time { return e.opts.Now() }

func (e *Engine) logf(format string, args ...any) { e.opts.Logf(format, args...) }

func (e *Engine) driveOwner(path string) *owner[device.Drive] {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.drives[path]
	if !ok {
		o = newOwner(e.ctx, func() (device.Drive, error) { return e.opts.Opener.OpenDrive(path) })
		e.drives[path] = o
	}
	return o
}

func (e *Engine) changerOwner(path string) *owner[device.Changer] {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.changers[path]
	if !ok {
		o = newOwner(e.ctx, func() (device.Changer, error) { return e.opts.Opener.OpenChanger(path) })
		e.changers[path] = o
	}
	return o
}

// Jobs lists the running jobs by drive.
func (e *Engine) Jobs() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]string, len(e.busy))
	for k, h := range e.busy {
		out[k] = h.job
	}
	return out
}

// ResolveDrive returns the configured drive called name. An empty name
// selects the only configured drive; with several drives the caller must
// name one (the CLI passes TAPEFS_DRIVE / PROXMOX_TAPE_DRIVE as the name).
func (e *Engine) ResolveDrive(name string) (config.Drive, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return config.Drive{}, err
	}
	if name != "" {
		d, err := tc.Drive(name)
		if err != nil {
			return config.Drive{}, err
		}
		return *d, nil
	}
	switch len(tc.Drives) {
	case 0:
		return config.Drive{}, notFoundf("no drive configured: create one with `tapefs drive create NAME --path PATH`")
	case 1:
		return tc.Drives[0], nil
	}
	names := make([]string, len(tc.Drives))
	for i, d := range tc.Drives {
		names[i] = d.Name
	}
	sort.Strings(names)
	return config.Drive{}, invalidf("no drive given and %d drives are configured (%v): use --drive or set TAPEFS_DRIVE", len(names), names)
}

// ResolveChanger returns the changer called name, or with an empty name the
// changer of the default drive (see ResolveDrive), or the only configured
// changer.
func (e *Engine) ResolveChanger(name, driveName string) (config.Changer, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return config.Changer{}, err
	}
	if name != "" {
		c, err := tc.Changer(name)
		if err != nil {
			return config.Changer{}, err
		}
		return *c, nil
	}
	if driveName != "" || len(tc.Drives) == 1 {
		d, err := e.ResolveDrive(driveName)
		if err != nil {
			return config.Changer{}, err
		}
		if d.Changer == "" {
			return config.Changer{}, invalidf("drive %s has no changer: name a changer", d.Name)
		}
		c, err := tc.Changer(d.Changer)
		if err != nil {
			return config.Changer{}, err
		}
		return *c, nil
	}
	if len(tc.Changers) == 1 {
		return tc.Changers[0], nil
	}
	if len(tc.Changers) == 0 {
		return config.Changer{}, notFoundf("no changer configured: create one with `tapefs changer create NAME --path PATH`")
	}
	return config.Changer{}, invalidf("no changer given and %d changers are configured: name one, or use --drive / TAPEFS_DRIVE", len(tc.Changers))
}

func checkPath(path string) error {
	if path == "" {
		return invalidf("a path is required (--path)")
	}
	if !filepath.IsAbs(path) {
		return invalidf("path %q is not absolute", path)
	}
	if _, err := os.Stat(path); err != nil {
		return invalidf("bad path %q: %v", path, errors.Unwrap(err))
	}
	return nil
}
