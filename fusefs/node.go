package fusefs

import (
	"context"
	"hash/fnv"
	"sort"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// ino is the inode number of the node at path (see the package comment);
// extra distinguishes what a path holds when it can change kind.
func ino(path, extra string) uint64 {
	if path == "" {
		return 1 // the root
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	if extra != "" {
		h.Write([]byte{0})
		h.Write([]byte(extra))
	}
	n := h.Sum64()
	if n < 2 {
		n += 2
	}
	return n
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// readOnly is embedded by every browse node: it answers every mutating
// operation with EROFS. Renames and links between trees arrive at the
// source parent (rename) or the target parent (link), so a browse
// directory refuses them in either role; a writable tree (incoming/) must
// refuse a rename whose target parent is a browse node itself.
type readOnly struct {
	fs.Inode
	root *Root
	path string
	// mtime is shown for the node; browse nodes show the daemon's start.
	mtime time.Time
	// private nodes (control files, status, jobs/) are for the daemon's
	// user and admin group only: see Root.privateMode.
	private bool
}

func (n *readOnly) setPrivate() { n.private = true }

// private makes the node of e readable (and, for a control file,
// writable) by the daemon's user and admin group only: what it shows
// (commands run, their output, the daemon's pid) is theirs.
func private(e entry) entry {
	mk := e.make
	e.make = func(r *Root, p string) fs.InodeEmbedder {
		n := mk(r, p)
		n.(interface{ setPrivate() }).setPrivate()
		return n
	}
	return e
}

func (n *readOnly) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (n *readOnly) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *readOnly) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *readOnly) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

func (n *readOnly) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *readOnly) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *readOnly) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (n *readOnly) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (n *readOnly) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

func (n *readOnly) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}

func (n *readOnly) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EROFS
}

func (n *readOnly) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	return syscall.EROFS
}

// Fsync of a browse file or directory succeeds: there is nothing to
// write, and tools that fsync a directory they only read (or every
// directory of a tree) must not fail.
func (n *readOnly) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

// fillAttr sets what every node shows: owner of the daemon, times, and
// for a private node its mode and group (Root.privateMode).
func (n *readOnly) fillAttr(out *fuse.Attr, mode uint32, size int) {
	out.Mode = mode
	out.Size = uint64(size)
	out.Nlink = 1
	out.Ino = n.StableAttr().Ino
	out.Uid, out.Gid = n.root.uid, n.root.gid
	if n.private {
		out.Mode, out.Gid = n.root.privateMode(mode)
	}
	t := n.mtime
	if t.IsZero() {
		t = n.root.started
	}
	out.SetTimes(&t, &t, &t)
}

// entry is one child of a directory: its name, file type, what it holds
// (for the inode number) and how to make its node.
type entry struct {
	name  string
	mode  uint32 // syscall.S_IFDIR, S_IFREG or S_IFLNK
	extra string
	// ino, when not 0, is the inode number (snapshot trees take theirs
	// from catalog ids); else it is the hash of the path and extra.
	ino  uint64
	make func(r *Root, path string) fs.InodeEmbedder
}

// inode returns e's inode number as a child of dir.
func (e entry) inode(dir string) uint64 {
	if e.ino != 0 {
		return e.ino
	}
	return ino(join(dir, e.name), e.extra)
}

// dir is a browse directory whose entries are computed on every lookup and
// listing, from configuration, catalog and cached status.
type dir struct {
	readOnly
	list func(ctx context.Context) ([]entry, error)
	// cache, when not 0, is how long the kernel may keep the node's
	// attributes and its entry in its parent (see pathCacheTimeout).
	cache time.Duration
}

// pathCacheTimeout is how long the kernel keeps the directories on the
// way to incoming/ and to snapshot trees (the root, pools/, pools/<pool>/,
// its media-sets/, media-sets/<set>/, and the snapshots/ and
// snapshots/<group>/ of both views): their attributes and entries, where
// every other browse node is uncached. cp, tar and rsync resolve the
// whole destination path for each file they write into incoming/, and ls
// -l, cp and rsync resolve the whole path of each snapshot file they
// stat or read: uncached, every file cost a getattr of each of these
// directories and a lookup of each (which reads the pool configuration,
// or lists the snapshots in the catalog: ls -l of a 1,000-entry snapshot
// directory sent 6,000 lookups). Their attributes never change; a removed
// pool's, set's or group's directory may stay visible this long (its
// contents fail with ENOENT at once), and a new one shows at once.
const pathCacheTimeout = time.Second

func (n *dir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(&out.Attr, syscall.S_IFDIR|0o555, 0)
	out.Nlink = 2
	if n.cache > 0 {
		out.SetTimeout(n.cache)
	}
	return 0
}

