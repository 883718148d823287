// The set reader: one goroutine per media set that turns snapshot file
// reads into forward tape reads (see snapread.go for the whole picture).

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// setReader reads the chunks of one media set for snapshot reads.
//
// Locking: mu guards wants, scopes and running. The tape state (cur, and
// every device call) belongs to the goroutine that runs the batches, of
// which there is at most one (running).
type setReader struct {
	e     *Engine
	set   uuid.UUID
	cache *chunkCache
	wake  chan struct{} // a new want arrived

	mu      sync.Mutex
	wants   map[[32]byte]*want
	scopes  map[string]*snapScope
	running bool

	cur *archiveCursor // the open chunk archive, owned by the running goroutine
}

// archiveCursor is a chunk archive being read: where it is and how far.
type archiveCursor struct {
	key     archiveKey
	fr      *format.FileReader
	cr      *format.ChunkArchiveReader
	next    int64           // payload offset of the next chunk entry
	corrupt bool            // the last entry gave ErrCorrupt
	pos     device.Position // drive position when the last batch ended
}

// chunk returns the data of chunk d (size bytes): from the cache, or from
// tape through the reader.
func (r *setReader) chunk(ctx context.Context, d [32]byte, size uint32) ([]byte, error) {
	key := chunkKey{r.set, d}
	if data, ok := r.cache.get(key); ok {
		return data, nil
	}
	r.mu.Lock()
	w := r.wants[d]
	if w == nil {
		r.mu.Unlock()
		cat, err := r.e.Catalog()
		if err != nil {
			return nil, err
		}
		loc, err := cat.GetChunk(r.set, d)
		if err != nil {
			return nil, fmt.Errorf("chunk %x of media set %s is not in the catalog: %w", d[:8], r.set, err)
		}
		r.mu.Lock()
		// The reader may have delivered it meanwhile.
		if data, ok := r.cache.get(key); ok {
			r.mu.Unlock()
			return data, nil
		}
		if w = r.wants[d]; w == nil {
			w = &want{loc: loc, done: make(chan struct{})}
			r.wants[d] = w
		}
	}
	if !r.running {
		r.running = true
		go r.run()
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if w.err != nil {
		return nil, w.err
	}
	if len(w.data) != int(size) {
		return nil, fmt.Errorf("chunk %x of media set %s has %d bytes, the snapshot says %d: %w", d[:8], r.set, len(w.data), size, format.ErrCorrupt)
	}
	return w.data, nil
}

// deliver hands chunk d to the reads waiting for it and keeps it cached.
func (r *setReader) deliver(d [32]byte, data []byte, err error) {
	if err == nil {
		r.cache.put(chunkKey{r.set, d}, data, false)
	}
	r.mu.Lock()
	w := r.wants[d]
	delete(r.wants, d)
	r.mu.Unlock()
	if w != nil {
		w.data, w.err = data, err
		close(w.done)
	}
}

// failWants fails every want that matches.
func (r *setReader) failWants(match func(catalog.ChunkLoc) bool, err error) {
	r.mu.Lock()
	var failed [][32]byte
	for d, w := range r.wants {
		if match(w.loc) {
			failed = append(failed, d)
		}
	}
	r.mu.Unlock()
	for _, d := range failed {
		r.deliver(d, nil, err)
	}
}

// run serves wants in batches until none is left. Only one run goroutine
// exists per reader (running).
func (r *setReader) run() {
	ctx := r.e.ctx
	for {
		err := r.batch(ctx)
		if err != nil {
			r.e.logf("snapshot read from media set %s: %v", r.set, err)
			r.failWants(func(catalog.ChunkLoc) bool { return true }, err)
		}
		r.mu.Lock()
		if len(r.wants) == 0 || ctx.Err() != nil {
			r.running = false
			r.mu.Unlock()
			if ctx.Err() != nil {
				r.failWants(func(catalog.ChunkLoc) bool { return true }, ctx.Err())
			}
			return
		}
		r.mu.Unlock()
	}
}

// batch reserves the pool's drive (waiting while another job has it) and
// reads until nothing is wanted and read-ahead has no room or nothing
// left. It returns an error that fails every waiting read.
func (r *setReader) batch(ctx context.Context) error {
	cat, err := r.e.Catalog()
	if err != nil {
		return err
	}
	set, err := cat.GetMediaSet(r.set)
	if err != nil {
		return err
	}
	pool, err := r.e.PoolConfig(set.Pool)
	if err != nil {
		return err
	}
	if pool.Drive == "" {
		return invalidf("pool %s has no drive to read media set %s: set one with `tapefs pool update %s --drive NAME`", pool.Name, set.UUID, pool.Name)
	}
	// The reads wait while another job has the drive; a batch is
	// speculative (its read-ahead gives way to a job that waits).
	j, release, err := r.e.restoreDriveWith(ctx, set, pool.Drive, holdOpts{speculative: true})
	if err != nil {
		return err
	}
	defer release()
	return r.readLoop(ctx, cat, set, j)
}

// readLoop is one batch on a reserved drive.
func (r *setReader) readLoop(ctx context.Context, cat *catalog.Catalog, set catalog.MediaSet, j *driveJob) error {
	if r.cur != nil {
		// Resume only where the last batch left the tape.
		var pos device.Position
		err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			var err error
			pos, err = dev.ReadPosition(ctx)
			return err
		})
		if err != nil || pos != r.cur.pos {
			r.cur = nil
		}
	}
	resumed := r.cur != nil
	defer func() {
		if r.cur != nil {
			_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
				pos, err := dev.ReadPosition(ctx)
				if err != nil {
					r.cur = nil
					return nil
				}
				r.cur.pos = pos
				return nil
			})
		}
	}()
	budget := r.cache.max / 2
	idleSince := time.Time{}
	// served: once another job waits for the drive, the reads waiting
	// at that moment are served and the drive is released.
	var served map[[32]byte]bool
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if served == nil && j.hold.yieldRequested() {
			served = r.wanted()
			r.e.logf("snapshot read from media set %s: another job waits for drive %s: reading only the %d chunks asked for", r.set, j.cfg.Name, len(served))
		}
		target, ok := r.pickWant(set, served)
		scopes := r.active()
		if !ok && served != nil {
			return nil // read-ahead gives way
		}
		if !ok {
			// Nothing wanted: read ahead in the open archive if the
			// scope has more there and the cache has room.
			if r.cur == nil || !r.scopeAhead(scopes) {
				return nil
			}
			if r.cache.unreadBytes() >= budget {
				if idleSince.IsZero() {
					idleSince = time.Now()
				} else if time.Since(idleSince) > snapReadIdle {
					return nil
				}
				select {
				case <-r.wake:
				case <-j.hold.yield:
				case <-time.After(20 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			}
			idleSince = time.Time{}
			target = catalog.ChunkLoc{Media: r.cur.key.media, File: r.cur.key.file, Offset: r.cur.next}
		} else {
			idleSince = time.Time{}
		}
		if err := r.position(ctx, cat, set, j, target, ok); err != nil {
			if errors.Is(err, device.ErrNoMedium) || KindOf(err) == KindNoMedium || KindOf(err) == KindBusy || KindOf(err) == KindNotFound || KindOf(err) == KindNoKey {
				// This tape cannot be read now: fail what needs it,
				// go on with the rest.
				r.e.logf("snapshot read from media set %s: %v", r.set, err)
				r.failWants(func(l catalog.ChunkLoc) bool { return l.Media == target.Media }, err)
				r.cur = nil
				continue
			}
			return err
		}
		// On the way to a wanted chunk, read-ahead may fill most of
		// the cache: reads come in about tape order, so what lies
		// between is what they ask for next, and dropping it would
		// cost a second pass over the archive.
		limit := budget
		if ok {
			limit = r.cache.max * 7 / 8
		}
		if err := r.readChunk(ctx, j, scopes, limit); err != nil {
			k := r.cur.key
			r.cur = nil
			if resumed {
				// The tape may have moved under a resumed reader:
				// position afresh before failing anything.
				resumed = false
				continue
			}
			r.e.logf("snapshot read from media set %s: tape file %d: %v", r.set, k.file, err)
			if KindOf(err) == KindCanceled {
				return err
			}
			r.failWants(func(l catalog.ChunkLoc) bool { return l.Media == k.media && l.File == k.file }, err)
		}
		resumed = false
	}
}

