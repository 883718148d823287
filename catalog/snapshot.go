package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// Root is the hash (hex) of the tree's top listing (dirtree.go);
	// records of schema 1 have none until Open migrates them.
	Root string `json:"root,omitempty"`
}

type archiveRecord struct {
	Media uuid.UUID `json:"media"`
	File  uint64    `json:"file"`
	Part  int       `json:"part"`
}

// encodeSnapshot returns the stored value of s with the tree whose top
// listing is top (zero: none): valueV1 and the JSON snapshotRecord. s is
// normalized and validated first; errors wrap ErrInvalid.
func encodeSnapshot(s Snapshot, top dirHash) ([]byte, error) {
	s = s.normalize()
	if err := s.validate(); err != nil {
		return nil, err
	}
	r := snapshotRecord{Set: s.Set, Name: s.Name, Pool: s.Pool, Ctime: s.Ctime, Files: s.Files, Bytes: s.Bytes,
		LinksCounted: s.LinksCounted, Archives: make([]archiveRecord, 0, len(s.Archives))}
	if top != (dirHash{}) {
		r.Root = hex.EncodeToString(top[:])
	}
	for _, a := range s.Archives {
		r.Archives = append(r.Archives, archiveRecord(a))
	}
	return encodeJSONValue(r)
}

// decodeSnapshot parses a stored snapshot value. It accepts only what
// encodeSnapshot can produce. Errors wrap ErrCorrupt.
func decodeSnapshot(b []byte) (Snapshot, error) {
	s, _, err := decodeSnapshotRecord(b)
	return s, err
}

// decodeSnapshotRecord is decodeSnapshot that also returns the hash of the
// tree's top listing (zero in a record of schema 1).
func decodeSnapshotRecord(b []byte) (Snapshot, dirHash, error) {
	var r snapshotRecord
	if err := decodeJSONValue(b, &r); err != nil {
		return Snapshot{}, dirHash{}, fmt.Errorf("snapshot value: %w", err)
	}
	if r.Archives == nil {
		return Snapshot{}, dirHash{}, fmt.Errorf("snapshot value has no archive list: %w", ErrCorrupt)
	}
	var top dirHash
	if r.Root != "" {
		h, err := hex.DecodeString(r.Root)
		if err != nil || len(h) != 32 || hex.EncodeToString(h) != r.Root || dirHash(h) == (dirHash{}) {
			return Snapshot{}, dirHash{}, fmt.Errorf("snapshot value has a bad root %q: %w", r.Root, ErrCorrupt)
		}
		top = dirHash(h)
	}
	s := Snapshot{Set: r.Set, Name: r.Name, Pool: r.Pool, Ctime: r.Ctime, Files: r.Files, Bytes: r.Bytes, LinksCounted: r.LinksCounted}
	for _, a := range r.Archives {
		s.Archives = append(s.Archives, ArchiveLoc(a))
	}
	s = s.normalize()
	if err := s.validate(); err != nil {
		return Snapshot{}, dirHash{}, fmt.Errorf("snapshot value: %v: %w", err, ErrCorrupt)
	}
	return s, top, nil
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
// the same name in the same media set. It returns once everything is
// synced.
//
// tree lists every entry of the snapshot, in any order: Path is relative and
// slash-separated ("" is the snapshot's root directory, "dir/file" a file in
// dir), with no empty, "." or ".." element and no NUL byte; other bytes,
// including invalid UTF-8, are allowed. Every entry's parent directory must
// be in tree too, except the root, which may be left out. Value is the
// engine's encoding of the entry, opaque to the catalog; any size.
//
// Directories are stored by content (dirtree.go): one that the media set
// holds already, from any snapshot, is not stored again. The tree goes in
// with batched writes, and the snapshot record is written only after all
// of them are synced: a crash midway leaves the snapshot as it was (absent,
// or the one it replaces), and the next read-write Open removes what the
// unfinished call wrote; calling PutSnapshot again completes the commit.
// s.Set must have a record and s.Pool must be its pool. Errors: ErrInvalid
// (s or tree breaks the rules above, or s's ID collides with another
// snapshot's; nothing written), ErrNotFound (no such media set),
// ErrCorrupt, ErrReadOnly, ErrClosed.
func (c *Catalog) PutSnapshot(s Snapshot, tree []TreeEntry) error {
	sorted := slices.Clone(tree)
	slices.SortStableFunc(sorted, func(a, b TreeEntry) int {
		switch {
		case walkLess(a.Path, b.Path):
			return -1
		case walkLess(b.Path, a.Path):
			return 1
		}
		return 0
	})
	return c.PutSnapshotFunc(s, func(yield func(TreeEntry) error) error {
		for _, e := range sorted {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutSnapshotFunc is PutSnapshot for a tree too large to hold: walk calls
// yield with every entry in the order WalkTree gives them (each directory
// right before its subtree, siblings in byte order of their names; the
// root first, if it is stored) and returns yield's error. PutSnapshotFunc
// calls walk up to three times (to check the order, to count hard links,
// to store) and keeps only the directories on the current path in memory.
// An entry's TreeEntry.Links is ignored. Errors as PutSnapshot; a tree out
// of order is ErrInvalid, and nothing is written.
func (c *Catalog) PutSnapshotFunc(s Snapshot, walk func(yield func(TreeEntry) error) error) error {
	s = s.normalize()
	s.LinksCounted = c.treeLink != nil
	if _, err := encodeSnapshot(s, dirHash{}); err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name, err)
	}
	links, err := checkTreeWalk(walk, c.treeLink)
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", s.Name, err)
	}
	err = c.bulk(func(db *badger.DB) error {
		replaced := false
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
			if _, err := txn.Get(snapKey(s.Set, s.Name)); err == nil {
				replaced = true
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			return checkSnapshotIDFree(txn, s.Set, s.Name)
		})
		if err != nil {
			return err
		}
		// A marker, so that Open removes what this wrote if it does not
		// finish.
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(pendingKey(s.Set, s.Name), []byte{valueV1}) }); err != nil {
			return err
		}
		tw := newTreeWriter(db, s.Set, func(p string) uint32 { return links[p] })
		tw.room = c.space.wrote
		top, err := writeTreeWalk(tw, walk)
		if err != nil {
			tw.cancel()
			return errors.Join(fmt.Errorf("write tree: %w", err), dropPending(db, s.Set, s.Name))
		}
		if c.beforeSnapshotRecord != nil {
			if err := c.beforeSnapshotRecord(); err != nil {
				return err
			}
		}
		val, err := encodeSnapshot(s, top)
		if err != nil {
			return err
		}
		err = db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(snapKey(s.Set, s.Name), val); err != nil {
				return err
			}
			return txn.Delete(pendingKey(s.Set, s.Name))
		})
		if err != nil || !replaced {
			return err
		}
		// What the replaced tree held alone is garbage now.
		return sweepSet(db, s.Set)
	})
	if err != nil {
		return fmt.Errorf("put snapshot %s of media set %s: %w", s.Name, s.Set, err)
	}
	return nil
}

