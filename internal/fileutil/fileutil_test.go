package fileutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	if err := Replace(dir, "f", []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Replace(dir, "f", []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "f"))
	st, _ := os.Stat(filepath.Join(dir, "f"))
	if err != nil || string(b) != "two" || st.Mode().Perm() != 0o640 {
		t.Fatalf("content %q mode %v err %v", b, st.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := Replace(filepath.Join(dir, "missing"), "f", nil, 0o600); err == nil {
		t.Error("replace in a missing directory succeeded")
	}
}

func TestLockTimeout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, _ := os.Create(p)
	defer a.Close()
	b, _ := os.Open(p)
	defer b.Close()
	if err := Lock(a, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := Lock(b, 20*time.Millisecond); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock: %v", err)
	}
	a.Close()
	if err := Lock(b, time.Second); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}
