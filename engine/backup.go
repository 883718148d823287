package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/engine/policy"
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

// newChunk is a chunk that must go to tape.
type newChunk struct {
	digest chunker.Digest
	data   []byte
}

// Backup writes one snapshot of opts.Source into the pool's media set and
// returns when the data, the snapshot archive and a catalog archive are on
// tape and the catalog is synced.
func (e *Engine) Backup(ctx context.Context, opts BackupOptions) (*BackupResult, error) {
	// start measures the job on the clock's monotonic reading; stamp
	// names the snapshot and may move ahead of it (below).
	start := e.now()
	stamp := start
	source, group := opts.From, opts.Group
	if source == nil {
		src, err := filepath.Abs(opts.Source)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(src); err != nil {
			return nil, invalidf("backup source: %v", err)
		} else if !fi.IsDir() {
			return nil, invalidf("backup source %s is not a directory", src)
		}
		tf, err := newTreeFilter(dirSource(src), opts.Exclude, opts.AllFileSystems, func(format string, args ...any) { e.ctxLogf(ctx, format, args...) })
		if err != nil {
			return nil, err
		}
		source = tf
		if group == "" {
			group = filepath.Base(src)
		}
	} else if group == "" {
		return nil, invalidf("backup of %s: no group given", source)
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
	// Snapshot names are unique in a pool: a second backup of the group in
	// the same second takes the next free second.
	for {
		found, err := cat.FindSnapshot(snapName)
		if errors.Is(err, catalog.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(found, func(s catalog.Snapshot) bool { return s.Pool == pool.Name }) {
			break
		}
		stamp = stamp.Add(time.Second)
		snapName = group + "/" + stamp.UTC().Format("2006-01-02T15:04:05Z")
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
	var entries []*format.Entry
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
	go func() {
		defer sp.Close()
		r := &treeReader{src: source, names: e.names, prev: prev, cat: cat, set: w.set.UUID, seen: map[chunker.Digest]bool{}, out: sp, ctx: rctx,
			recheck: opts.From == nil,
			progress: func(files, bytes int64) {
				report(func(p *BackupProgress) { p.Files += files; p.Bytes += bytes })
			}}
		err := r.walk()
		entries = r.entries
		if n := len(r.omitted); n > 0 {
			j.logf("snapshot %s: %d files changed while they were read and are left out (%s)", snapName, n, strings.Join(slices.Sorted(maps.Keys(r.omitted)), ", "))
		}
		for _, c := range r.changed {
			j.logf("warning: %s", c)
		}
		res.Warnings = r.changed
		res.Files, res.Bytes, res.Chunks, res.NewChunks = r.files, r.bytes, r.chunks+r.reused, r.newChunks
		readErr <- err
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
	if err := w.finish(ctx, snapName, entries, res); err != nil {
		return nil, w.fail(ctx, err)
	}
	res.NewBytes = w.newBytes
	res.Tapes = w.labels
	res.ElapsedNanos = int64(e.now().Sub(start))
	j.logf("snapshot %s: %d files, %d bytes, %d chunks (%d new, %d bytes) on %s",
		snapName, res.Files, res.Bytes, res.Chunks, res.NewChunks, res.NewBytes, strings.Join(res.Tapes, ", "))

	if opts.ExportMediaSet {
		if _, err := w.j.exportSet(ctx, w.cat, w.set); err != nil {
			return res, fmt.Errorf("backup done, but export of the media set failed: %w", err)
		}
	} else if opts.EjectMedia {
		if err := j.unload(ctx, 0); err != nil && !errors.Is(err, device.ErrNoMedium) {
			return res, fmt.Errorf("backup done, but eject failed: %w", err)
		}
	}
	return res, nil
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

// previousFiles returns the regular files of the newest snapshot of group
// in media set set, by path (nil if there is none).
func previousFiles(cat *catalog.Catalog, set uuid.UUID, group string) (map[string]*format.Entry, error) {
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: set, Group: group})
	if err != nil || len(snaps) == 0 {
		return nil, err
	}
	last := snaps[len(snaps)-1]
	out := map[string]*format.Entry{}
	err = cat.WalkTree(set, last.Name, func(te catalog.TreeEntry) error {
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", last.Name, te.Path, err)
		}
		if ent.Type == format.EntryFile {
			out[ent.Path] = &ent
		}
		return nil
	})
	return out, err
}

// countSource counts the regular files and bytes of a source, for
// progress; unreadable parts are not counted. ok is false when ctx ended
// first.
func countSource(ctx context.Context, src BackupSource) (files, bytes int64, ok bool) {
	var visit func(rel string)
	visit = func(rel string) {
		if ctx.Err() != nil {
			return
		}
		se, err := src.Stat(rel)
		if err != nil {
			return
		}
		switch se.Entry.Type {
		case format.EntryFile:
			files++
			bytes += se.Entry.Size
		case format.EntryDir:
			names, _ := src.ReadDir(rel)
			for _, n := range names {
				visit(path.Join(rel, n))
			}
		}
	}
	visit("")
	return files, bytes, ctx.Err() == nil
}

// chunkBufs holds the buffers of chunks on their way from a backup's
// reader through the spool to the tape writer, which gives them back.
var chunkBufs chunker.BufferPool

// treeReader walks a source tree in depth-first path order, turning it into
// snapshot entries and sending chunks the set does not have yet to out.
type treeReader struct {
	src      BackupSource
	ctx      context.Context
	cat      *catalog.Catalog
	set      uuid.UUID
	seen     map[chunker.Digest]bool // chunks this job already sent
	out      *spool
	progress func(files, bytes int64)
	names    *idNames
	// prev holds the regular files of the group's last snapshot in this
	// media set: a file whose size, mtime and ctime are unchanged reuses
	// its chunk list without being read (the quick check restic and
	// rsync make).
	prev map[string]*format.Entry

	// Set by the walk: the entries in order, hard link identities, and
	// counts (reused: chunks of unchanged files).
	entries              []*format.Entry
	inodes               map[[2]uint64]string // identity → first path, for hard links
	files, bytes, reused int64
	// Set by the pipeline's delivery (add).
	chunks, newChunks int64
	// omitted: files that changed while they were read
	// (ErrSourceChanged), left out of the snapshot with their other
	// names.
	omitted map[string]bool
	// recheck: stat each file again once it is read and report it in
	// changed when its size, mtime or ctime moved meanwhile, as tar's
	// "file changed as we read it" (a local directory source; a
	// commit's frozen group reports ErrSourceChanged instead).
	recheck bool
	changed []string
}

// fileJob is a regular file the walk hands to the reading pipeline.
type fileJob struct {
	rel string
	e   *format.Entry
	off int64 // bytes delivered so far
}

// Reading: files are read, chunked and hashed on a pipeline beside the
// walk, so that reading one file overlaps hashing the last; up to
// readAheadFiles files wait between the walk and the pipeline.
const (
	readAheadFiles = 64
	hashWorkers    = 2
)

func (r *treeReader) walk() error {
	r.inodes = map[[2]uint64]string{}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	ahead, stopAhead := startLookahead(ctx, r.src, r.unchanged)
	defer stopAhead()

	files := make(chan *fileJob, readAheadFiles)
	walkErr := make(chan error, 1)
	go func() {
		defer close(files)
		err := r.visit(ctx, "", files)
		if err != nil {
			cancel()
		}
		walkErr <- err
	}()
	err := chunker.Pipeline(ctx, chunker.Config{Params: chunkParams, Workers: hashWorkers, Bufs: &chunkBufs, ZeroUnhashed: true}, files,
		func(f *fileJob) (io.ReadCloser, error) {
			ahead.fileStarted()
			return r.src.Open(f.rel)
		},
		r.add,
		func(f *fileJob, err error) error {
			if errors.Is(err, ErrSourceChanged) {
				if r.omitted == nil {
					r.omitted = map[string]bool{}
				}
				r.omitted[f.rel] = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", r.src.Describe(f.rel), err)
			}
			if r.recheck {
				if why := r.changedWhileRead(f); why != "" {
					r.changed = append(r.changed, fmt.Sprintf("%s: file changed as we read it (%s); stored as read, %d bytes", r.src.Describe(f.rel), why, f.off))
				}
			}
			if f.off != f.e.Size {
				// The file changed while it was read: record what was read.
				f.e.Size = f.off
			}
			return nil
		})
	if err != nil {
		cancel()
	}
	if werr := <-walkErr; werr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = werr
	}
	if err == nil && len(r.omitted) > 0 {
		keep := r.entries[:0]
		for _, e := range r.entries {
			if r.omitted[e.Path] || e.Type == format.EntryHardLink && r.omitted[e.Target] {
				continue
			}
			keep = append(keep, e)
		}
		r.entries = keep
	}
	return err
}

// changedWhileRead says how file f, just read, differs from what the walk
// saw: bytes read other than its size, or (for a source that can tell, a
// changeChecker) a size, mtime or ctime that moved meanwhile; "" when it
// did not change.
func (r *treeReader) changedWhileRead(f *fileJob) string {
	if f.off != f.e.Size {
		return fmt.Sprintf("%d bytes read, size was %d", f.off, f.e.Size)
	}
	if cc, ok := r.src.(changeChecker); ok {
		return cc.changedSince(f.rel, f.e)
	}
	return ""
}

// unchanged reports whether regular file rel, as e describes it, is the
// same as in the previous snapshot by size, mtime and ctime: then its
// chunk list is reused and the file is not read.
func (r *treeReader) unchanged(rel string, e *format.Entry) bool {
	p := r.prev[rel]
	return p != nil && p.Size == e.Size && p.Mtime.Equal(e.Mtime) && p.Ctime.Equal(e.Ctime)
}

// visit adds rel ("" for the root) and, for a directory, its children in
// name order; regular files to read go to files.
func (r *treeReader) visit(ctx context.Context, rel string, files chan<- *fileJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	se, err := r.src.Stat(rel)
	if err != nil {
		return err
	}
	e := &se.Entry
	e.Path = rel
	e.User, e.Group = r.names.user(e.UID), r.names.group(e.GID)
	if first, ok := r.inodes[se.Key]; ok && se.Links > 1 && e.Type != format.EntryDir {
		// Another name of a file, symlink, device, FIFO or socket seen
		// before.
		e.Type, e.Target, e.Size, e.Rdev = format.EntryHardLink, first, 0, 0
	} else if se.Links > 1 && e.Type != format.EntryDir {
		r.inodes[se.Key] = rel
	}
	if e.Type == format.EntryFile {
		r.files++
		r.bytes += e.Size
		r.progress(1, 0)
		if r.unchanged(rel, e) {
			p := r.prev[rel]
			e.Chunks = p.Chunks
			r.reused += int64(len(p.Chunks))
			r.progress(0, e.Size)
		} else {
			select {
			case files <- &fileJob{rel: rel, e: e}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	r.entries = append(r.entries, e)
	if e.Type != format.EntryDir {
		return nil
	}
	names, err := r.src.ReadDir(rel)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := r.visit(ctx, path.Join(rel, n), files); err != nil {
			return err
		}
	}
	return nil
}

// add records the next chunk of f. data is a chunkBufs buffer: it goes to
// the spool when the set needs the chunk, back to the pool otherwise.
func (r *treeReader) add(f *fileJob, data []byte, d chunker.Digest) error {
	e := f.e
	ref := format.ChunkRef{Digest: d, Offset: f.off, Size: uint32(len(data))}
	f.off += int64(len(data))
	r.progress(0, int64(len(data)))
	r.chunks++
	if chunker.IsZero(data) {
		ref.Zero = true
		ref.Digest = [32]byte{}
		e.Chunks = append(e.Chunks, ref)
		chunkBufs.Put(data)
		return nil
	}
	e.Chunks = append(e.Chunks, ref)
	if r.seen[d] {
		chunkBufs.Put(data)
		return nil
	}
	have, err := r.cat.HasChunk(r.set, d)
	if err != nil {
		chunkBufs.Put(data)
		return fmt.Errorf("%s: %w", r.src.Describe(f.rel), err)
	}
	r.seen[d] = true
	if have {
		chunkBufs.Put(data)
		return nil
	}
	r.newChunks++
	return r.out.Put(r.ctx, newChunk{digest: d, data: data})
}

func readXattrs(p string) (map[string][]byte, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	if sz == 0 {
		return nil, nil
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue // removed meanwhile
		}
		v := make([]byte, vsz)
		if vsz, err = unix.Lgetxattr(p, name, v); err != nil {
			continue
		}
		out[name] = v[:vsz]
	}
	return out, nil
}

// setWriter writes one job's archives to the tapes of a media set.
type setWriter struct {
	e      *Engine
	j      *driveJob
	cat    *catalog.Catalog
	pool   config.Pool
	pol    policy.Pool
	key    setKey // the set's drive encryption (zero: none)
	set    catalog.MediaSet
	newSet bool
	reason string
	// replaces is the pool's current set that a new set takes over from
	// once it has its first tape (uuid.Nil: none). Until then the old set
	// stays current, so a new set that never gets a tape (no writable
	// media) leaves the pool as it was, as in PBS.
	replaces uuid.UUID

	onTape  func(label string)
	onChunk func(n int)

	// the tape being written
	tape    *catalog.Media
	seq     uint64
	files   []format.ArchiveFile   // archives on this tape (catalog archive contents)
	chunks  []format.ChunkLocation // chunks on this tape
	pending []catalog.ChunkEntry   // written in the open archive, indexed when it closes
	// void: archives on this tape of jobs that did not complete, listed
	// in its catalog archives (format.CatalogArchive.Void); voided: the
	// commit records (catalog.CommitRecord) resolved by them, deleted
	// once a catalog archive with them is on tape.
	void   []format.VoidArchive
	voided []catalog.CommitRecord

	labels   []string
	newBytes int64
}

// newSetWriter decides between appending to the pool's current media set
// and starting a new one.
func (e *Engine) newSetWriter(ctx context.Context, j *driveJob, cat *catalog.Catalog, pool config.Pool, force bool) (*setWriter, error) {
	pol, err := policyPool(pool)
	if err != nil {
		return nil, err
	}
	sets, err := cat.ListMediaSets(pool.Name)
	if err != nil {
		return nil, err
	}
	media, err := e.policyMedia(cat, pool.Name)
	if err != nil {
		return nil, err
	}
	var current *policy.Set
	var currentSet catalog.MediaSet
	for i := len(sets) - 1; i >= 0; i-- {
		if !sets[i].Closed {
			currentSet = sets[i]
			ps := policySet(sets[i])
			current = &ps
			break
		}
	}
	key, err := e.poolKey(pool.Encrypt)
	if err != nil {
		return nil, err
	}
	setFP := ""
	if current != nil {
		setFP = currentSet.EncryptKey
	}
	dec := policy.StartWrite(pol, current, setFP, media, j.ch != nil, force, e.now())
	w := &setWriter{e: e, j: j, cat: cat, pool: pool, pol: pol, key: key, newSet: dec.NewSet, reason: dec.Reason}
	if dec.NewSet {
		if current != nil {
			w.replaces = current.UUID
		}
		w.set = catalog.MediaSet{UUID: uuid.New(), Pool: pool.Name, Ctime: e.now(), EncryptKey: key.fingerprint}
	} else {
		w.set = currentSet
		w.reason = "append to current media set"
	}
	return w, nil
}

func policyPool(p config.Pool) (policy.Pool, error) {
	alloc, err := p.AllocationPolicy()
	if err != nil {
		return policy.Pool{}, invalidf("pool %s: %v", p.Name, err)
	}
	ret, err := p.RetentionPolicy()
	if err != nil {
		return policy.Pool{}, invalidf("pool %s: %v", p.Name, err)
	}
	return policy.Pool{Name: p.Name, Allocation: alloc, Retention: ret, EncryptKey: p.Encrypt}, nil
}

func policySet(s catalog.MediaSet) policy.Set {
	return policy.Set{UUID: s.UUID, Pool: s.Pool, Ctime: s.Ctime, Media: s.Media, Closed: s.Closed, LastWrite: s.LastWrite}
}

// policyMedia lists the tapes a pool may use (its own and unassigned ones)
// for the policy package.
func (e *Engine) policyMedia(cat *catalog.Catalog, pool string) ([]policy.Media, error) {
	all, err := cat.ListMedia(catalog.MediaFilter{})
	if err != nil {
		return nil, err
	}
	locked := e.lockedSets()
	var out []policy.Media
	for _, m := range all {
		if m.EffectivePool() != pool && m.EffectivePool() != "" {
			continue
		}
		pm := policy.Media{
			UUID: m.UUID, Label: m.LabelText, Pool: m.EffectivePool(), Ctime: m.Ctime,
			Status: policy.MediaStatus(m.Status), Online: m.Location.Kind == catalog.LocationOnline,
		}
		if m.Set != nil {
			pm.Set, pm.Seq = m.Set.UUID, m.Set.Seq
			pm.Locked = locked[m.Set.UUID]
		}
		out = append(out, pm)
	}
	return out, nil
}

// writeChunks writes every chunk from the spool to tape, changing tapes at
// early warning.
func (w *setWriter) writeChunks(ctx context.Context, sp *spool) error {
	var carry *newChunk // a chunk that did not fit on the previous tape
	for {
		if err := w.ensureTape(ctx); err != nil {
			return err
		}
		full := false
		err := w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			var aw *format.ChunkArchiveWriter
			file, obj, err := w.position(ctx, dev)
			if err != nil {
				return err
			}
			if err := w.key.apply(ctx, dev); err != nil {
				return err
			}
			id := uuid.New()
			add := func(c newChunk) error {
				if aw == nil {
					aw, err = format.NewChunkArchiveWriter(ctx, dev, format.DefaultBlockSize, format.ChunkArchiveHeader{Set: w.set.UUID, Seq: w.seq}, id)
					if err != nil {
						return err
					}
				}
				off, err := aw.Add(c.digest, c.data)
				if err != nil {
					return err
				}
				chunkBufs.Put(c.data) // copied into the archive's records
				w.pending = append(w.pending, catalog.ChunkEntry{Digest: c.digest, Loc: catalog.ChunkLoc{Media: w.tape.UUID, File: file, Offset: off, Size: uint32(len(c.data))}})
				w.newBytes += int64(len(c.data))
				w.onChunk(len(c.data))
				return nil
			}
			if carry != nil {
				if err := add(*carry); err != nil {
					return err
				}
				carry = nil
			}
			for {
				c, ok, err := sp.Next(ctx)
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				if aw != nil && aw.EarlyWarning() {
					carry = &c
					full = true
					break
				}
				if err := add(c); err != nil {
					if errors.Is(err, device.ErrEndOfMedium) {
						// The record did not fit: this chunk and the
						// open archive's tail go to the next tape.
						return fmt.Errorf("tape %s is full before its early warning: %w", w.tape.LabelText, err)
					}
					return err
				}
			}
			if aw == nil {
				return nil
			}
			if err := aw.Close(); err != nil {
				return err
			}
			w.files = append(w.files, format.ArchiveFile{File: file, Object: obj, Type: format.ContentChunkArchive, UUID: id})
			return nil
		})
		if err != nil {
			return err
		}
		if err := w.indexPending(); err != nil {
			return err
		}
		if !full {
			return nil
		}
		if err := w.closeTape(ctx, true); err != nil {
			return err
		}
	}
}

