package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// BackupOptions describe one `tapefs backup` run.
type BackupOptions struct {
	// Source is the directory to back up (when From is nil).
	Source string
	// From, if set, is the tree to back up instead of Source (a pool's
	// staging group: see Commit); Group must then be set.
	From BackupSource
	// Pool is the media pool to write to.
	Pool string
	// Drive, if set, is used instead of the pool's drive.
	Drive string
	// Group names the snapshot group; default: the source's base name.
	Group string
	// EjectMedia ejects the last tape when the job is done.
	EjectMedia bool
	// ExportMediaSet moves every tape of the set to import/export slots
	// when the job is done.
	ExportMediaSet bool
	// ForceMediaSet starts a new media set.
	ForceMediaSet bool
	// Exclude leaves out paths of Source matching these patterns
	// (path.Match syntax): a pattern with a slash, or one starting with
	// one, matches the path from the source's root; one without matches
	// a name at any depth. An excluded directory is left out whole.
	Exclude []string
	// AllFileSystems descends into filesystems mounted below Source;
	// without it their mount points are kept as empty directories.
	AllFileSystems bool
	// Progress, if set, is called from the job's goroutines as data moves.
	Progress func(BackupProgress)
}

// BackupProgress is a snapshot of a running backup.
type BackupProgress struct {
	TotalBytes, TotalFiles int64 // of the source, once Counted
	Counted                bool  // the source has been counted (beside the backup)
	Bytes, Files           int64 // read so far
	NewBytes               int64 // new chunk bytes sent to tape
	Tape                   string
}

// BackupResult is what a finished backup reports.
type BackupResult struct {
	Snapshot     string    `json:"snapshot"`
	Set          uuid.UUID `json:"media-set-uuid"`
	Files        int64     `json:"files"`
	Bytes        int64     `json:"bytes"`
	Chunks       int64     `json:"chunks"`
	NewChunks    int64     `json:"new-chunks"`
	NewBytes     int64     `json:"new-bytes"`
	Tapes        []string  `json:"tapes"`
	NewMediaSet  bool      `json:"new-media-set"`
	SetReason    string    `json:"media-set-reason,omitempty"`
	ElapsedNanos int64     `json:"elapsed-ns"`
	// Warnings are the files of Source that changed while they were read
	// (stored as read, as tar stores them), one line each. A backup with
	// warnings is "ok with warnings": its snapshot is on tape.
	Warnings []string `json:"warnings,omitempty"`
}

// chunkParams are the chunk sizes of every backup: large chunks keep the
// chunk index small (a million entries per TiB) and records full.
var chunkParams = chunker.DefaultParams

