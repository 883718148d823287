package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// ArchiveLoc is where one part of a snapshot archive is on tape: tape file
// File of tape Media. A snapshot archive that crossed the end of a tape has
// several parts, numbered from 0.
type ArchiveLoc struct {
	Media uuid.UUID
	File  uint64
	Part  int
}

// Snapshot is the catalog record of one snapshot in a media set. Its file
// tree is stored with it (PutSnapshot) and read with TreeEntry, ListTree and
// WalkTree.
type Snapshot struct {
	Set uuid.UUID
	// Name is "<group>/<time>", for example "group/2026-11-25T17:00:00Z":
	// slash-separated, at least two elements, none empty, "." or "..".
	Name     string
	Pool     string
	Ctime    time.Time
	Archives []ArchiveLoc
	Files    int64
	Bytes    int64
	// LinksCounted reports that the tree was stored with the number of
	// names of its hard-linked entries (TreeEntry.Links): PutSnapshot sets
	// it when the catalog has Options.TreeLink and ignores what it is
	// given.
	LinksCounted bool
}

// Group returns the group part of the snapshot name: everything before the
// last slash.
func (s Snapshot) Group() string {
	g, _ := splitLast(s.Name)
	return g
}

// SnapshotFilter selects snapshots in ListSnapshots. Zero fields match
// everything.
type SnapshotFilter struct {
	Pool  string    // matches Snapshot.Pool
	Set   uuid.UUID // matches Snapshot.Set
	Group string    // matches Snapshot.Group()
}

func (f SnapshotFilter) match(s Snapshot) bool {
	return (f.Pool == "" || s.Pool == f.Pool) &&
		(f.Set == uuid.Nil || s.Set == f.Set) &&
		(f.Group == "" || s.Group() == f.Group)
}

// maxSnapshotNameLen bounds snapshot names; they become paths in the FUSE
// tree.
const maxSnapshotNameLen = 1024

// checkSnapshotName accepts "<group>/<time>" names: printable UTF-8,
// slash-separated, at least two elements, none empty, "." or "..".
func checkSnapshotName(name string) error {
	if err := checkName("snapshot name", name); err != nil {
		return err
	}
	if len(name) > maxSnapshotNameLen {
		return fmt.Errorf("snapshot name is %d bytes, more than %d: %w", len(name), maxSnapshotNameLen, ErrInvalid)
	}
	elems := strings.Split(name, "/")
	if len(elems) < 2 {
		return fmt.Errorf("snapshot name %q is not <group>/<time>: %w", name, ErrInvalid)
	}
	for _, e := range elems {
		if e == "" || e == "." || e == ".." {
			return fmt.Errorf("snapshot name %q has an empty, \".\" or \"..\" element: %w", name, ErrInvalid)
		}
	}
	return nil
}

func (s Snapshot) normalize() Snapshot {
	s.Ctime = s.Ctime.UTC()
	if len(s.Archives) == 0 {
		s.Archives = nil
	} else {
		s.Archives = append([]ArchiveLoc(nil), s.Archives...)
	}
	return s
}

// validate checks the catalog's rules for a snapshot record. Errors wrap
// ErrInvalid.
func (s Snapshot) validate() error {
	if s.Set == uuid.Nil {
		return fmt.Errorf("snapshot media set UUID is zero: %w", ErrInvalid)
	}
	if err := checkSnapshotName(s.Name); err != nil {
		return err
	}
	if err := checkName("snapshot pool", s.Pool); err != nil {
		return err
	}
	if err := checkTime("snapshot ctime", s.Ctime); err != nil {
		return err
	}
	if s.Files < 0 || s.Bytes < 0 {
		return fmt.Errorf("snapshot has %d files, %d bytes; counts cannot be negative: %w", s.Files, s.Bytes, ErrInvalid)
	}
	for _, a := range s.Archives {
		if a.Media == uuid.Nil {
			return fmt.Errorf("snapshot archive part %d has a zero media UUID: %w", a.Part, ErrInvalid)
		}
		if a.Part < 0 {
			return fmt.Errorf("snapshot archive part %d is negative: %w", a.Part, ErrInvalid)
		}
	}
	return nil
}