// indexPending records the chunks of the archive just closed in the
// catalog: they are on tape now.
func (w *setWriter) indexPending() error {
	if len(w.pending) == 0 {
		return nil
	}
	if err := w.cat.PutChunks(w.set.UUID, w.pending); err != nil {
		return fmt.Errorf("index chunks: %w", err)
	}
	for _, c := range w.pending {
		w.chunks = append(w.chunks, format.ChunkLocation{Digest: c.Digest, File: c.Loc.File, Offset: c.Loc.Offset, Size: c.Loc.Size})
	}
	w.pending = w.pending[:0]
	return nil
}

// position moves to end of data and returns the next file number and
// logical object. A file left unfinished at end of data (records with no
// filemark after them: a job killed while it wrote an archive) is ended
// with a filemark first, so the next archive starts a file of its own
// instead of following the dead job's records in theirs.
func (w *setWriter) position(ctx context.Context, dev device.Drive) (file, obj uint64, err error) {
	if err := dev.Space(ctx, device.SpaceEndOfData, 0); err != nil {
		return 0, 0, err
	}
	pos, err := dev.ReadPosition(ctx)
	if err != nil {
		return 0, 0, err
	}
	if pos.Record > 0 {
		w.j.logf("tape %s: file %d was left unfinished by an interrupted job; ending it with a filemark", w.tape.LabelText, pos.File)
		if err := dev.WriteFilemarks(ctx, 1); err != nil {
			return 0, 0, err
		}
		if pos, err = dev.ReadPosition(ctx); err != nil {
			return 0, 0, err
		}
	}
	return pos.File, pos.Object, nil
}