// writeTreeWalk stores the entries walk yields and returns the top hash.
func writeTreeWalk(tw *treeWriter, walk func(func(TreeEntry) error) error) (dirHash, error) {
	if err := walk(tw.add); err != nil {
		return dirHash{}, err
	}
	return tw.finish()
}

// dropPending removes what an unfinished PutSnapshot of name wrote to set,
// and its marker.
func dropPending(db *badger.DB, set uuid.UUID, name string) error {
	if err := sweepSet(db, set); err != nil {
		return err
	}
	return db.Update(func(txn *badger.Txn) error { return txn.Delete(pendingKey(set, name)) })
}

// checkTreeWalk checks that walk yields a valid tree in walk order and
// returns the number of names of every entry that hard links name (link
// returns the path an entry's value is a hard link to, or ""; nil counts
// none). It walks once, and a second time when there are links, to check
// that every link names another entry. Errors wrap ErrInvalid.
func checkTreeWalk(walk func(func(TreeEntry) error) error, link func([]byte) (string, error)) (map[string]uint32, error) {
	oc := newOrderCheck()
	var links map[string]uint32
	err := walk(func(e TreeEntry) error {
		if err := oc.add(e); err != nil {
			return err
		}
		if link == nil {
			return nil
		}
		target, err := link(e.Value)
		if err != nil {
			return fmt.Errorf("tree path %q: %v: %w", e.Path, err, ErrInvalid)
		}
		if target == "" {
			return nil
		}
		if target == e.Path {
			return fmt.Errorf("tree path %q is a hard link to itself: %w", e.Path, ErrInvalid)
		}
		if links == nil {
			links = map[string]uint32{}
		}
		if links[target] == 0 {
			links[target] = 1
		}
		if links[target] == math.MaxUint32 {
			return fmt.Errorf("tree path %q has more than %d hard links: %w", target, uint32(math.MaxUint32), ErrInvalid)
		}
		links[target]++
		return nil
	})
	if err == nil {
		_, err = oc.finish()
	}
	if err != nil || len(links) == 0 {
		return links, err
	}
	found := 0
	err = walk(func(e TreeEntry) error {
		if links[e.Path] > 0 {
			found++
		}
		return nil
	})
	if err == nil && found != len(links) {
		// Name one of them.
		missing := ""
		seen := map[string]bool{}
		_ = walk(func(e TreeEntry) error { seen[e.Path] = links[e.Path] > 0; return nil })
		for t := range links {
			if !seen[t] && (missing == "" || t < missing) {
				missing = t
			}
		}
		err = fmt.Errorf("a tree entry is a hard link to %q, which is not another entry of the tree: %w", missing, ErrInvalid)
	}
	return links, err
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

// finishPendingSnapshots removes what PutSnapshot calls that did not
// finish wrote (their marker is still there, so their record was never
// written) and the markers. Open runs it on a read-write catalog.
func (c *Catalog) finishPendingSnapshots() error {
	// Looked up first, outside bulk: an Open with nothing to finish
	// writes nothing, so it needs no room for writes (space.go).
	var pending [][]byte
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pendingPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			pending = append(pending, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(pending) == 0 {
		return err
	}
	return c.bulk(func(db *badger.DB) error {
		for _, k := range pending {
			set, name, ok := parseSetNameKey(k, pendingPrefix)
			if !ok {
				return fmt.Errorf("key %q is not a snapshot marker: %w", k, ErrCorrupt)
			}
			if err := dropPending(db, set, name); err != nil {
				return err
			}
		}
		return nil
	})
}
