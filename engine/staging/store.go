// The store itself: opening, journal replay, nodes, freezing for a commit
// and the budget. Over 600 lines: replay and the node table it rebuilds
// are one piece whose invariants must be read together.

package staging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// ID names a node of the store; RootID is the incoming/ directory itself.
type ID uint64

// RootID is the root directory of every store.
const RootID ID = 1

// Rename flags (as renameat2).
const (
	RenameNoReplace = unix.RENAME_NOREPLACE
	RenameExchange  = unix.RENAME_EXCHANGE
)

// Xattr flags (as setxattr).
const (
	XattrCreate  = unix.XATTR_CREATE
	XattrReplace = unix.XATTR_REPLACE
)

// Options configure a store.
type Options struct {
	// Sync makes a flush (close) of a written file fsync its data and the
	// journal: the file then survives power loss, at a cost in throughput.
	Sync bool
	// Logf receives one line per notable event (removed incomplete files,
	// a torn journal tail, a full staging filesystem); nil discards.
	Logf func(format string, args ...any)
	// Now is the clock for times the store sets; nil means time.Now.
	Now func() time.Time
	// KeepFree is free space of the staging filesystem that file data
	// never takes: a write that would leave less fails with ENOSPC (and
	// Statfs reports it as used). The engine keeps the catalog's room
	// (catalog.KeepFree) when both share the state directory's
	// filesystem. The journal may use it (removing files must work on a
	// full filesystem).
	KeepFree int64
}

// Attr is the metadata of one node.
type Attr struct {
	ID                  ID
	Mode                uint32 // st_mode: file type and permission bits
	UID, GID            uint32
	Rdev                uint64
	Size                int64
	Nlink               uint32
	Atime, Mtime, Ctime time.Time
	Target              string // symlink target
}

// IsDir reports whether a is a directory.
func (a Attr) IsDir() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// IsRegular reports whether a is a regular file.
func (a Attr) IsRegular() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFREG }

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	ID   ID
	Mode uint32 // file type bits only
}

// SetAttrs are the changes of one SetAttr call; nil fields stay.
type SetAttrs struct {
	Mode         *uint32 // permission bits (07777)
	UID, GID     *uint32
	Size         *int64
	Atime, Mtime *time.Time // clamped to the years 1 to 9999 a snapshot holds
}

// node is one node in memory.
type node struct {
	nodeMeta
	size     int64
	nlink    uint32        // directory entries naming the node
	children map[string]ID // directories
	subdirs  uint32        // directories among children
	parent   ID            // directories: the one parent
	name     string        // directories: the name in parent
	gen      uint64        // bumped on every change of data or metadata
	open     int           // open File handles
	writers  int           // open File handles opened for writing
	// sessions counts the open handles that changed the file since they
	// were opened or last flushed (File.session): while any is left,
	// the file is being written.
	sessions int
	// lost: a write of the file failed (a full filesystem), so it does
	// not hold everything written to it from lostAt on. Until that range
	// is truncated away, no Flush completes the file (see File.WriteAt).
	lost   error
	lostAt int64
	pinned int // freezes that may read the data
	// inMem: a regular file being written whose data is mem (not yet in
	// a pack or a data file of its own; see pack.go).
	inMem bool
	mem   []byte
}

