package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// RestoreOptions describe one `tapefs restore` run.
type RestoreOptions struct {
	// Set is the media set to restore from.
	Set uuid.UUID
	// Target is the directory to restore into; each snapshot goes to
	// Target/<group>/<time>/.
	Target string
	// Snapshots selects snapshots by name ("group/time") or group;
	// empty means every snapshot of the set.
	Snapshots []string
	// Paths are glob patterns (path.Match, on paths relative to the
	// snapshot root); a match selects the entry and everything below it.
	// Empty selects everything.
	Paths []string
	// DryRun only plans: nothing is loaded, read or written.
	DryRun bool
	// Drive overrides the drive of the set's pool.
	Drive string
}

// RestorePlan is the order in which a restore reads tapes.
type RestorePlan struct {
	Set       uuid.UUID     `json:"media-set-uuid"`
	Snapshots []string      `json:"snapshots"`
	Files     int64         `json:"files"`
	Bytes     int64         `json:"bytes"`
	Tapes     []RestoreTape `json:"tapes"`
	Missing   []string      `json:"missing,omitempty"` // chunks without a known location
	// EstimatedSeconds is the tape time the plan would take on the drive's
	// timing model (virtual drives; 0 when the drive cannot tell): the
	// loads of the tapes in the library (EstimatedLoads), the locates to
	// their archives and the reading of the bytes; offline tapes are not
	// counted.
	EstimatedSeconds float64 `json:"estimated-tape-seconds,omitempty"`
	EstimatedLoads   int     `json:"estimated-loads,omitempty"`
}

// RestoreTape is one tape of a plan, read front to back.
type RestoreTape struct {
	Label    string   `json:"label-text"`
	Seq      uint64   `json:"seq-nr"`
	Archives []uint64 `json:"archives"` // tape file numbers, increasing
	Chunks   int      `json:"chunks"`
	Bytes    int64    `json:"bytes"`
	// Offline: the drive's library does not hold the tape now; the files
	// that need it fail unless it is brought back before it is read.
	Offline bool `json:"offline,omitempty"`
}

// RestoreResult reports what a restore did.
type RestoreResult struct {
	Plan       RestorePlan `json:"plan"`
	Restored   int64       `json:"restored-files"`
	Failed     []string    `json:"failed,omitempty"` // files that could not be restored, and why
	TapeSecond float64     `json:"simulated-tape-seconds,omitempty"`
	// Loads counts cartridge loads during the restore (simulated drives).
	Loads uint64 `json:"simulated-loads,omitempty"`
}

// restoreFile is a regular file being restored.
type restoreFile struct {
	entry *format.Entry
	path  string // absolute target path
	// dev and ino identify the file this restore created at path.
	dev, ino uint64
	// created: this restore created the file, so it may remove it.
	created bool
	left    int   // chunks still to write
	err     error // first failure
	idx     int   // in restoreJob.files
}

// chunkNeed is every place one chunk goes.
type chunkNeed struct {
	loc     catalog.ChunkLoc
	size    uint32
	targets []chunkTarget
}

type chunkTarget struct {
	f   *restoreFile
	off int64
}

// restoreJob is one restore: the selected entries, where each chunk goes,
// and what failed.
type restoreJob struct {
	target string
	// failed holds the entries layout refused; nothing more is done to
	// their paths (they may lie behind a symlink a hostile tape made).
	failed map[*format.Entry]error
	snaps  []restoreSnap
	// matched[i] says whether paths[i] of add matched an entry of any
	// snapshot added so far.
	matched []bool
	files   []*restoreFile
	// fds holds the files open for writing, a bounded number at a time.
	fds   *fileSet
	needs map[[32]byte]*chunkNeed
	res   *RestoreResult
	// mu guards the files' left and err while chunks are written on
	// several goroutines (put, spoil), and created.
	mu sync.Mutex
	// created counts the files (in files order) layout has dealt with:
	// they exist or their err is set. laid is signalled as it grows.
	created int
	laid    *sync.Cond
	// Progress, under mu: bytes written, files complete, the tape being
	// read; report (if set) is called after each chunk with a copy.
	doneBytes, doneFiles int64
	tape                 string
	report               func(bytes, files int64, tape string)
}

type restoreSnap struct {
	name    string
	root    string
	entries []*format.Entry
}