// ensureTape makes sure a writable tape of the set is loaded and
// positioned for appending.
func (w *setWriter) ensureTape(ctx context.Context) error {
	if w.tape != nil {
		return nil
	}
	sets, err := w.cat.ListMediaSets(w.pool.Name)
	if err != nil {
		return err
	}
	ps := policySet(w.set)
	var psets []policy.Set
	for _, s := range sets {
		psets = append(psets, policySet(s))
	}
	var next policy.Media
	var m catalog.Media
	retry := false
	err = w.e.waitForMedia(ctx, w.j.ch == nil, func() error {
		if retry {
			if err := w.j.noteOnline(ctx); err != nil {
				return err
			}
		}
		retry = true
		for {
			media, err := w.e.policyMedia(w.cat, w.pool.Name)
			if err != nil {
				return err
			}
			// Tapes other jobs chose are not for this one: two pools
			// on two drives may both want the same unassigned tape.
			media = slices.DeleteFunc(media, func(m policy.Media) bool { return w.e.claimedByOther(m.UUID, w) })
			next, err = policy.NextTape(w.pol, &ps, media, psets, w.j.ch != nil, w.e.now())
			if err != nil {
				// NextTape names the pool and says what to do.
				err = classify(ErrNoSpace, "%w", err)
				if errors.Is(err, policy.ErrNoWritableMedia) {
					return needMedia("insert a writable tape for pool "+w.pool.Name, err)
				}
				return err
			}
			if w.e.claimTape(next.UUID, w) {
				break
			}
			// Another job took it in between: choose again.
		}
		if m, err = w.cat.GetMedia(next.UUID); err != nil {
			return err
		}
		return w.j.loadForWrite(ctx, m)
	})
	if err != nil {
		return err
	}
	// Appending needs the tape position; a drive that cannot report it
	// (docs/hardware.md) is refused before the tape joins the set.
	if err := w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		_, err := dev.ReadPosition(ctx)
		return err
	}); err != nil {
		return err
	}
	member := next.Set == w.set.UUID && next.Set != uuid.Nil
	w.tape = &m
	w.files, w.chunks = nil, nil
	if member {
		w.seq = next.Seq
		if err := w.loadTapeState(ctx); err != nil {
			return err
		}
	} else {
		// A new member: (re)write its media-set label, which discards
		// whatever an expired set left on it.
		w.seq = uint64(len(w.set.Media))
		if next.Set != uuid.Nil && next.Set != w.set.UUID {
			// A media set restores only as a whole: once one of its
			// tapes is overwritten, the set is gone.
			w.j.logf("overwriting tape %s of expired media set %s: the set is removed from the catalog", m.LabelText, next.Set)
			if err := w.e.dropMediaSet(w.cat, next.Set); err != nil {
				return err
			}
		}
		label := format.MediaSetLabel{Pool: w.pool.Name, SetUUID: w.set.UUID, Seq: w.seq, Ctime: w.set.Ctime,
			EncryptionKeyFingerprint: w.key.fingerprint, EncryptedKey: w.key.config}
		if err := w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			return format.WriteMediaSetLabel(ctx, dev, label)
		}); err != nil {
			return err
		}
		w.set.Media = append(w.set.Media, m.UUID)
		w.set.LastWrite = w.e.now()
		if err := w.cat.PutMediaSet(w.set); err != nil {
			return err
		}
		if w.replaces != uuid.Nil {
			// The new set exists now (with a tape): the old one is no
			// longer current. A crash before this leaves both open,
			// and the newer one is current.
			if err := w.cat.UpdateMediaSet(w.replaces, func(s *catalog.MediaSet) error { s.Closed = true; return nil }); err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			w.replaces = uuid.Nil
		}
		ref := &catalog.MediaSetRef{UUID: w.set.UUID, Seq: w.seq, Ctime: w.set.Ctime, Pool: w.pool.Name}
		if err := w.cat.UpdateMedia(m.UUID, func(mm *catalog.Media) error {
			mm.Set, mm.Status, mm.BytesUsed = ref, catalog.StatusWritable, 0
			return nil
		}); err != nil {
			return err
		}
		w.tape.Set = ref
	}
	w.labels = appendUnique(w.labels, m.LabelText)
	w.onTape(m.LabelText)
	w.j.logf("writing to tape %s (media set %s, sequence %d)", m.LabelText, w.set.UUID, w.seq)
	return nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// loadTapeState reads what the set already has on the loaded tape, for the
