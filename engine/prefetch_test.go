package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/format"
	"tapefs/engine/staging"
)

// memSource is an in-memory BackupSource that records prefetches and
// can fail chosen operations.
type memSource struct {
	nodes    map[string]SourceEntry
	data     map[string][]byte
	failOpen map[string]error
	failStat map[string]error
	// failRead: the reader returns the data, then this error at its end.
	failRead map[string]error

	mu         sync.Mutex
	prefetched []string
	// onPrefetch, if set, is called with each prefetched path.
	onPrefetch func(rel string)
}

func newMemSource() *memSource {
	s := &memSource{nodes: map[string]SourceEntry{}, data: map[string][]byte{}, failOpen: map[string]error{}, failStat: map[string]error{}, failRead: map[string]error{}}
	s.dir("")
	return s
}

var memTime = time.Unix(1764000000, 0)

func (s *memSource) dir(rel string) {
	s.nodes[rel] = SourceEntry{Entry: format.Entry{Type: format.EntryDir, Mode: 0o755, Mtime: memTime, Atime: memTime, Ctime: memTime}}
}

// file adds a regular file; key and links make hard links.
func (s *memSource) file(rel string, data []byte, key uint64, links uint64) {
	s.nodes[rel] = SourceEntry{Links: links, Key: [2]uint64{1, key},
		Entry: format.Entry{Type: format.EntryFile, Mode: 0o644, Size: int64(len(data)), Mtime: memTime, Atime: memTime, Ctime: memTime}}
	s.data[rel] = data
}

func (s *memSource) String() string             { return "mem" }
func (s *memSource) Describe(rel string) string { return "mem/" + rel }

func (s *memSource) Stat(rel string) (SourceEntry, error) {
	if err := s.failStat[rel]; err != nil {
		return SourceEntry{}, err
	}
	se, ok := s.nodes[rel]
	if !ok {
		return SourceEntry{}, os.ErrNotExist
	}
	return se, nil
}

func (s *memSource) ReadDir(rel string) ([]string, error) {
	var names []string
	for p := range s.nodes {
		if p != "" && path.Dir(p) == rel || rel == "" && p != "" && !strings.Contains(p, "/") {
			names = append(names, path.Base(p))
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func (s *memSource) Open(rel string) (io.ReadCloser, error) {
	if err := s.failOpen[rel]; err != nil {
		return nil, err
	}
	r := io.Reader(strings.NewReader(string(s.data[rel])))
	if err := s.failRead[rel]; err != nil {
		r = io.MultiReader(r, iotest.ErrReader(err))
	}
	return io.NopCloser(r), nil
}

func (s *memSource) Prefetch(rel string, n int64) {
	s.mu.Lock()
	s.prefetched = append(s.prefetched, rel)
	f := s.onPrefetch
	s.mu.Unlock()
	if f != nil {
		f(rel)
	}
}

// TestLookaheadOrderAndWindow walks a tree with a slow reader: the
// lookahead prefetches exactly the files the reader reads, in its order
// (not unchanged files, not second names), never more than prefetchFiles
// ahead of it.
func TestLookaheadOrderAndWindow(t *testing.T) {
	src := newMemSource()
	var want []string
	for d := range 3 {
		dir := fmt.Sprintf("d%d", d)
		src.dir(dir)
		for i := range 100 {
			rel := fmt.Sprintf("%s/f%03d", dir, i)
			src.file(rel, []byte(rel), uint64(d*1000+i), 1)
			want = append(want, rel)
		}
	}
	src.file("a-link1", []byte("L"), 9999, 2)
	src.file("z-link2", []byte("L"), 9999, 2) // second name: not read
	want = append([]string{"a-link1"}, want...)
	src.file("same", []byte("S"), 8888, 1) // unchanged: not read
	unchanged := func(rel string, e *format.Entry) bool { return rel == "same" }

	var mu sync.Mutex
	started := 0
	worst := 0
	src.onPrefetch = func(rel string) {
		mu.Lock()
		defer mu.Unlock()
		i := slices.Index(want, rel)
		if d := i - started; d > worst {
			worst = d
		}
	}
	la, stop := startLookahead(context.Background(), src, unchanged)
	for range want {
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		started++
		mu.Unlock()
		la.fileStarted()
	}
	stop()
	// Every prefetch is of a file the reader reads, in its order.
	got := src.prefetched
	if len(got) == 0 {
		t.Fatal("nothing prefetched")
	}
	j := 0
	for _, rel := range got {
		for j < len(want) && want[j] != rel {
			j++
		}
		if j == len(want) {
			t.Fatalf("prefetched %s, not a file the reader reads or out of order: %v", rel, got)
		}
	}
	if worst >= prefetchFiles+1 {
		t.Errorf("the lookahead ran %d files ahead of the reader, window %d", worst, prefetchFiles)
	}
}

// TestLookaheadStops: stop returns while the lookahead waits for a reader
// that never comes.
func TestLookaheadStops(t *testing.T) {
	src := newMemSource()
	for i := range 500 {
		src.file(fmt.Sprintf("f%03d", i), []byte{1}, uint64(i), 1)
	}
	_, stop := startLookahead(context.Background(), src, func(string, *format.Entry) bool { return false })
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return")
	}
	if n := len(src.prefetched); n > prefetchFiles {
		t.Errorf("%d files prefetched with no reader, window %d", n, prefetchFiles)
	}
}

// treeReaderFor returns a treeReader over src into a fresh catalog and a
// spool drained by a goroutine; chunks returns what was spooled.
func treeReaderFor(t *testing.T, src BackupSource) (r *treeReader, chunks func() int) {
	t.Helper()
	cat, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	sp := newSpool(t.TempDir(), 1<<20, 1<<20, 0, t.Logf)
	n := 0
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			_, ok, err := sp.Next(context.Background())
			if err != nil || !ok {
				return
			}
			n++
		}
	}()
	r = &treeReader{src: src, names: newIDNames(), cat: cat, set: uuid.New(), seen: map[chunker.Digest]bool{}, out: sp, ctx: context.Background(),
		progress: func(int64, int64) {}}
	return r, func() int { sp.Close(); <-drained; return n }
}

