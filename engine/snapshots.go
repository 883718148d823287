package engine

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// This file answers metadata questions about snapshot trees from the
// catalog alone (never a tape): entries, directory listings, hard link
// counts and where a file's data starts on tape. snapread.go reads file
// content.

// SnapshotEntry returns the entry at path p ("" for the root) of snapshot
// snapshot of media set set, decoded. For a hard link it returns the entry
// of the file the link names: Path is then that file's first name, which
// is the same for every name of the inode. Errors: not found (no such
// snapshot or entry), catalog errors, ErrCorrupt from the decoder.
func (e *Engine) SnapshotEntry(set uuid.UUID, snapshot, p string) (format.Entry, error) {
	cat, err := e.Catalog()
	if err != nil {
		return format.Entry{}, err
	}
	return snapshotEntry(cat, set, snapshot, p)
}

func snapshotEntry(cat *catalog.Catalog, set uuid.UUID, snapshot, p string) (format.Entry, error) {
	ent, err := decodeTreeValue(cat, set, snapshot, p)
	if err != nil || ent.Type != format.EntryHardLink {
		return ent, err
	}
	// A hard link names an earlier entry of the same snapshot, which is
	// never a hard link itself.
	target, err := decodeTreeValue(cat, set, snapshot, ent.Target)
	if err != nil {
		return format.Entry{}, fmt.Errorf("hard link %q: %w", p, err)
	}
	if target.Type == format.EntryHardLink {
		return format.Entry{}, fmt.Errorf("snapshot %s: hard link %q names hard link %q: %w", snapshot, p, ent.Target, format.ErrCorrupt)
	}
	return target, nil
}

func decodeTreeValue(cat *catalog.Catalog, set uuid.UUID, snapshot, p string) (format.Entry, error) {
	v, err := cat.TreeEntry(set, snapshot, p)
	if err != nil {
		return format.Entry{}, err
	}
	ent, _, err := format.DecodeEntry(v)
	if err != nil {
		return format.Entry{}, fmt.Errorf("snapshot %s: entry %q: %w", snapshot, p, err)
	}
	return ent, nil
}

// treeLinkTarget is the catalog's Options.TreeLink: the first name of the
// file that the tree entry encoded in v is a hard link to, "" for other
// entries.
func treeLinkTarget(v []byte) (string, error) {
	t, err := format.PeekEntryType(v)
	if err != nil || t != format.EntryHardLink {
		return "", err
	}
	a, err := format.DecodeEntryAttr(v)
	if err != nil {
		return "", err
	}
	return a.Target, nil
}

// ListSnapshotDir returns the entries of directory dir ("" for the root)
// of snapshot snapshot of media set set, in name order (bytes), with the
// attributes a listing shows (format.DecodeEntryAttr: no path, owner
// names, xattrs or chunk digests are decoded), the number of names of each
// file, and hard links resolved as SnapshotEntry does (Path, Attr and
// Links are then those of the file's first name). It is one catalog prefix
// scan plus one lookup per hard link; for a snapshot stored before the
// catalog counted links (catalog.Snapshot.LinksCounted false), the counts
// come from SnapshotLinkCounts (one scan of the whole tree per engine).
// Errors: not found (no such snapshot or directory), catalog errors,
// ErrCorrupt.
func (e *Engine) ListSnapshotDir(set uuid.UUID, snapshot, dir string) ([]SnapshotDirEntry, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	// Collect in a reused buffer and return an exact-size copy: growing
	// the result by appends allocated twice its size, a third of what a
	// cold find allocated.
	bp := dirEntryBufs.Get().(*[]SnapshotDirEntry)
	defer func() {
		if cap(*bp) > maxPooledDirEntries {
			return // a huge directory's buffer is not kept
		}
		clear(*bp)
		*bp = (*bp)[:0]
		dirEntryBufs.Put(bp)
	}()
	out := *bp
	var links []int
	err = cat.ListTree(set, snapshot, dir, func(te catalog.TreeEntry) error {
		a, err := format.DecodeEntryAttr(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", snapshot, te.Path, err)
		}
		name := te.Path
		if dir != "" {
			name = te.Path[len(dir)+1:]
		}
		if a.Type == format.EntryHardLink {
			links = append(links, len(out))
		}
		out = append(out, SnapshotDirEntry{Name: name, Path: te.Path, Attr: a, Links: max(1, te.Links)})
		return nil
	})
	*bp = out
	if err != nil {
		return nil, err
	}
	out = slices.Clone(out)
	for _, i := range links {
		l := &out[i]
		te, err := cat.GetTreeEntry(set, snapshot, l.Attr.Target)
		if err != nil {
			return nil, fmt.Errorf("hard link %q: %w", l.Path, err)
		}
		a, err := format.DecodeEntryAttr(te.Value)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: entry %q: %w", snapshot, l.Attr.Target, err)
		}
		if a.Type == format.EntryHardLink {
			return nil, fmt.Errorf("snapshot %s: hard link %q names hard link %q: %w", snapshot, l.Path, l.Attr.Target, format.ErrCorrupt)
		}
		l.Path, l.Attr, l.Links = l.Attr.Target, a, max(1, te.Links)
	}
	if err := e.legacyLinkCounts(cat, set, snapshot, out); err != nil {
		return nil, err
	}
	return out, nil
}