// cumulative catalog archive: from the tape's last catalog archive, or, if
// the last job on it was interrupted, from the catalog plus the headers of
// the archives the catalog knows.
func (w *setWriter) loadTapeState(ctx context.Context) (err error) {
	known := map[uint64]bool{}
	err = w.cat.ListChunks(w.set.UUID, func(c catalog.ChunkEntry) error {
		if c.Loc.Media == w.tape.UUID {
			w.chunks = append(w.chunks, format.ChunkLocation{Digest: c.Digest, File: c.Loc.File, Offset: c.Loc.Offset, Size: c.Loc.Size})
			known[c.Loc.File] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	snaps, err := w.cat.ListSnapshots(catalog.SnapshotFilter{Set: w.set.UUID})
	if err != nil {
		return err
	}
	snapFiles := map[uint64]string{}
	for _, s := range snaps {
		for _, a := range s.Archives {
			if a.Media == w.tape.UUID {
				known[a.File] = true
				snapFiles[a.File] = s.Name
			}
		}
	}
	w.void, w.voided = nil, nil
	defer func() {
		if err == nil {
			err = w.voidInterrupted(snapFiles)
		}
	}()
	return w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if err := w.key.apply(ctx, dev); err != nil {
			return err
		}
		if ca, err := format.ReadLastCatalogArchive(ctx, dev); err == nil && ca.Media == w.tape.UUID && ca.Set == w.set.UUID {
			w.files, w.void = ca.Files, ca.Void
			return nil
		}
		w.j.logf("tape %s: last job did not finish its catalog archive; reading archive headers", w.tape.LabelText)
		w.files = nil
		if err := dev.Rewind(ctx); err != nil {
			return err
		}
		if err := dev.Space(ctx, device.SpaceFilemarks, 2); err != nil {
			return err
		}
		for file := uint64(2); ; file++ {
			pos, err := dev.ReadPosition(ctx)
			if err != nil {
				return err
			}
			fr, err := format.NewFileReader(ctx, dev, 0)
			if errors.Is(err, device.ErrEndOfData) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("tape %s file %d: %w", w.tape.LabelText, file, err)
			}
			h := fr.Header()
			if known[file] && h.Type != format.ContentCatalogArchive {
				af := format.ArchiveFile{File: file, Object: pos.Object, Type: h.Type, UUID: h.UUID, Snapshot: snapFiles[file]}
				af.Final = af.Snapshot != ""
				w.files = append(w.files, af)
			}
			if err := fr.SkipToEnd(); err != nil && !errors.Is(err, format.ErrIncomplete) {
				return err
			}
		}
	})
}