// add selects the entries of one snapshot that match paths.
func (r *restoreJob) add(name string, entries []*format.Entry, paths []string) {
	rs := restoreSnap{name: name, root: joinUnder(r.target, name)}
	byPath := make(map[string]*format.Entry, len(entries))
	for _, e := range entries {
		byPath[e.Path] = e
	}
	chosen := map[string]bool{}
	// moved: the first name of a node that is not restored → the
	// selected name that gets the node instead.
	moved := map[string]string{}
	if len(r.matched) < len(paths) {
		r.matched = append(r.matched, make([]bool, len(paths)-len(r.matched))...)
	}
	for _, e := range entries {
		if !selected(e.Path, paths) {
			continue
		}
		for i, pat := range paths {
			if !r.matched[i] {
				r.matched[i], _ = path.Match(pat, e.Path)
			}
		}
		if err := e.Validate(); err != nil {
			// Never act on a path a tape should not hold.
			r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: %v", name, e.Path, err))
			continue
		}
		chosen[e.Path] = true
		if e.Type == format.EntryHardLink {
			if p, ok := moved[e.Target]; ok {
				// Later names link to the name that got the node.
				l := *e
				l.Target = p
				e = &l
			} else if t := byPath[e.Target]; !chosen[e.Target] && t != nil && t.Type != format.EntryDir && t.Type != format.EntryHardLink {
				// The link's first name is not restored: this name
				// gets the node itself (a file, symlink, device, ...).
				f := *t
				f.Path = e.Path
				moved[e.Target] = e.Path
				e = &f
			}
		}
		rs.entries = append(rs.entries, e)
	}
	r.res.Plan.Snapshots = append(r.res.Plan.Snapshots, name)
	r.snaps = append(r.snaps, rs)
}

// unmatched fails when a pattern of paths matched no entry of the
// snapshots added: a typo would otherwise restore nothing and succeed.
func (r *restoreJob) unmatched(paths []string) error {
	for i, pat := range paths {
		if i >= len(r.matched) || !r.matched[i] {
			return notFoundf("--path %q matches nothing in %s (patterns are relative to the snapshot root, e.g. dir/file or dir/*.conf)",
				pat, strings.Join(r.res.Plan.Snapshots, ", "))
		}
	}
	return nil
}

// cleanPatterns checks the --path globs and puts them in the form
// selected compares: relative, without "./" or a trailing slash. A
// pattern naming the snapshot root selects everything (nil).
func cleanPatterns(pats []string) ([]string, error) {
	var out []string
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return nil, invalidf("--path %q: %v", p, err)
		}
		c := strings.Trim(path.Clean("/"+p), "/")
		if c == "" {
			return nil, nil
		}
		out = append(out, c)
	}
	return out, nil
}

// plan collects every chunk the selected regular files need; locate gives
// a chunk's place on tape (nil: the chunk is not known).
func (r *restoreJob) plan(locate func(d [32]byte) (catalog.ChunkLoc, error)) {
	r.needs = map[[32]byte]*chunkNeed{}
	for _, rs := range r.snaps {
		for _, ent := range rs.entries {
			if ent.Type != format.EntryFile {
				continue
			}
			r.res.Plan.Files++
			r.res.Plan.Bytes += ent.Size
			rf := &restoreFile{entry: ent, path: joinUnder(rs.root, ent.Path), idx: len(r.files)}
			r.files = append(r.files, rf)
			for _, c := range ent.Chunks {
				if c.Zero {
					continue
				}
				rf.left++
				n := r.needs[c.Digest]
				if n == nil {
					loc, err := locate(c.Digest)
					if err != nil {
						rf.err = fmt.Errorf("chunk %x is not in the catalog", c.Digest[:8])
						r.res.Plan.Missing = append(r.res.Plan.Missing, fmt.Sprintf("%x", c.Digest))
						continue
					}
					n = &chunkNeed{loc: loc, size: c.Size}
					r.needs[c.Digest] = n
				}
				n.targets = append(n.targets, chunkTarget{f: rf, off: c.Offset})
			}
		}
	}
}

// layout creates directories, special files and the regular files (at
// their final size, holes where the snapshot has holes), open for writing.
func (r *restoreJob) layout() error {
	r.mu.Lock()
	if r.laid == nil {
		r.laid = sync.NewCond(&r.mu)
	}
	r.mu.Unlock()
	r.openFiles()
	defer r.published(len(r.files))
	failed := map[*format.Entry]error{}
	r.failed = failed
	for _, rs := range r.snaps {
		if err := os.MkdirAll(r.target, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", r.target, err)
		}
		if err := mkdirUnder(r.target, rs.root); err != nil {
			return fmt.Errorf("create %s: %w", rs.root, err)
		}
		for _, ent := range rs.entries {
			if err := createEntry(rs.root, ent); err != nil {
				failed[ent] = err
				if ent.Type != format.EntryFile {
					r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: %v", rs.name, ent.Path, err))
				}
			}
		}
	}
	for i, rf := range r.files {
		if i%64 == 0 {
			r.published(i)
		}
		if err := failed[rf.entry]; err != nil && rf.err == nil {
			rf.err = err // reported with the file when files are closed
		}
		if rf.err != nil {
			continue
		}
		// Whatever the target holds at the path, other than a directory,
		// is replaced, never written through: a symlink may point outside
		// the target, and a file may share its inode with one there.
		if fi, err := os.Lstat(rf.path); err == nil && !fi.IsDir() {
			if err := os.Remove(rf.path); err != nil {
				rf.err = err
				continue
			}
		}
		if err := r.fds.create(rf); err != nil {
			rf.err = err
		}
	}
	return nil
}

