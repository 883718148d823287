package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/vtape"
)

// restoreEntries lays out and finishes the entries of one snapshot (no
// file data) in target and returns the result and finish's error.
func restoreEntries(t *testing.T, target string, ents []*format.Entry) (*RestoreResult, error) {
	t.Helper()
	r := &restoreJob{target: target, res: &RestoreResult{}}
	r.add("g/2026-11-25T17:00:00Z", ents, nil)
	r.plan(func([32]byte) (catalog.ChunkLoc, error) { return catalog.ChunkLoc{}, nil })
	if err := r.layout(); err != nil {
		t.Fatal(err)
	}
	return r.res, r.finish()
}

// TestRestoreStaysInTarget feeds the restore layout entries a hostile tape
// could carry: a symlink to a directory outside the target followed by
// entries below it, and paths with "..". Nothing may appear outside the
// target, and every refused entry is reported.
func TestRestoreStaysInTarget(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	target := filepath.Join(base, "target")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	ents := []*format.Entry{
		{Path: "", Type: format.EntryDir, Mode: 0o755, Mtime: now, Atime: now, Ctime: now},
		{Path: "a", Type: format.EntrySymlink, Target: outside, Mode: 0o777, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/evil", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/sub", Type: format.EntryDir, Mode: 0o700, Mtime: now, Atime: now, Ctime: now},
		{Path: "a/sub/deeper", Type: format.EntryFIFO, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "../escape", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
		{Path: "ok", Type: format.EntryFile, Mode: 0o644, Mtime: now, Atime: now, Ctime: now},
	}
	res, err := restoreEntries(t, target, ents)
	if err == nil {
		t.Fatal("hostile entries restored without failures")
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("restore changed the directory outside the target: %v %v", fi.Mode(), err)
	}
	left, _ := os.ReadDir(outside)
	if len(left) != 0 {
		t.Errorf("restore wrote outside the target: %v", left)
	}
	if _, err := os.Stat(filepath.Join(base, "escape")); err == nil {
		t.Errorf("../escape was created")
	}
	all := strings.Join(res.Failed, "\n")
	for _, p := range []string{"a/evil", "a/sub", "../escape"} {
		if !strings.Contains(all, p) {
			t.Errorf("refused entry %s not reported:\n%s", p, all)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "g/2026-11-25T17:00:00Z/ok")); err != nil {
		t.Errorf("the harmless file was not restored: %v", err)
	}
}

// TestRestoreNeverRemovesOutside: a hostile entry whose path climbs out of
// the target must not make the restore touch (or delete) anything there.
func TestRestoreNeverRemovesOutside(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "t")
	now := time.Unix(1700000000, 0)
	ents := []*format.Entry{
		{Path: "", Type: format.EntryDir, Mode: 0o755, Mtime: now, Atime: now, Ctime: now},
		{Path: "../../../victim", Type: format.EntryFile, Mode: 0o644, Size: 4, Mtime: now, Atime: now, Ctime: now},
	}
	if _, err := restoreEntries(t, target, ents); err == nil {
		t.Error("hostile path restored without failure")
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep me" {
		t.Errorf("file outside the target touched: %q, %v", b, err)
	}
}

// TestReadChunkArchiveStopsAtCorruption: a chunk archive whose stream
// turns corrupt (here a second archive's records follow the first
// one's in the same tape file, as an interrupted job leaves them) ends
// the read of that archive with the error; the reader's error is sticky,
// and reading on after it spun forever.
func TestReadChunkArchiveStopsAtCorruption(t *testing.T) {
	ctx := context.Background()
	d := twoArchivesInOneFile(t)
	want := map[[32]byte]bool{{1}: true} // a chunk the archive does not hold
	r := &restoreJob{res: &RestoreResult{}}
	err := readChunkArchive(ctx, d, want, r)
	if !errors.Is(err, format.ErrCorrupt) {
		t.Errorf("readChunkArchive: %v, want a corrupt-data error", err)
	}
}

// TestWalkArchivesStopsAtCorruption: the same for the walk of catalog
// --scan, which also read on after a sticky error.
func TestWalkArchivesStopsAtCorruption(t *testing.T) {
	d := twoArchivesInOneFile(t)
	chunks := 0
	err := walkArchives(context.Background(), d, archiveVisitor{chunk: func(uint64, [32]byte, int64, []byte) error {
		chunks++
		return nil
	}})
	if !errors.Is(err, format.ErrCorrupt) || chunks != 0 {
		t.Errorf("walkArchives: %v after %d chunks, want a corrupt-data error and none", err, chunks)
	}
}