// voidInterrupted resolves the commit records of the loaded tape: a
// record whose snapshot the catalog has (in that file: snapFiles) is
// finished business and dropped; any other names a snapshot archive of a
// job that died before it recorded the snapshot (the archive may be on
// tape, even listed in the tape's last catalog archive), which is taken
// out of the files the next catalog archive lists and added to its void
// list, so that a catalog rebuilt from the tape leaves it out, as the
// live catalog does. The records go once that catalog archive is on tape
// (closeTape).
func (w *setWriter) voidInterrupted(snapFiles map[uint64]string) error {
	recs, err := w.cat.ListCommits(w.set.UUID, w.tape.UUID)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if snapFiles[r.File] == r.Snapshot {
			if err := w.cat.DeleteCommit(r.Set, r.Media, r.File); err != nil {
				return err
			}
			continue
		}
		w.j.logf("tape %s: snapshot archive of %s in file %d was written by a job that did not finish: voided, the snapshot is not in the catalog", w.tape.LabelText, r.Snapshot, r.File)
		w.files = slices.DeleteFunc(w.files, func(f format.ArchiveFile) bool { return f.File == r.File })
		if !slices.ContainsFunc(w.void, func(v format.VoidArchive) bool { return v.File == r.File }) {
			w.void = append(w.void, format.VoidArchive{File: r.File, UUID: r.Archive})
		}
		w.voided = append(w.voided, r)
	}
	return nil
}

