package fusefs

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/engine/staging"
)

// inNode is a node of a pool's writable incoming/ tree: a thin adapter
// over the pool's staging store (engine/staging), which holds the tree,
// the metadata journal and the file data in the state directory. Every
// operation is one store call; errors cross through Errno.
type inNode struct {
	fs.Inode
	root *Root
	pool string
	st   *staging.Store
	id   staging.ID

	// mu guards last: the attributes last reported for the node, which
	// Getattr answers (with no links) once the store forgot the node
	// while the kernel still holds it — a directory open or a cwd when
	// it was removed or renamed over, an O_PATH descriptor.
	mu   sync.Mutex
	last *staging.Attr
}

// remember records a as the node's last known attributes.
func (n *inNode) remember(a staging.Attr) {
	n.mu.Lock()
	n.last = &a
	n.mu.Unlock()
}

// removed returns the last known attributes of a node the store no longer
// has, with no links, as fstat(2) shows a removed file; false if the
// node was never reported.
func (n *inNode) removed() (staging.Attr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		return staging.Attr{}, false
	}
	a := *n.last
	a.Nlink = 0
	return a, true
}

// incomingEntry is pools/<pool>/incoming/.
func (r *Root) incomingEntry(pool string, st *staging.Store) entry {
	return entry{name: "incoming", mode: syscall.S_IFDIR, make: func(r *Root, p string) fs.InodeEmbedder {
		return &inNode{root: r, pool: pool, st: st, id: staging.RootID}
	}}
}

// inIno is the inode number of store node id: a hash of pool and id, so
// hard links share it and it is stable across restarts.
func inIno(pool string, id staging.ID) uint64 {
	h := fnv.New64a()
	h.Write([]byte("incoming\x00" + pool + "\x00" + strconv.FormatUint(uint64(id), 10)))
	n := h.Sum64()
	if n < 2 {
		n += 2
	}
	return n
}

func (n *inNode) errno(what string, err error) syscall.Errno {
	if en, ok := err.(syscall.Errno); ok && en != syscall.EIO {
		return en // the common answers (ENOENT, ENODATA): nothing to log
	}
	return n.root.errno("pools/"+n.pool+"/incoming: "+what, err)
}

func (n *inNode) ino(id staging.ID) uint64 {
	if id == staging.RootID {
		return n.StableAttr().Ino
	}
	return inIno(n.pool, id)
}

func (n *inNode) fill(out *fuse.Attr, a staging.Attr) {
	out.Ino = n.ino(a.ID)
	out.Mode = a.Mode
	out.Size = uint64(a.Size)
	out.Blocks = (uint64(a.Size) + 511) / 512
	if a.IsRegular() && a.Size > 0 {
		// A file in a data file of its own counts what it takes there:
		// du of a sparse file shows its holes.
		if b, ok := n.st.Allocated(a.ID); ok {
			out.Blocks = uint64(b)
		}
	}
	out.Blksize = 4096
	out.Nlink = a.Nlink
	out.Uid, out.Gid = a.UID, a.GID
	out.Rdev = uint32(a.Rdev)
	out.SetTimes(&a.Atime, &a.Mtime, &a.Ctime)
}

// newChild makes the inode of a.
func (n *inNode) newChild(ctx context.Context, a staging.Attr, out *fuse.EntryOut) *fs.Inode {
	c := &inNode{root: n.root, pool: n.pool, st: n.st, id: a.ID}
	n.fill(&out.Attr, a)
	// Only this daemon changes incoming/, so the kernel may keep entries
	// and attributes briefly; a commit's removals show within this time.
	out.SetEntryTimeout(inCacheTimeout)
	out.SetAttrTimeout(inCacheTimeout)
	in := n.NewInode(ctx, c, fs.StableAttr{Mode: a.Mode & syscall.S_IFMT, Ino: inIno(n.pool, a.ID)})
	// NewInode returns the kernel's existing inode of the number if any.
	if cur, ok := in.Operations().(*inNode); ok {
		cur.remember(a)
	}
	return in
}

// owner is the caller's uid and gid: new nodes belong to who made them.
func owner(ctx context.Context) (uid, gid uint32) {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Uid, c.Gid
	}
	return 0, 0
}

func (n *inNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a, err := n.st.GetAttr(n.id)
	if errors.Is(err, syscall.ENOENT) {
		if gone, ok := n.removed(); ok {
			n.fill(&out.Attr, gone)
			return 0
		}
	}
	if err != nil {
		return n.errno("getattr", err)
	}
	n.remember(a)
	n.fill(&out.Attr, a)
	out.SetTimeout(inCacheTimeout)
	return 0
}

