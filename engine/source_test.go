package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDirSourceClampsTimes: a file whose mtime lies past the year 9999
// (tmpfs and XFS store such times) is backed up with the last time a
// snapshot holds instead of failing the whole snapshot archive.
func TestDirSourceClampsTimes(t *testing.T) {
	// /dev/shm is tmpfs, which keeps 64-bit seconds; most other
	// filesystems clamp the time themselves.
	dir, err := os.MkdirTemp("/dev/shm", "tapefs-source-")
	if err != nil {
		t.Skipf("no tmpfs at /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	far := time.Unix(300_000_000_000, 0) // the year 11476
	old := time.Date(1600, 1, 1, 0, 0, 0, 5, time.UTC)
	// os.Chtimes goes through int64 nanoseconds, which end in 2262.
	ts := []unix.Timespec{{Sec: old.Unix(), Nsec: int64(old.Nanosecond())}, {Sec: far.Unix()}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil || st.Mtim.Sec != far.Unix() {
		t.Skipf("%s does not keep the year 11476", dir)
	}
	se, err := DirSource(dir).Stat("f")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	if !se.Entry.Mtime.Equal(end) || !se.Entry.Atime.Equal(old) {
		t.Errorf("mtime %v atime %v, want %v and %v", se.Entry.Mtime, se.Entry.Atime, end, old)
	}
	se.Entry.Path, se.Entry.Size = "f", 0
	if err := se.Entry.Validate(); err != nil {
		t.Errorf("entry does not validate: %v", err)
	}
}
