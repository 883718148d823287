package fusefs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// TestIncomingCreatedDirect: a created file's handle is direct I/O; it
// can still be mapped shared, and a write through it by a caller other
// than root clears set-ID bits as a cached write would.
func TestIncomingCreatedDirect(t *testing.T) {
	in := mountIncomingWith(t, MountOptions{AllowOther: true})
	g := filepath.Join(in, "g")
	if err := os.Mkdir(g, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(g, 0o777); err != nil {
		t.Fatal(err)
	}

	t.Run("shared mapping", func(t *testing.T) {
		p := filepath.Join(g, "mapped")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(4096); err != nil {
			t.Fatal(err)
		}
		m, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatalf("mmap MAP_SHARED of a created file: %v", err)
		}
		copy(m, "through the mapping")
		if err := unix.Msync(m, unix.MS_SYNC); err != nil {
			t.Fatal(err)
		}
		if err := unix.Munmap(m); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, []byte("through the mapping")) || len(got) != 4096 {
			t.Errorf("read back %d bytes starting %q", len(got), got[:min(len(got), 24)])
		}
	})

	t.Run("modes checked for other users", func(t *testing.T) {
		asNobody(t, in)
		// With allow_other the kernel checks modes (default_permissions):
		// another user may not create in root's 0755 directory nor
		// write a root-owned 0644 file.
		closed := filepath.Join(in, "closed")
		if err := os.Mkdir(closed, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(closed, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, script := range []string{`: > "$1/new"`, `printf y >> "$1/f"`} {
			cmd := exec.Command("sh", "-c", script, "sh", closed)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte("Permission denied")) {
				t.Errorf("%s as nobody: err %v, output %q; want Permission denied", script, err, out)
			}
		}
		if _, err := os.Stat(filepath.Join(closed, "new")); !os.IsNotExist(err) {
			t.Errorf("nobody created a file in a 0755 root directory: %v", err)
		}
	})

	t.Run("set-ID cleared on write", func(t *testing.T) {
		asNobody(t, in)
		tests := []struct {
			name       string
			mode, want uint32
		}{
			{"suid and sgid with group exec", 0o6775, 0o775},
			{"sgid without group exec stays", 0o2764, 0o2764},
			{"plain", 0o664, 0o664},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := filepath.Join(g, tt.name)
				// Create through fd 3, chmod, then write through fd 3.
				cmd := exec.Command("sh", "-c", `exec 3>"$1" && chmod "$2" "$1" && printf data >&3`, "sh", p, "0"+strconv.FormatUint(uint64(tt.mode), 8))
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if got := st.Mode & 0o7777; got != tt.want {
					t.Errorf("mode after write %o, want %o", got, tt.want)
				}
			})
		}
	})
}