// snapshotRecord is the stored JSON form of Snapshot. Its field names are
// the catalog format: renaming one needs a new value format byte.
type snapshotRecord struct {
	Set      uuid.UUID       `json:"set"`
	Name     string          `json:"name"`
	Pool     string          `json:"pool"`
	Ctime    time.Time       `json:"ctime"`
	Archives []archiveRecord `json:"archives"`
	Files    int64           `json:"files"`
	Bytes    int64           `json:"bytes"`
	// LinksCounted is left out when false, so records written before
	// it existed read the same.
	LinksCounted bool `json:"links_counted,omitempty"`
}

type archiveRecord struct {
	Media uuid.UUID `json:"media"`
	File  uint64    `json:"file"`
	Part  int       `json:"part"`
}

// encodeSnapshot returns the stored value of s: valueV1 and the JSON
// snapshotRecord. s is normalized and validated first; errors wrap
// ErrInvalid.
func encodeSnapshot(s Snapshot) ([]byte, error) {
	s = s.normalize()
	if err := s.validate(); err != nil {
		return nil, err
	}
	r := snapshotRecord{Set: s.Set, Name: s.Name, Pool: s.Pool, Ctime: s.Ctime, Files: s.Files, Bytes: s.Bytes,
		LinksCounted: s.LinksCounted, Archives: make([]archiveRecord, 0, len(s.Archives))}
	for _, a := range s.Archives {
		r.Archives = append(r.Archives, archiveRecord(a))
	}
	return encodeJSONValue(r)
}

// decodeSnapshot parses a stored snapshot value. It accepts only what
// encodeSnapshot can produce. Errors wrap ErrCorrupt.
func decodeSnapshot(b []byte) (Snapshot, error) {
	var r snapshotRecord
	if err := decodeJSONValue(b, &r); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot value: %w", err)
	}
	if r.Archives == nil {
		return Snapshot{}, fmt.Errorf("snapshot value has no archive list: %w", ErrCorrupt)
	}
	s := Snapshot{Set: r.Set, Name: r.Name, Pool: r.Pool, Ctime: r.Ctime, Files: r.Files, Bytes: r.Bytes, LinksCounted: r.LinksCounted}
	for _, a := range r.Archives {
		s.Archives = append(s.Archives, ArchiveLoc(a))
	}
	s = s.normalize()
	if err := s.validate(); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot value: %v: %w", err, ErrCorrupt)
	}
	return s, nil
}

// snapSetPrefix is the key prefix of the snapshot records of set:
// "v1/snap/<set-uuid>/"; a snapshot key appends the name.
func snapSetPrefix(set uuid.UUID) []byte { return []byte(snapPrefix + set.String() + "/") }

func snapKey(set uuid.UUID, name string) []byte { return append(snapSetPrefix(set), name...) }

// pendingSetPrefix is the key prefix of the markers of unfinished
// PutSnapshot calls in set: "v1/pending/<set-uuid>/"; a marker key appends
// the snapshot name, its value is the format byte alone.
func pendingSetPrefix(set uuid.UUID) []byte { return []byte(pendingPrefix + set.String() + "/") }

func pendingKey(set uuid.UUID, name string) []byte { return append(pendingSetPrefix(set), name...) }

// parseSnapKey splits a snapshot key into set and name.
func parseSnapKey(k []byte) (set uuid.UUID, name string, ok bool) {
	return parseSetNameKey(k, snapPrefix)
}

// parseSetNameKey splits a key of the form prefix | set UUID text | "/" |
// name.
func parseSetNameKey(k []byte, prefix string) (set uuid.UUID, name string, ok bool) {
	rest, found := bytes.CutPrefix(k, []byte(prefix))
	if !found || len(rest) < 38 || rest[36] != '/' {
		return uuid.Nil, "", false
	}
	set, err := uuid.ParseBytes(rest[:36])
	if err != nil || !bytes.Equal([]byte(set.String()), rest[:36]) {
		return uuid.Nil, "", false
	}
	return set, string(rest[37:]), true
}

// snapshotID derives the numeric ID of snapshot name of set: the first 8
// bytes of a SHA-256 over both, never 0. It depends on nothing else, so a
// catalog rebuilt from tape gives every snapshot the same ID.
func snapshotID(set uuid.UUID, name string) uint64 {
	h := sha256.New()
	h.Write([]byte("tapefs snapshot id\x00"))
	h.Write(set[:])
	h.Write([]byte(name))
	id := binary.BigEndian.Uint64(h.Sum(nil))
	if id == 0 {
		id = 1
	}
	return id
}

