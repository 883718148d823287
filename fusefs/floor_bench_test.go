package fusefs

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/internal/procs"
)

// The floor: a go-fuse filesystem mounted with tapefs's options that
// answers the requests cp -a sends for a file (LOOKUP, CREATE, WRITE,
// SETATTR, SETXATTR, FLUSH, RELEASE) and keeps nothing but the nodes'
// attributes: what copying into a FUSE mount costs on this machine before
// a daemon does any work. BenchmarkIncomingSmallFiles against it says how
// much of incoming/'s cost per file is tapefs's own.

type floorNode struct {
	fs.Inode
	mu   sync.Mutex
	attr fuse.Attr
}

var (
	_ fs.NodeMkdirer    = (*floorNode)(nil)
	_ fs.NodeCreater    = (*floorNode)(nil)
	_ fs.NodeGetattrer  = (*floorNode)(nil)
	_ fs.NodeSetattrer  = (*floorNode)(nil)
	_ fs.NodeWriter     = (*floorNode)(nil)
	_ fs.NodeFlusher    = (*floorNode)(nil)
	_ fs.NodeSetxattrer = (*floorNode)(nil)
)

func (n *floorNode) child(ctx context.Context, mode uint32, out *fuse.EntryOut) *fs.Inode {
	c := &floorNode{}
	c.attr.Mode = mode
	c.attr.Nlink = 1
	out.Attr = c.attr
	// The cache times of incoming/'s nodes.
	out.SetEntryTimeout(inCacheTimeout)
	out.SetAttrTimeout(inCacheTimeout)
	return n.NewInode(ctx, c, fs.StableAttr{Mode: mode & syscall.S_IFMT})
}

func (n *floorNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.child(ctx, syscall.S_IFDIR|mode, out), 0
}

func (n *floorNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	// Direct I/O, as incoming/ opens a created file.
	return n.child(ctx, syscall.S_IFREG|mode, out), nil, fuse.FOPEN_DIRECT_IO, 0
}

func (n *floorNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	out.Attr = n.attr
	n.mu.Unlock()
	out.SetTimeout(inCacheTimeout)
	return 0
}

func (n *floorNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	defer n.mu.Unlock()
	if m, ok := in.GetMode(); ok {
		n.attr.Mode = n.attr.Mode&syscall.S_IFMT | m&0o7777
	}
	if sz, ok := in.GetSize(); ok {
		n.attr.Size = sz
	}
	if t, ok := in.GetMTime(); ok {
		n.attr.SetTimes(nil, &t, nil)
	}
	out.Attr = n.attr
	out.SetTimeout(inCacheTimeout)
	return 0
}

func (n *floorNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	n.mu.Lock()
	if end := uint64(off) + uint64(len(data)); end > n.attr.Size {
		n.attr.Size = end
	}
	n.mu.Unlock()
	return uint32(len(data)), 0
}

func (n *floorNode) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }

func (n *floorNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return 0
}

// mountFloor mounts the floor filesystem on a temporary directory.
func mountFloor(b testing.TB) string {
	root := &floorNode{}
	root.attr.Mode = syscall.S_IFDIR | 0o755
	return mountFloorRoot(b, root, nil)
}

// mountFloorRoot mounts root with tapefs's options on a temporary
// directory, with one processor as the daemon runs while it only answers
// FUSE requests; counter, if not nil, counts the requests.
func mountFloorRoot(b testing.TB, root fs.InodeEmbedder, counter *reqCounter) string {
	mnt := b.TempDir()
	opts := mountOptions(nil, MountOptions{})
	raw := fs.NewNodeFS(root, opts)
	if counter != nil {
		counter.RawFileSystem = raw
		raw = counter
	}
	server, err := fuse.NewServer(raw, mnt, &opts.MountOptions)
	if err != nil {
		b.Fatal(err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Unmount() })
	b.Cleanup(procs.Enable())
	return mnt
}

// floorTree is a read-only tree of the shape of the find benchmark's
// snapshot (putManySnapshot): directories of 999 files of 4 KiB under
// the root, entries in all with the root. Its directories are cached as
// a snapshot's are (FOPEN_CACHE_DIR, an hour's entry and attribute
// timeouts); READDIRPLUS makes a node per entry, as in a snapshot.
type floorTree struct {
	fs.Inode
	dirs  []string // the root's entries
	files []string // each directory's entries (the last may have fewer)
	last  int      // entries of the last directory
	ino   uint64   // this directory's inode number
	isDir bool
	names []string // this directory's entries
}

func mountFloorTree(b testing.TB, entries int, counter *reqCounter) string {
	const perDir = 999
	t := &floorTree{isDir: true, ino: 1}
	left := entries - 1
	for i := 0; left > 0; i++ {
		t.dirs = append(t.dirs, fmt.Sprintf("dir%05d", i))
		left--
		n := min(left, perDir)
		t.last = n
		left -= n
	}
	for i := range perDir {
		t.files = append(t.files, fmt.Sprintf("file%05d", i))
	}
	t.names = t.dirs
	return mountFloorRoot(b, t, counter)
}

