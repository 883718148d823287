package catalog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// TreeEntry is one entry of a snapshot's file tree: its path relative to the
// snapshot root ("" for the root itself) and the engine's encoding of it,
// which the catalog stores without looking inside (Options.TreeLink aside).
type TreeEntry struct {
	Path  string
	Value []byte
	// Links is the number of names of an entry that other entries of its
	// tree are hard links to (2 or more), else 0. PutSnapshot ignores it
	// and counts the links with Options.TreeLink; reads return what it
	// stored. It is 0 everywhere in a tree stored without TreeLink
	// (Snapshot.LinksCounted false).
	Links uint32
}

// splitLast splits p at its last slash; dir is "" when there is none.
func splitLast(p string) (dir, name string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// checkTreePath accepts "" (the root) and relative slash-separated paths
// without empty, "." or ".." elements and without NUL.
func checkTreePath(p string) error {
	if p == "" {
		return nil
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("tree path %q contains a NUL byte: %w", p, ErrInvalid)
	}
	for e := range strings.SplitSeq(p, "/") {
		if e == "" || e == "." || e == ".." {
			return fmt.Errorf("tree path %q has an empty, \".\" or \"..\" element: %w", p, ErrInvalid)
		}
	}
	return nil
}

// uvarint reads a minimal unsigned varint; l <= 0 when b does not start
// with one.
func uvarint(b []byte) (v uint64, l int) {
	v, l = binary.Uvarint(b)
	if l <= 0 || l != len(binary.AppendUvarint(nil, v)) {
		return 0, -1
	}
	return v, l
}

// treeView runs fn in a read transaction with the top listing of snapshot;
// the tree of a snapshot without a record (a PutSnapshot that did not
// finish) is invisible.
func (c *Catalog) treeView(set uuid.UUID, snapshot string, fn func(txn *badger.Txn, top dirHash) error) error {
	return c.view(func(txn *badger.Txn) error {
		item, err := txn.Get(snapKey(set, snapshot))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("snapshot: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		var top dirHash
		err = item.Value(func(v []byte) error {
			_, top, err = decodeSnapshotRecord(v)
			return err
		})
		if err != nil {
			return err
		}
		if top == (dirHash{}) {
			return fmt.Errorf("snapshot record names no tree: %w", ErrCorrupt)
		}
		return fn(txn, top)
	})
}

// treeEntry turns a listing entry into the TreeEntry at path p.
func treeEntry(txn *badger.Txn, set uuid.UUID, p string, e *dirEntry) (TreeEntry, error) {
	v, err := entryValue(txn, set, e)
	if err != nil {
		return TreeEntry{}, fmt.Errorf("entry %q: %w", p, err)
	}
	return TreeEntry{Path: p, Value: v, Links: e.links}, nil
}

// TreeEntry returns the stored value of the entry at path p in snapshot
// snapshot of media set set ("" for the root). Errors: ErrNotFound (no such
// snapshot or entry), ErrInvalid (malformed path), ErrCorrupt, ErrClosed.
func (c *Catalog) TreeEntry(set uuid.UUID, snapshot, p string) ([]byte, error) {
	e, err := c.GetTreeEntry(set, snapshot, p)
	return e.Value, err
}

// GetTreeEntry is TreeEntry returning the whole entry: path, value and
// number of names (TreeEntry.Links). It reads one listing page per path
// element. Errors as TreeEntry.
func (c *Catalog) GetTreeEntry(set uuid.UUID, snapshot, p string) (TreeEntry, error) {
	if err := checkTreePath(p); err != nil {
		return TreeEntry{}, err
	}
	var te TreeEntry
	err := c.treeView(set, snapshot, func(txn *badger.Txn, top dirHash) error {
		e, err := resolve(txn, set, top, p)
		if err != nil {
			return err
		}
		if e.flags&dirNoValue != 0 {
			return ErrNotFound // a root that was not stored
		}
		te, err = treeEntry(txn, set, p, &e)
		return err
	})
	if err != nil {
		return TreeEntry{}, fmt.Errorf("entry %q of snapshot %s in media set %s: %w", p, snapshot, set, err)
	}
	return te, nil
}

// ListTree calls fn for each direct child of directory dir ("" for the root)
// in snapshot snapshot of media set set, in name order (bytes), with the
// child's full path; it reads the directory's listing and nothing else. An
// entry without children lists nothing. fn must not call methods of c; if
// it returns an error, ListTree stops and returns it wrapped. Errors:
// ErrNotFound (no such snapshot, or no entry dir), ErrInvalid (malformed
// dir), ErrCorrupt, ErrClosed, or fn's.
func (c *Catalog) ListTree(set uuid.UUID, snapshot, dir string, fn func(TreeEntry) error) error {
	if err := checkTreePath(dir); err != nil {
		return err
	}
	err := c.treeView(set, snapshot, func(txn *badger.Txn, top dirHash) error {
		d, err := resolve(txn, set, top, dir)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("directory: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		return listChildren(txn, set, dir, &d, fn)
	})
	if err != nil {
		return fmt.Errorf("list %q in snapshot %s of media set %s: %w", dir, snapshot, set, err)
	}
	return nil
}

// listChildren calls fn with each child of the entry d at path dir.
func listChildren(txn *badger.Txn, set uuid.UUID, dir string, d *dirEntry, fn func(TreeEntry) error) error {
	if d.flags&dirChildren == 0 {
		return nil
	}
	return listPages(txn, set, d.child, func(ents []dirEntry) error {
		for i := range ents {
			if ents[i].name == "" || ents[i].flags&dirNoValue != 0 {
				return fmt.Errorf("directory %q holds an entry without a name or value: %w", dir, ErrCorrupt)
			}
			te, err := treeEntry(txn, set, joinPath(dir, ents[i].name), &ents[i])
			if err != nil {
				return err
			}
			if err := fn(te); err != nil {
				return err
			}
		}
		return nil
	})
}

// WalkTree calls fn for every entry of snapshot snapshot of media set set in
// depth-first order: the root (if stored) first, then each directory's
// children in name order, every child followed by its own subtree (the
// order of filepath.WalkDir). It holds one listing page per level in
// memory. fn must not call methods of c; if it returns an error, WalkTree
// stops and returns it wrapped. Errors: ErrNotFound (no such snapshot),
// ErrCorrupt, ErrClosed, or fn's.
func (c *Catalog) WalkTree(set uuid.UUID, snapshot string, fn func(TreeEntry) error) error {
	err := c.treeView(set, snapshot, func(txn *badger.Txn, top dirHash) error {
		return walkTxn(txn, set, top, fn)
	})
	if err != nil {
		return fmt.Errorf("walk snapshot %s of media set %s: %w", snapshot, set, err)
	}
	return nil
}

// WalkSubtree is WalkTree from the entry at path dir: that entry first,
// then its subtree, in the same order. It reads the listings of the
// directories on the way down and of the subtree, nothing else of the
// snapshot. Errors: ErrNotFound (no such snapshot or entry), ErrInvalid
// (malformed dir), ErrCorrupt, ErrClosed, or fn's.
func (c *Catalog) WalkSubtree(set uuid.UUID, snapshot, dir string, fn func(TreeEntry) error) error {
	if err := checkTreePath(dir); err != nil {
		return err
	}
	if dir == "" {
		return c.WalkTree(set, snapshot, fn)
	}
	err := c.treeView(set, snapshot, func(txn *badger.Txn, top dirHash) error {
		d, err := resolve(txn, set, top, dir)
		if err != nil {
			return err
		}
		te, err := treeEntry(txn, set, dir, &d)
		if err != nil {
			return err
		}
		if err := fn(te); err != nil {
			return err
		}
		return walkBelow(txn, set, dir, &d, fn)
	})
	if err != nil {
		return fmt.Errorf("walk %q in snapshot %s of media set %s: %w", dir, snapshot, set, err)
	}
	return nil
}

// walkTxn is WalkTree inside a read transaction, from the top listing top.
func walkTxn(txn *badger.Txn, set uuid.UUID, top dirHash, fn func(TreeEntry) error) error {
	root, err := resolve(txn, set, top, "")
	if err != nil {
		return err
	}
	if root.flags&dirNoValue == 0 {
		te, err := treeEntry(txn, set, "", &root)
		if err != nil {
			return err
		}
		if err := fn(te); err != nil {
			return err
		}
	}
	return walkBelow(txn, set, "", &root, fn)
}

// walkBelow calls fn for every entry below d (at path dir) in walk order.
func walkBelow(txn *badger.Txn, set uuid.UUID, dir string, d *dirEntry, fn func(TreeEntry) error) error {
	if d.flags&dirChildren == 0 {
		return nil
	}
	return listPages(txn, set, d.child, func(ents []dirEntry) error {
		for i := range ents {
			e := &ents[i]
			if e.name == "" || e.flags&dirNoValue != 0 {
				return fmt.Errorf("directory %q holds an entry without a name or value: %w", dir, ErrCorrupt)
			}
			p := joinPath(dir, e.name)
			te, err := treeEntry(txn, set, p, e)
			if err != nil {
				return err
			}
			if err := fn(te); err != nil {
				return err
			}
			if err := walkBelow(txn, set, p, e, fn); err != nil {
				return err
			}
		}
		return nil
	})
}