func (n *node) isDir() bool { return n.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (n *node) isReg() bool { return n.Mode&syscall.S_IFMT == syscall.S_IFREG }

// Store is one pool's staging tree. Its methods are safe for concurrent
// use: one mutex guards the tree and the journal; file data is read and
// written outside it.
type Store struct {
	dir  string
	opts Options
	lock *os.File

	mu       sync.Mutex
	nodes    map[ID]*node
	next     ID
	j        *os.File
	jsize    int64
	jres     int64 // the journal's blocks are allocated up to here (reserveJournal)
	jresNext int64 // after a failed reservation: the journal size to try again at
	buf      []byte
	held     []byte              // encoded records held back, written ahead of the next (see holdBack)
	deferred map[ID]deferredData // unlinked files still pinned by freezes
	closed   bool

	packs    map[uint64]*pack
	active   *pack  // the pack appended to; nil until the first append
	nextPack uint64 // number of the next new pack
	loading  bool   // the journal is being replayed
	memBytes int64  // data of files in memory (node.mem)
	room     int64  // bytes that may go to memory before statfs is asked again
	diskRoom int64  // bytes of file data that may be written before statfs is asked again (KeepFree)
}

// deferredData is the data of a file that was unlinked while freezes
// pinned it: pins left, its metadata (where its data is) and, for a file
// that was still in memory, its data.
type deferredData struct {
	pins  int
	meta  nodeMeta
	gen   uint64 // the node's last generation (Frozen.changed)
	inMem bool
	mem   []byte
}

// ErrLocked is returned by Open when another process has the store open.
var ErrLocked = errors.New("staging store is in use by another process")

// Open opens (creating if needed) the store in dir, replays its journal,
// removes files that were being written when the last process died and
// data files nothing points at, and rewrites the journal compactly.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, fmt.Errorf("staging store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("staging store: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("staging store lock: %w", err)
	}
	s := &Store{dir: dir, opts: opts, lock: lock, nodes: map[ID]*node{}, next: RootID + 1,
		deferred: map[ID]deferredData{}, packs: map[uint64]*pack{}, nextPack: 1}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the journal and releases the store. Open files and freezes
// must be released first.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	var err error
	if s.j != nil {
		err = s.journal() // what is held back
		if cerr := s.j.Close(); err == nil {
			err = cerr
		}
	}
	s.closePacks()
	s.closed = true
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) journalPath() string { return filepath.Join(s.dir, "journal") }

func (s *Store) dataPath(id ID) string {
	return filepath.Join(s.dir, "data", fmt.Sprintf("%02x", uint64(id)&0xff), strconv.FormatUint(uint64(id), 16))
}

// load replays the journal and cleans up after a crash.
func (s *Store) load() error {
	b, err := os.ReadFile(s.journalPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("staging journal: %w", err)
	}
	rest := b
	s.loading = true
	defer func() { s.loading = false }()
	for len(rest) > 0 {
		payload, r, ok := nextFrame(rest)
		if !ok {
			s.opts.Logf("staging %s: ignoring %d bytes of a torn journal tail", s.dir, len(rest))
			break
		}
		rest = r
		rec, err := decodeRecord(payload)
		if err == nil {
			err = s.apply(rec)
		}
		if err != nil {
			s.opts.Logf("staging %s: skipping journal record: %v", s.dir, err)
		}
	}
	if s.nodes[RootID] == nil {
		now := stampOf(s.opts.Now())
		s.nodes[RootID] = &node{nodeMeta: nodeMeta{ID: RootID, Mode: syscall.S_IFDIR | 0o755,
			UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Atime: now, Mtime: now, Ctime: now},
			children: map[string]ID{}, nlink: 1}
	}
	// Files being written when the process died are incomplete.
	var removed []record
	for _, d := range s.nodes {
		if !d.isDir() {
			continue
		}
		for name, id := range d.children {
			c := s.nodes[id]
			if c != nil && c.isReg() && c.Dirty {
				s.opts.Logf("staging %s: removing %q (id %d): it was being written when the daemon stopped", s.dir, name, id)
				delete(d.children, name)
				c.nlink--
				removed = append(removed, record{op: opUnlink, parent: d.ID, name: name})
			}
		}
	}
	// Keep what the root reaches; drop the rest and its data.
	live := map[ID]bool{}
	var mark func(id ID)
	mark = func(id ID) {
		if live[id] {
			return
		}
		live[id] = true
		for _, c := range s.nodes[id].children {
			if s.nodes[c] != nil {
				mark(c)
			}
		}
	}
	mark(RootID)
	for id, n := range s.nodes {
		if !live[id] {
			delete(s.nodes, id)
			continue
		}
		if n.isReg() {
			n.Dirty = false
		}
		if n.isReg() && n.Pack == 0 {
			fi, err := os.Stat(s.dataPath(id))
			switch {
			case err == nil:
				n.size = fi.Size()
			case errors.Is(err, os.ErrNotExist):
				s.opts.Logf("staging %s: data of file id %d is missing: it is empty now", s.dir, id)
				f, err := s.createData(id)
				if err != nil {
					return err
				}
				f.Close()
			default:
				return fmt.Errorf("staging data: %w", err)
			}
		}
	}
	if err := s.loadPacks(); err != nil {
		return err
	}
	if err := s.removeStrayData(); err != nil {
		return err
	}
	hadRoot := len(b) > 0
	if err := s.compactLocked(); err != nil {
		if !errors.Is(err, syscall.ENOSPC) {
			return err
		}
		// The staging filesystem is full: the store still opens, on
		// its journal as it is, so what is staged can be committed
		// (which frees the space).
		s.opts.Logf("staging %s: no room to rewrite the journal; appending to it as it is", s.dir)
		return s.appendAfterLoad(hadRoot, removed)
	}
	return nil
}