func (n *floorTree) fill(a *fuse.Attr) {
	a.Ino, a.Nlink, a.Uid, a.Gid = n.ino, 1, 1000, 1000
	a.Mode, a.Size = syscall.S_IFREG|0o644, 4096
	if n.isDir {
		a.Mode, a.Size = syscall.S_IFDIR|0o755, 4096
	}
	a.Mtime, a.Atime, a.Ctime = 1767225600, 1767225600, 1767225600
}

func (n *floorTree) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr)
	out.SetTimeout(snapshotTimeout)
	return 0
}

// child makes the node of entry i of this directory.
func (n *floorTree) child(ctx context.Context, i int, out *fuse.EntryOut) *fs.Inode {
	c := &floorTree{}
	if n.ino == 1 {
		c.isDir, c.ino = true, uint64(2+i*1000)
		c.names = n.root().files
		if i == len(n.dirs)-1 {
			c.names = c.names[:n.last]
		}
	} else {
		c.ino = n.ino + 1 + uint64(i)
	}
	c.fill(&out.Attr)
	out.SetEntryTimeout(snapshotTimeout)
	out.SetAttrTimeout(snapshotTimeout)
	mode := uint32(syscall.S_IFREG)
	if c.isDir {
		mode = syscall.S_IFDIR
	}
	return n.NewInode(ctx, c, fs.StableAttr{Mode: mode, Ino: c.ino})
}

func (n *floorTree) root() *floorTree { return n.Root().Operations().(*floorTree) }

func (n *floorTree) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	i, ok := slices.BinarySearch(n.names, name)
	if !ok {
		return nil, syscall.ENOENT
	}
	return n.child(ctx, i, out), 0
}

func (n *floorTree) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	// A walk: all processors, as the daemon takes them when a snapshot
	// directory is listed.
	procs.Busy()()
	return &floorDirHandle{n: n}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// floorDirHandle streams a floorTree directory, as snapDirHandle does a
// snapshot's.
type floorDirHandle struct {
	n  *floorTree
	i  int
	de fuse.DirEntry
}

func (h *floorDirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if h.i >= len(h.n.names) {
		return nil, 0
	}
	h.i++
	mode := uint32(syscall.S_IFREG)
	ino := h.n.ino + uint64(h.i)
	if h.n.ino == 1 {
		mode, ino = syscall.S_IFDIR, uint64(2+(h.i-1)*1000)
	}
	h.de = fuse.DirEntry{Name: h.n.names[h.i-1], Mode: mode, Ino: ino, Off: uint64(h.i)}
	return &h.de, 0
}

func (h *floorDirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.i = int(min(off, uint64(len(h.n.names))))
	return 0
}

func (h *floorDirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if i := h.i - 1; i >= 0 && i < len(h.n.names) && h.n.names[i] == name {
		return h.n.child(ctx, i, out), 0
	}
	return h.n.Lookup(ctx, name, out)
}

// BenchmarkCopyInFloor copies a directory with cp -a into the floor,
// first from a cold page cache, then again from a warm one: the least any
// FUSE copy-in of it can cost on this machine. make bench sets
// TAPEFS_BENCH_DATASET to its dataset, or to its 20,000 small files, and
// sets the times beside tapefs's and tar's. Without the variable it makes
// a 48 MiB dataset of make bench's shape. Reports the median seconds of
// the rounds.
func BenchmarkCopyInFloor(b *testing.B) {
	src := os.Getenv("TAPEFS_BENCH_DATASET")
	if src == "" {
		src = b.TempDir()
		makeDataset(b, src, 48)
	}
	mnt := mountFloor(b)
	var cold, warm []float64
	cp := func(dst string) float64 {
		start := time.Now()
		if out, err := exec.Command("cp", "-a", src, filepath.Join(mnt, dst)).CombinedOutput(); err != nil {
			b.Fatalf("cp -a: %v\n%s", err, out)
		}
		return time.Since(start).Seconds()
	}
	for i := 0; b.Loop(); i++ {
		dropCaches()
		cold = append(cold, cp(fmt.Sprintf("cold%d", i)))
		warm = append(warm, cp(fmt.Sprintf("warm%d", i)))
	}
	b.ReportMetric(median(cold), "cold-s")
	b.ReportMetric(median(warm), "warm-s")
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// makeDataset writes mb MiB of random data into dir as make bench's
// dataset: four large files, 1 MiB files and 16 KiB files, a third each.
func makeDataset(b testing.TB, dir string, mb int) {
	b.Helper()
	third := mb << 20 / 3
	buf := make([]byte, third/4)
	write := func(name string, n int) {
		rand.Read(buf[:n])
		if err := os.WriteFile(filepath.Join(dir, name), buf[:n], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 4 {
		write(fmt.Sprintf("large%d", i), third/4)
	}
	for i := range third >> 20 {
		write(fmt.Sprintf("medium%04d", i), 1<<20)
	}
	for i := range third >> 14 {
		write(fmt.Sprintf("small%06d", i), 16<<10)
	}
}

// dropCaches empties the page cache (as root; otherwise it stays).
func dropCaches() {
	syscall.Sync()
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}