// asNobody skips t unless it runs as root (it acts as user nobody), and
// lets other users reach the mount of incoming/ in (t.TempDir is 0700).
func asNobody(t *testing.T, in string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	mnt := filepath.Dir(filepath.Dir(filepath.Dir(in)))
	if err := os.Chmod(filepath.Dir(mnt), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestIncomingCopyRequests counts the FUSE requests of cp -a into
// incoming/: no GETXATTR of security.capability before the writes of a
// created file (its handle is direct I/O) and, for a root daemon without
// allow_other, no GETATTR of the directory (no default_permissions), so a
// small file costs seven requests (LOOKUP, CREATE, WRITE, SETATTR,
// SETXATTR, FLUSH, RELEASE) and a larger one one more per 128 KiB write;
// the copy reads back the same.
func TestIncomingCopyRequests(t *testing.T) {
	counter := &reqCounter{}
	in := mountIncomingWrap(t, MountOptions{}, func(raw fuse.RawFileSystem) fuse.RawFileSystem {
		counter.RawFileSystem = raw
		return counter
	})
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	const small, large = 200, 4
	for i := range small {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("s%03d", i)), bytes.Repeat([]byte{byte(i)}, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range large {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("l%d", i)), bytes.Repeat([]byte{byte(i)}, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(in, "g"), 0o755); err != nil {
		t.Fatal(err)
	}
	counter.take()
	if out, err := exec.Command("cp", "-a", src, filepath.Join(in, "g")).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	n := counter.take()
	files := small + large
	t.Logf("cp -a of %d files: %s", files, fmtCounts(n, files))
	if n["GETXATTR"] != 0 {
		t.Errorf("%d GETXATTR requests, want none", n["GETXATTR"])
	}
	perFile := 7
	if os.Geteuid() != 0 {
		perFile = 8 // default_permissions: GETATTR of the directory
	} else if n["GETATTR"] > 2 {
		t.Errorf("%d GETATTR requests, want none per file", n["GETATTR"])
	}
	if want := small + large*8; n["WRITE"] != want {
		t.Errorf("%d WRITE requests, want %d", n["WRITE"], want)
	}
	total := 0
	for op, k := range n {
		if op != "FORGET" && op != "readdir-bytes" {
			total += k
		}
	}
	// The copied directory itself costs a few (mkdir, its times and mode).
	if limit := perFile*files + n["WRITE"] - files + 10; total > limit {
		t.Errorf("%d requests for %d files, want at most %d", total, files, limit)
	}
	if out, err := exec.Command("diff", "-r", src, filepath.Join(in, "g", "src")).CombinedOutput(); err != nil {
		t.Errorf("the copy differs: %v\n%s", err, out)
	}
}

// TestIncomingStatfs: df on incoming/ shows the filesystem the staging
// store is on (the test's state directory is on the temporary directory's
// filesystem), not made-up numbers.
func TestIncomingStatfs(t *testing.T) {
	in := mountIncoming(t)
	var got, fsst unix.Statfs_t
	if err := unix.Statfs(in, &got); err != nil {
		t.Fatal(err)
	}
	if err := unix.Statfs(os.TempDir(), &fsst); err != nil {
		t.Fatal(err)
	}
	if got.Blocks != fsst.Blocks || got.Bsize != fsst.Bsize || got.Files != fsst.Files {
		t.Errorf("incoming/: %d blocks of %d, %d inodes; staging filesystem: %d of %d, %d", got.Blocks, got.Bsize, got.Files, fsst.Blocks, fsst.Bsize, fsst.Files)
	}
	// Other tests write beside this one: free space agrees within 1%.
	if d := int64(got.Bavail) - int64(fsst.Bavail); d > int64(fsst.Blocks/100) || -d > int64(fsst.Blocks/100) {
		t.Errorf("incoming/: %d blocks free, staging filesystem %d", got.Bavail, fsst.Bavail)
	}
}

// TestIncomingRootOwner: a file owned by root shows uid and gid 0 also
// when the daemon runs as another user (as if: the tree's own uid is
// 1000 here), not the daemon's owner in place of 0.
func TestIncomingRootOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown to root")
	}
	in := mountIncomingRoot(t, MountOptions{}, nil, func(r *Root) { r.uid, r.gid = 1000, 1000 })
	g := filepath.Join(in, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(g, "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, who := range [][2]int{{0, 0}, {7, 8}} {
		if err := os.Chown(p, who[0], who[1]); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != who[0] || int(st.Gid) != who[1] {
			t.Errorf("chown %d:%d shows %d:%d", who[0], who[1], st.Uid, st.Gid)
		}
	}
	// The browse tree shows the daemon's owner.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Dir(in), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("pool directory owned by %d:%d, want the daemon's 1000:1000", st.Uid, st.Gid)
	}
}

// TestIncomingSparseBlocks: a sparse file copied into incoming/ shows the
// blocks its data takes, not its size (du of the tree tells the holes).
func TestIncomingSparseBlocks(t *testing.T) {
	in := mountIncoming(t)
	dir := filepath.Join(in, "sparse")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("x"), 4096), 64<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 64<<20+4096 || st.Blocks*512 > 1<<20 {
		t.Errorf("size %d, %d KiB allocated; want 64 MiB + 4 KiB with its hole unallocated", st.Size, st.Blocks/2)
	}
	// A packed small file: its size.
	if err := os.WriteFile(filepath.Join(dir, "small"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(dir, "small"), &st); err != nil || st.Blocks != 1 {
		t.Errorf("small file: %d blocks, %v; want 1", st.Blocks, err)
	}
}

// TestFsyncDirectories: fsync and fdatasync of a directory succeed in
// incoming/ (after a rename, as atomic-replace helpers do) and in the
// browse trees, and `sync DIR` works.
func TestFsyncDirectories(t *testing.T) {
	in := mountIncoming(t)
	g := filepath.Join(in, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g, ".f.tmp"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(g, ".f.tmp"), filepath.Join(g, "f")); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Dir(filepath.Dir(filepath.Dir(in)))
	for _, dir := range []string{g, in, filepath.Join(mnt, "pools"), filepath.Join(mnt, "pools/daily"), filepath.Join(mnt, "pools/daily/snapshots"), mnt} {
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			t.Errorf("fsync %s: %v", dir, err)
		}
		if err := unix.Fdatasync(int(d.Fd())); err != nil {
			t.Errorf("fdatasync %s: %v", dir, err)
		}
		d.Close()
		if out, err := exec.Command("sync", dir).CombinedOutput(); err != nil {
			t.Errorf("sync %s: %v %s", dir, err, out)
		}
	}
	// A browse file too (read-only: nothing to write).
	f, err := os.Open(filepath.Join(mnt, "pools/daily/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Errorf("fsync of a browse file: %v", err)
	}
}
