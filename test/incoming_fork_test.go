package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeForkedHalf creates incoming/<group>/dump, writes 100,000 bytes
// into it, then starts a child process that inherits the descriptor and
// exits (as a shell script or a multi-process dumper does), and returns
// the still open file.
func writeForkedHalf(t *testing.T, in, group string) *os.File {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(in, group), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, group, "done"), []byte("complete"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(in, group, "dump"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("a"), 100_000)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	child := exec.Command("true")
	child.ExtraFiles = []*os.File{f} // the child's fd 3: closed when it exits
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestIncomingForkedWriter: a file whose writer forked a child that
// exited is still being written: a commit leaves it out (and it goes with
// the commit after its writer closed it, whole), and after kill -9 of the
// daemon it is gone from incoming/, as a file open for writing is.
func TestIncomingForkedWriter(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	commit := filepath.Join(mnt, "pools/daily/commit")
	snapDump := func(group string) []string {
		var sizes []string
		for name := range s.snapshots() {
			if !strings.HasPrefix(name, group+"/") {
				continue
			}
			fi, err := os.Stat(filepath.Join(mnt, "pools/daily/snapshots", name, "dump"))
			switch {
			case err == nil:
				sizes = append(sizes, name+": "+itoa(fi.Size()))
			case os.IsNotExist(err):
				sizes = append(sizes, name+": no dump")
			default:
				t.Fatal(err)
			}
		}
		return sizes
	}

	f := writeForkedHalf(t, in, "g")
	if e := writeCtl(t, commit, "g"); e != 0 {
		t.Fatalf("commit: %v\n%s", e, readFile(t, commit))
	}
	if got := snapDump("g"); len(got) != 1 || !strings.HasSuffix(got[0], ": no dump") {
		t.Fatalf("after the first commit: %v; want one snapshot without the file being written", got)
	}
	if _, err := f.Write(bytes.Repeat([]byte("b"), 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if e := writeCtl(t, commit, "g"); e != 0 {
		t.Fatalf("second commit: %v\n%s", e, readFile(t, commit))
	}
	got := snapDump("g")
	if n := strings.Count(strings.Join(got, "\n"), ": 200000"); n != 1 {
		t.Errorf("after the writer closed it: %v; want the dump whole (200000 bytes) in one snapshot", got)
	}

	// Kill -9 while the writer holds it (its child gone): removed at
	// restart.
	f2 := writeForkedHalf(t, in, "k")
	s.killDaemon(mnt)
	f2.Close()
	s.ok("mount", mnt)
	if names := listNames(t, filepath.Join(in, "k")); len(names) != 1 || names[0] != "done" {
		t.Errorf("after kill -9 incoming/k holds %v; want only the closed file", names)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
