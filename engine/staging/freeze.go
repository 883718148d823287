package staging

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// FrozenEntry is one node of a frozen group.
type FrozenEntry struct {
	// Path is relative to the group directory ("" for the group itself).
	Path string
	Attr
	Xattrs map[string][]byte
	// Names are a directory's entries in name order.
	Names []string

	parent ID
	name   string
	gen    uint64
}

// Frozen is a consistent copy of one group's metadata, taken by Freeze.
// Its data files stay readable until Release, even if the files are
// unlinked or replaced in the tree meanwhile. Its methods are safe for
// concurrent use; Release must be called exactly once.
type Frozen struct {
	s       *Store
	group   string
	entries []*FrozenEntry // pre-order, names sorted
	byPath  map[string]*FrozenEntry
	pins    []ID
}

// Freeze copies the metadata of top-level directory group (ENOENT if it
// does not exist). A regular file being written (a handle created or
// changed it and was neither flushed by its writer nor closed since) is
// half-written and left out: it stays in the tree for the next commit.
func (s *Store) Freeze(group string) (*Frozen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, ok := s.nodes[RootID].children[group]
	if !ok || !s.nodes[gid].isDir() {
		return nil, syscall.ENOENT
	}
	fz := &Frozen{s: s, group: group, byPath: map[string]*FrozenEntry{}}
	var walk func(parent ID, name, rel string, id ID)
	walk = func(parent ID, name, rel string, id ID) {
		n := s.nodes[id]
		e := &FrozenEntry{Path: rel, Attr: s.attr(n), parent: parent, name: name, gen: n.gen}
		if len(n.Xattrs) > 0 {
			e.Xattrs = make(map[string][]byte, len(n.Xattrs))
			for k, v := range n.Xattrs {
				e.Xattrs[k] = v // values are never changed in place
			}
		}
		if n.isReg() {
			n.pinned++
			fz.pins = append(fz.pins, id)
		}
		fz.entries = append(fz.entries, e)
		fz.byPath[rel] = e
		if !n.isDir() {
			return
		}
		e.Names = make([]string, 0, len(n.children))
		for name, cid := range n.children {
			if c := s.nodes[cid]; c != nil && c.isReg() && c.being() {
				continue // being written: half-written until its writer's Flush
			}
			e.Names = append(e.Names, name)
		}
		sort.Strings(e.Names)
		for _, cn := range e.Names {
			cr := cn
			if rel != "" {
				cr = rel + "/" + cn
			}
			walk(id, cn, cr, n.children[cn])
		}
	}
	walk(RootID, group, "", gid)
	return fz, nil
}

// Group is the frozen group's name.
func (fz *Frozen) Group() string { return fz.group }

// Entries are the frozen nodes in depth-first name order, the group
// directory first.
func (fz *Frozen) Entries() []*FrozenEntry { return fz.entries }

// Lookup returns the entry at path (relative to the group), or nil.
func (fz *Frozen) Lookup(path string) *FrozenEntry { return fz.byPath[path] }

// ErrChanged is returned by a reader of Frozen.Open when the file's data
// may have changed since the freeze (written in place, truncated, replaced
// or unlinked meanwhile): what was read is not the frozen file. The file
// stays in the tree after Release, for the next commit.
var ErrChanged = errors.New("changed since the commit froze it")

// Open opens the data of the frozen regular file at path, or returns
// ErrChanged if the file changed since the freeze (its data may not be
// the frozen data any more). A packed file's data never changes where it
// is; a file in a data file of its own is read where it is, and if it
// changes while it is read, the read returns ErrChanged instead of io.EOF
// at its end.
func (fz *Frozen) Open(path string) (io.ReadCloser, error) {
	e := fz.byPath[path]
	if e == nil {
		return nil, syscall.ENOENT
	}
	if !e.IsRegular() {
		return nil, syscall.EINVAL
	}
	s := fz.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if fz.changed(e) {
		return nil, ErrChanged
	}
	var meta nodeMeta
	if n := s.nodes[e.ID]; n != nil {
		if n.inMem {
			return io.NopCloser(bytes.NewReader(bytes.Clone(n.mem))), nil
		}
		meta = n.nodeMeta
	} else if d, ok := s.deferred[e.ID]; ok {
		if d.inMem {
			return io.NopCloser(bytes.NewReader(d.mem)), nil
		}
		meta = d.meta
	} else {
		return nil, syscall.ENOENT
	}
	if meta.Pack != 0 {
		return s.openPacked(meta)
	}
	p := s.dataPath(e.ID)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, s.ioErr("open staged file", &os.PathError{Op: "open", Path: p, Err: err})
	}
	// Outside the poller, as openData.
	return &frozenReader{File: os.NewFile(uintptr(fd), p), fz: fz, e: e}, nil
}