// wanted returns the chunks reads wait for now.
func (r *setReader) wanted() map[[32]byte]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[[32]byte]bool, len(r.wants))
	for d := range r.wants {
		out[d] = true
	}
	return out
}

// pickWant chooses the next wanted chunk (among only, when not nil): the
// nearest one ahead in the open archive, else the nearest ahead on the
// same tape, else the first in tape order (sequence, file, offset).
func (r *setReader) pickWant(set catalog.MediaSet, only map[[32]byte]bool) (catalog.ChunkLoc, bool) {
	seq := map[uuid.UUID]int{}
	for i, m := range set.Media {
		seq[m] = i
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var best catalog.ChunkLoc
	bestRank := [4]int64{}
	found := false
	for d, w := range r.wants {
		if only != nil && !only[d] {
			continue
		}
		l := w.loc
		rank := [4]int64{3, int64(seq[l.Media]), int64(l.File), l.Offset}
		if c := r.cur; c != nil && l.Media == c.key.media {
			switch {
			case l.File == c.key.file && l.Offset >= c.next:
				rank[0] = 0
			case l.File > c.key.file:
				rank[0] = 1
			default:
				rank[0] = 2
			}
		}
		if !found || less4(rank, bestRank) {
			best, bestRank, found = l, rank, true
		}
	}
	return best, found
}

func less4(a, b [4]int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// position makes r.cur an archive reader of target's archive at or before
// target's offset: it keeps the open one when it can, else loads the tape
// if needed and spaces to the archive. For a wanted chunk (wanted) more
// than the skip gap (skipBytes) ahead, it spaces over the records between
// instead of reading them: the read waits only for its own data, and
// read-ahead goes on from there.
func (r *setReader) position(ctx context.Context, cat *catalog.Catalog, set catalog.MediaSet, j *driveJob, target catalog.ChunkLoc, wanted bool) error {
	k := archiveKey{target.Media, target.File}
	if c := r.cur; c != nil && c.key == k && c.next <= target.Offset {
		if !wanted || target.Offset-c.next <= r.skipBytes() {
			return nil // read through: the chunks on the way are read-ahead
		}
		return r.skipTo(ctx, j, target.Offset)
	}
	sameTape := r.cur != nil && r.cur.key.media == target.Media
	r.cur = nil
	m, err := cat.GetMedia(target.Media)
	if err != nil {
		return fmt.Errorf("media set %s: tape %s: %w", set.UUID, target.Media, err)
	}
	if !sameTape {
		if err := r.loadTape(ctx, j, m); err != nil {
			return err
		}
	}
	err = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		pos, err := dev.ReadPosition(ctx)
		if err != nil {
			return err
		}
		switch {
		case target.File > pos.File || (target.File == pos.File && pos.Record == 0):
			if n := target.File - pos.File; n > 0 {
				if err := dev.Space(ctx, device.SpaceFilemarks, int64(n)); err != nil {
					return fmt.Errorf("tape %s: space to file %d: %w", m.LabelText, target.File, err)
				}
			}
		default:
			if err := dev.Rewind(ctx); err != nil {
				return err
			}
			if err := dev.Space(ctx, device.SpaceFilemarks, int64(target.File)); err != nil {
				return fmt.Errorf("tape %s: space to file %d: %w", m.LabelText, target.File, err)
			}
		}
		// The reader keeps the engine's context: it is used again in
		// later batches, always inside the drive owner.
		fr, err := format.NewFileReader(r.e.ctx, dev, 0)
		if err != nil {
			return fmt.Errorf("tape %s file %d: %w", m.LabelText, target.File, err)
		}
		cr, err := format.NewChunkArchiveReader(fr)
		if err != nil {
			fr.SkipToEnd()
			return fmt.Errorf("tape %s file %d: %w", m.LabelText, target.File, err)
		}
		if h := cr.Header(); h.Set != set.UUID {
			fr.SkipToEnd()
			return fmt.Errorf("tape %s file %d belongs to media set %s, not %s: %w", m.LabelText, target.File, h.Set, set.UUID, format.ErrCorrupt)
		}
		r.cur = &archiveCursor{key: k, fr: fr, cr: cr}
		return nil
	})
	if err != nil || !wanted || target.Offset <= r.skipBytes() {
		return err
	}
	return r.skipTo(ctx, j, target.Offset)
}