// catalogArchive is this tape's part of the catalog.
func (w *setWriter) catalogArchive() *format.CatalogArchive {
	return &format.CatalogArchive{
		Media: w.tape.UUID, Set: w.set.UUID, Seq: w.seq, SetCtime: w.set.Ctime, Pool: w.pool.Name,
		Files: w.files, Chunks: w.chunks, Void: w.void,
	}
}

// closeTape writes the catalog archive to the current tape and, when full,
// marks it full so the next write goes to another tape.
func (w *setWriter) closeTape(ctx context.Context, full bool) error {
	if w.tape == nil {
		return nil
	}
	err := w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if _, _, err := w.position(ctx, dev); err != nil {
			return err
		}
		if err := w.key.apply(ctx, dev); err != nil {
			return err
		}
		err := format.WriteCatalogArchive(ctx, dev, format.DefaultBlockSize, w.catalogArchive())
		if errors.Is(err, device.ErrEarlyWarning) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("catalog archive on %s: %w", w.tape.LabelText, err)
	}
	for _, r := range w.voided {
		// Voided on tape now: the record has done its work.
		if err := w.cat.DeleteCommit(r.Set, r.Media, r.File); err != nil {
			return err
		}
	}
	w.voided = nil
	var used uint64
	_ = w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if vs, err := dev.VolumeStatistics(ctx); err == nil {
			used = vs.LifetimeBytesWritten
		}
		return nil
	})
	status := catalog.StatusWritable
	if full {
		status = catalog.StatusFull
		w.e.notifyLater(ctx, Event{Kind: EventTapeFull, State: "full",
			Message: fmt.Sprintf("tape %s of media set %s is full", w.tape.LabelText, w.set.UUID), Tape: w.tape.LabelText, Drive: w.j.cfg.Name})
	}
	if err := w.cat.UpdateMedia(w.tape.UUID, func(m *catalog.Media) error {
		m.Status = status
		if used > 0 {
			m.BytesUsed = used
		}
		return nil
	}); err != nil {
		return err
	}
	if full {
		w.j.logf("tape %s is full", w.tape.LabelText)
		w.tape = nil
	}
	return nil
}