// changed reports whether the data of frozen file e may differ from what
// it was at the freeze: its node changed (every write, truncation and
// metadata change counts) or is being written (marked dirty before a
// write reaches its data file). A file unlinked since (replaced by a
// rename, removed) is checked as it was when it went: its data, kept for
// the freeze, cannot change after that. The caller holds s.mu.
func (fz *Frozen) changed(e *FrozenEntry) bool {
	if n := fz.s.nodes[e.ID]; n != nil {
		return n.gen != e.gen || n.being()
	}
	d, ok := fz.s.deferred[e.ID]
	return !ok || d.gen != e.gen || d.meta.Dirty
}

// frozenReader reads a frozen file's data file and checks at its end that
// the file did not change while it was read.
type frozenReader struct {
	*os.File
	fz *Frozen
	e  *FrozenEntry
}

func (r *frozenReader) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	if err == io.EOF {
		r.fz.s.mu.Lock()
		changed := r.fz.changed(r.e)
		r.fz.s.mu.Unlock()
		if changed {
			return n, ErrChanged
		}
	}
	return n, err
}

// Release ends the freeze. With remove, every entry that did not change
// since Freeze (same node under the same name, no change to its data or
// metadata, not being written: open for writing or written to since its
// last Flush; for a directory, empty once its frozen entries are gone) is
// removed from the tree, deepest first, and the journal is compacted.
// It returns how many entries stayed because they changed.
func (fz *Frozen) Release(remove bool) (kept int, err error) {
	s := fz.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if remove {
		// The unlinks are applied at once and written in batches (held
		// back, see holdBack): a crash in between leaves entries that
		// are on tape in incoming/ for the next commit, nothing worse.
		// Data goes (maybeDrop) only once the unlinks are written, so a
		// pack is never emptied under a file the journal still has.
		var gone []ID
		for i := len(fz.entries) - 1; i >= 0 && err == nil; i-- {
			e := fz.entries[i]
			p := s.nodes[e.parent]
			n := s.nodes[e.ID]
			// A file still open for writing, or written since its
			// last Flush, stays even if the freeze saw its latest
			// data: unlinking it would lose what its writer writes
			// next.
			if p == nil || n == nil || p.children[e.name] != e.ID || n.gen != e.gen || n.writers > 0 || n.being() || n.inMem || (n.isDir() && len(n.children) > 0) {
				kept++
				continue
			}
			if err = s.holdBack(record{op: opUnlink, parent: e.parent, name: e.name}); err == nil {
				gone = append(gone, e.ID)
			}
		}
		if jerr := s.journal(); err == nil {
			err = jerr
		}
		if err == nil {
			for _, id := range gone {
				s.maybeDrop(id)
			}
		}
	}
	for _, id := range fz.pins {
		if n := s.nodes[id]; n != nil {
			n.pinned--
			continue
		}
		if d, ok := s.deferred[id]; ok {
			// Unlinked during the freeze: the last pin removes the data.
			d.pins--
			s.deferred[id] = d
			if d.pins <= 0 {
				delete(s.deferred, id)
				switch {
				case d.meta.Pack != 0:
					s.packRef(d.meta.Pack, -1)
				case !d.inMem:
					os.Remove(s.dataPath(id))
				}
			}
		}
	}
	fz.pins = nil
	if remove && err == nil {
		err = s.compactLocked()
	}
	return kept, err
}
