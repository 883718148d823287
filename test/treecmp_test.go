package test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// makeTree builds a source tree with every file type a backup must keep:
// regular files (empty, small, large random, sparse, ending in a hole, all
// hole, duplicate content),
// directories with odd modes, symlinks (relative, absolute, dangling), hard
// links (of a file, a symlink, a FIFO and a device), a FIFO, character and block devices, xattrs, and nanosecond times.
func makeTree(t *testing.T, root string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	must(os.MkdirAll(filepath.Join(root, "dir/sub/deep"), 0o755))
	must(os.Mkdir(filepath.Join(root, "private"), 0o700))
	must(os.WriteFile(filepath.Join(root, "empty"), nil, 0o644))
	must(os.WriteFile(filepath.Join(root, "small.txt"), []byte("hello tape\n"), 0o640))
	big := data(5<<20 + 12345)
	must(os.WriteFile(filepath.Join(root, "dir/big.bin"), big, 0o600))
	must(os.WriteFile(filepath.Join(root, "dir/sub/copy-of-big.bin"), big, 0o644)) // dedup inside one backup
	must(os.WriteFile(filepath.Join(root, "dir/sub/deep/random"), data(300<<10), 0o755))
	// A sparse file: data, a 6 MiB hole, data.
	f, err := os.Create(filepath.Join(root, "sparse"))
	must(err)
	_, err = f.Write(data(100 << 10))
	must(err)
	_, err = f.WriteAt(data(50<<10), 100<<10+6<<20)
	must(err)
	must(f.Close())
	// Files that end in a hole: data then 5 MiB of hole, and only a hole.
	f, err = os.Create(filepath.Join(root, "sparse-tail"))
	must(err)
	_, err = f.Write(data(70 << 10))
	must(err)
	must(f.Truncate(70<<10 + 5<<20))
	must(f.Close())
	f, err = os.Create(filepath.Join(root, "all-hole"))
	must(err)
	must(f.Truncate(3 << 20))
	must(f.Close())
	must(os.Symlink("small.txt", filepath.Join(root, "link-rel")))
	must(os.Symlink("/etc/hostname", filepath.Join(root, "link-abs")))
	must(os.Symlink("does/not/exist", filepath.Join(root, "dir/dangling")))
	must(os.Link(filepath.Join(root, "small.txt"), filepath.Join(root, "dir/hardlink")))
	must(os.Link(filepath.Join(root, "small.txt"), filepath.Join(root, "dir/sub/deep/hardlink-3")))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(root, "null-dev"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mknod(filepath.Join(root, "blk-dev"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))))
	// Hard links of nodes that are not regular files (cp -a and rsync -H
	// keep them too).
	must(os.Link(filepath.Join(root, "fifo"), filepath.Join(root, "dir/fifo-link")))
	must(os.Link(filepath.Join(root, "null-dev"), filepath.Join(root, "dir/sub/null-link")))
	must(unix.Linkat(unix.AT_FDCWD, filepath.Join(root, "link-rel"), unix.AT_FDCWD, filepath.Join(root, "link-rel-2"), 0))
	must(unix.Setxattr(filepath.Join(root, "small.txt"), "user.color", []byte("blue"), 0))
	must(unix.Setxattr(filepath.Join(root, "dir"), "user.note", []byte{0, 1, 2, 255}, 0))
	must(os.Chmod(filepath.Join(root, "dir/sub"), 0o2751))
	must(os.Chown(filepath.Join(root, "dir/sub/deep/random"), 1234, 5678))
	// Times with nanoseconds, set last (deepest first) so they stay.
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for i, p := range paths {
		ts := []unix.Timespec{{Sec: 1700000000 + int64(i), Nsec: 123456789}, {Sec: 1600000000 + int64(i)*7, Nsec: int64(i)*1000 + 987}}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// describeTree lists every entry under root with type, mode, owner, size,
// content hash, link target, device, xattrs, mtime (ns) and which entries
// share an inode, one line each, for comparing two trees.
func describeTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s type=%o mode=%o uid=%d gid=%d", rel, st.Mode&unix.S_IFMT, st.Mode&0o7777, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			line += fmt.Sprintf(" size=%d sha=%x", st.Size, h.Sum(nil)[:8])
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " target=" + target
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" rdev=%d", st.Rdev)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			inodes[st.Ino] = append(inodes[st.Ino], rel)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Mode&unix.S_IFMT != unix.S_IFLNK {
			line += fmt.Sprintf(" mtime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
		} else if st.Mode&unix.S_IFMT == unix.S_IFDIR && rel != "." {
			line += fmt.Sprintf(" mtime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
		}
		if sz, err := unix.Llistxattr(p, nil); err == nil && sz > 0 {
			buf := make([]byte, sz)
			n, _ := unix.Llistxattr(p, buf)
			names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			sort.Strings(names)
			for _, name := range names {
				v := make([]byte, 256)
				vn, _ := unix.Lgetxattr(p, name, v)
				line += fmt.Sprintf(" xattr:%s=%x", name, v[:max(vn, 0)])
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, group := range inodes {
		sort.Strings(group)
		lines = append(lines, "hardlinks "+strings.Join(group, " "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// diffTrees fails the test with the first differing lines.
func diffTrees(t *testing.T, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, l := range gl {
		seen[l] = true
	}
	for _, l := range wl {
		if !seen[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	seenW := map[string]bool{}
	for _, l := range wl {
		seenW[l] = true
	}
	for _, l := range gl {
		if !seenW[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	t.Fatalf("restored tree differs from the source (- source, + restored):\n%s", b.String())
}
