package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// powerFS is a loopback filesystem over a backing directory that models a
// disk's volatile write cache in the POSIX worst case: file data written
// since the last fsync or fdatasync of its file (and sizes set by truncate
// or fallocate) is held in memory and lost when the power is cut; what an
// fsync wrote is in the backing directory. Namespace operations (create,
// mkdir, rename, unlink, link, chmod, xattrs) go to the backing directory
// at once and survive, as on the machine of the field report; so a file
// that was created or renamed into place without an fsync of its data is
// empty after the cut.
//
// The model is per inode: the volatile data of a file follows it through
// renames and links, and every handle of the inode sees it. Reads return
// the volatile data over the backing file. File handles never use kernel
// FUSE passthrough (go-fuse's loopback would, as root, and its reads and
// writes would then bypass this layer).
//
// Not modelled: syncfs(2) and sync(2), which FUSE does not forward (tapefs
// uses neither), and directory fsync (names persist anyway).
type powerFS struct {
	backing string

	mu    sync.Mutex
	files map[uint64]*volatileFile // by backing inode number
	syncs int                      // fsyncs that wrote volatile data
}

// pageSize is the unit of volatile data.
const pageSize = 4096

// volatileFile is the part of a file that is not on the backing disk yet.
type volatileFile struct {
	name  string // a name of the file when its volatile data began
	size  int64  // the file's size as processes see it
	limit int64  // backing data at or after limit was truncated away
	pages map[int64][]byte
}

func newPowerFS(backing string) *powerFS {
	return &powerFS{backing: backing, files: map[uint64]*volatileFile{}}
}