// inCacheTimeout is how long the kernel may cache incoming/ entries and
// attributes.
const inCacheTimeout = time.Second

func (n *inNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	var sa staging.SetAttrs
	if m, ok := in.GetMode(); ok {
		sa.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		sa.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		sa.GID = &g
	}
	if t, ok := in.GetATime(); ok {
		sa.Atime = &t
	}
	if t, ok := in.GetMTime(); ok {
		sa.Mtime = &t
	}
	if sz, ok := in.GetSize(); ok {
		if h, isOurs := f.(*inHandle); isOurs {
			// ftruncate on an open file: part of its write session.
			h.w.wrote(ctx)
			if _, err := h.f.Truncate(int64(sz)); err != nil {
				return n.errno("truncate", err)
			}
		} else {
			s := int64(sz)
			sa.Size = &s
		}
	}
	a, err := n.st.SetAttr(n.id, sa)
	if err != nil {
		return n.errno("setattr", err)
	}
	n.remember(a)
	n.fill(&out.Attr, a)
	return 0
}

func (n *inNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	a, err := n.st.Lookup(n.id, name)
	if err != nil {
		return nil, n.errno("lookup", err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *inNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	ents, err := n.st.ReadDir(n.id)
	if err != nil {
		return nil, n.errno("readdir", err)
	}
	out := make([]fuse.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: e.Mode, Ino: inIno(n.pool, e.ID)}
	}
	return fs.NewListDirStream(out), 0
}

func (n *inNode) make(ctx context.Context, name string, mode uint32, rdev uint64, target string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	uid, gid := owner(ctx)
	a, err := n.st.Make(n.id, name, mode, uid, gid, rdev, target, false)
	if err != nil {
		return nil, n.errno("create "+name, err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *inNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, syscall.S_IFDIR|mode&0o7777, 0, "", out)
}

func (n *inNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, mode, uint64(dev), "", out)
}

func (n *inNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.make(ctx, name, syscall.S_IFLNK|0o777, 0, target, out)
}

func (n *inNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	uid, gid := owner(ctx)
	a, f, err := n.st.Create(n.id, name, mode, uid, gid)
	if err != nil {
		return nil, nil, 0, n.errno("create "+name, err)
	}
	in := n.newChild(ctx, a, out)
	h := n.handle(in, f)
	h.w.wrote(ctx) // created: the file is being written by its creator
	// Direct I/O: the kernel sends the writes of a file being copied in
	// without first asking for its security.capability xattr (one round
	// trip per write on the cached path) and without keeping a copy in
	// its page cache. It then leaves clearing set-ID bits on write to
	// us (Write).
	h.direct = true
	return in, h, fuse.FOPEN_DIRECT_IO, 0
}

// Tmpfile is open(2) with O_TMPFILE: a file with no name until linkat
// gives it one.
func (n *inNode) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	uid, gid := owner(ctx)
	a, f, err := n.st.MakeTmp(n.id, mode&0o7777, uid, gid)
	if err != nil {
		return nil, nil, 0, n.errno("create a temporary file", err)
	}
	in := n.newChild(ctx, a, out)
	h := n.handle(in, f)
	h.w.wrote(ctx)
	return in, h, 0, 0
}

func (n *inNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*inNode)
	if !ok || t.st != n.st {
		// A browse file or another pool's incoming/: not this tree.
		return nil, syscall.EXDEV
	}
	a, err := n.st.Link(t.id, n.id, name)
	if err != nil {
		return nil, n.errno("link "+name, err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *inNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if err := n.st.Unlink(n.id, name); err != nil {
		return n.errno("unlink "+name, err)
	}
	return 0
}

func (n *inNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if err := n.st.Rmdir(n.id, name); err != nil {
		return n.errno("rmdir "+name, err)
	}
	return 0
}

func (n *inNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*inNode)
	switch {
	case !ok:
		return syscall.EROFS // into a browse tree
	case np.st != n.st:
		return syscall.EXDEV // another pool's incoming/: mv copies
	}
	if err := n.st.Rename(n.id, name, np.id, newName, flags); err != nil {
		return n.errno("rename "+name, err)
	}
	return 0
}

func (n *inNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, err := n.st.Readlink(n.id)
	if err != nil {
		return nil, n.errno("readlink", err)
	}
	return []byte(t), 0
}

func (n *inNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	open := n.st.OpenFile
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		// A commit leaves a file open for writing in incoming/.
		open = n.st.OpenWriter
	}
	trunc := flags&syscall.O_TRUNC != 0
	f, err := open(n.id, trunc)
	if err != nil {
		return nil, 0, n.errno("open", err)
	}
	h := &inHandle{n: n, f: f}
	if trunc {
		h.w.wrote(ctx) // emptied: being written by its opener
	}
	return h, 0, 0
}

