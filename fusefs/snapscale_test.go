package fusefs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// wideSource makes d1/ and d2/ with n files each (no xattrs) and a/ with
// one file with a user xattr.
func wideSource(n int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		for _, d := range []string{"d1", "d2"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
			for i := range n {
				if err := os.WriteFile(filepath.Join(dir, d, fmt.Sprintf("f%03d", i)), []byte{byte(i)}, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		os.MkdirAll(filepath.Join(dir, "a"), 0o755)
		p := filepath.Join(dir, "a", "x")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := unix.Setxattr(p, "user.k", []byte("v"), 0); err != nil {
			t.Skipf("no user xattrs on the test's temporary directory: %v", err)
		}
	}
}

// countingMount mounts a second tree over f's engine with requests
// counted, set up by setup before the mount.
func countingMount(t *testing.T, f *snapFixture, setup func(*Root)) (string, *reqCounter) {
	t.Helper()
	root, err := New(Options{Engine: f.eng, Run: (&fakeRunner{}).run})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(root)
	}
	counter := &reqCounter{}
	mnt := t.TempDir()
	server, err := mount(mnt, root, MountOptions{}, func(raw fuse.RawFileSystem) fuse.RawFileSystem {
		counter.RawFileSystem = raw
		return counter
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Unmount() })
	return mnt, counter
}

// TestSnapshotListingNodes: a plain find gets listings without a node
// per file (no LOOKUP, no node kept), and a walk that stats what it lists
// gets nodes in its listings after a few lookups.
func TestSnapshotListingNodes(t *testing.T) {
	const n = 100
	f := newSnapFixture(t, wideSource(n))
	mnt, counter := countingMount(t, f, nil)
	pool := filepath.Join(mnt, f.snap)
	set := filepath.Join(mnt, "pools/p0/media-sets", f.res.Set.String(), "snapshots", f.res.Snapshot)

	// Plain find over the media-set view: names only.
	out, err := exec.Command("find", set).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(string(out), "\n"), 2*n+5; got != want {
		t.Fatalf("find listed %d entries, want %d:\n%s", got, want, out)
	}
	c := counter.take()
	if c["READDIRPLUS"] == 0 {
		t.Fatalf("no READDIRPLUS: %v", c)
	}
	if c["LOOKUP"] > 10 {
		t.Errorf("find sent %d LOOKUPs, want only the few on the way to the snapshot", c["LOOKUP"])
	}
	// A file listed without a node is looked up when it is stat'ed.
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(set, "d1/f007"), &st); err != nil || st.Size != 1 {
		t.Fatalf("stat: %v, size %d", err, st.Size)
	}
	if c := counter.take(); c["LOOKUP"] != 1 {
		t.Errorf("stat of a file listed by find: %d LOOKUPs, want 1", c["LOOKUP"])
	}

	// find -printf over the pool view (its own nodes): d1 is listed
	// without nodes and looked up file by file, which tells the daemon
	// the walker stats; d2's listing then carries them.
	out, err = exec.Command("find", pool, "-printf", "%s %p\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(string(out), "\n"), 2*n+5; got != want {
		t.Fatalf("find -printf listed %d entries, want %d", got, want)
	}
	if !strings.Contains(string(out), "\n1 "+filepath.Join(pool, "d2/f099")+"\n") {
		t.Errorf("find -printf: d2/f099 not shown with size 1")
	}
	c = counter.take()
	if l := c["LOOKUP"]; l < statAfterLookups || l > n+10 {
		t.Errorf("find -printf over 2×%d files sent %d LOOKUPs, want at least %d and at most one directory's", n, l, statAfterLookups)
	}
}

// TestSnapshotAbsentXattrs: attributes an entry lacks are answered from
// the listing: ENODATA, and EOPNOTSUPP for security labels, on which ls -l
// stops asking.
func TestSnapshotAbsentXattrs(t *testing.T) {
	const n = 50
	f := newSnapFixture(t, wideSource(n))
	mnt, counter := countingMount(t, f, nil)
	snap := filepath.Join(mnt, f.snap)
	get := func(p, name string) (string, error) {
		buf := make([]byte, 256)
		k, err := unix.Lgetxattr(filepath.Join(snap, p), name, buf)
		if err != nil {
			return "", err
		}
		return string(buf[:k]), nil
	}
	for _, p := range []string{"d1/f001", "a/x", "d1"} {
		if _, err := get(p, "security.selinux"); !errors.Is(err, unix.EOPNOTSUPP) {
			t.Errorf("%s: security.selinux: %v, want EOPNOTSUPP", p, err)
		}
		if _, err := get(p, "security.capability"); !errors.Is(err, unix.EOPNOTSUPP) {
			t.Errorf("%s: security.capability: %v, want EOPNOTSUPP", p, err)
		}
		if _, err := get(p, "system.posix_acl_access"); !errors.Is(err, unix.ENODATA) {
			t.Errorf("%s: system.posix_acl_access: %v, want ENODATA", p, err)
		}
		if _, err := get(p, "user.nope"); !errors.Is(err, unix.ENODATA) {
			t.Errorf("%s: user.nope: %v, want ENODATA", p, err)
		}
	}
	if v, err := get("a/x", "user.k"); err != nil || v != "v" {
		t.Errorf("a/x: user.k: %q, %v", v, err)
	}
	if k, err := unix.Llistxattr(filepath.Join(snap, "d1/f002"), make([]byte, 64)); err != nil || k != 0 {
		t.Errorf("listxattr of a file without xattrs: %d, %v", k, err)
	}
	// A warm ls -l: the stats come from the kernel's cache, the label is
	// asked once, the ACL once per entry.
	ls := func() {
		if out, err := exec.Command("ls", "-l", filepath.Join(snap, "d2")).CombinedOutput(); err != nil {
			t.Fatalf("ls -l: %v\n%s", err, out)
		}
	}
	ls()
	counter.take()
	ls()
	c := counter.take()
	if c["GETXATTR"] > n+5 {
		t.Errorf("warm ls -l of %d entries: %d GETXATTRs, want at most one per entry", n, c["GETXATTR"])
	}
	if c["LOOKUP"] > 5 {
		t.Errorf("warm ls -l of %d entries: %d LOOKUPs (the path to the snapshot is cached)", n, c["LOOKUP"])
	}
}

