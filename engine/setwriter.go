// The set writer: writes a backup job's chunk, snapshot and catalog
// archives to the tapes of a media set, choosing and changing tapes.

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/engine/policy"
)

// newChunk is a chunk that must go to tape.
type newChunk struct {
	digest chunker.Digest
	data   []byte
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
			ps := sets[i]
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
	next, m, err := w.chooseTape(ctx)
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

// chooseTape picks the next tape of the set by the pool's policy, claims
// it and gets it into the drive, waiting for an operator (waitForMedia)
// when the library has none to give.
func (w *setWriter) chooseTape(ctx context.Context) (policy.Media, catalog.Media, error) {
	sets, err := w.cat.ListMediaSets(w.pool.Name)
	if err != nil {
		return policy.Media{}, catalog.Media{}, err
	}
	ps, psets := w.set, sets
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
		return w.j.loadTape(ctx, m)
	})
	return next, m, err
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
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