// skipBytes is Options.SnapshotSkipBytes or its default.
func (r *setReader) skipBytes() int64 {
	if n := r.e.opts.SnapshotSkipBytes; n > 0 {
		return n
	}
	return DefaultSnapshotSkipBytes
}

// skipTo spaces the open archive forward to the entry at off.
func (r *setReader) skipTo(ctx context.Context, j *driveJob, off int64) error {
	c := r.cur
	err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		return c.cr.SkipTo(off)
	})
	if err != nil {
		r.cur = nil
		return fmt.Errorf("media set %s: tape file %d: %w", r.set, c.key.file, err)
	}
	c.next = off
	return nil
}

// loadTape gets tape m into the drive and checks its label. A library
// loads it; a standalone drive must already hold it. A tape the library
// does not hold, or a standalone drive lacks, is a no-medium error that
// says which tape to bring.
func (r *setReader) loadTape(ctx context.Context, j *driveJob, m catalog.Media) error {
	if j.ch != nil {
		if err := j.loadLabel(ctx, m.LabelText); err != nil {
			if KindOf(err) == KindNotFound {
				// The tape is out of the library: the file exists,
				// its medium does not (ENOMEDIUM, not ENOENT).
				return classify(device.ErrNoMedium, "%v (needed to read media set %s)", err, r.set)
			}
			return err
		}
	} else if _, err := j.ready(ctx); err != nil {
		if KindOf(err) == KindNoMedium {
			return classify(device.ErrNoMedium, "insert tape %s into drive %s to read media set %s (the drive is empty)", m.LabelText, j.cfg.Name, r.set)
		}
		return err
	}
	return j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		ml, sl, err := format.ReadLabels(ctx, dev)
		if err != nil && ml == nil {
			if j.ch == nil {
				return classify(device.ErrNoMedium, "insert tape %s into drive %s to read media set %s (the tape in it has no readable label: %v)", m.LabelText, j.cfg.Name, r.set, err)
			}
			return fmt.Errorf("tape %s: read label: %w", m.LabelText, err)
		}
		if ml.UUID != m.UUID {
			if j.ch == nil {
				return classify(device.ErrNoMedium, "insert tape %s into drive %s to read media set %s (it holds %s)", m.LabelText, j.cfg.Name, r.set, ml.LabelText)
			}
			return fmt.Errorf("tape in drive %s is %s (%s), not %s: %w", j.cfg.Name, ml.LabelText, ml.UUID, m.LabelText, format.ErrCorrupt)
		}
		return j.e.readKey(ctx, dev, sl)
	})
}