// openFiles sets up the bounded set of files open for writing.
func (r *restoreJob) openFiles() {
	if r.fds != nil {
		return
	}
	r.fds = newFileSet(maxRestoreFDs, func(rf *restoreFile, err error) {
		r.mu.Lock()
		if rf.err == nil {
			rf.err = err
		}
		r.mu.Unlock()
	})
}

// published says the first n files are laid out.
func (r *restoreJob) published(n int) {
	r.mu.Lock()
	r.created = max(r.created, n)
	r.laid.Broadcast()
	r.mu.Unlock()
}

// startLayout runs layout beside the tape reads (put waits for each file
// it writes); wait returns layout's error.
func (r *restoreJob) startLayout() (wait func() error) {
	r.laid = sync.NewCond(&r.mu)
	r.openFiles()
	done := make(chan error, 1)
	go func() { done <- r.layout() }()
	return sync.OnceValue(func() error { return <-done })
}

// writeSparse writes data at off in a new file that already has its size,
// leaving out the blocks of 4 KiB (aligned to the file) that hold only
// zeros: they read as zeros and stay holes, so a sparse file restores as
// sparse as it was even where its holes share a chunk with data.
func writeSparse(w io.WriterAt, data []byte, off int64) error {
	const block = 4 << 10
	for i := 0; i < len(data); {
		end := min(len(data), i+block-int((off+int64(i))%block))
		if chunker.IsZero(data[i:end]) {
			i = end
			continue
		}
		j := end
		for j < len(data) {
			e := min(len(data), j+block)
			if chunker.IsZero(data[j:e]) {
				break
			}
			j = e
		}
		if _, err := w.WriteAt(data[i:j], off+int64(i)); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// write puts one chunk wherever it is needed. It reports whether the
// chunk was wanted.
func (r *restoreJob) write(d [32]byte, data []byte) bool {
	n := r.take(d)
	if n == nil {
		return false
	}
	r.put(n, data)
	return true
}

// take claims chunk d: it returns where the chunk goes and forgets it, or
// nil when nothing (or nothing any more) needs it. Only one goroutine
// takes.
func (r *restoreJob) take(d [32]byte) *chunkNeed {
	n := r.needs[d]
	if n != nil {
		delete(r.needs, d)
	}
	return n
}

// put writes a taken chunk to every file that needs it; safe for
// concurrent use with other chunks.
func (r *restoreJob) put(n *chunkNeed, data []byte) {
	for _, t := range n.targets {
		r.mu.Lock()
		for r.created <= t.f.idx {
			r.laid.Wait()
		}
		skip := t.f.err != nil || !t.f.created
		r.mu.Unlock()
		if skip {
			continue
		}
		of, err := r.fds.acquire(t.f)
		if err == nil {
			err = writeSparse(of.fd, data, t.off)
		}
		r.mu.Lock()
		if err != nil {
			if t.f.err == nil {
				t.f.err = err
			}
		} else {
			t.f.left--
			r.doneBytes += int64(len(data))
			if t.f.left == 0 {
				r.doneFiles++
			}
		}
		done := err == nil && t.f.left == 0
		r.mu.Unlock()
		if of == nil {
			continue
		}
		if err := r.fds.release(of, done); err != nil {
			r.mu.Lock()
			if t.f.err == nil {
				t.f.err = err
			}
			r.mu.Unlock()
		}
	}
	if r.report != nil {
		r.mu.Lock()
		b, f, tape := r.doneBytes, r.doneFiles, r.tape
		r.mu.Unlock()
		r.report(b, f, tape)
	}
}

// spoil marks the files that need a taken chunk as failed with why.
func (r *restoreJob) spoil(n *chunkNeed, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range n.targets {
		if t.f.err == nil {
			t.f.err = why
		}
	}
}

// fail marks every file that still needs a chunk of tape id as failed
// (once layout is done with every file).
func (r *restoreJob) fail(id uuid.UUID, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.laid != nil && r.created < len(r.files) {
		r.laid.Wait()
	}
	for _, n := range r.needs {
		if n.loc.Media != id {
			continue
		}
		for _, t := range n.targets {
			if t.f.err == nil {
				t.f.err = why
			}
		}
	}
}

// closeFiles closes the regular files and drops those that could not be
// restored completely.
func (r *restoreJob) closeFiles() {
	r.closeAll()
	for _, rf := range r.files {
		if rf.err == nil && rf.left > 0 {
			rf.err = errors.New("not all data could be read")
		}
		if rf.err != nil {
			// finish must not set the file's attributes on whatever
			// is at its path (a directory, a symlink it could not
			// replace).
			if r.failed != nil {
				r.failed[rf.entry] = rf.err
			}
			r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: %v", rf.path, rf.err))
			if rf.created {
				os.Remove(rf.path) // only what this restore created
			}
			continue
		}
		r.res.Restored++
	}
}

// finish closes files, makes hard links and sets attributes (deepest
// first, so directory times stay), and reports failures.
func (r *restoreJob) finish() error {
	r.closeFiles()
	for _, rs := range r.snaps {
		for _, ent := range rs.entries {
			if ent.Type == format.EntryHardLink && r.failed[ent] == nil {
				src, dst := joinUnder(rs.root, ent.Target), joinUnder(rs.root, ent.Path)
				os.Remove(dst)
				if err := os.Link(src, dst); err != nil {
					r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: hard link: %v", rs.name, ent.Path, err))
				}
			}
		}
		for i := len(rs.entries) - 1; i >= 0; i-- {
			ent := rs.entries[i]
			if ent.Type == format.EntryHardLink || r.failed[ent] != nil {
				continue
			}
			p := joinUnder(rs.root, ent.Path)
			if _, err := os.Lstat(p); err != nil {
				continue // failed earlier, reported there
			}
			if err := applyAttrs(p, ent); err != nil {
				r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: attributes: %v", rs.name, ent.Path, err))
			}
		}
	}
	sort.Strings(r.res.Failed)
	if len(r.res.Failed) > 0 {
		return fmt.Errorf("restore finished with %d failure(s); first: %s", len(r.res.Failed), r.res.Failed[0])
	}
	return nil
}

// closeAll closes the files still open (their close errors fail them).
func (r *restoreJob) closeAll() {
	if r.fds != nil {
		r.fds.closeAll()
	}
}

// Restore restores snapshots (or parts of them) of a media set. With the
// set in the catalog it plans which chunks to read, reads each tape once in
// sequence order and front to back, and writes every chunk to every place
// that needs it; then it sets links and attributes. Without the set in the
// catalog it reads every tape of the set front to back (restoreScan).
// Files that cannot be restored (a tape or record is unreadable) are
// reported in the result; the rest is restored.
func (e *Engine) Restore(ctx context.Context, opts RestoreOptions) (*RestoreResult, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	target, err := filepath.Abs(opts.Target)
	if err != nil {
		return nil, err
	}
	if opts.Paths, err = cleanPatterns(opts.Paths); err != nil {
		return nil, err
	}
	set, err := cat.GetMediaSet(opts.Set)
	if errors.Is(err, catalog.ErrNotFound) {
		e.logf("media set %s is not in the catalog: reading every tape of the set front to back", opts.Set)
		return e.restoreScan(ctx, opts, target)
	}
	if err != nil {
		return nil, err
	}
	snaps, err := e.selectSnapshots(cat, set, opts.Snapshots)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, e.noSnapshots(cat, set)
	}
	r := &restoreJob{target: target, res: &RestoreResult{Plan: RestorePlan{Set: set.UUID}}}
	for _, s := range snaps {
		entries, err := readSelection(cat, set.UUID, s.Name, opts.Paths)
		if err != nil {
			return nil, err
		}
		r.add(s.Name, entries, opts.Paths)
	}
	if err := r.unmatched(opts.Paths); err != nil {
		return nil, err
	}
	r.plan(func(d [32]byte) (catalog.ChunkLoc, error) { return cat.GetChunk(set.UUID, d) })
	perTape := map[uuid.UUID]map[uint64]map[[32]byte]bool{}
	for d, n := range r.needs {
		byFile := perTape[n.loc.Media]
		if byFile == nil {
			byFile = map[uint64]map[[32]byte]bool{}
			perTape[n.loc.Media] = byFile
		}
		if byFile[n.loc.File] == nil {
			byFile[n.loc.File] = map[[32]byte]bool{}
		}
		byFile[n.loc.File][d] = true
	}
	for seq, id := range set.Media {
		byFile := perTape[id]
		if byFile == nil {
			continue
		}
		m, err := cat.GetMedia(id)
		if err != nil {
			return nil, fmt.Errorf("media set %s lists tape %s that the inventory does not know: %w", set.UUID, id, err)
		}
		rt := RestoreTape{Label: m.LabelText, Seq: uint64(seq)}
		for f, chunks := range byFile {
			rt.Archives = append(rt.Archives, f)
			for d := range chunks {
				rt.Chunks++
				rt.Bytes += int64(r.needs[d].size)
			}
		}
		sort.Slice(rt.Archives, func(a, b int) bool { return rt.Archives[a] < rt.Archives[b] })
		r.res.Plan.Tapes = append(r.res.Plan.Tapes, rt)
	}
	// An encrypted set whose key is not in the store cannot be read: say
	// so before loading any tape or creating any file.
	if set.EncryptKey != "" && len(r.res.Plan.Tapes) > 0 {
		if _, _, err := e.Keys().Get(set.EncryptKey); err != nil {
			return nil, keyErr(set.UUID, err)
		}
	}
	offline := e.offlineTapes(ctx, set, opts.Drive, r.res.Plan)
	if opts.DryRun {
		r.res.Plan.EstimatedSeconds, r.res.Plan.EstimatedLoads = e.estimate(ctx, set, opts.Drive, r.res.Plan)
		return r.res, nil
	}
	// A tape the job would have to wait for: refuse before creating
	// anything.
	if len(offline) > 0 {
		return r.res, fmt.Errorf("restore of media set %s cannot start, nothing was restored: %w", set.UUID, errors.Join(offline...))
	}
	// The drive first: a restore that cannot have it creates nothing.
	var j *driveJob
	if len(r.res.Plan.Tapes) > 0 {
		var release func()
		j, release, err = e.restoreDrive(ctx, set, opts.Drive)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	// Files are created while the first tape loads and is read: chunk
	// writes wait for their file.
	waitLayout := r.startLayout()
	defer func() {
		waitLayout()
		r.closeAll()
	}()
	if j != nil {
		start, plan := e.now(), r.res.Plan
		r.report = func(bytes, files int64, tape string) {
			p := TaskProgress{Bytes: bytes, TotalBytes: plan.Bytes, Files: files, TotalFiles: plan.Files, Tape: tape, Drive: j.cfg.Name}
			if s := e.now().Sub(start).Seconds(); s > 0 {
				p.Rate = float64(bytes) / s
			}
			if p.Rate > 0 && plan.Bytes > bytes {
				p.ETA = time.Duration(float64(plan.Bytes-bytes) / p.Rate * float64(time.Second))
			}
			e.tasks.progress(j.task, p)
		}
		sim := j.sim(ctx)
		for _, rt := range r.res.Plan.Tapes {
			r.mu.Lock()
			r.tape = rt.Label
			r.mu.Unlock()
			id := set.Media[rt.Seq]
			if err := j.readTape(ctx, cat, id, rt, perTape[id], r); err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				j.logf("tape %s: %v", rt.Label, err)
				r.fail(id, fmt.Errorf("tape %s: %v", rt.Label, err))
			}
		}
		end := j.sim(ctx)
		r.res.TapeSecond, r.res.Loads = end.TapeSeconds-sim.TapeSeconds, end.Loads-sim.Loads
	}
	if err := waitLayout(); err != nil {
		return nil, err
	}
	return r.res, r.finish()
}

// estimate asks the restore drive how long the plan would take, without
// moving any tape, counting the tapes of the plan that are in the library
// (it returns their number as loads). 0 seconds when the drive has no
// timing model or is busy.
func (e *Engine) estimate(ctx context.Context, set catalog.MediaSet, drive string, p RestorePlan) (seconds float64, loads int) {
	if drive == "" {
		if pc, err := e.PoolConfig(set.Pool); err == nil {
			drive = pc.Drive
		}
	}
	d, err := e.ResolveDrive(drive)
	if err != nil {
		return 0, 0
	}
	var est device.Estimate
	for _, t := range p.Tapes {
		if t.Offline {
			continue
		}
		est.Loads++
		est.Locates += len(t.Archives)
		est.Bytes += t.Bytes
	}
	var s float64
	_ = e.driveOwner(d.Path).do(ctx, func(ctx context.Context, dev device.Drive) error {
		if x, ok := dev.(device.Estimator); ok {
			s = x.EstimateSeconds(est)
		}
		return nil
	})
	return s, est.Loads
}

// offlineTapes marks the tapes of plan p that the library of the restore's
// drive (drive, else the pool's) does not hold now in a storage slot or a
// drive, and returns why for each (changerView.online: errors wrapping
// ErrMediaOffline). A standalone drive, or a library it cannot ask, marks
// none.
func (e *Engine) offlineTapes(ctx context.Context, set catalog.MediaSet, drive string, p RestorePlan) []error {
	if drive == "" {
		if pc, err := e.PoolConfig(set.Pool); err == nil {
			drive = pc.Drive
		}
	}
	d, err := e.ResolveDrive(drive)
	if err != nil || d.Changer == "" {
		return nil
	}
	c, err := e.ChangerConfig(d.Changer)
	if err != nil {
		return nil
	}
	v, err := e.view(ctx, c)
	if err != nil {
		return nil
	}
	var out []error
	for i, t := range p.Tapes {
		if _, err := v.online(t.Label); err != nil {
			p.Tapes[i].Offline = true
			out = append(out, err)
		}
	}
	return out
}

// restoreDrive reserves the drive for a restore of set (the pool's drive
// unless named) and locks the set against overwriting until release.
func (e *Engine) restoreDrive(ctx context.Context, set catalog.MediaSet, name string) (*driveJob, func(), error) {
	return e.restoreDriveWith(ctx, set, name, holdOpts{})
}

// restoreDriveWith is restoreDrive with how the drive is taken.
func (e *Engine) restoreDriveWith(ctx context.Context, set catalog.MediaSet, name string, o holdOpts) (*driveJob, func(), error) {
	if name == "" {
		if p, err := e.PoolConfig(set.Pool); err == nil {
			name = p.Drive
		}
	}
	unlock := e.lockSet(set.UUID)
	j, release, err := e.useDriveWith(ctx, name, "restore "+set.UUID.String(), o)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return j, func() { release(); unlock() }, nil
}

// sim is the drive's simulated time and load counters so far (zero on
// hardware).
func (j *driveJob) sim(ctx context.Context) device.SimStats {
	var s device.SimStats
	_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if st, err := dev.Status(ctx); err == nil && st.Sim != nil {
			s = *st.Sim
		}
		return nil
	})
	return s
}

