package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/engine/format"
)

// TestFileSetBoundAndIdentity: no more than max files stay open, a file
// evicted before its data is complete is reopened for its next chunk, and
// one whose path was replaced meanwhile (here by a symlink) is refused,
// never written through.
func TestFileSetBoundAndIdentity(t *testing.T) {
	dir := t.TempDir()
	var failed []string
	s := newFileSet(4, func(rf *restoreFile, err error) { failed = append(failed, rf.path) })
	s.max = 2
	var files []*restoreFile
	for i := range 5 {
		rf := &restoreFile{entry: &format.Entry{Size: 8}, path: filepath.Join(dir, string(rune('a'+i))), left: 1}
		if err := s.create(rf); err != nil {
			t.Fatal(err)
		}
		files = append(files, rf)
		if s.lru.Len() > 2 {
			t.Fatalf("%d files open, max 2", s.lru.Len())
		}
	}
	// a was evicted: written after a reopen.
	of, err := s.acquire(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := of.fd.WriteAt([]byte("data"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.release(of, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(files[0].path); string(b) != "\x00\x00data\x00\x00" {
		t.Fatalf("a holds %q", b)
	}
	// b was evicted too; replace it with a symlink to a file outside.
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(files[1].path)
	if err := os.Symlink(outside, files[1].path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(files[1]); err == nil {
		t.Fatal("reopened a path that is now a symlink")
	}
	// c too, by a hard link to a file outside.
	os.Remove(files[2].path)
	if err := os.Link(outside, files[2].path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(files[2]); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("reopened a replaced file: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatalf("written through a symlink: %q", b)
	}
	s.closeAll()
	if s.lru.Len() != 0 || len(failed) != 0 {
		t.Fatalf("after closeAll: %d open, failed %v", s.lru.Len(), failed)
	}
}
