package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// CatalogResult reports what was read back from one tape into the catalog.
type CatalogResult struct {
	LabelText string    `json:"label-text"`
	Set       uuid.UUID `json:"media-set-uuid"`
	Seq       uint64    `json:"seq-nr"`
	Chunks    int       `json:"chunks"`
	Snapshots []string  `json:"snapshots"`
	// Mode is "catalog archive" (fast) or "scan" (every archive read).
	Mode string `json:"mode"`
}

// tapeContents is what a tape holds, read from its catalog archive or by
// scanning its archives.
type tapeContents struct {
	label  *format.MediaLabel
	set    *format.MediaSetLabel
	chunks []format.ChunkLocation
	snaps  map[string]*tapeSnapshot
}

type tapeSnapshot struct {
	file    uint64
	ctime   time.Time
	entries []*format.Entry
}

// RestoreCatalog reads the catalog of the tape in a drive back into the
// catalog: fast from the tape's last catalog archive, or with scan from
// every archive on it. Without force, a tape the catalog already knows as
// part of its media set is refused.
func (e *Engine) RestoreCatalog(ctx context.Context, driveName string, scan, force bool) (*CatalogResult, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	j, release, err := e.useDrive(ctx, driveName, "catalog")
	if err != nil {
		return nil, err
	}
	defer release()
	return j.restoreCatalog(ctx, cat, scan, force)
}

func (j *driveJob) restoreCatalog(ctx context.Context, cat *catalog.Catalog, scan, force bool) (*CatalogResult, error) {
	if _, err := j.ready(ctx); err != nil {
		return nil, err
	}
	var tc *tapeContents
	mode := "catalog archive"
	err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		ml, set, err := format.ReadLabels(ctx, dev)
		if err != nil {
			return err
		}
		tc = &tapeContents{label: ml, set: set, snaps: map[string]*tapeSnapshot{}}
		if set == nil || set.SetUUID == uuid.Nil {
			return nil
		}
		if !force {
			if s, err := cat.GetMediaSet(set.SetUUID); err == nil && int(set.Seq) < len(s.Media) && s.Media[set.Seq] == ml.UUID {
				if n, _ := cat.ChunkCount(set.SetUUID); n > 0 {
					return classify(ErrExists, "the catalog already has tape %s of media set %s: use --force to read it again", ml.LabelText, set.SetUUID)
				}
			}
		}
		if err := j.e.readKey(ctx, dev, set); err != nil {
			return err
		}
		if !scan {
			ca, err := format.ReadLastCatalogArchive(ctx, dev)
			if err == nil {
				return readFromCatalogArchive(ctx, dev, ca, tc)
			}
			j.logf("tape %s: no usable catalog archive at its end (%v): scanning every archive", ml.LabelText, err)
		}
		mode = "scan"
		return scanTape(ctx, dev, tc)
	})
	if err != nil {
		return nil, err
	}
	if err := j.inventorize(cat, labelInfo(tc.label, tc.set)); err != nil {
		return nil, err
	}
	res := &CatalogResult{LabelText: tc.label.LabelText, Mode: mode}
	if tc.set == nil || tc.set.SetUUID == uuid.Nil {
		return res, nil
	}
	res.Set, res.Seq = tc.set.SetUUID, tc.set.Seq
	if err := j.e.storeTapeContents(cat, tc); err != nil {
		return nil, err
	}
	res.Chunks = len(tc.chunks)
	for name := range tc.snaps {
		res.Snapshots = append(res.Snapshots, name)
	}
	sort.Strings(res.Snapshots)
	j.logf("tape %s: %d chunks, %d snapshots read into the catalog (%s)", tc.label.LabelText, res.Chunks, len(res.Snapshots), mode)
	return res, nil
}

// readFromCatalogArchive takes the chunk index from a catalog archive and
// reads the snapshot archives it lists.
func readFromCatalogArchive(ctx context.Context, dev device.Drive, ca *format.CatalogArchive, tc *tapeContents) error {
	if ca.Media != tc.label.UUID || ca.Set != tc.set.SetUUID {
		return fmt.Errorf("catalog archive belongs to tape %s / set %s, not to this tape", ca.Media, ca.Set)
	}
	tc.chunks = ca.Chunks
	files := append([]format.ArchiveFile(nil), ca.Files...)
	sort.Slice(files, func(a, b int) bool { return files[a].File < files[b].File })
	if err := dev.Rewind(ctx); err != nil {
		return err
	}
	var cur uint64
	for _, f := range files {
		if f.Type != format.ContentSnapshotArchive {
			continue
		}
		if f.File > cur {
			if err := dev.Space(ctx, device.SpaceFilemarks, int64(f.File-cur)); err != nil {
				return err
			}
		}
		if err := readSnapshotFile(ctx, dev, f.File, tc); err != nil {
			return err
		}
		cur = f.File + 1
	}
	return nil
}