// appendAfterLoad opens the journal for appending, with the changes load
// made in memory (files removed as incomplete, and the root of a new
// store) appended: replaying it gives the tree as loaded.
func (s *Store) appendAfterLoad(hadRoot bool, removed []record) error {
	var buf []byte
	if !hadRoot {
		buf = (&record{op: opNode, node: s.nodes[RootID].nodeMeta}).encode(buf)
	}
	for i := range removed {
		buf = removed[i].encode(buf)
	}
	j, err := os.OpenFile(s.journalPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return s.ioErr("open journal", err)
	}
	fi, err := j.Stat()
	if err != nil {
		j.Close()
		return s.ioErr("open journal", err)
	}
	if len(buf) > 0 {
		if n, err := j.Write(buf); err != nil {
			if n > 0 {
				j.Truncate(fi.Size())
			}
			j.Close()
			return s.ioErr("write journal", err)
		}
	}
	s.j, s.jsize, s.jres, s.jresNext = j, fi.Size()+int64(len(buf)), 0, 0
	s.reserveJournal()
	return nil
}

// journalReserve is the space kept allocated past the journal's end, so
// that on a full staging filesystem the records of removals still fit and
// files can be deleted from incoming/ to make room (with write(2) alone,
// appending would need new blocks the filesystem no longer has). Other
// records use it too; ~70 bytes a removal, so a full reserve holds some
// ten thousand.
const journalReserve = 1 << 20

// reserveJournal allocates blocks for the journal up to journalReserve
// past its end (keeping its size) once less than half of that is left.
// Best effort: a full filesystem keeps what it has (and is asked again
// after another 64 KiB of journal), one without fallocate never gets it.
func (s *Store) reserveJournal() {
	if s.jres-s.jsize >= journalReserve/2 || s.jresNext < 0 || s.jsize < s.jresNext {
		return
	}
	err := unix.Fallocate(int(s.j.Fd()), unix.FALLOC_FL_KEEP_SIZE, s.jsize, journalReserve)
	switch {
	case err == nil:
		s.jres = s.jsize + journalReserve
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS):
		s.jresNext = -1
	default:
		s.jresNext = s.jsize + 64<<10
	}
}

// removeStrayData removes data files of nodes that do not exist or whose
// data is packed (a copy-up cut short).
func (s *Store) removeStrayData() error {
	top := filepath.Join(s.dir, "data")
	subs, err := os.ReadDir(top)
	if err != nil {
		return fmt.Errorf("staging data: %w", err)
	}
	for _, sub := range subs {
		names, err := os.ReadDir(filepath.Join(top, sub.Name()))
		if err != nil {
			continue
		}
		for _, f := range names {
			id, err := strconv.ParseUint(f.Name(), 16, 64)
			if n := s.nodes[ID(id)]; err != nil || n == nil || !n.isReg() || n.Pack != 0 {
				os.Remove(filepath.Join(top, sub.Name(), f.Name()))
			}
		}
	}
	return nil
}