// finish writes the snapshot archive and the catalog archive, then records
// the snapshot in the catalog.
func (w *setWriter) finish(ctx context.Context, name string, entries []*format.Entry, res *BackupResult) error {
	var loc catalog.ArchiveLoc
	for attempt := 0; ; attempt++ {
		if err := w.ensureTape(ctx); err != nil {
			return err
		}
		id := uuid.New()
		err := w.j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			file, obj, err := w.position(ctx, dev)
			if err != nil {
				return err
			}
			if err := w.key.apply(ctx, dev); err != nil {
				return err
			}
			// The archive is on tape before the snapshot is in the
			// catalog: a record of it comes first, so that a crash in
			// between leaves an archive the engine knows to void
			// (voidInterrupted).
			rec := catalog.CommitRecord{Set: w.set.UUID, Media: w.tape.UUID, File: file, Archive: id, Snapshot: name}
			if err := w.cat.PutCommit(rec); err != nil {
				return fmt.Errorf("record the commit: %w", err)
			}
			sw, err := format.NewSnapshotArchiveWriter(ctx, dev, format.DefaultBlockSize, format.SnapshotArchiveHeader{Set: w.set.UUID, Snapshot: name}, id)
			if err == nil {
				for _, e := range entries {
					if err = sw.Add(e); err != nil {
						sw.Abort()
						break
					}
				}
			}
			if err == nil {
				err = sw.Close()
			}
			if err != nil {
				// Not complete on tape: a rebuild cannot take it for a
				// snapshot.
				w.cat.DeleteCommit(rec.Set, rec.Media, rec.File)
				return err
			}
			killAt("commit-after-snapshot-archive")
			loc = catalog.ArchiveLoc{Media: w.tape.UUID, File: file}
			w.files = append(w.files, format.ArchiveFile{File: file, Object: obj, Type: format.ContentSnapshotArchive, UUID: id, Snapshot: name, Final: true})
			return nil
		})
		if errors.Is(err, device.ErrEndOfMedium) && attempt == 0 {
			// The whole snapshot archive goes to one tape: start over
			// on the next one.
			w.j.logf("snapshot archive does not fit on %s: continuing on the next tape", w.tape.LabelText)
			if err := w.closeTape(ctx, true); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("snapshot archive: %w", err)
		}
		break
	}
	if err := w.closeTape(ctx, false); err != nil {
		return err
	}
	killAt("commit-after-catalog-archive")
	tree := make([]catalog.TreeEntry, 0, len(entries))
	for _, e := range entries {
		tree = append(tree, catalog.TreeEntry{Path: e.Path, Value: format.EncodeEntry(nil, e)})
	}
	snap := catalog.Snapshot{
		Set: w.set.UUID, Name: name, Pool: w.pool.Name, Ctime: snapshotTime(name, w.e.now()),
		Archives: []catalog.ArchiveLoc{loc}, Files: res.Files, Bytes: res.Bytes,
	}
	if err := w.cat.PutSnapshot(snap, tree); err != nil {
		return fmt.Errorf("record snapshot in the catalog: %w", err)
	}
	if err := w.cat.DeleteCommit(w.set.UUID, loc.Media, loc.File); err != nil {
		// A record left for a recorded snapshot is dropped when found.
		w.j.logf("snapshot %s: remove its commit record: %v", name, err)
	}
	return w.cat.UpdateMediaSet(w.set.UUID, func(s *catalog.MediaSet) error {
		s.LastWrite = w.e.now()
		return nil
	})
}