func readSnapshotFile(ctx context.Context, dev device.Drive, file uint64, tc *tapeContents) error {
	fr, err := format.NewFileReader(ctx, dev, 0)
	if err != nil {
		return err
	}
	if fr.Header().Type != format.ContentSnapshotArchive {
		fr.SkipToEnd()
		return fmt.Errorf("tape file %d is a %s, not a snapshot archive", file, fr.Header().Type)
	}
	return readSnapshot(fr, file, tc)
}

func readSnapshot(fr *format.FileReader, file uint64, tc *tapeContents) error {
	sr, err := format.NewSnapshotArchiveReader(fr)
	if err != nil {
		return err
	}
	h := sr.Header()
	ts := &tapeSnapshot{file: file, ctime: fr.Header().Ctime}
	for {
		e, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", h.Snapshot, err)
		}
		ts.entries = append(ts.entries, &e)
	}
	if err := fr.SkipToEnd(); err != nil {
		return err
	}
	tc.snaps[h.Snapshot] = ts
	return nil
}

// scanTape reads every archive after the labels, front to back. A
// snapshot archive counts only when a catalog archive follows it (every
// backup that recorded its snapshot wrote one after it) and none of the
// catalog archives voids it (format.CatalogArchive.Void): the archive of
// a job that died before it recorded the snapshot is left out, as the
// live catalog left it out.
func scanTape(ctx context.Context, dev device.Drive, tc *tapeContents) error {
	if err := dev.Rewind(ctx); err != nil {
		return err
	}
	if err := dev.Space(ctx, device.SpaceFilemarks, 2); err != nil {
		return err
	}
	var lastCatalog uint64
	void := map[uint64]bool{}
	err := walkArchives(ctx, dev, archiveVisitor{
		archive: func(file uint64, t format.ContentType) {
			if t == format.ContentCatalogArchive {
				lastCatalog = file
			}
		},
		chunk: func(file uint64, d [32]byte, off int64, data []byte) error {
			tc.chunks = append(tc.chunks, format.ChunkLocation{Digest: d, File: file, Offset: off, Size: uint32(len(data))})
			return nil
		},
		snapshot: func(file uint64, ts *tapeSnapshot, name string) error {
			tc.snaps[name] = ts
			return nil
		},
		catalog: func(file uint64, ca *format.CatalogArchive) {
			for _, v := range ca.Void {
				void[v.File] = true
			}
		},
	})
	if err != nil {
		return err
	}
	for name, ts := range tc.snaps {
		if void[ts.file] || ts.file > lastCatalog {
			delete(tc.snaps, name)
		}
	}
	return nil
}

// archiveVisitor receives what walkArchives finds; nil fields are skipped.
type archiveVisitor struct {
	archive  func(file uint64, t format.ContentType)
	chunk    func(file uint64, d [32]byte, off int64, data []byte) error
	snapshot func(file uint64, ts *tapeSnapshot, name string) error
	// catalog gets the catalog archives that decode (a damaged one is
	// skipped).
	catalog func(file uint64, ca *format.CatalogArchive)
}

// walkArchives reads the archives from the current position (the start of
// a tape file) to end of data. Damaged chunks are left out (a restore
// reports the files that need them); an archive cut short by an
// interrupted job ends where it was cut.
func walkArchives(ctx context.Context, dev device.Drive, v archiveVisitor) error {
	pos, err := dev.ReadPosition(ctx)
	if err != nil {
		return err
	}
	for file := pos.File; ; file++ {
		fr, err := format.NewFileReader(ctx, dev, 0)
		if errors.Is(err, device.ErrEndOfData) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tape file %d: %w", file, err)
		}
		typ := fr.Header().Type
		if v.archive != nil {
			v.archive(file, typ)
		}
		switch {
		case typ == format.ContentChunkArchive && v.chunk != nil:
			cr, err := format.NewChunkArchiveReader(fr)
			if err != nil {
				return err
			}
			for {
				d, off, data, err := cr.NextUnchecked(nil)
				if err == io.EOF || errors.Is(err, format.ErrIncomplete) {
					break
				}
				if err != nil {
					// A corrupt stream (the reader's error is sticky:
					// nothing more comes from this archive) or a
					// device error.
					return fmt.Errorf("tape file %d: %w", file, err)
				}
				if cr.Check(d, off, data) != nil {
					continue // a damaged chunk: left out
				}
				if err := v.chunk(file, d, off, data); err != nil {
					return err
				}
			}
		case typ == format.ContentSnapshotArchive && v.snapshot != nil:
			one := &tapeContents{snaps: map[string]*tapeSnapshot{}}
			if err := readSnapshot(fr, file, one); err != nil {
				return err
			}
			for name, ts := range one.snaps {
				if err := v.snapshot(file, ts, name); err != nil {
					return err
				}
			}
			continue // readSnapshot consumed the file
		case typ == format.ContentCatalogArchive && v.catalog != nil:
			ca, err := format.ReadCatalogArchive(fr)
			if err == nil {
				v.catalog(file, ca)
			} else if !errors.Is(err, format.ErrCorrupt) && !errors.Is(err, format.ErrIncomplete) {
				return fmt.Errorf("tape file %d: %w", file, err)
			}
		}
		if err := fr.SkipToEnd(); err != nil && !errors.Is(err, format.ErrIncomplete) {
			return err
		}
	}
}