// createData creates (or empties) the data file of id and returns it
// open for reading and writing.
func (s *Store) createData(id ID) (*os.File, error) {
	f, err := createFile(s.dataPath(id))
	if err != nil {
		return nil, s.ioErr("create staged file", err)
	}
	return f, nil
}

// createFile creates (or empties) the file at p, and its directory if
// needed. The descriptor is opened blocking and wrapped with os.NewFile,
// so it stays out of the runtime's poller (a regular file gains nothing
// there, and registering costs a syscall).
func createFile(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ENOENT) {
		if err = os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
			fd, err = unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openData opens the existing data file of id for reading and writing
// (outside the poller, as createData).
func (s *Store) openData(id ID) (*os.File, error) {
	p := s.dataPath(id)
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, s.ioErr("open staged file", &os.PathError{Op: "open", Path: p, Err: err})
	}
	return os.NewFile(uintptr(fd), p), nil
}

// ioErr wraps an error of the staging filesystem; a full filesystem is
// logged (the writer only sees ENOSPC).
func (s *Store) ioErr(what string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.opts.Logf("staging %s: %s: the staging filesystem is full (free space or remove files in incoming/)", s.dir, what)
		return syscall.ENOSPC
	}
	return fmt.Errorf("staging %s: %s: %w", s.dir, what, err)
}

// apply changes the tree by one record. Live operations validate first,
// journal, then apply; replay applies the same records in order.
func (s *Store) apply(r record) error {
	switch r.op {
	case opNode:
		n := s.nodes[r.node.ID]
		if n == nil {
			n = &node{}
			s.nodes[r.node.ID] = n
		}
		if old := n.Pack; old != r.node.Pack {
			s.packRef(r.node.Pack, 1)
			s.packRef(old, -1)
		}
		if r.node.Pack != 0 {
			n.size = r.node.PackLen
		}
		n.nodeMeta = r.node
		if n.isDir() && n.children == nil {
			n.children = map[string]ID{}
		}
		if r.node.ID >= s.next {
			s.next = r.node.ID + 1
		}
		n.gen++
	case opLink:
		p, c := s.nodes[r.parent], s.nodes[r.id]
		if p == nil || !p.isDir() || c == nil {
			return fmt.Errorf("link %d/%q → %d: %w", r.parent, r.name, r.id, errCorrupt)
		}
		if old, ok := p.children[r.name]; ok {
			s.unref(p, old)
		}
		p.children[r.name] = r.id
		c.nlink++
		if c.isDir() {
			c.parent, c.name = r.parent, r.name
			p.subdirs++
		}
	case opUnlink:
		p := s.nodes[r.parent]
		if p == nil || !p.isDir() {
			return fmt.Errorf("unlink %d/%q: %w", r.parent, r.name, errCorrupt)
		}
		id, ok := p.children[r.name]
		if !ok {
			return fmt.Errorf("unlink %d/%q: no such entry: %w", r.parent, r.name, errCorrupt)
		}
		delete(p.children, r.name)
		s.unref(p, id)
	case opRename:
		p, np := s.nodes[r.parent], s.nodes[r.newParent]
		if p == nil || np == nil || !p.isDir() || !np.isDir() {
			return fmt.Errorf("rename %d/%q: %w", r.parent, r.name, errCorrupt)
		}
		id, ok := p.children[r.name]
		if !ok {
			return fmt.Errorf("rename %d/%q: no such entry: %w", r.parent, r.name, errCorrupt)
		}
		c := s.nodes[id]
		if r.exchange {
			oid, ok := np.children[r.newName]
			if !ok {
				return fmt.Errorf("exchange with %d/%q: no such entry: %w", r.newParent, r.newName, errCorrupt)
			}
			o := s.nodes[oid]
			p.children[r.name], np.children[r.newName] = oid, id
			if c.isDir() {
				c.parent, c.name = r.newParent, r.newName
				p.subdirs--
				np.subdirs++
			}
			if o.isDir() {
				o.parent, o.name = r.parent, r.name
				np.subdirs--
				p.subdirs++
			}
			return nil
		}
		if old, ok := np.children[r.newName]; ok {
			if old == id {
				return nil
			}
			delete(np.children, r.newName)
			s.unref(np, old)
		}
		delete(p.children, r.name)
		np.children[r.newName] = id
		if c.isDir() {
			c.parent, c.name = r.newParent, r.newName
			p.subdirs--
			np.subdirs++
		}
	default:
		return fmt.Errorf("op %d: %w", r.op, errCorrupt)
	}
	return nil
}

