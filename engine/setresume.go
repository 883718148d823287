// Resuming a set's tape: reading back what a member tape already holds
// before the set writer appends to it, and voiding the archives of jobs
// that did not complete.

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"tapefs/catalog"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

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