// storeTapeContents writes what a tape holds into the catalog.
func (e *Engine) storeTapeContents(cat *catalog.Catalog, tc *tapeContents) error {
	sl := tc.set
	set, err := cat.GetMediaSet(sl.SetUUID)
	if errors.Is(err, catalog.ErrNotFound) {
		set = catalog.MediaSet{UUID: sl.SetUUID, Pool: sl.Pool, Ctime: sl.Ctime, EncryptKey: sl.EncryptionKeyFingerprint}
	} else if err != nil {
		return err
	}
	for uint64(len(set.Media)) <= sl.Seq {
		set.Media = append(set.Media, uuid.Nil)
	}
	set.Media[sl.Seq] = tc.label.UUID
	if err := cat.PutMediaSet(set); err != nil {
		return err
	}
	entries := make([]catalog.ChunkEntry, len(tc.chunks))
	for i, c := range tc.chunks {
		entries[i] = catalog.ChunkEntry{Digest: c.Digest, Loc: catalog.ChunkLoc{Media: tc.label.UUID, File: c.File, Offset: c.Offset, Size: c.Size}}
	}
	if err := cat.PutChunks(sl.SetUUID, entries); err != nil {
		return err
	}
	for name, ts := range tc.snaps {
		snap := catalog.Snapshot{Set: sl.SetUUID, Name: name, Pool: sl.Pool, Ctime: snapshotTime(name, ts.ctime),
			Archives: []catalog.ArchiveLoc{{Media: tc.label.UUID, File: ts.file}}}
		tree := make([]catalog.TreeEntry, 0, len(ts.entries))
		for _, en := range ts.entries {
			if en.Type == format.EntryFile {
				snap.Files++
				snap.Bytes += en.Size
			}
			tree = append(tree, catalog.TreeEntry{Path: en.Path, Value: format.EncodeEntry(nil, en)})
		}
		if err := cat.PutSnapshot(snap, tree); err != nil {
			return err
		}
	}
	// The set's last member is the one still written to; the others
	// filled up.
	for seq, id := range set.Media {
		if id == uuid.Nil {
			continue
		}
		status := catalog.StatusFull
		if seq == len(set.Media)-1 {
			status = catalog.StatusWritable
		}
		err := cat.UpdateMedia(id, func(m *catalog.Media) error {
			m.Set = &catalog.MediaSetRef{UUID: set.UUID, Seq: uint64(seq), Ctime: set.Ctime, Pool: set.Pool}
			if m.Status == catalog.StatusWritable || m.Status == catalog.StatusFull || m.Status == catalog.StatusUnknown {
				m.Status = status
			}
			return nil
		})
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
	}
	return nil
}

// snapshotTime is the time in a snapshot's name ("group/2026-...Z"), or
// fallback.
func snapshotTime(name string, fallback time.Time) time.Time {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		if t, err := time.Parse(time.RFC3339, name[i+1:]); err == nil {
			return t
		}
	}
	return fallback
}

// InventoryCatalog runs inventory and then reads the catalog of every tape
// of the library that belongs to a media set.
func (e *Engine) InventoryCatalog(ctx context.Context, driveName string, scan, force bool) ([]CatalogResult, error) {
	if _, err := e.Inventory(ctx, driveName, InventoryOptions{ReadLabels: true}); err != nil {
		return nil, err
	}
	j, cat, release, err := e.useLibrary(ctx, driveName, "inventory --catalog")
	if err != nil {
		return nil, err
	}
	defer release()
	media, err := cat.ListMedia(catalog.MediaFilter{Location: catalog.LocationOnline})
	if err != nil {
		return nil, err
	}
	var out []CatalogResult
	for _, m := range media {
		if m.Location.Changer != j.ch.Name || m.Set == nil || m.Set.UUID == uuid.Nil {
			continue
		}
		if err := j.loadLabel(ctx, m.LabelText); err != nil {
			return out, err
		}
		r, err := j.restoreCatalog(ctx, cat, scan, force)
		if errors.Is(err, ErrExists) {
			j.logf("tape %s: catalog already present", m.LabelText)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("tape %s: %w", m.LabelText, err)
		}
		out = append(out, *r)
	}
	return out, nil
}
