package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tapefs/internal/testfs"
)

// The state directory on a filesystem that fills up (issue 13, item 5):
// a tmpfs of fullStateSize, smaller than what is copied in. Of it, the
// catalog keeps its reserve (64 MiB) and incoming/ leaves it
// catalog.KeepFree (121 MiB), so about 70 MiB are left for incoming/.
const fullStateSize = 256 << 20

// fullState mounts the sandbox's state directory on a small filesystem,
// before any command creates it.
func (s *sandbox) fullState() *testfs.Filler {
	s.t.Helper()
	dir := filepath.Join(s.root, "state")
	testfs.Small(s.t, fullStateSize, dir)
	return testfs.NewFiller(s.t, dir)
}

// noCrash fails the test when a command died of a signal or a Go fatal
// error (exit 2 with a fault, what a SIGBUS in Badger gave) and when its
// exit code is not one of want.
func noCrash(t *testing.T, what string, r result, want ...int) {
	t.Helper()
	if strings.Contains(r.stderr, "fatal error") || strings.Contains(r.stderr, "SIGBUS") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("%s crashed (exit %d):\n%s", what, r.code, r.stderr)
	}
	for _, c := range want {
		if r.code == c {
			return
		}
	}
	t.Fatalf("%s: exit %d, want one of %v\nstdout:\n%s\nstderr:\n%s", what, r.code, want, r.stdout, r.stderr)
}

// fullFileData is the content of file i copied in.
func fullFileData(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("file %04d of the full-disk test\n", i)), (4<<20)/32)
}

// TestFullStateFilesystem copies more into incoming/ than the state
// filesystem holds: the write that does not fit fails with ENOSPC, every
// file whose close() returned 0 holds all its data, the file cut short
// does not close successfully and is never committed. The daemon is killed
// and started again on the full filesystem, after another program took
// its last block too (the catalog then gives back its reserve); CLI
// commands run on it; `rm` in incoming/, the commit (which frees the
// staging space) and `media destroy` work there, and the committed
// snapshot restores.
func TestFullStateFilesystem(t *testing.T) {
	s := newSandbox(t)
	fill := s.fullState()
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	if err := os.MkdirAll(filepath.Join(in, "g"), 0o755); err != nil {
		t.Fatal(err)
	}

	// Copy in 4 MiB files until the filesystem is full.
	var closed []int // files whose close returned 0
	var cutShort string
	for i := 0; cutShort == "" && i < 100; i++ {
		p := filepath.Join(in, "g", fmt.Sprintf("f%04d", i))
		f, err := os.Create(p)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("create %s: %v", p, err)
			}
			break
		}
		data := fullFileData(i)
		var werr error
		for off := 0; off < len(data) && werr == nil; off += 128 << 10 {
			_, werr = f.Write(data[off : off+128<<10])
		}
		cerr := f.Close()
		switch {
		case werr == nil && cerr == nil:
			closed = append(closed, i)
		case werr != nil && !errors.Is(werr, syscall.ENOSPC):
			t.Fatalf("write %s: %v, want ENOSPC", p, werr)
		case cerr == nil:
			t.Fatalf("%s: a write failed (%v) but close returned 0", p, werr)
		case !errors.Is(cerr, syscall.ENOSPC):
			t.Fatalf("close %s after a failed write: %v, want ENOSPC", p, cerr)
		default:
			cutShort = filepath.Base(p)
		}
	}
	if cutShort == "" || len(closed) < 3 {
		t.Fatalf("copy-in never filled the state filesystem (%d files closed)", len(closed))
	}
	checkClosed := func(when string) {
		t.Helper()
		for _, i := range closed {
			p := filepath.Join(in, "g", fmt.Sprintf("f%04d", i))
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, fullFileData(i)) {
				t.Fatalf("%s: %s: %d bytes, %v; want its %d bytes", when, p, len(b), err, len(fullFileData(i)))
			}
		}
	}
	checkClosed("after the disk filled")

	// The CLI through the daemon, then the daemon killed and started
	// again, with the last block taken by another program.
	noCrash(t, "media list (daemon, full)", s.run(nil, "tapefs", "media", "list"), 0)
	s.killDaemon(mnt)
	fill.Leave(0)
	noCrash(t, "media list (no daemon, full)", s.run(nil, "tapefs", "media", "list"), 0)
	noCrash(t, "mount on the full filesystem", s.run(nil, "tapefs", "mount", mnt), 0)
	noCrash(t, "status (full)", s.run(nil, "tapefs", "status"), 0)
	if _, err := os.Stat(filepath.Join(in, "g", cutShort)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file cut short is still in incoming/ after a restart: %v", err)
	}
	checkClosed("after a restart on the full filesystem")

	// rm makes room, media destroy works.
	last := closed[len(closed)-1]
	closed = closed[:len(closed)-1]
	if err := os.Remove(filepath.Join(in, "g", fmt.Sprintf("f%04d", last))); err != nil {
		t.Fatalf("rm in incoming/ on the full filesystem: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(in, &st); err != nil || st.Bavail*uint64(st.Bsize) > 8<<20 {
		t.Errorf("incoming/ is not full: %d bytes available (%v)", st.Bavail*uint64(st.Bsize), err)
	}
	noCrash(t, "media destroy (full)", s.run(nil, "tapefs", "media", "destroy", "TEST08L8"), 0)

	// The commit on the full filesystem: it frees the staging space.
	if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), "g"); e != 0 {
		t.Fatalf("commit on the full filesystem: %v\n%s", e, readFile(t, filepath.Join(mnt, "pools/daily/commit")))
	}
	if names := listNames(t, in); len(names) != 0 {
		t.Errorf("the commit left %v in incoming/", names) // listings are not cached
	}
	restored := s.restoreGroup("g")
	names := listNames(t, restored)
	if len(names) != len(closed) {
		t.Fatalf("snapshot holds %d files, want the %d closed: %v", len(names), len(closed), names)
	}
	for _, i := range closed {
		b, err := os.ReadFile(filepath.Join(restored, fmt.Sprintf("f%04d", i)))
		if err != nil || !bytes.Equal(b, fullFileData(i)) {
			t.Fatalf("restored f%04d: %d bytes, %v", i, len(b), err)
		}
	}
}