// TestTreeReaderErrors: a file that cannot be opened and an entry that
// cannot be stat'ed each end the walk with an error naming them, whatever
// else is in flight.
func TestTreeReaderErrors(t *testing.T) {
	errDisk := errors.New("input/output error")
	for _, tt := range []struct {
		name string
		fail func(*memSource)
		want string
	}{
		{"open", func(s *memSource) { s.failOpen["d1/f050"] = errDisk }, "mem/d1/f050"},
		{"stat", func(s *memSource) { s.failStat["d2/f007"] = errDisk }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newMemSource()
			for d := range 3 {
				src.dir(fmt.Sprintf("d%d", d))
				for i := range 100 {
					rel := fmt.Sprintf("d%d/f%03d", d, i)
					src.file(rel, []byte(strings.Repeat(rel, 100)), uint64(d*1000+i), 1)
				}
			}
			tt.fail(src)
			r, chunks := treeReaderFor(t, src)
			err := r.walk()
			chunks()
			if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("walk = %v, want %v naming %q", err, errDisk, tt.want)
			}
		})
	}
}

// TestTreeReaderOmitsChangedFiles: a file whose read ends with
// ErrSourceChanged (a commit's frozen file written meanwhile), at Open or
// at its end, is left out of the snapshot with its other names; the rest
// of the tree is backed up.
func TestTreeReaderOmitsChangedFiles(t *testing.T) {
	src := newMemSource()
	src.dir("d")
	src.file("d/a", []byte(strings.Repeat("a", 5000)), 1, 2)
	src.file("d/b", []byte(strings.Repeat("a", 5000)), 1, 2) // another name of d/a
	src.file("d/c", []byte("c"), 3, 1)
	src.file("d/e", []byte("e"), 4, 1)
	src.failRead["d/a"] = fmt.Errorf("mem/d/a: %w", ErrSourceChanged)
	src.failOpen["d/e"] = fmt.Errorf("mem/d/e: %w", ErrSourceChanged)
	r, chunks := treeReaderFor(t, src)
	if err := r.walk(); err != nil {
		t.Fatal(err)
	}
	chunks()
	var paths []string
	for _, e := range r.entries {
		paths = append(paths, e.Path)
	}
	if want := []string{"", "d", "d/c"}; !slices.Equal(paths, want) {
		t.Errorf("entries %q, want %q", paths, want)
	}
	if len(r.omitted) != 2 || !r.omitted["d/a"] || !r.omitted["d/e"] {
		t.Errorf("omitted %v, want d/a and d/e", r.omitted)
	}
}

// TestStagingSourceChanged: the staging source reports a frozen file that
// changed (staging.ErrChanged) as ErrSourceChanged, at Open and at the end
// of a read; other errors stay what they are.
func TestStagingSourceChanged(t *testing.T) {
	st, err := staging.Open(t.TempDir(), staging.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, err := st.Make(staging.RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)
	if err != nil {
		t.Fatal(err)
	}
	a, f, err := st.Create(g.ID, "big", 0o644, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, staging.PackMax+1)
	if _, err := f.WriteAt(big, 0); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	fz, err := st.Freeze("g")
	if err != nil {
		t.Fatal(err)
	}
	defer fz.Release(false)
	src := stagingSource{fz: fz, pool: "p"}
	r, err := src.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := st.OpenWriter(a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), "incoming/g/big") {
		t.Errorf("read to the end: %v, want ErrSourceChanged naming the file", err)
	}
	if _, err := src.Open("big"); !errors.Is(err, ErrSourceChanged) {
		t.Errorf("Open after the write: %v, want ErrSourceChanged", err)
	}
	w.Close()
	if _, err := src.Open("none"); err == nil || errors.Is(err, ErrSourceChanged) {
		t.Errorf("Open of a missing file: %v", err)
	}
}

// TestTreeReaderChunks: every file's chunk list covers its data, files
// read in walk order; identical files are spooled once.
func TestTreeReaderChunks(t *testing.T) {
	src := newMemSource()
	for i := range 200 {
		src.file(fmt.Sprintf("f%03d", i), []byte(strings.Repeat(fmt.Sprint(i%50), 1000+i%50)), uint64(i), 1)
	}
	r, chunks := treeReaderFor(t, src)
	if err := r.walk(); err != nil {
		t.Fatal(err)
	}
	if n := chunks(); n != 50 {
		t.Errorf("%d chunks spooled, want 50 (one per distinct content)", n)
	}
	if len(r.entries) != 201 {
		t.Fatalf("%d entries", len(r.entries))
	}
	for _, e := range r.entries[1:] {
		var size int64
		for _, c := range e.Chunks {
			if c.Offset != size {
				t.Fatalf("%s: chunk at %d, want %d", e.Path, c.Offset, size)
			}
			size += int64(c.Size)
		}
		if size != e.Size || size == 0 {
			t.Errorf("%s: chunks cover %d of %d bytes", e.Path, size, e.Size)
		}
	}
}
