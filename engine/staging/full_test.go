package staging

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"tapefs/internal/testfs"
)

// smallFS mounts a tmpfs of size bytes on a new directory for the test
// (unmounted at cleanup). It needs root; it skips without.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	return testfs.Small(t, int64(size))
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestStoreFull fills a small staging filesystem with files of every size
// class (packed in memory, and their own data files) while another file is
// being changed, then crashes: the write that does not fit fails with
// ENOSPC (never a close that returned success for data that is not there),
// the log says the staging filesystem is full, the store opens again on
// the full filesystem (appending to its journal when there is no room to
// rewrite it) and drops the file that was being changed, every file whose
// Flush returned reads back whole, files can be removed, and the space
// they free can be used again.
func TestStoreFull(t *testing.T) {
	for _, size := range []int{4 << 10, 300 << 10, 3 << 20} {
		t.Run(fmt.Sprintf("%d KiB files", size>>10), func(t *testing.T) {
			dir := smallFS(t, 8<<20)
			var log logLines
			s := mustT(Open(dir, Options{Logf: log.logf}))
			g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			// Changed in place when the process dies: removed at Open.
			// (8 KiB: on the full filesystem its removal frees less than
			// rewriting the journal needs.)
			changing := writeFile(t, s, g.ID, "changing", bytes.Repeat([]byte("c"), 8<<10))
			cf := mustT(s.OpenFile(changing.ID, false))
			mustT(cf.WriteAt([]byte("C"), 0))
			data := func(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5a}, size/3+1)[:size] }
			var done []Attr // flushed and closed
			var full error
			for i := 0; full == nil; i++ {
				if i > 10000 {
					t.Fatal("8 MiB filesystem never filled")
				}
				a, err := s.Make(g.ID, fmt.Sprintf("f%05d", i), syscall.S_IFREG|0o644, 0, 0, 0, "", true)
				if err != nil {
					full = err
					break
				}
				f := mustT(s.OpenFile(a.ID, false))
				if _, err := f.WriteAt(data(i), 0); err != nil {
					full = err
				} else if err := f.Flush(); err != nil {
					full = err
				}
				if err := f.Close(); err != nil && full == nil {
					full = err
				}
				if full == nil {
					done = append(done, a)
				}
			}
			if !errors.Is(full, syscall.ENOSPC) {
				t.Fatalf("filling the staging filesystem ended with %v, want ENOSPC", full)
			}
			if len(done) == 0 {
				t.Fatal("not one file fit")
			}
			if !strings.Contains(log.String(), "the staging filesystem is full") {
				t.Errorf("log does not say the filesystem is full:\n%s", log.String())
			}
			crash(s)

			for reopen := range 2 {
				s = mustT(Open(dir, Options{Logf: log.logf}))
				if _, err := s.Lookup(g.ID, "changing"); !errors.Is(err, syscall.ENOENT) {
					t.Errorf("reopen %d: the file being changed at the crash: %v, want ENOENT", reopen, err)
				}
				if reopen == 0 {
					must(t, s.Close())
				}
			}
			defer s.Close()
			if size == 4<<10 && !strings.Contains(log.String(), "no room to rewrite the journal") {
				t.Errorf("a full filesystem did not make Open append to the journal:\n%s", log.String())
			}
			for i, a := range done {
				if got := readAll(t, s, a.ID); !bytes.Equal(got, data(i)) {
					t.Fatalf("file %d of %d read back %d bytes, not what was written", i, len(done), len(got))
				}
			}
			// Remove what was written; the same files fit again.
			for i := range done {
				must(t, s.Unlink(g.ID, fmt.Sprintf("f%05d", i)))
			}
			for _, name := range mustT(s.ReadDir(g.ID)) {
				must(t, s.Unlink(g.ID, name.Name))
			}
			for i := range len(done) / 2 {
				writeFile(t, s, g.ID, fmt.Sprintf("again%05d", i), data(i))
			}
		})
	}
}

// TestStatfsHonest: Statfs reports the staging filesystem less the data
// still held in memory for files being written, which will need the space.
func TestStatfsHonest(t *testing.T) {
	dir := smallFS(t, 16<<20)
	s := mustT(Open(dir, Options{}))
	defer s.Close()
	var fsst unix.Statfs_t
	must(t, unix.Statfs(dir, &fsst))
	st := mustT(s.Statfs())
	if st.Blocks != fsst.Blocks || st.Bavail != fsst.Bavail || st.Bsize != fsst.Bsize {
		t.Fatalf("idle store: statfs %d/%d blocks of %d, filesystem %d/%d of %d", st.Bavail, st.Blocks, st.Bsize, fsst.Bavail, fsst.Blocks, fsst.Bsize)
	}
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	a := mustT(s.Make(g.ID, "f", syscall.S_IFREG|0o644, 0, 0, 0, "", true))
	f := mustT(s.OpenFile(a.ID, false))
	const n = 512 << 10 // packed: in memory until the flush
	mustT(f.WriteAt(make([]byte, n), 0))
	must(t, unix.Statfs(dir, &fsst))
	st = mustT(s.Statfs())
	want := fsst.Bavail - uint64(n)/uint64(fsst.Bsize)
	if st.Bavail != want {
		t.Errorf("with %d bytes in memory: Bavail %d, want %d (filesystem %d)", n, st.Bavail, want, fsst.Bavail)
	}
	must(t, f.Flush())
	must(t, f.Close())
	must(t, unix.Statfs(dir, &fsst))
	st = mustT(s.Statfs())
	if st.Bavail != fsst.Bavail {
		t.Errorf("after the flush: Bavail %d, filesystem %d", st.Bavail, fsst.Bavail)
	}
}