// volatile returns the volatile state of inode ino (backing file fd),
// creating it. p.mu is held.
func (p *powerFS) volatile(ino uint64, fd int, name string) (*volatileFile, syscall.Errno) {
	if v := p.files[ino]; v != nil {
		return v, 0
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	v := &volatileFile{name: name, size: st.Size, limit: st.Size, pages: map[int64][]byte{}}
	p.files[ino] = v
	return v, 0
}

// page returns page i of v, read from the backing file when it is not in
// memory yet. p.mu is held.
func (v *volatileFile) page(fd int, i int64) ([]byte, syscall.Errno) {
	if pg := v.pages[i]; pg != nil {
		return pg, 0
	}
	pg := make([]byte, pageSize)
	if errno := v.readBacking(fd, pg, i*pageSize); errno != 0 {
		return nil, errno
	}
	v.pages[i] = pg
	return pg, 0
}

// readBacking fills b with backing data at off; bytes past the backing
// file's end or past limit are zero.
func (v *volatileFile) readBacking(fd int, b []byte, off int64) syscall.Errno {
	clear(b)
	n := min(int64(len(b)), v.limit-off)
	if n <= 0 {
		return 0
	}
	if _, err := syscall.Pread(fd, b[:n], off); err != nil {
		return fs.ToErrno(err)
	}
	return 0
}

func (p *powerFS) write(ino uint64, fd int, name string, data []byte, off int64) syscall.Errno {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, errno := p.volatile(ino, fd, name)
	if errno != 0 {
		return errno
	}
	for done := 0; done < len(data); {
		at := off + int64(done)
		pg, errno := v.page(fd, at/pageSize)
		if errno != 0 {
			return errno
		}
		done += copy(pg[at%pageSize:], data[done:])
	}
	v.size = max(v.size, off+int64(len(data)))
	return 0
}

func (p *powerFS) read(ino uint64, fd int, buf []byte, off int64) ([]byte, syscall.Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.files[ino]
	if v == nil {
		n, err := syscall.Pread(fd, buf, off)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		return buf[:n], 0
	}
	if off >= v.size {
		return buf[:0], 0
	}
	buf = buf[:min(int64(len(buf)), v.size-off)]
	for done := 0; done < len(buf); {
		at := off + int64(done)
		i, in := at/pageSize, at%pageSize
		n := min(int64(len(buf)-done), pageSize-in)
		if pg := v.pages[i]; pg != nil {
			copy(buf[done:], pg[in:in+n])
		} else if errno := v.readBacking(fd, buf[done:done+int(n)], at); errno != 0 {
			return nil, errno
		}
		done += int(n)
	}
	return buf, 0
}

func (p *powerFS) truncate(ino uint64, fd int, name string, size int64) syscall.Errno {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st syscall.Stat_t
	if p.files[ino] == nil && syscall.Fstat(fd, &st) == nil && st.Size == size {
		return 0 // nothing changes
	}
	v, errno := p.volatile(ino, fd, name)
	if errno != 0 {
		return errno
	}
	if size < v.size {
		for i, pg := range v.pages {
			switch {
			case i*pageSize >= size:
				delete(v.pages, i)
			case (i+1)*pageSize > size:
				clear(pg[size-i*pageSize:])
			}
		}
		v.limit = min(v.limit, size)
	}
	v.size = size
	return 0
}

// fsync writes the volatile data of inode ino to the backing file.
func (p *powerFS) fsync(ino uint64, fd int) syscall.Errno {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.files[ino]
	if v == nil {
		return 0
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	if v.limit < st.Size {
		if err := syscall.Ftruncate(fd, v.limit); err != nil {
			return fs.ToErrno(err)
		}
	}
	for i, pg := range v.pages {
		n := min(pageSize, v.size-i*pageSize)
		if n <= 0 {
			continue
		}
		if _, err := syscall.Pwrite(fd, pg[:n], i*pageSize); err != nil {
			return fs.ToErrno(err)
		}
	}
	if err := syscall.Ftruncate(fd, v.size); err != nil {
		return fs.ToErrno(err)
	}
	delete(p.files, ino)
	p.syncs++
	return 0
}

// forget drops the volatile state of an inode that was just created: the
// backing filesystem may reuse the number of a removed inode.
func (p *powerFS) forget(ino uint64) {
	p.mu.Lock()
	delete(p.files, ino)
	p.mu.Unlock()
}

// cut drops every volatile byte: the power failed. It returns the names
// of the files that lost data (and still have that name), sorted.
func (p *powerFS) cut() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for ino, v := range p.files {
		var st syscall.Stat_t
		if syscall.Lstat(filepath.Join(p.backing, v.name), &st) == nil && st.Ino == ino {
			names = append(names, v.name)
		}
	}
	p.files = map[uint64]*volatileFile{}
	sort.Strings(names)
	return names
}

// patchSize sets the size in out to the one processes see.
func (p *powerFS) patchSize(out *fuse.Attr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.files[out.Ino]; v != nil {
		out.Size = uint64(v.size)
		out.Blocks = (out.Size + 511) / 512
	}
}

// plNode is a node of a powerFS.
type plNode struct {
	fs.LoopbackNode
	p *powerFS
}

func (n *plNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 {
		n.p.patchSize(&out.Attr)
	}
	return ch, errno
}

func (n *plNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if pf, ok := f.(*plFile); ok {
		f = pf.LoopbackFile
	}
	errno := n.LoopbackNode.Getattr(ctx, f, out)
	if errno == 0 {
		n.p.patchSize(&out.Attr)
	}
	return errno
}

func (n *plNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		fd, ino, closeFd, errno := n.backingFd(f)
		if errno != 0 {
			return errno
		}
		errno = n.p.truncate(ino, fd, n.Path(nil), int64(size))
		closeFd()
		if errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	if pf, ok := f.(*plFile); ok {
		f = pf.LoopbackFile
	}
	errno := n.LoopbackNode.Setattr(ctx, f, in, out)
	if errno == 0 {
		n.p.patchSize(&out.Attr)
	}
	return errno
}

// backingFd returns a read-write descriptor of the node's backing file:
// the handle's, or one opened for the call (closeFd closes it).
func (n *plNode) backingFd(f fs.FileHandle) (fd int, ino uint64, closeFd func(), errno syscall.Errno) {
	if pf, ok := f.(*plFile); ok {
		return pf.fd, pf.ino, func() {}, 0
	}
	fd, err := syscall.Open(filepath.Join(n.RootData.Path, n.Path(nil)), syscall.O_RDWR, 0)
	if err != nil {
		return -1, 0, nil, fs.ToErrno(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return -1, 0, nil, fs.ToErrno(err)
	}
	return fd, st.Ino, func() { syscall.Close(fd) }, 0
}

// backingFlags are the flags a backing file is opened with: always read
// and write (fsync writes through any handle, and partly written pages are
// read back); truncation is volatile; the kernel computes append offsets.
func backingFlags(flags uint32) uint32 {
	return flags&^(syscall.O_ACCMODE|syscall.O_TRUNC|syscall.O_APPEND|syscall.O_DIRECT) | syscall.O_RDWR
}

func (n *plNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, _, errno := n.LoopbackNode.Open(ctx, backingFlags(flags))
	if errno != 0 {
		return nil, 0, errno
	}
	pf, errno := n.p.wrap(fh, n.Path(nil))
	if errno != 0 {
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.p.truncate(pf.ino, pf.fd, pf.name, 0); errno != 0 {
			pf.Release(ctx)
			return nil, 0, errno
		}
	}
	return pf, 0, 0
}

func (n *plNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	var st syscall.Stat_t
	existed := syscall.Lstat(filepath.Join(n.RootData.Path, n.Path(nil), name), &st) == nil
	ch, fh, _, errno := n.LoopbackNode.Create(ctx, name, backingFlags(flags), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	pf, errno := n.p.wrap(fh, filepath.Join(n.Path(nil), name))
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if !existed {
		n.p.forget(pf.ino)
	} else if flags&syscall.O_TRUNC != 0 {
		if errno := n.p.truncate(pf.ino, pf.fd, pf.name, 0); errno != 0 {
			pf.Release(ctx)
			return nil, nil, 0, errno
		}
	}
	n.p.patchSize(&out.Attr)
	return ch, pf, 0, 0
}

// CopyFileRange is refused, so the kernel copies through Read and Write.
func (n *plNode) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// plFile is an open file of a powerFS.
type plFile struct {
	*fs.LoopbackFile
	p    *powerFS
	fd   int
	ino  uint64
	name string // the file's name when it was opened
}

func (p *powerFS) wrap(fh fs.FileHandle, name string) (*plFile, syscall.Errno) {
	lf := fh.(*fs.LoopbackFile)
	fd, _ := lf.PassthroughFd()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		lf.Release(context.Background())
		return nil, fs.ToErrno(err)
	}
	return &plFile{LoopbackFile: lf, p: p, fd: fd, ino: st.Ino, name: name}, 0
}

// PassthroughFd refuses kernel passthrough: every read and write must
// come through this layer.
func (f *plFile) PassthroughFd() (int, bool) { return -1, false }

func (f *plFile) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	b, errno := f.p.read(f.ino, f.fd, buf, off)
	if errno != 0 {
		return nil, errno
	}
	return fuse.ReadResultData(b), 0
}

func (f *plFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.p.write(f.ino, f.fd, f.name, data, off); errno != 0 {
		return 0, errno
	}
	return uint32(len(data)), 0
}

func (f *plFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.p.fsync(f.ino, f.fd)
}

func (f *plFile) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	errno := f.LoopbackFile.Getattr(ctx, out)
	if errno == 0 {
		f.p.patchSize(&out.Attr)
	}
	return errno
}