// twoArchivesInOneFile returns a virtual drive whose tape holds, in file
// 0, the first records of two chunk archives, as a job that was killed
// while writing leaves them when the next job appends to the unfinished
// file; the tape is rewound.
func twoArchivesInOneFile(t *testing.T) device.Drive {
	t.Helper()
	ctx := context.Background()
	d, err := vtape.OpenDrive(vtape.DrivePath(loadedLibrary(t), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	data := bytes.Repeat([]byte("chunk data "), 60_000) // several records
	for _, id := range []uuid.UUID{uuid.New(), uuid.New()} {
		aw, err := format.NewChunkArchiveWriter(ctx, d, format.DefaultBlockSize, format.ChunkArchiveHeader{Set: uuid.New()}, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := aw.Add(chunker.Sum(data), data); err != nil {
			t.Fatal(err)
		}
		// No Close: the records of the next archive follow in this file.
	}
	if err := d.WriteFilemarks(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Rewind(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRestoreOverExistingLeavesOthersAlone restores into a target that
// already holds things where the snapshot has files: a symlink to a file
// outside the target, and a directory. A file that could not be restored
// must not have its attributes applied to what is at its path: chmod
// followed the symlink and changed the file outside, and the directory
// got the file's mode 0600 (no search permission). A file there that
// shares its inode with one outside is replaced, not truncated.
func TestRestoreOverExistingLeavesOthersAlone(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1500000000, 0)
	if err := os.Chtimes(victim, old, old); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "t")
	root := filepath.Join(target, "g/2026-11-25T17:00:00Z")
	if err := os.MkdirAll(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(base, "shared")
	if err := os.WriteFile(shared, []byte("keep me too"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(shared, filepath.Join(root, "hard")); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	ents := []*format.Entry{
		{Path: "", Type: format.EntryDir, Mode: 0o755, Mtime: now, Atime: now, Ctime: now},
		{Path: "dir", Type: format.EntryFile, Mode: 0o600, Mtime: now, Atime: now, Ctime: now},
		{Path: "hard", Type: format.EntryFile, Mode: 0o600, Mtime: now, Atime: now, Ctime: now},
		{Path: "link", Type: format.EntryFile, Mode: 0o600, Mtime: now, Atime: now, Ctime: now},
	}
	res, _ := restoreEntries(t, target, ents)
	fi, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(old) {
		t.Errorf("file outside the target changed: mode %v, mtime %v", fi.Mode(), fi.ModTime())
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("file outside the target written: %q", b)
	}
	if b, _ := os.ReadFile(shared); string(b) != "keep me too" {
		t.Errorf("file outside the target that shared an inode with one in it truncated: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(root, "link")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("symlink in the target not replaced by the restored file: %v, %v", fi.Mode(), err)
	}
	fi, err = os.Lstat(filepath.Join(root, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() && fi.Mode().Perm() != 0o755 {
		t.Errorf("existing directory in the target got the file's mode: %v", fi.Mode())
	}
	if fi.IsDir() && !strings.Contains(strings.Join(res.Failed, "\n"), "dir") {
		t.Errorf("file over a directory not reported: %v", res.Failed)
	}
}

// TestWriteSparse: zero blocks of 4 KiB (aligned to the file) are left
// out, the rest is written in runs; the file reads back as the data.
func TestWriteSparse(t *testing.T) {
	data := make([]byte, 64<<10)
	for _, at := range []int{100, 5000, 5001, 40 << 10, 64<<10 - 1} {
		data[at] = byte(at)
	}
	for _, off := range []int64{0, 1000, 4096, 1 << 20} {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(off + int64(len(data))); err != nil {
			t.Fatal(err)
		}
		w := &countingWriterAt{f: f}
		if err := writeSparse(w, data, off); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(data))
		if _, err := f.ReadAt(got, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("off %d: file differs from the data", off)
		}
		if w.bytes >= len(data)/2 {
			t.Errorf("off %d: wrote %d of %d bytes, most of them zeros", off, w.bytes, len(data))
		}
	}
}

type countingWriterAt struct {
	f     *os.File
	bytes int
}

func (w *countingWriterAt) WriteAt(p []byte, off int64) (int, error) {
	w.bytes += len(p)
	return w.f.WriteAt(p, off)
}
