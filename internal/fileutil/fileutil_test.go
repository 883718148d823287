package fileutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestLockNamesHolder: a lock wait that times out names the process that
// holds the lock (pid and command), for shared waiters too.
func TestLockNamesHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, PrivateFile)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := Lock(a, time.Second); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("(pid %d: %s)", os.Getpid(), Cmdline(os.Getpid()))
	for name, lock := range map[string]func(*os.File, time.Duration) error{"Lock": Lock, "LockShared": LockShared} {
		b, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		err = lock(b, 20*time.Millisecond)
		b.Close()
		if !errors.Is(err, ErrLockTimeout) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s while held: %v, want ErrLockTimeout naming %s", name, err, want)
		}
	}
}

// TestMkdirAllMode: a directory MkdirAll creates has exactly the mode
// asked for under any umask; an existing one keeps its own.
func TestMkdirAllMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "a", "etc")
	if err := MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("new directory: %v %v, want 0755", fi.Mode(), err)
	}
	os.Chmod(dir, 0o750)
	if err := MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
		t.Errorf("existing directory changed to %v", fi.Mode())
	}
}