// TestSnapshotPrune: with more snapshot entries out than its bound, the
// daemon asks the kernel to forget the oldest, and the kernel does.
func TestSnapshotPrune(t *testing.T) {
	const n = 400
	f := newSnapFixture(t, wideSource(n))
	var mu sync.Mutex
	sent := 0
	mnt, counter := countingMount(t, f, func(r *Root) {
		// More than a READDIRPLUS reply holds (see maxSnapNodes).
		r.pruner.max, r.pruner.batch = 512, 64
		r.pruner.notify = func(b []*fs.Inode) syscall.Errno {
			errno := b[0].NotifyPrune(b)
			if errno == 0 {
				mu.Lock()
				sent += len(b)
				mu.Unlock()
			}
			return errno
		}
	})
	snap := filepath.Join(mnt, f.snap)
	// A stat walk hands out a node for (nearly) every entry.
	if out, err := exec.Command("find", snap, "-printf", "%s %p\n").CombinedOutput(); err != nil {
		t.Fatalf("find: %v\n%s", err, out)
	}
	// The prunes go out beside the replies: wait for them a little.
	var want int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		want = sent
		mu.Unlock()
		if want >= 2*n-512-64 || time.Now().After(deadline) {
			break
		}
	}
	if want < 2*n-512-64 {
		t.Fatalf("%d entries sent to prune after a walk over %d, want at least %d", want, 2*n, 2*n-512-64)
	}
	// Nothing uses the entries once find is done: the kernel forgets
	// them (but one or two it was using when their prune came). Without
	// prunes it forgets none.
	deadline := time.Now().Add(5 * time.Second)
	forgot := 0
	for forgot < want-2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		forgot += counter.take()["FORGET"]
	}
	if forgot < want-2 {
		t.Fatalf("the kernel forgot %d entries, want the %d sent to prune", forgot, want)
	}
	// Forgotten entries come back on use.
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(snap, "d1/f000"), &st); err != nil || st.Size != 1 {
		t.Fatalf("stat of a pruned entry: %v, size %d", err, st.Size)
	}
}

// TestPrunerBatches checks the pruner's ring without a kernel.
func TestPrunerBatches(t *testing.T) {
	var mu sync.Mutex
	var got [][]*fs.Inode
	done := make(chan struct{}, 10)
	p := &pruner{max: 8, batch: 4, notify: func(b []*fs.Inode) syscall.Errno {
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		done <- struct{}{}
		return 0
	}}
	nodes := make([]*fs.Inode, 20)
	for i := range nodes {
		nodes[i] = &fs.Inode{}
		p.add(nodes[i])
	}
	// 12 nodes filled the ring: 0-3 pruned; 16: 4-7; 20: 8-11.
	for range 3 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("no prune")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d batches, want 3", len(got))
	}
	for b, batch := range got {
		for i, in := range batch {
			if in != nodes[4*b+i] {
				t.Errorf("batch %d, node %d is not the %dth added", b, i, 4*b+i)
			}
		}
	}
	p.mu.Lock()
	if p.n != 8 {
		t.Errorf("%d nodes kept, want 8", p.n)
	}
	p.mu.Unlock()

	// A kernel without FUSE_NOTIFY_PRUNE: the pruner stops.
	off := &pruner{max: 2, batch: 1, notify: func([]*fs.Inode) syscall.Errno { return syscall.ENOSYS }}
	for range 3 {
		off.add(&fs.Inode{})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		off.mu.Lock()
		stopped := off.off
		off.mu.Unlock()
		if stopped || time.Now().After(deadline) {
			if !stopped {
				t.Fatal("the pruner did not stop on ENOSYS")
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	off.add(&fs.Inode{}) // no work once off
}