// legacyLinkCounts fills the Links of the files of out from
// SnapshotLinkCounts when the snapshot's tree was stored without link
// counts.
func (e *Engine) legacyLinkCounts(cat *catalog.Catalog, set uuid.UUID, snapshot string, out []SnapshotDirEntry) error {
	counted, err := e.linksCounted(cat, set, snapshot)
	if err != nil || counted {
		return err
	}
	var counts map[string]uint32
	for i := range out {
		if out[i].Attr.Type == format.EntryDir {
			continue
		}
		if counts == nil {
			if counts, err = e.SnapshotLinkCounts(set, snapshot); err != nil {
				return err
			}
		}
		out[i].Links = max(1, counts[out[i].Path])
	}
	return nil
}

// linksCounted reports whether the tree of the snapshot carries link
// counts (catalog.Snapshot.LinksCounted). A yes is remembered: a snapshot
// replaced under the same name is written by this engine, with counts.
func (e *Engine) linksCounted(cat *catalog.Catalog, set uuid.UUID, snapshot string) (bool, error) {
	s := e.snapState()
	key := snapKey{set, snapshot}
	s.mu.Lock()
	counted := s.counted[key]
	s.mu.Unlock()
	if counted {
		return true, nil
	}
	snap, err := cat.GetSnapshot(set, snapshot)
	if err != nil {
		return false, err
	}
	if snap.LinksCounted {
		s.mu.Lock()
		s.counted[key] = true
		s.mu.Unlock()
	}
	return snap.LinksCounted, nil
}

// dirEntryBufs holds the buffers ListSnapshotDir collects entries in, up
// to maxPooledDirEntries entries each.
var dirEntryBufs = sync.Pool{New: func() any { return new([]SnapshotDirEntry) }}

const maxPooledDirEntries = 1 << 16

// SnapshotDirEntry is one child of a snapshot directory.
type SnapshotDirEntry struct {
	// Name is the name in the directory.
	Name string
	// Path is the path of the inode in the snapshot: the entry's own, or
	// for a hard link the file's first name.
	Path string
	// Attr holds the attributes of the inode.
	Attr format.EntryAttr
	// Links is the inode's number of names (1 without hard links).
	Links uint32
}