func (n *inNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	v, err := n.st.GetXattr(n.id, attr)
	if err != nil {
		return 0, n.errno("getxattr", err)
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (n *inNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	names, err := n.st.ListXattr(n.id)
	if err != nil {
		return 0, n.errno("listxattr", err)
	}
	size := 0
	for _, k := range names {
		size += len(k) + 1
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, k := range names {
		off += copy(dest[off:], k)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

func (n *inNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if err := n.st.SetXattr(n.id, attr, data, flags); err != nil {
		return n.errno("setxattr", err)
	}
	return 0
}

func (n *inNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if err := n.st.RemoveXattr(n.id, attr); err != nil {
		return n.errno("removexattr", err)
	}
	return 0
}

// Statfs reports the staging filesystem: what incoming/ can still take.
func (n *inNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	st, err := n.st.Statfs()
	if err != nil {
		return n.errno("statfs", err)
	}
	out.Blocks, out.Bfree, out.Bavail = st.Blocks, st.Bfree, st.Bavail
	out.Files, out.Ffree = st.Files, st.Ffree
	out.Bsize, out.Frsize = uint32(st.Bsize), uint32(st.Frsize)
	out.NameLen = 255
	return 0
}

// handle is the open file f of the new node in (made by n).
func (n *inNode) handle(in *fs.Inode, f *staging.File) *inHandle {
	if c, ok := in.Operations().(*inNode); ok {
		return &inHandle{n: c, f: f}
	}
	return &inHandle{n: n, f: f}
}

// inHandle is an open staged file; n is the file's node. direct: opened
// with FOPEN_DIRECT_IO (a created file).
type inHandle struct {
	n      *inNode
	f      *staging.File
	direct bool
	// w: the processes writing through the handle (writers.go).
	w handleWriters
}

func (h *inHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := h.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.n.errno("read", err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (h *inHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if c, ok := fuse.FromContext(ctx); h.direct && ok && c.Uid != 0 {
		// As the kernel does for cached writes by a caller without
		// CAP_FSETID (root stands for it here).
		cleared, err := h.f.ClearSetID()
		if err != nil {
			return 0, h.n.errno("write", err)
		}
		if cleared {
			h.n.NotifyContent(-1, 0) // the kernel's cached mode is stale
		}
	}
	h.w.wrote(ctx)
	k, err := h.f.WriteAt(data, off)
	if err != nil {
		return uint32(k), h.n.errno("write", err)
	}
	return uint32(k), 0
}

// Flush is close(2) of one copy of the descriptor: when its writer
// closes it (writers.go) the file is complete from here on and survives
// a crash of the daemon; a copy closed by another process (a forked
// child exiting) leaves the file being written.
func (h *inHandle) Flush(ctx context.Context) syscall.Errno {
	if !h.w.closedByWriter(ctx) {
		return 0
	}
	if err := h.f.Flush(); err != nil {
		return h.n.errno("close", err)
	}
	return 0
}

// Fsync is fsync(2) and fdatasync(2): of an open file through its handle,
// of a directory (FSYNCDIR) the tree's journal (SyncTree).
func (n *inNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := f.(*inHandle); ok {
		return h.Fsync(ctx, flags)
	}
	if err := n.st.SyncTree(); err != nil {
		return n.errno("fsync", err)
	}
	return 0
}

func (h *inHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if err := h.f.Sync(); err != nil {
		return h.n.errno("fsync", err)
	}
	return 0
}

func (h *inHandle) Release(ctx context.Context) syscall.Errno {
	if err := h.f.Close(); err != nil {
		return h.n.errno("release", err)
	}
	return 0
}

func (h *inHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.n.Getattr(ctx, h, out)
}

// Allocate is fallocate(2): the modes of staging.File.Allocate.
func (h *inHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	h.w.wrote(ctx)
	if _, err := h.f.Allocate(int64(off), int64(size), mode); err != nil {
		return h.n.errno("fallocate", err)
	}
	return 0
}

// commitControl is pools/<pool>/commit.
func commitControl(pool string) control {
	return control{
		name: "commit",
		usage: "usage: echo \"[GROUP ...] [--eject-media] [--export-media-set] [--force-media-set]\" > commit\n" +
			"  back up each group (top-level directory) of incoming/ as snapshot GROUP/TIME (no GROUP: every group);\n" +
			"  returns when the snapshots are on tape and in the catalog, then removes the committed files from incoming/\n" +
			"  runs: tapefs commit " + pool + " [GROUP ...] [options]",
		argv: func(w []string) ([]string, error) {
			return append([]string{"commit", pool}, w...), nil
		},
	}
}
