// Package testfs makes small filesystems for tests of what tapefs does
// when the disk is full: a tmpfs of a given size mounted on a new
// directory, and a filler that takes its free space. It needs root (the
// machine tests run on is); callers skip without it.
//
// Layering: a leaf, imported only by tests.
package testfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Small mounts a tmpfs of size bytes on a new directory (or on dir when
// it is given: it is created) and unmounts it at cleanup. It skips the
// test without root.
func Small(t testing.TB, size int64, dir ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	d := t.TempDir()
	if len(dir) > 0 {
		d = dir[0]
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tapefs-test", d, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(d, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount tmpfs: %v", err)
		}
	})
	return d
}

// Free is the number of bytes an unprivileged writer can still allocate
// on the filesystem of dir.
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// Filler takes free space of a filesystem, as another program filling
// the disk would.
type Filler struct {
	t testing.TB
	f *os.File
}

// NewFiller creates the filler file in dir (on the filesystem to fill).
func NewFiller(t testing.TB, dir string) *Filler {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &Filler{t: t, f: f}
}

// Leave grows or shrinks the filler so that about keep bytes stay free
// (keep 0: the filesystem is full).
func (fl *Filler) Leave(keep int64) {
	fl.t.Helper()
	fi, err := fl.f.Stat()
	if err != nil {
		fl.t.Fatal(err)
	}
	size := fi.Size() + Free(fl.t, filepath.Dir(fl.f.Name())) - keep
	if size < 0 {
		size = 0
	}
	if size < fi.Size() {
		if err := fl.f.Truncate(size); err != nil {
			fl.t.Fatal(err)
		}
		return
	}
	err = unix.Fallocate(int(fl.f.Fd()), 0, 0, size)
	if errors.Is(err, unix.ENOSPC) && keep == 0 {
		// Allocation in one piece can fall short by metadata: take
		// what is left block by block.
		err = nil
		b := make([]byte, 4096)
		for off := fi.Size(); ; off += int64(len(b)) {
			if _, werr := fl.f.WriteAt(b, off); werr != nil {
				break
			}
		}
	}
	if err != nil && !(errors.Is(err, unix.ENOSPC) && keep == 0) {
		fl.t.Fatalf("fill %s: %v", fl.f.Name(), err)
	}
}