func (n *dir) entries(ctx context.Context) ([]entry, syscall.Errno) {
	ents, err := n.list(ctx)
	if err != nil {
		return nil, n.root.errno("list "+n.show(), err)
	}
	return ents, 0
}

// show is the node's path for messages.
func (n *readOnly) show() string {
	if n.path == "" {
		return "/"
	}
	return n.path
}

func (n *dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ents, errno := n.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	for _, e := range ents {
		if e.name != name {
			continue
		}
		p := join(n.path, name)
		node := e.make(n.root, p)
		child := n.NewInode(ctx, node, fs.StableAttr{Mode: e.mode, Ino: e.inode(n.path)})
		if ga, ok := node.(fs.NodeGetattrer); ok {
			var ao fuse.AttrOut
			if errno := ga.Getattr(ctx, nil, &ao); errno != 0 {
				return nil, errno
			}
			out.Attr = ao.Attr
			if ao.Timeout() > 0 {
				// Immutable nodes (snapshot roots) are cached as long
				// as they ask.
				out.SetAttrTimeout(ao.Timeout())
				out.SetEntryTimeout(ao.Timeout())
			}
		}
		return child, 0
	}
	return nil, syscall.ENOENT
}

func (n *dir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	ents, errno := n.entries(ctx)
	if errno != 0 {
		return nil, errno
	}
	sort.Slice(ents, func(a, b int) bool { return ents[a].name < ents[b].name })
	out := make([]fuse.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, fuse.DirEntry{Name: e.name, Mode: e.mode, Ino: e.inode(n.path)})
	}
	return fs.NewListDirStream(out), 0
}

func (n *dir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.NameLen = 255
	out.Bsize = 4096
	out.Frsize = 4096
	return 0
}

// dirEntry makes a subdirectory entry.
func dirEntry(name string, list func(ctx context.Context) ([]entry, error)) entry {
	return cachedDirEntry(name, 0, list)
}

// cachedDirEntry makes a subdirectory entry the kernel may keep for
// cache, with the directory's attributes.
func cachedDirEntry(name string, cache time.Duration, list func(ctx context.Context) ([]entry, error)) entry {
	return entry{name: name, mode: syscall.S_IFDIR, make: func(r *Root, p string) fs.InodeEmbedder {
		return &dir{readOnly: readOnly{root: r, path: p}, list: list, cache: cache}
	}}
}

// textFile is a read-only file whose content is generated when it is
// opened or stat'ed (never from a device). It is opened with direct I/O so
// every open shows the current content, whatever size was cached.
type textFile struct {
	readOnly
	gen func(ctx context.Context) ([]byte, error)
}

// textHandle is an open textFile: the content as it was at open.
type textHandle struct{ data []byte }

func fileEntry(name string, gen func(ctx context.Context) ([]byte, error)) entry {
	return entry{name: name, mode: syscall.S_IFREG, make: func(r *Root, p string) fs.InodeEmbedder {
		return &textFile{readOnly: readOnly{root: r, path: p}, gen: gen}
	}}
}

func (n *textFile) content(ctx context.Context) ([]byte, syscall.Errno) {
	b, err := n.gen(ctx)
	if err != nil {
		return nil, n.root.errno("read "+n.show(), err)
	}
	return b, 0
}

func (n *textFile) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if h, ok := f.(*textHandle); ok {
		n.fillAttr(&out.Attr, syscall.S_IFREG|0o444, len(h.data))
		return 0
	}
	b, errno := n.content(ctx)
	if errno != 0 {
		return errno
	}
	n.fillAttr(&out.Attr, syscall.S_IFREG|0o444, len(b))
	return 0
}

func (n *textFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	b, errno := n.content(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	return &textHandle{data: b}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *textFile) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := f.(*textHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	return readAt(h.data, dest, off), 0
}

func readAt(data, dest []byte, off int64) fuse.ReadResult {
	if off >= int64(len(data)) {
		return fuse.ReadResultData(nil)
	}
	end := min(off+int64(len(dest)), int64(len(data)))
	return fuse.ReadResultData(data[off:end])
}

// symlink is a read-only symbolic link (changer slots point at media/).
type symlink struct {
	readOnly
	target string
}

func linkEntry(name, target string) entry {
	return entry{name: name, mode: syscall.S_IFLNK, extra: "->" + target, make: func(r *Root, p string) fs.InodeEmbedder {
		return &symlink{readOnly: readOnly{root: r, path: p}, target: target}
	}}
}

func (n *symlink) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(&out.Attr, syscall.S_IFLNK|0o777, len(n.target))
	return 0
}

func (n *symlink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(n.target), 0
}