// Backup writes one snapshot of opts.Source into the pool's media set and
// returns when the data, the snapshot archive and a catalog archive are on
// tape and the catalog is synced.
func (e *Engine) Backup(ctx context.Context, opts BackupOptions) (*BackupResult, error) {
	// start measures the job on the clock's monotonic reading; stamp
	// names the snapshot and may move ahead of it (below).
	start := e.now()
	stamp := start
	source, group, err := e.backupSource(ctx, opts)
	if err != nil {
		return nil, err
	}
	src := source.String()
	snapName := group + "/" + stamp.UTC().Format("2006-01-02T15:04:05Z")
	if err := format.ValidateSnapshotName(snapName); err != nil {
		return nil, invalidf("invalid snapshot name %q: %v (use --group NAME)", snapName, err)
	}
	pool, err := e.PoolConfig(opts.Pool)
	if err != nil {
		return nil, err
	}
	if opts.Drive != "" {
		pool.Drive = opts.Drive
	}
	if pool.Drive == "" {
		return nil, invalidf("pool %s has no drive: set one with `tapefs pool update %s --drive NAME`", pool.Name, pool.Name)
	}
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	// A catalog that cannot take writes (its filesystem is full) could
	// not index what would go to tape: that would be dead space, written
	// again by the next backup. Fail before the tape is touched.
	if err := cat.CheckRoom(); err != nil {
		return nil, fmt.Errorf("backup %s: %w", snapName, err)
	}
	j, release, err := e.useDrive(ctx, pool.Drive, "backup "+snapName)
	if err != nil {
		return nil, err
	}
	defer release()

	w, err := e.newSetWriter(ctx, j, cat, pool, opts.ForceMediaSet)
	if err != nil {
		return nil, err
	}
	defer e.releaseClaims(w)
	if snapName, err = freeSnapshotName(cat, pool.Name, group, stamp); err != nil {
		return nil, err
	}
	res := &BackupResult{Snapshot: snapName, Set: w.set.UUID, NewMediaSet: w.newSet, SetReason: w.reason}
	j.logf("backup %s of %s to pool %s, media set %s (%s)", snapName, src, pool.Name, w.set.UUID, w.reason)

	var prog BackupProgress
	var progMu sync.Mutex
	report := func(f func(*BackupProgress)) {
		progMu.Lock()
		f(&prog)
		p := prog
		progMu.Unlock()
		e.tasks.progress(j.task, backupTaskProgress(p, e.now().Sub(start), pool.Drive))
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	w.onTape = func(label string) { report(func(p *BackupProgress) { p.Tape = label }) }
	w.onChunk = func(n int) { report(func(p *BackupProgress) { p.NewBytes += int64(n) }) }

	prev, err := previousFiles(cat, w.set.UUID, group)
	if err != nil {
		return nil, err
	}

	// The reader walks and chunks the source while the writer feeds the
	// drive; the spool between them makes the drive stream in bursts and
	// keeps memory bounded.
	sp := e.newSpool(ctx, j)
	defer sp.release()
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	{
		// Counting runs beside the backup rather than before it: the
		// totals come a little later, and its stat calls bring the
		// metadata into memory ahead of the reader.
		var counting sync.WaitGroup
		defer func() { cancel(); counting.Wait() }()
		counting.Go(func() {
			files, bytes, ok := countSource(rctx, source)
			if ok {
				report(func(p *BackupProgress) { p.TotalFiles, p.TotalBytes, p.Counted = files, bytes, true })
			}
		})
	}
	r := &treeReader{src: source, names: e.names, prev: prev, cat: cat, set: w.set.UUID, seen: map[chunker.Digest]bool{}, out: sp, ctx: rctx,
		recheck: opts.From == nil,
		progress: func(files, bytes int64) {
			report(func(p *BackupProgress) { p.Files += files; p.Bytes += bytes })
		}}
	go func() {
		defer sp.Close()
		readErr <- r.walk()
	}()
	werr := w.writeChunks(ctx, sp)
	if werr != nil {
		cancel()
		<-readErr
		return nil, w.fail(ctx, werr)
	}
	if err := <-readErr; err != nil {
		return nil, w.fail(ctx, fmt.Errorf("reading %s: %w", src, err))
	}
	r.summarize(j, snapName, res)
	if err := w.finish(ctx, snapName, r.entries, res); err != nil {
		return nil, w.fail(ctx, err)
	}
	res.NewBytes = w.newBytes
	res.Tapes = w.labels
	res.ElapsedNanos = int64(e.now().Sub(start))
	j.logf("snapshot %s: %d files, %d bytes, %d chunks (%d new, %d bytes) on %s",
		snapName, res.Files, res.Bytes, res.Chunks, res.NewChunks, res.NewBytes, strings.Join(res.Tapes, ", "))

	return res, w.afterBackup(ctx, opts)
}

// backupTaskProgress is a backup's progress as its task shows it.
func backupTaskProgress(p BackupProgress, elapsed time.Duration, drive string) TaskProgress {
	tp := TaskProgress{Bytes: p.Bytes, Files: p.Files, Tape: p.Tape, Drive: drive}
	if s := elapsed.Seconds(); s > 0 {
		tp.Rate = float64(p.Bytes) / s
	}
	if p.Counted {
		tp.TotalBytes, tp.TotalFiles = p.TotalBytes, p.TotalFiles
		if tp.Rate > 0 && p.TotalBytes > p.Bytes {
			tp.ETA = time.Duration(float64(p.TotalBytes-p.Bytes) / tp.Rate * float64(time.Second))
		}
	}
	return tp
}

// backupSource is what opts back up, and the snapshot group it goes to:
// opts.From, or the directory opts.Source with opts' exclusions.
func (e *Engine) backupSource(ctx context.Context, opts BackupOptions) (BackupSource, string, error) {
	source, group := opts.From, opts.Group
	if source != nil {
		if group == "" {
			return nil, "", invalidf("backup of %s: no group given", source)
		}
		return source, group, nil
	}
	src, err := filepath.Abs(opts.Source)
	if err != nil {
		return nil, "", err
	}
	if fi, err := os.Stat(src); err != nil {
		return nil, "", invalidf("backup source: %v", err)
	} else if !fi.IsDir() {
		return nil, "", invalidf("backup source %s is not a directory", src)
	}
	tf, err := newTreeFilter(dirSource(src), opts.Exclude, opts.AllFileSystems, func(format string, args ...any) { e.ctxLogf(ctx, format, args...) })
	if err != nil {
		return nil, "", err
	}
	if group == "" {
		group = filepath.Base(src)
	}
	return tf, group, nil
}

// freeSnapshotName is the name of group's snapshot at stamp in pool.
// Snapshot names are unique in a pool: a second backup of the group in
// the same second takes the next free second.
func freeSnapshotName(cat *catalog.Catalog, pool, group string, stamp time.Time) (string, error) {
	for {
		name := group + "/" + stamp.UTC().Format("2006-01-02T15:04:05Z")
		found, err := cat.FindSnapshot(name)
		if errors.Is(err, catalog.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(found, func(s catalog.Snapshot) bool { return s.Pool == pool }) {
			return name, nil
		}
		stamp = stamp.Add(time.Second)
	}
}

// afterBackup exports the media set or ejects the tape, as opts ask.
func (w *setWriter) afterBackup(ctx context.Context, opts BackupOptions) error {
	if opts.ExportMediaSet {
		if _, err := w.j.exportSet(ctx, w.cat, w.set); err != nil {
			return fmt.Errorf("backup done, but export of the media set failed: %w", err)
		}
	} else if opts.EjectMedia {
		if err := w.j.unload(ctx, 0); err != nil && !errors.Is(err, device.ErrNoMedium) {
			return fmt.Errorf("backup done, but eject failed: %w", err)
		}
	}
	return nil
}

// Spool sizes: memory for chunks on their way to the drive, and the burst
// a drive gets when the source is slower than the drive (spilled to the
// state directory's spool/).
const (
	spoolMemory       = 32 << 20
	DefaultSpoolBytes = 1 << 30
)

// defaultStreamRate is the slowest streaming rate assumed for drives that
// cannot tell theirs (LTO-5/6 speed matching starts at about 40 MB/s,
// LTO-7/8 at about 100).
const defaultStreamRate = 100e6

func (e *Engine) newSpool(ctx context.Context, j *driveJob) *spool {
	high := e.opts.SpoolBytes
	if high <= 0 {
		high = DefaultSpoolBytes
	}
	rate := defaultStreamRate
	_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if x, ok := dev.(device.Estimator); ok {
			rate = x.MinStreamRate()
		}
		return nil
	})
	sp := newSpool(filepath.Join(e.opts.StateDir, "spool"), min(spoolMemory, high), high, rate, j.logf)
	sp.now = e.now
	return sp
}