func (f *plFile) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		return syscall.EOPNOTSUPP
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE != 0 {
		return 0
	}
	f.p.mu.Lock()
	v, errno := f.p.volatile(f.ino, f.fd, f.name)
	grow := errno == 0 && int64(off+size) > v.size
	f.p.mu.Unlock()
	if errno != 0 || !grow {
		return errno
	}
	return f.p.truncate(f.ino, f.fd, f.name, int64(off+size))
}

// Lseek is refused (SEEK_DATA and SEEK_HOLE of the backing file would not
// see the volatile data); the kernel then treats the file as all data.
func (f *plFile) Lseek(context.Context, uint64, uint32) (uint64, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// powerMount is a powerFS mounted on a directory.
type powerMount struct {
	t       *testing.T
	dir     string
	backing string
	p       *powerFS
	server  *fuse.Server
}

// mountPower mounts a powerFS over backing on dir and unmounts it at
// cleanup.
func mountPower(t *testing.T, backing, dir string) *powerMount {
	t.Helper()
	needFUSE(t)
	m := &powerMount{t: t, dir: dir, backing: backing}
	m.mount()
	t.Cleanup(func() {
		if m.server != nil {
			m.unmount()
		}
	})
	return m
}

func (m *powerMount) mount() {
	m.t.Helper()
	m.p = newPowerFS(m.backing)
	root := &fs.LoopbackRoot{Path: m.backing}
	var st syscall.Stat_t
	if err := syscall.Stat(m.backing, &st); err != nil {
		m.t.Fatal(err)
	}
	root.Dev = uint64(st.Dev)
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &plNode{LoopbackNode: fs.LoopbackNode{RootData: r}, p: m.p}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	server, err := fs.Mount(m.dir, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{FsName: "powerfs", Name: "powerfs"},
	})
	if err != nil {
		m.t.Fatalf("mount powerfs on %s: %v", m.dir, err)
	}
	m.server = server
}

