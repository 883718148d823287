package engine

import (
	"fmt"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// This file is the engine's browsing interface: what the mount (fusefs)
// shows of media sets, snapshots and snapshot trees, read from the catalog
// alone. fusefs imports neither catalog nor engine/format (DESIGN.md's
// layering, checked by internal/layering): the types it handles are named
// here, and every catalog read it needs is a method of this file or of
// snapshots.go.

// Catalog types as the engine's API shows them.
type (
	// Media is an inventory entry of one tape.
	Media = catalog.Media
	// MediaSet is a media set of a pool.
	MediaSet = catalog.MediaSet
	// Snapshot is one snapshot of a media set.
	Snapshot = catalog.Snapshot
	// SnapshotFilter selects snapshots by pool, media set and group.
	SnapshotFilter = catalog.SnapshotFilter
	// LocationKind says where a tape is (online in a library, vault...).
	LocationKind = catalog.LocationKind
)

// LocationOnline is the location of a tape in a library's slot or drive.
const LocationOnline = catalog.LocationOnline

// Snapshot tree entries as the engine's API shows them.
type (
	// Entry is the whole entry of a snapshot tree (SnapshotEntry).
	Entry = format.Entry
	// EntryAttr is the part of an entry a listing shows
	// (SnapshotDirEntry.Attr).
	EntryAttr = format.EntryAttr
	// EntryType is the type of an entry: EntryFile, EntryDir, ...
	EntryType = format.EntryType
)

// Types of snapshot tree entries.
const (
	EntryFile     = format.EntryFile
	EntryDir      = format.EntryDir
	EntrySymlink  = format.EntrySymlink
	EntryHardLink = format.EntryHardLink
	EntryCharDev  = format.EntryCharDev
	EntryBlockDev = format.EntryBlockDev
	EntryFIFO     = format.EntryFIFO
	EntrySocket   = format.EntrySocket
)

// ListMediaSets returns the media sets of pool ("" for every pool).
// Errors: catalog errors.
func (e *Engine) ListMediaSets(pool string) ([]MediaSet, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	return cat.ListMediaSets(pool)
}

// GetMediaSet returns the media set with UUID id. Errors: not found,
// catalog errors.
func (e *Engine) GetMediaSet(id uuid.UUID) (MediaSet, error) {
	cat, err := e.Catalog()
	if err != nil {
		return MediaSet{}, err
	}
	return cat.GetMediaSet(id)
}

// GetMedia returns the inventory entry of the tape with UUID id. Errors:
// not found, catalog errors.
func (e *Engine) GetMedia(id uuid.UUID) (Media, error) {
	cat, err := e.Catalog()
	if err != nil {
		return Media{}, err
	}
	return cat.GetMedia(id)
}

// ListSnapshots returns the snapshots that match f. Errors: catalog
// errors.
func (e *Engine) ListSnapshots(f SnapshotFilter) ([]Snapshot, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	return cat.ListSnapshots(f)
}

// SnapshotID returns the catalog's number of snapshot name of media set
// set: unique in the catalog and stable while the snapshot exists (the
// mount derives inode numbers from it). Errors: not found, catalog
// errors.
func (e *Engine) SnapshotID(set uuid.UUID, name string) (uint64, error) {
	cat, err := e.Catalog()
	if err != nil {
		return 0, err
	}
	return cat.SnapshotID(set, name)
}

// SnapshotDirRank returns the rank of path p among the entries of its
// directory in snapshot snapshot of media set set: its index in the
// name order of ListSnapshotDir. It reads only the listing of p's
// directory, and decodes no entry. Errors: not found (no such snapshot,
// directory or entry), catalog errors.
func (e *Engine) SnapshotDirRank(set uuid.UUID, snapshot, p string) (int, error) {
	cat, err := e.Catalog()
	if err != nil {
		return 0, err
	}
	dir := ""
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			dir = p[:i]
			break
		}
	}
	rank, i := -1, 0
	err = cat.ListTree(set, snapshot, dir, func(te catalog.TreeEntry) error {
		if te.Path == p {
			rank = i
		}
		i++
		return nil
	})
	if err != nil {
		return 0, err
	}
	if rank < 0 {
		return 0, fmt.Errorf("snapshot %s: %q is not in its directory: %w", snapshot, p, catalog.ErrNotFound)
	}
	return rank, nil
}