// SnapshotID returns the stable numeric ID of snapshot name of media set
// set, for FUSE inode numbers: nonzero, the same in every catalog that holds
// the snapshot (it is derived from set and name), and unique among the
// catalog's snapshots (PutSnapshot refuses a snapshot whose ID collides).
// Errors: ErrNotFound, ErrClosed.
func (c *Catalog) SnapshotID(set uuid.UUID, name string) (uint64, error) {
	err := c.view(func(txn *badger.Txn) error {
		_, err := txn.Get(snapKey(set, name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("snapshot %s of media set %s: %w", name, set, err)
	}
	return snapshotID(set, name), nil
}

// GetSnapshot returns the record of snapshot name of media set set.
// Errors: ErrNotFound, ErrCorrupt, ErrClosed.
func (c *Catalog) GetSnapshot(set uuid.UUID, name string) (Snapshot, error) {
	var s Snapshot
	err := c.view(func(txn *badger.Txn) error {
		var err error
		s, err = getSnapshotTxn(txn, set, name)
		return err
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s of media set %s: %w", name, set, err)
	}
	return s, nil
}

// getSnapshotTxn reads and decodes a snapshot record; ErrNotFound when there
// is none.
func getSnapshotTxn(txn *badger.Txn, set uuid.UUID, name string) (Snapshot, error) {
	item, err := txn.Get(snapKey(set, name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Snapshot{}, ErrNotFound
	}
	if err != nil {
		return Snapshot{}, err
	}
	var s Snapshot
	err = item.Value(func(v []byte) error {
		s, err = decodeSnapshot(v)
		return err
	})
	if err == nil && (s.Set != set || s.Name != name) {
		err = fmt.Errorf("entry holds snapshot %s of media set %s: %w", s.Name, s.Set, ErrCorrupt)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("key %q: %w", item.Key(), err)
	}
	return s, nil
}

// ListSnapshots returns the snapshots that match filter, sorted by name and,
// for equal names, by media set UUID. Errors: ErrCorrupt, ErrClosed.
func (c *Catalog) ListSnapshots(filter SnapshotFilter) ([]Snapshot, error) {
	prefix := []byte(snapPrefix)
	if filter.Set != uuid.Nil {
		prefix = snapSetPrefix(filter.Set)
	}
	var list []Snapshot
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var s Snapshot
			err := item.Value(func(v []byte) error {
				var err error
				s, err = decodeSnapshot(v)
				return err
			})
			if err == nil && !bytes.Equal(item.Key(), snapKey(s.Set, s.Name)) {
				err = fmt.Errorf("entry holds snapshot %s of media set %s: %w", s.Name, s.Set, ErrCorrupt)
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", item.Key(), err)
			}
			if filter.match(s) {
				list = append(list, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return bytes.Compare(list[i].Set[:], list[j].Set[:]) < 0
	})
	return list, nil
}

// FindSnapshot returns every snapshot called name, one per media set that
// holds it, sorted by Ctime and then media set UUID. It scans the snapshot
// keys without their values. Errors: ErrNotFound when no set holds name,
// ErrCorrupt, ErrClosed.
func (c *Catalog) FindSnapshot(name string) ([]Snapshot, error) {
	var list []Snapshot
	err := c.view(func(txn *badger.Txn) error {
		var sets []uuid.UUID
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(snapPrefix)})
		for it.Rewind(); it.Valid(); it.Next() {
			set, n, ok := parseSnapKey(it.Item().Key())
			if !ok {
				it.Close()
				return fmt.Errorf("key %q is not a snapshot key: %w", it.Item().Key(), ErrCorrupt)
			}
			if n == name {
				sets = append(sets, set)
			}
		}
		it.Close()
		for _, set := range sets {
			s, err := getSnapshotTxn(txn, set, name)
			if err != nil {
				return err
			}
			list = append(list, s)
		}
		return nil
	})
	if err == nil && len(list) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find snapshot %s: %w", name, err)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Ctime.Equal(list[j].Ctime) {
			return list[i].Ctime.Before(list[j].Ctime)
		}
		return bytes.Compare(list[i].Set[:], list[j].Set[:]) < 0
	})
	return list, nil
}