// SnapshotLinkCounts returns, for every file of snapshot snapshot of media
// set set that has hard links, its number of names (by the file's first
// name, the Path SnapshotEntry returns); files with one name are not in
// the map. The first call for a snapshot scans its whole tree (reading
// only each entry's type); the result is kept for the engine's lifetime,
// since a snapshot never changes. ListSnapshotDir needs it only for
// snapshots stored without link counts in the catalog. Errors: not found,
// catalog errors, ErrCorrupt.
func (e *Engine) SnapshotLinkCounts(set uuid.UUID, snapshot string) (map[string]uint32, error) {
	s := e.snapState()
	key := snapKey{set, snapshot}
	s.mu.Lock()
	lc := s.links[key]
	if lc == nil {
		lc = &linkCounts{}
		s.links[key] = lc
	}
	s.mu.Unlock()
	lc.once.Do(func() {
		cat, err := e.Catalog()
		if err != nil {
			lc.err = err
			return
		}
		counts := map[string]uint32{}
		lc.err = cat.WalkTree(set, snapshot, func(te catalog.TreeEntry) error {
			t, err := format.PeekEntryType(te.Value)
			if err != nil {
				return fmt.Errorf("snapshot %s: entry %q: %w", snapshot, te.Path, err)
			}
			if t != format.EntryHardLink {
				return nil
			}
			ent, _, err := format.DecodeEntry(te.Value)
			if err != nil {
				return fmt.Errorf("snapshot %s: entry %q: %w", snapshot, te.Path, err)
			}
			if counts[ent.Target] == 0 {
				counts[ent.Target] = 1
			}
			counts[ent.Target]++
			return nil
		})
		lc.counts = counts
	})
	if lc.err != nil {
		// Not cached: a catalog that was busy may answer next time.
		s.mu.Lock()
		if s.links[key] == lc {
			delete(s.links, key)
		}
		s.mu.Unlock()
		return nil, lc.err
	}
	return lc.counts, nil
}

type linkCounts struct {
	once   sync.Once
	counts map[string]uint32
	err    error
}

type snapKey struct {
	set  uuid.UUID
	name string
}

// TapePosition is where the data of a snapshot file starts on tape: the
// place of its first chunk.
type TapePosition struct {
	// Label is the label text of the tape, Media its UUID.
	Label string
	Media uuid.UUID
	// Seq is the tape's sequence number in its media set.
	Seq uint64
	// File is the tape file number of the chunk archive, Offset the
	// chunk's byte offset in that archive's payload stream.
	File   uint64
	Offset int64
	// Record is the record of the tape file (counted from 0) that holds
	// the start of the chunk, assuming the default block size every
	// chunk archive is written with.
	Record uint64
}

// ErrNoTapeData is returned by FilePosition for a file without data on
// tape (empty, or only holes).
var ErrNoTapeData = errors.New("file has no data on tape")

// FilePosition returns where the first chunk of ent (a regular file of
// media set set) is on tape, from the catalog. A file without data on tape
// gives ErrNoTapeData. Errors: not found (chunk or tape not in the
// catalog), catalog errors.
func (e *Engine) FilePosition(set uuid.UUID, ent *format.Entry) (TapePosition, error) {
	var first *format.ChunkRef
	for i := range ent.Chunks {
		if !ent.Chunks[i].Zero {
			first = &ent.Chunks[i]
			break
		}
	}
	if ent.Type != format.EntryFile || first == nil {
		return TapePosition{}, ErrNoTapeData
	}
	cat, err := e.Catalog()
	if err != nil {
		return TapePosition{}, err
	}
	loc, err := cat.GetChunk(set, first.Digest)
	if err != nil {
		return TapePosition{}, err
	}
	m, err := cat.GetMedia(loc.Media)
	if err != nil {
		return TapePosition{}, err
	}
	pos := TapePosition{Label: m.LabelText, Media: loc.Media, File: loc.File, Offset: loc.Offset}
	if m.Set != nil {
		pos.Seq = m.Set.Seq
	}
	// The payload stream fills records of DefaultBlockSize minus the
	// record header; the content header at its start is counted in the
	// offset's record only approximately, which keeps the order.
	pos.Record = uint64(loc.Offset) / uint64(format.DefaultBlockSize-format.RecordHeaderSize)
	return pos, nil
}