// unref drops one name of id (already removed from parent p's children).
func (s *Store) unref(p *node, id ID) {
	c := s.nodes[id]
	if c == nil {
		return
	}
	c.nlink--
	if c.isDir() {
		p.subdirs--
	}
}

// maybeDrop forgets n once nothing names or uses it, and removes its data
// unless a freeze still needs it.
func (s *Store) maybeDrop(id ID) {
	n := s.nodes[id]
	if n == nil || n.nlink > 0 || n.open > 0 || id == RootID {
		return
	}
	delete(s.nodes, id)
	if !n.isReg() {
		return
	}
	if n.inMem {
		s.memBytes -= int64(len(n.mem))
		if n.pinned > 0 {
			s.deferred[id] = deferredData{pins: n.pinned, meta: n.nodeMeta, gen: n.gen, inMem: true, mem: n.mem}
		}
		n.inMem, n.mem = false, nil
		return
	}
	if n.pinned > 0 {
		s.deferred[id] = deferredData{pins: n.pinned, meta: n.nodeMeta, gen: n.gen}
		return
	}
	if n.Pack != 0 {
		s.packRef(n.Pack, -1)
		return
	}
	os.Remove(s.dataPath(id))
}

// journal appends records to the journal (one write, after the records
// held back) and applies them. A node record of a regular file that is
// being written and stays so is applied but not written: if the process
// dies before the file's Flush the file is removed at the next Open
// anyway, and the Flush writes the node's full metadata. So a file's
// chmod, utimens, xattrs and ftruncate while it is written cost no write
// (and leave what is held back held). With no records it writes what is
// held back.
func (s *Store) journal(recs ...record) error {
	if s.closed {
		return fmt.Errorf("staging %s: %w", s.dir, os.ErrClosed)
	}
	s.buf = append(s.buf[:0], s.held...)
	written := 0
	for i := range recs {
		if r := &recs[i]; r.op == opNode && r.node.Dirty {
			if n := s.nodes[r.node.ID]; n != nil && n.Dirty && n.isReg() {
				continue
			}
		}
		s.buf = recs[i].encode(s.buf)
		written++
	}
	if len(s.buf) > 0 && (written > 0 || len(recs) == 0) {
		n, err := s.j.Write(s.buf)
		if err != nil {
			// A partial frame would hide every later record: cut it off.
			if n > 0 {
				s.j.Truncate(s.jsize)
				s.j.Seek(s.jsize, io.SeekStart)
			}
			return s.ioErr("write journal", err)
		}
		s.jsize += int64(n)
		s.held = s.held[:0]
		s.reserveJournal()
	}
	for _, r := range recs {
		if err := s.apply(r); err != nil {
			return fmt.Errorf("staging %s: %w", s.dir, err)
		}
	}
	return nil
}