// readChunk reads the next chunk of the open archive: it delivers it to
// the reads that want it, or keeps it as read-ahead when a scope needs it
// and unread read-ahead is below limit. At the end of the archive it closes the cursor.
func (r *setReader) readChunk(ctx context.Context, j *driveJob, scopes []*snapScope, limit int64) error {
	c := r.cur
	var d [32]byte
	var off int64
	var data []byte
	var err error
	derr := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		d, off, data, err = c.cr.Next()
		if err == io.EOF {
			// Leave the tape after the archive's filemark.
			return c.fr.SkipToEnd()
		}
		return nil
	})
	if derr != nil {
		return derr
	}
	switch {
	case err == io.EOF:
		r.cur = nil
		return nil
	case errors.Is(err, format.ErrCorrupt) && !errors.Is(err, format.ErrIncomplete) && !c.corrupt:
		// A chunk that does not match its digest: fail its reads and
		// go on with the next entry. A damaged entry header is sticky:
		// the same error comes back, and ends the archive below.
		c.corrupt = true
		c.next = max(c.next, off+1)
		r.deliver(d, nil, err)
		return nil
	case err != nil:
		return err
	}
	c.corrupt = false
	c.next = off + format.ChunkEntryHeaderSize + int64(len(data))
	// The want check and the read-ahead put are one step under mu:
	// chunk checks the cache and adds its want under mu too, so a chunk
	// cannot pass by between the two and leave a want behind the tape.
	r.mu.Lock()
	_, wanted := r.wants[d]
	if !wanted {
		key := chunkKey{r.set, d}
		if r.cache.unreadBytes() < limit && !r.cache.has(key) {
			for _, sc := range scopes {
				if sc.chunks[d] {
					r.cache.put(key, data, true)
					break
				}
			}
		}
	}
	r.mu.Unlock()
	if wanted {
		r.deliver(d, data, nil)
	}
	return nil
}
