package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
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
	perTape, err := r.planTapes(cat, set)
	if err != nil {
		return nil, err
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
		r.report = e.restoreTaskProgress(j, r.res.Plan)
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

// restoreTaskProgress returns the function that shows a restore's
// progress in the task of its drive job.
func (e *Engine) restoreTaskProgress(j *driveJob, plan RestorePlan) func(bytes, files int64, tape string) {
	start := e.now()
	return func(bytes, files int64, tape string) {
		p := TaskProgress{Bytes: bytes, TotalBytes: plan.Bytes, Files: files, TotalFiles: plan.Files, Tape: tape, Drive: j.cfg.Name}
		if s := e.now().Sub(start).Seconds(); s > 0 {
			p.Rate = float64(bytes) / s
		}
		if p.Rate > 0 && plan.Bytes > bytes {
			p.ETA = time.Duration(float64(plan.Bytes-bytes) / p.Rate * float64(time.Second))
		}
		e.tasks.progress(j.task, p)
	}
}

// planTapes puts the tapes the restore reads, in set order, into the
// plan, and returns the chunks it needs of each, by tape and tape file.
func (r *restoreJob) planTapes(cat *catalog.Catalog, set catalog.MediaSet) (map[uuid.UUID]map[uint64]map[[32]byte]bool, error) {
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
	return perTape, nil
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
	if err := j.e.waitForMedia(ctx, j.ch == nil, func() error { return j.loadTape(ctx, m) }); err != nil {
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