func (m *powerMount) unmount() {
	m.t.Helper()
	var err error
	for range 100 {
		if err = m.server.Unmount(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		m.t.Errorf("unmount powerfs %s: %v", m.dir, err)
		exec.Command("umount", "-l", m.dir).Run()
	}
	m.server.Wait()
	m.server = nil
}

// cut loses every byte not synced, and remounts, so that no kernel cache
// keeps what the power failure took. The caller has stopped every process
// that used the mount. It returns the names of the files that lost data.
func (m *powerMount) cut() []string {
	m.t.Helper()
	lost := m.p.cut()
	m.unmount()
	m.mount()
	return lost
}

// TestPowerFS checks the model itself: data survives a cut only once
// fsynced, a file renamed into place without fsync is empty, names
// survive, truncation is volatile too.
func TestPowerFS(t *testing.T) {
	backing, dir := t.TempDir(), t.TempDir()
	m := mountPower(t, backing, dir)
	write := func(name, data string, sync bool) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(data); err != nil {
			t.Fatal(err)
		}
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("synced", "kept", true)
	write("volatile", "lost", false)
	write("renamed.tmp", "lost too", false)
	if err := os.Rename(filepath.Join(dir, "renamed.tmp"), filepath.Join(dir, "renamed")); err != nil {
		t.Fatal(err)
	}
	write("rewritten", "first version", true)
	write("rewritten", "second", false)
	// An append after a sync: only the synced prefix stays.
	write("appended", "head|", true)
	f, err := os.OpenFile(filepath.Join(dir, "appended"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("tail")
	f.Close()
	// Badger writes its logs through a shared mapping and msyncs them.
	mapped := func(name string, sync bool) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(pageSize); err != nil {
			t.Fatal(err)
		}
		b, err := unix.Mmap(int(f.Fd()), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		copy(b, "mapped")
		if sync {
			if err := unix.Msync(b, unix.MS_SYNC); err != nil {
				t.Fatal(err)
			}
		}
		unix.Munmap(b)
	}
	mapped("msynced", true)
	mapped("mapped", false)
	before := map[string]string{}
	for _, name := range []string{"synced", "volatile", "renamed", "rewritten", "appended"} {
		before[name] = read(name)
	}
	if before["appended"] != "head|tail" || before["renamed"] != "lost too" || before["rewritten"] != "second" {
		t.Fatalf("before the cut: %q", before)
	}
	if got := read("mapped"); got[:6] != "mapped" {
		t.Fatalf("mapped before the cut: %q", got[:6])
	}
	if lost := m.cut(); !slices.Equal(lost, []string{"appended", "mapped", "rewritten", "volatile"}) {
		t.Errorf("cut lost data of %q", lost)
	}
	if got := read("msynced"); len(got) != pageSize || got[:6] != "mapped" {
		t.Errorf("msynced after the cut: %q", got[:min(6, len(got))])
	}
	if got := read("mapped"); got != "" {
		t.Errorf("mapped without msync after the cut: %d bytes", len(got))
	}
	want := map[string]string{"synced": "kept", "volatile": "", "renamed": "", "rewritten": "first version", "appended": "head|"}
	for name, w := range want {
		if got := read(name); got != w {
			t.Errorf("%s after the cut: %q, want %q", name, got, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "renamed.tmp")); !os.IsNotExist(err) {
		t.Errorf("the rename did not survive: %v", err)
	}
}