// TestJournalReserve: the journal keeps blocks allocated past its end (its
// size unchanged), so that removals fit on a full filesystem.
func TestJournalReserve(t *testing.T) {
	dir := smallFS(t, 16<<20)
	s := mustT(Open(dir, Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	for i := range 100 {
		writeFile(t, s, g.ID, fmt.Sprintf("f%d", i), []byte("x"))
	}
	var st unix.Stat_t
	must(t, unix.Stat(s.journalPath(), &st))
	if allocated := st.Blocks * 512; allocated < st.Size+journalReserve/2 {
		t.Errorf("journal of %d bytes has %d bytes allocated, want at least %d more", st.Size, allocated, journalReserve/2)
	}
}

// TestWriteFailedCloseFails: when a write of a file fails because the
// staging filesystem is full, closing that file fails too and does not
// make it complete: a commit leaves it out and a restart removes it, so
// a file cut short is never taken for the whole file (the field report:
// a file left at 9 MiB whose close() returned 0). Truncating away what
// was lost, or emptying the file, makes it writable to completion again.
func TestWriteFailedCloseFails(t *testing.T) {
	for _, keep := range []int64{0, 2 << 20} {
		t.Run(fmt.Sprintf("KeepFree %d MiB", keep>>20), func(t *testing.T) {
			dir := smallFS(t, 8<<20)
			s := mustT(Open(dir, Options{KeepFree: keep}))
			g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			writeFile(t, s, g.ID, "ok", bytes.Repeat([]byte("k"), 100<<10))
			a, f, err := s.Create(g.ID, "big", 0o644, 0, 0)
			must(t, err)
			block := bytes.Repeat([]byte("b"), 128<<10)
			var off int64
			var werr error
			for off = 0; off < 16<<20; off += int64(len(block)) {
				if _, werr = f.WriteAt(block, off); werr != nil {
					break
				}
			}
			if !errors.Is(werr, syscall.ENOSPC) {
				t.Fatalf("writing 16 MiB into 8 MiB: %v, want ENOSPC", werr)
			}
			if keep > 0 {
				var st unix.Statfs_t
				must(t, unix.Statfs(dir, &st))
				if free := int64(st.Bavail) * int64(st.Bsize); free < keep-int64(len(block)) {
					t.Errorf("%d bytes free after the write failed, want at least KeepFree %d", free, keep)
				}
			}
			if err := f.Sync(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("fsync after a failed write: %v, want ENOSPC", err)
			}
			if err := f.Flush(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("close after a failed write: %v, want ENOSPC", err)
			}
			must(t, f.Close())
			fz := mustT(s.Freeze("g"))
			for _, e := range fz.Entries() {
				if e.Path == "big" {
					t.Errorf("a commit takes the file whose write failed (%d bytes)", e.Attr.Size)
				}
			}
			_, err = fz.Release(false)
			must(t, err)

			// Writing it again from the start, after making room,
			// completes it.
			must(t, s.Unlink(g.ID, "ok"))
			f = mustT(s.OpenWriter(a.ID, true))
			mustT(f.WriteAt(block, 0))
			must(t, f.Flush())
			must(t, f.Close())

			// A failed write that is truncated away: complete again.
			f = mustT(s.OpenWriter(a.ID, false))
			for off = int64(len(block)); ; off += int64(len(block)) {
				if _, werr = f.WriteAt(block, off); werr != nil {
					break
				}
			}
			if err := f.Flush(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("close after a failed write: %v, want ENOSPC", err)
			}
			mustT(f.Truncate(int64(len(block))))
			must(t, f.Flush())
			must(t, f.Close())
			if got := readAll(t, s, a.ID); !bytes.Equal(got, block) {
				t.Errorf("after truncating away the failed write: %d bytes", len(got))
			}

			// A failed write then a crash: the file is gone at restart.
			f = mustT(s.OpenWriter(a.ID, false))
			for off = int64(len(block)); ; off += int64(len(block)) {
				if _, werr = f.WriteAt(block, off); werr != nil {
					break
				}
			}
			f.Flush()
			f.Close()
			crash(s)
			s = mustT(Open(dir, Options{KeepFree: keep}))
			defer s.Close()
			if _, err := s.Lookup(g.ID, "big"); !errors.Is(err, syscall.ENOENT) {
				t.Errorf("after a restart the file whose write failed: %v, want ENOENT", err)
			}
		})
	}
}