// selectSnapshots picks the snapshots of set named by sel (names or groups).
func (e *Engine) selectSnapshots(cat *catalog.Catalog, set catalog.MediaSet, sel []string) ([]catalog.Snapshot, error) {
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: set.UUID})
	if err != nil {
		return nil, err
	}
	if len(sel) == 0 {
		return snaps, nil
	}
	var out []catalog.Snapshot
	for _, want := range sel {
		found := false
		for _, s := range snaps {
			if s.Name == want || strings.HasPrefix(s.Name, strings.TrimSuffix(want, "/")+"/") {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, notFoundf("media set %s has no snapshot %s", set.UUID, want)
		}
	}
	return out, nil
}

// noSnapshots is the error of a restore of a media set that has no
// snapshots in the catalog: a backup into it that failed after writing
// archives leaves its chunks (and perhaps a snapshot archive) on tape, and
// reading the tapes with --scan finds what they hold.
func (e *Engine) noSnapshots(cat *catalog.Catalog, set catalog.MediaSet) error {
	var labels []string
	for _, id := range set.Media {
		if m, err := cat.GetMedia(id); err == nil {
			labels = append(labels, m.LabelText)
		}
	}
	return notFoundf("media set %s has no snapshots in the catalog, so nothing would be restored (a backup into it may have failed after writing to tape); "+
		"read what its tapes (%s) hold into the catalog with `tapefs catalog --scan --force` (each tape loaded in turn) or `tapefs inventory --catalog --scan --force`, then restore again",
		set.UUID, strings.Join(labels, ", "))
}