// TestFullStateFilesystemCLI fills the state filesystem to several levels
// (none left, a little, about the catalog's room) and runs backups,
// restores and listings at each, without a daemon and with one: no
// command crashes; each succeeds or fails with exit 7 (no space) and a
// message naming the full filesystem; what succeeded restores.
func TestFullStateFilesystemCLI(t *testing.T) {
	s := newSandbox(t)
	fill := s.fullState()
	lib := setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 3)
	want := describeTree(t, src)
	b := s.backup(src, "daily")

	for i, keep := range []int64{0, 1 << 20, 8 << 20, 20 << 20, 40 << 20, 70 << 20} {
		fill.Leave(keep)
		what := fmt.Sprintf("with %d MiB free", keep>>20)
		// New data each time: a backup that writes it to tape and
		// cannot index it would leave dead space, written again next
		// time.
		makeRandomFile(t, filepath.Join(src, "new"), 2<<20, uint64(100+i))
		before := dirBytes(t, lib)
		r := s.run(nil, "tapefs", "backup", src, "daily")
		noCrash(t, "backup "+what, r, 0, 7)
		grew := dirBytes(t, lib) - before
		switch {
		case r.code == 7 && !strings.Contains(r.stderr, "full"):
			t.Errorf("backup %s: exit 7 without saying what is full: %s", what, r.stderr)
		case r.code == 7 && grew > 256<<10:
			t.Errorf("backup %s failed for want of room after writing %d bytes to tape", what, grew)
		case r.code == 0 && grew < 2<<20:
			t.Errorf("backup %s succeeded with %d bytes written to tape", what, grew)
		}
		noCrash(t, "media list "+what, s.run(nil, "tapefs", "media", "list"), 0)
		target := filepath.Join(s.root, fmt.Sprintf("restore-%d", keep>>20))
		noCrash(t, "restore "+what, s.run(nil, "tapefs", "restore", b.Set, target, b.Snapshot), 0)
		diffTrees(t, want, describeTree(t, filepath.Join(target, filepath.FromSlash(b.Snapshot))))
	}
	fill.Leave(0)
	mnt := s.mount()
	noCrash(t, "backup through the daemon, full", s.run(nil, "tapefs", "backup", src, "daily"), 0, 7)
	noCrash(t, "media list through the daemon, full", s.run(nil, "tapefs", "media", "list"), 0)
	s.unmount(mnt)
}

// dirBytes is the size of the files below dir (a virtual library: what
// its cartridges hold grows with every write).
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