// holdBack applies records that need not be durable yet: those that
// create a file being written (until its Flush a crash removes it
// anyway). They are written ahead of the next journal write, so the
// journal keeps the order of the changes, and never later than that
// file's Flush (which writes a record). Held-back bytes beyond
// maxHeld are written at once.
func (s *Store) holdBack(recs ...record) error {
	if s.closed {
		return fmt.Errorf("staging %s: %w", s.dir, os.ErrClosed)
	}
	for i := range recs {
		if err := s.apply(recs[i]); err != nil {
			return fmt.Errorf("staging %s: %w", s.dir, err)
		}
		s.held = recs[i].encode(s.held)
	}
	if len(s.held) > maxHeld {
		return s.journal()
	}
	return nil
}

// maxHeld bounds the records held back (many files created and not yet
// closed).
const maxHeld = 64 << 10

// compactLocked rewrites the journal with only what is live: a node
// record for every node the root reaches and a link record for each name.
func (s *Store) compactLocked() error {
	tmp := s.journalPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return s.ioErr("compact journal", err)
	}
	var buf []byte
	seen := map[ID]bool{RootID: true}
	root := s.nodes[RootID]
	buf = (&record{op: opNode, node: root.nodeMeta}).encode(buf)
	queue := []ID{RootID}
	var werr error
	flush := func() {
		if len(buf) > 1<<20 && werr == nil {
			_, werr = f.Write(buf)
			buf = buf[:0]
		}
	}
	for len(queue) > 0 {
		d := s.nodes[queue[0]]
		queue = queue[1:]
		names := make([]string, 0, len(d.children))
		for name := range d.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			id := d.children[name]
			c := s.nodes[id]
			if !seen[id] {
				seen[id] = true
				buf = (&record{op: opNode, node: c.nodeMeta}).encode(buf)
				if c.isDir() {
					queue = append(queue, id)
				}
			}
			buf = (&record{op: opLink, parent: d.ID, name: name, id: id}).encode(buf)
			flush()
		}
	}
	if werr == nil {
		_, werr = f.Write(buf)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, s.journalPath())
	}
	if werr == nil {
		werr = syncDir(s.dir)
	}
	if werr != nil {
		os.Remove(tmp)
		return s.ioErr("compact journal", werr)
	}
	s.held = s.held[:0] // the compacted journal has it
	if s.j != nil {
		s.j.Close()
	}
	s.j, err = os.OpenFile(s.journalPath(), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return s.ioErr("open journal", err)
	}
	fi, err := s.j.Stat()
	if err != nil {
		return s.ioErr("open journal", err)
	}
	s.jsize, s.jres, s.jresNext = fi.Size(), 0, 0
	s.reserveJournal()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ---- reading ----

func (s *Store) attr(n *node) Attr {
	a := Attr{
		ID: n.ID, Mode: n.Mode, UID: n.UID, GID: n.GID, Rdev: n.Rdev, Size: n.size, Nlink: n.nlink,
		Atime: n.Atime.time(), Mtime: n.Mtime.time(), Ctime: n.Ctime.time(), Target: n.Target,
	}
	switch {
	case n.isDir():
		a.Nlink = 2 + n.subdirs
		a.Size = 4096
	case n.Mode&syscall.S_IFMT == syscall.S_IFLNK:
		a.Size = int64(len(n.Target))
	}
	return a
}

// Allocated returns the 512-byte blocks regular file id takes on the
// staging filesystem when its data is in a data file of its own (holes take
// none, as in the source of a sparse file); ok is false for packed and
// in-memory files and for other nodes, whose blocks follow their size.
func (s *Store) Allocated(id ID) (blocks int64, ok bool) {
	s.mu.Lock()
	n := s.nodes[id]
	if n == nil || !n.isReg() || n.inMem || n.Pack != 0 {
		s.mu.Unlock()
		return 0, false
	}
	p := s.dataPath(id)
	s.mu.Unlock()
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0, false // replaced meanwhile: the size will do
	}
	return st.Blocks, true
}

func (s *Store) get(id ID) (*node, error) {
	n := s.nodes[id]
	if n == nil {
		return nil, syscall.ENOENT
	}
	return n, nil
}