// selected reports whether p (or one of its parents) matches a pattern.
func selected(p string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		pat = strings.Trim(pat, "/")
		for q := p; ; q = path.Dir(q) {
			if ok, _ := path.Match(pat, q); ok {
				return true
			}
			if q == "." || q == "" || !strings.Contains(q, "/") {
				if q != p {
					if ok, _ := path.Match(pat, q); ok {
						return true
					}
				}
				break
			}
		}
		// A pattern that names a directory above p selects p's parents
		// too, so the tree down to a selected file exists.
		if strings.HasPrefix(pat+"/", p+"/") || p == "" {
			return true
		}
	}
	return false
}

// joinUnder joins a validated snapshot path (no "..", not absolute) to root.
func joinUnder(root, rel string) string {
	return filepath.Join(root, filepath.FromSlash(rel))
}

// mkdirUnder makes sure dir exists below base, creating missing
// components (mode 0700; selected directories get their mode later) one by
// one and refusing any component that is a symlink or not a directory, so
// tape content can never make a restore write outside the target.
func mkdirUnder(base, dir string) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is outside %s", dir, base)
	}
	p := base
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if c == "." || c == "" {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("refusing to restore through symlink %s", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// createEntry creates a directory, symlink or special file; regular files
// are created by the caller. Parents are checked for symlinks first.
func createEntry(root string, ent *format.Entry) error {
	if err := ent.Validate(); err != nil {
		return err
	}
	p := joinUnder(root, ent.Path)
	if ent.Path != "" {
		// Parents that were not selected themselves are created plain.
		if err := mkdirUnder(root, filepath.Dir(p)); err != nil {
			return err
		}
	}
	switch ent.Type {
	case format.EntryDir:
		if ent.Path == "" {
			return nil
		}
		return mkdirUnder(root, p)
	case format.EntrySymlink:
		os.Remove(p)
		return os.Symlink(ent.Target, p)
	case format.EntryCharDev, format.EntryBlockDev, format.EntryFIFO, format.EntrySocket:
		mode := uint32(ent.Mode & 0o7777)
		switch ent.Type {
		case format.EntryCharDev:
			mode |= unix.S_IFCHR
		case format.EntryBlockDev:
			mode |= unix.S_IFBLK
		case format.EntryFIFO:
			mode |= unix.S_IFIFO
		case format.EntrySocket:
			mode |= unix.S_IFSOCK
		}
		os.Remove(p)
		return unix.Mknod(p, mode, int(ent.Rdev))
	}
	return nil
}

// applyAttrs sets ownership, xattrs, mode and times of a restored entry.
func applyAttrs(p string, ent *format.Entry) error {
	var errs []error
	if err := os.Lchown(p, int(ent.UID), int(ent.GID)); err != nil && !errors.Is(err, unix.EPERM) {
		errs = append(errs, err)
	}
	names := make([]string, 0, len(ent.Xattrs))
	for k := range ent.Xattrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := unix.Lsetxattr(p, k, ent.Xattrs[k], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			errs = append(errs, fmt.Errorf("xattr %s: %w", k, err))
		}
	}
	if ent.Type != format.EntrySymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, ent.Mode&0o7777, 0); err != nil {
			errs = append(errs, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(ent.Atime.UnixNano()), unix.NsecToTimespec(ent.Mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readTape loads one tape of the set, checks its label and reads the
// archives of the plan front to back, writing each needed chunk.
func (j *driveJob) readTape(ctx context.Context, cat *catalog.Catalog, id uuid.UUID, rt RestoreTape,
	byFile map[uint64]map[[32]byte]bool, r *restoreJob) error {
	m, err := cat.GetMedia(id)
	if err != nil {
		return err
	}
	// A standalone drive asks for the tape and waits; so does a library
	// in a task that waits for media.
	if err := j.e.waitForMedia(ctx, j.ch == nil, func() error { return j.loadForWrite(ctx, m) }); err != nil {
		return err
	}
	j.logf("reading tape %s (%d archives, %d chunks)", rt.Label, len(rt.Archives), rt.Chunks)
	caller := ctx
	return j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		ml, sl, err := format.ReadLabels(ctx, dev)
		if err != nil {
			return err
		}
		if ml.UUID != id {
			return fmt.Errorf("tape in the drive is %s (%s), not %s", ml.LabelText, ml.UUID, rt.Label)
		}
		if err := j.e.readKey(ctx, dev, sl); err != nil {
			return err
		}
		cur := uint64(2) // ReadLabels leaves the tape after file 1
		for _, f := range rt.Archives {
			// A stopped task ends between archives (do waits for
			// this function: it works on r).
			if err := caller.Err(); err != nil {
				return err
			}
			if f > cur {
				if err := dev.Space(ctx, device.SpaceFilemarks, int64(f-cur)); err != nil {
					return fmt.Errorf("space to archive %d: %w", f, err)
				}
			}
			if err := readChunkArchive(ctx, dev, byFile[f], r); err != nil {
				j.logf("tape %s archive %d: %v", rt.Label, f, err)
				// Go on after this archive, wherever the error left us.
				if err := dev.Rewind(ctx); err != nil {
					return err
				}
				if err := dev.Space(ctx, device.SpaceFilemarks, int64(f+1)); err != nil {
					return err
				}
			}
			cur = f + 1
		}
		return nil
	})
}

// restoreWorkers check and write the chunks a restore reads.
const restoreWorkers = 2

// readChunkArchive reads the chunk archive at the current position and
// writes the wanted chunks; it stops reading once all are written and
// leaves the tape after the archive's filemark.
func readChunkArchive(ctx context.Context, dev device.Drive, want map[[32]byte]bool, r *restoreJob) error {
	fr, err := format.NewFileReader(ctx, dev, 0)
	if err != nil {
		return err
	}
	cr, err := format.NewChunkArchiveReader(fr)
	if err != nil {
		fr.SkipToEnd()
		return err
	}
	// The drive's goroutine reads; restoreWorkers goroutines check the
	// digests and write, so the tape keeps moving while they work.
	type taken struct {
		need *chunkNeed
		d    [32]byte
		off  int64
		data []byte
	}
	work := make(chan taken, 8)
	var wg sync.WaitGroup
	for range restoreWorkers {
		wg.Go(func() {
			for c := range work {
				if err := cr.Check(c.d, c.off, c.data); err != nil {
					r.spoil(c.need, err)
				} else {
					r.put(c.need, c.data)
				}
				chunkBufs.Put(c.data)
			}
		})
	}
	left := len(want)
	var firstErr error
	for left > 0 {
		d, off, data, err := cr.NextUnchecked(chunkBufs.Get)
		if err == io.EOF {
			break
		}
		if errors.Is(err, format.ErrCorrupt) {
			// The reader's error is sticky: nothing more comes
			// from this archive.
			firstErr = err
			break
		}
		if err != nil {
			close(work)
			wg.Wait()
			return err
		}
		var n *chunkNeed
		if want[d] {
			n = r.take(d)
		}
		if n == nil {
			chunkBufs.Put(data)
			continue
		}
		left--
		work <- taken{n, d, off, data}
	}
	close(work)
	wg.Wait()
	if err := fr.SkipToEnd(); err != nil {
		return err
	}
	if left > 0 && firstErr != nil {
		return firstErr
	}
	return nil
}

// readSelection reads the entries of snapshot name that patterns can
// select, in walk order. Without patterns, or when one starts with a glob,
// that is the whole tree; otherwise it is the subtree below each
// pattern's literal directory (its elements before the first glob) and the
// directories above it, and the first names of hard links in it that lie
// outside: a restore of one file reads a few listings, not the snapshot.
func readSelection(cat *catalog.Catalog, set uuid.UUID, name string, patterns []string) ([]*format.Entry, error) {
	var out []*format.Entry
	seen := map[string]bool{}
	add := func(te catalog.TreeEntry) error {
		if seen[te.Path] {
			return nil
		}
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", name, te.Path, err)
		}
		seen[te.Path] = true
		out = append(out, &ent)
		return nil
	}
	roots := literalRoots(patterns)
	if roots == nil {
		return out, cat.WalkTree(set, name, add)
	}
	get := func(p string) error {
		te, err := cat.GetTreeEntry(set, name, p)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil // a root that was not stored, or a pattern that matches nothing
		}
		if err != nil {
			return err
		}
		return add(te)
	}
	for _, root := range roots {
		for a := ""; ; {
			if err := get(a); err != nil {
				return nil, err
			}
			rest := strings.TrimPrefix(root, a)
			rest = strings.TrimPrefix(rest, "/")
			if rest == "" {
				break
			}
			first, _, _ := strings.Cut(rest, "/")
			a = path.Join(a, first)
			if a == root {
				break
			}
		}
		err := cat.WalkSubtree(set, name, root, add)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
	}
	// Hard links name their node's first name, which may lie outside
	// what was read: the restore gives the node to a link then.
	for i := 0; i < len(out); i++ {
		if e := out[i]; e.Type == format.EntryHardLink && !seen[e.Target] {
			if err := get(e.Target); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return walkBefore(out[i].Path, out[j].Path) })
	return out, nil
}

// literalRoots returns, for each pattern, its leading elements that hold
// no glob character, joined: the directory everything it can select lies
// in (or above). nil when there are no patterns or one starts with a glob.
func literalRoots(patterns []string) []string {
	if len(patterns) == 0 {
		return nil
	}
	var roots []string
	for _, p := range patterns {
		var lit []string
		for e := range strings.SplitSeq(p, "/") {
			if strings.ContainsAny(e, `*?[\`) {
				break
			}
			lit = append(lit, e)
		}
		if len(lit) == 0 {
			return nil
		}
		roots = append(roots, strings.Join(lit, "/"))
	}
	return roots
}

// walkBefore orders snapshot paths as a tree walk visits them: a
// directory right before its subtree (a slash sorts below every byte).
func walkBefore(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		if a[i] == '/' {
			return true
		}
		if b[i] == '/' {
			return false
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}