// fail closes what can be closed after a failed job and returns err: the
// chunks already on tape stay indexed (they are valid data of the set).
func (w *setWriter) fail(ctx context.Context, err error) error {
	if ierr := w.indexPending(); ierr != nil {
		err = errors.Join(err, ierr)
	}
	return err
}

// loadForWrite gets tape m into the drive from the library. A tape not in
// the library, or for a standalone drive a tape not in the drive, is a
// mediaNeeded error with the request to the operator (see waitForMedia).
func (j *driveJob) loadForWrite(ctx context.Context, m catalog.Media) error {
	if j.ch != nil {
		err := j.loadLabel(ctx, m.LabelText)
		if errors.Is(err, ErrNotFound) {
			return needMedia(fmt.Sprintf("insert tape %s into changer %s", m.LabelText, j.ch.Name), err)
		}
		return err
	}
	li, err := j.readLabel(ctx)
	if err == nil && li.UUID == m.UUID {
		return nil
	}
	if err == nil {
		// Another tape: out with it, so the operator can put in the
		// right one.
		_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Unload(ctx) })
		err = fmt.Errorf("drive %s holds tape %s", j.cfg.Name, li.LabelText)
	}
	return needMedia(fmt.Sprintf("insert tape %s into drive %s", m.LabelText, j.cfg.Name), err)
}

// dropMediaSet removes an expired media set from the catalog and frees its
// tapes for reuse.
func (e *Engine) dropMediaSet(cat *catalog.Catalog, id uuid.UUID) error {
	media, err := cat.ListMedia(catalog.MediaFilter{Set: id})
	if err != nil {
		return err
	}
	for _, m := range media {
		err := cat.UpdateMedia(m.UUID, func(mm *catalog.Media) error {
			mm.Set, mm.BytesUsed = nil, 0
			if mm.Status == catalog.StatusFull || mm.Status == catalog.StatusUnknown {
				mm.Status = catalog.StatusWritable
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := cat.DeleteMediaSet(id); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	// Commit records of the set's tapes: the tapes are written over.
	recs, err := cat.ListCommits(id, uuid.Nil)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := cat.DeleteCommit(r.Set, r.Media, r.File); err != nil {
			return err
		}
	}
	return nil
}

// claimTape reserves tape id for writer w until w's job releases its
// claims (releaseClaims); false when another writer holds it.
func (e *Engine) claimTape(id uuid.UUID, w *setWriter) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o, ok := e.claims[id]; ok && o != w {
		return false
	}
	e.claims[id] = w
	return true
}

// claimedByOther reports whether a writer other than w holds tape id.
func (e *Engine) claimedByOther(id uuid.UUID, w *setWriter) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.claims[id]
	return ok && o != w
}

// releaseClaims frees the tapes writer w chose.
func (e *Engine) releaseClaims(w *setWriter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, o := range e.claims {
		if o == w {
			delete(e.claims, id)
		}
	}
}

// lockedSets are the media sets restores are reading: never overwritten.
func (e *Engine) lockedSets() map[uuid.UUID]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[uuid.UUID]bool{}
	for id, n := range e.setLocks {
		if n > 0 {
			out[id] = true
		}
	}
	return out
}

func (e *Engine) lockSet(id uuid.UUID) func() {
	e.mu.Lock()
	e.setLocks[id]++
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.setLocks[id]--
		e.mu.Unlock()
	}
}