func (s *Store) getDir(id ID) (*node, error) {
	n, err := s.get(id)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	return n, nil
}

// GetAttr returns the metadata of id (ENOENT once it is gone).
func (s *Store) GetAttr(id ID) (Attr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return Attr{}, err
	}
	return s.attr(n), nil
}

// Lookup returns the node called name in directory parent (ENOENT;
// ENAMETOOLONG for a name longer than format.MaxNameLen, which no node
// can have).
func (s *Store) Lookup(parent ID, name string) (Attr, error) {
	if len(name) > format.MaxNameLen {
		return Attr{}, syscall.ENAMETOOLONG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getDir(parent)
	if err != nil {
		return Attr{}, err
	}
	id, ok := p.children[name]
	if !ok {
		return Attr{}, syscall.ENOENT
	}
	return s.attr(s.nodes[id]), nil
}

// ReadDir lists directory id in name order.
func (s *Store) ReadDir(id ID) ([]DirEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.getDir(id)
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, 0, len(d.children))
	for name, cid := range d.children {
		out = append(out, DirEntry{Name: name, ID: cid, Mode: s.nodes[cid].Mode & syscall.S_IFMT})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Readlink returns the target of symlink id (EINVAL for another type).
func (s *Store) Readlink(id ID) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return "", err
	}
	if n.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", syscall.EINVAL
	}
	return n.Target, nil
}

// Groups lists the top-level directories.
func (s *Store) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, id := range s.nodes[RootID].children {
		if s.nodes[id].isDir() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Statfs reports the staging filesystem, less the data of files being
// written that is still in memory (it will need the space) and
// Options.KeepFree.
func (s *Store) Statfs() (unix.Statfs_t, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return st, err
	}
	s.mu.Lock()
	mem := s.memBytes
	s.mu.Unlock()
	if st.Bsize > 0 {
		blocks := uint64((mem + s.opts.KeepFree + st.Bsize - 1) / st.Bsize)
		st.Bfree -= min(st.Bfree, blocks)
		st.Bavail -= min(st.Bavail, blocks)
	}
	return st, nil
}

// ---- names ----

// ValidGroup reports whether name can be a snapshot group (a top-level
// directory of incoming/).
func ValidGroup(name string) error {
	return format.ValidateSnapshotName(name + "/2006-01-02T15:04:05Z")
}

// relLen is the length of directory d's path below its group ("" for the
// group itself, -1 for the root).
func (s *Store) relLen(d *node) int {
	if d.ID == RootID {
		return -1
	}
	n := 0
	for d.parent != RootID {
		n += len(d.name) + 1
		d = s.nodes[d.parent]
		if d == nil {
			break
		}
	}
	if n > 0 {
		n-- // no separator before the first component
	}
	return n
}

// checkName refuses names a snapshot cannot hold: ENAMETOOLONG for a
// name longer than format.MaxNameLen (the NAME_MAX that Statfs reports)
// and for a path longer than format.MaxPathLen below its group (extra:
// the deepest path below the named node, for a directory being moved);
// EINVAL for non-directories at the top and group names that are not
// valid snapshot groups.
func (s *Store) checkName(p *node, name string, isDir bool, extra int) error {
	if len(name) > format.MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return syscall.EINVAL
	}
	if p.ID == RootID {
		if !isDir || ValidGroup(name) != nil {
			return syscall.EINVAL
		}
		return nil
	}
	l := s.relLen(p)
	if l > 0 {
		l++
	}
	if l+len(name)+extra > format.MaxPathLen {
		return syscall.ENAMETOOLONG
	}
	return nil
}

// depthBelow is the length of the longest path below directory d,
// including the separator after d ("" below a non-directory: 0).
func (s *Store) depthBelow(d *node) int {
	best := 0
	for name, id := range d.children {
		c := s.nodes[id]
		l := 1 + len(name)
		if c.isDir() {
			l += s.depthBelow(c)
		}
		best = max(best, l)
	}
	return best
}