// PutSnapshot stores snapshot s and its file tree, replacing a snapshot of
// the same name in the same media set (and all of its tree). It returns once
// everything is synced.
//
// tree lists every entry of the snapshot, in any order: Path is relative and
// slash-separated ("" is the snapshot's root directory, "dir/file" a file in
// dir), with no empty, "." or ".." element and no NUL byte; other bytes,
// including invalid UTF-8, are allowed. Every entry's parent directory must
// be in tree too, except the root, which may be left out. Value is the
// engine's encoding of the entry, opaque to the catalog; any size (large
// values are split across several keys).
//
// The tree goes in with batched writes, and the snapshot record is written
// only after all of them are synced: a crash midway leaves the snapshot
// invisible (as if PutSnapshot never ran, or, when it replaced a snapshot,
// as if that one had been deleted). The next read-write Open removes the
// partial tree; calling PutSnapshot again completes the commit. s.Set must have a record and s.Pool must be its pool.
// Errors: ErrInvalid (s or tree breaks the rules above, or s's ID collides
// with another snapshot's; nothing written), ErrNotFound (no such media
// set), ErrCorrupt, ErrReadOnly, ErrClosed.
func (c *Catalog) PutSnapshot(s Snapshot, tree []TreeEntry) error {
	s = s.normalize()
	s.LinksCounted = c.treeLink != nil
	val, err := encodeSnapshot(s)
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name, err)
	}
	parents, links, err := checkTree(tree, c.treeLink)
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name, err)
	}
	err = c.bulk(func(db *badger.DB) error {
		err := db.View(func(txn *badger.Txn) error {
			set, found, err := getMediaSetTxn(txn, s.Set)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("media set %s: %w", s.Set, ErrNotFound)
			}
			if set.Pool != s.Pool {
				return fmt.Errorf("snapshot pool %q is not the pool %q of media set %s: %w", s.Pool, set.Pool, s.Set, ErrInvalid)
			}
			return checkSnapshotIDFree(txn, s.Set, s.Name)
		})
		if err != nil {
			return err
		}
		// Hide the old snapshot (if any) before its tree changes, and leave
		// a marker so that Open removes the tree if this does not finish.
		err = db.Update(func(txn *badger.Txn) error {
			if err := txn.Delete(snapKey(s.Set, s.Name)); err != nil {
				return err
			}
			return txn.Set(pendingKey(s.Set, s.Name), []byte{valueV1})
		})
		if err != nil {
			return err
		}
		if _, err := deletePrefix(db, treeSnapPrefix(s.Set, s.Name)); err != nil {
			return fmt.Errorf("remove old tree: %w", err)
		}
		if err := writeTree(db, s.Set, s.Name, tree, parents, links); err != nil {
			return fmt.Errorf("write tree: %w", err)
		}
		if c.beforeSnapshotRecord != nil {
			if err := c.beforeSnapshotRecord(); err != nil {
				return err
			}
		}
		return db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(snapKey(s.Set, s.Name), val); err != nil {
				return err
			}
			return txn.Delete(pendingKey(s.Set, s.Name))
		})
	})
	if err != nil {
		return fmt.Errorf("put snapshot %s of media set %s: %w", s.Name, s.Set, err)
	}
	return nil
}

// checkSnapshotIDFree refuses name in set when another snapshot in the
// catalog has the same ID.
func checkSnapshotIDFree(txn *badger.Txn, set uuid.UUID, name string) error {
	id := snapshotID(set, name)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(snapPrefix)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		os, on, ok := parseSnapKey(it.Item().Key())
		if !ok {
			return fmt.Errorf("key %q is not a snapshot key: %w", it.Item().Key(), ErrCorrupt)
		}
		if (os != set || on != name) && snapshotID(os, on) == id {
			return fmt.Errorf("snapshot ID %d is taken by snapshot %s of media set %s; rename the snapshot: %w", id, on, os, ErrInvalid)
		}
	}
	return nil
}

// finishPendingSnapshots removes the trees of PutSnapshot calls that did not
// finish (their marker is still there, so their record was never written)
// and the markers. Open runs it on a read-write catalog.
func (c *Catalog) finishPendingSnapshots() error {
	return c.bulk(func(db *badger.DB) error {
		var pending [][]byte
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pendingPrefix)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				pending = append(pending, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range pending {
			set, name, ok := parseSetNameKey(k, pendingPrefix)
			if !ok {
				return fmt.Errorf("key %q is not a snapshot marker: %w", k, ErrCorrupt)
			}
			if _, err := deletePrefix(db, treeSnapPrefix(set, name)); err != nil {
				return err
			}
			if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(k) }); err != nil {
				return err
			}
		}
		return nil
	})
}
