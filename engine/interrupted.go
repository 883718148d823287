package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"tapefs/catalog"
)

// VoidInterruptedCommits settles the snapshot archives of backups and
// commits that were killed after writing the archive and before
// recording the snapshot (their catalog.CommitRecord is left): for each
// tape that has one, it loads the tape on its pool's drive and writes a
// catalog archive that voids them, so that a catalog rebuilt from the
// tapes is the live one (docs/tape-format.md, "Interrupted commits").
// Records of snapshots that did get recorded are dropped. A tape that
// cannot be had now (a standalone drive, a tape out of the library, a
// busy drive) keeps its records: the next backup that appends to it
// voids them. The daemon runs this when it starts. It returns the number
// of tapes done and the first error.
func (e *Engine) VoidInterruptedCommits(ctx context.Context) (int, error) {
	cat, err := e.Catalog()
	if err != nil {
		return 0, err
	}
	recs, err := cat.ListCommits(uuid.Nil, uuid.Nil)
	if err != nil {
		return 0, err
	}
	type tapeKey struct{ set, media uuid.UUID }
	var tapes []tapeKey
	for _, r := range recs {
		if snap, err := cat.GetSnapshot(r.Set, r.Snapshot); err == nil && slices.Contains(snap.Archives, catalog.ArchiveLoc{Media: r.Media, File: r.File}) {
			if err := cat.DeleteCommit(r.Set, r.Media, r.File); err != nil {
				return 0, err
			}
			continue
		}
		if k := (tapeKey{r.Set, r.Media}); !slices.Contains(tapes, k) {
			tapes = append(tapes, k)
		}
	}
	done := 0
	var first error
	for _, t := range tapes {
		err := e.voidOnTape(ctx, cat, t.set, t.media)
		if err != nil {
			e.logf("interrupted commit on media set %s: %v (voided when the next backup appends to the tape)", t.set, err)
			first = cmp.Or(first, err)
			continue
		}
		done++
	}
	return done, first
}

// voidOnTape writes a catalog archive to tape media of set that voids the
// archives its commit records name.
func (e *Engine) voidOnTape(ctx context.Context, cat *catalog.Catalog, setID, media uuid.UUID) error {
	set, err := cat.GetMediaSet(setID)
	if err != nil {
		return err
	}
	m, err := cat.GetMedia(media)
	if err != nil {
		return err
	}
	if m.Set == nil || m.Set.UUID != setID {
		// The tape went to another set: nothing of this one is left.
		recs, err := cat.ListCommits(setID, media)
		for _, r := range recs {
			err = errors.Join(err, cat.DeleteCommit(r.Set, r.Media, r.File))
		}
		return err
	}
	pool, err := e.PoolConfig(set.Pool)
	if err != nil {
		return err
	}
	key, err := e.poolKey(set.EncryptKey)
	if err != nil {
		return err
	}
	j, release, err := e.useDrive(ctx, pool.Drive, "void interrupted commit on "+m.LabelText)
	if err != nil {
		return err
	}
	defer release()
	if j.ch == nil {
		return fmt.Errorf("drive %s has no changer to load tape %s", j.cfg.Name, m.LabelText)
	}
	if err := j.loadLabel(ctx, m.LabelText); err != nil {
		return err
	}
	w := &setWriter{e: e, j: j, cat: cat, pool: pool, key: key, set: set, tape: &m, seq: m.Set.Seq}
	if err := w.loadTapeState(ctx); err != nil {
		return err
	}
	if len(w.voided) == 0 {
		return nil
	}
	full := m.Status == catalog.StatusFull
	return w.closeTape(ctx, full)
}
