package test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// simSeconds is the simulated tape time of a drive so far, from the
// daemon's status file once no job runs.
func simSeconds(t *testing.T, mnt, drive string) float64 {
	t.Helper()
	for i := 0; ; i++ {
		var st struct {
			Jobs []json.RawMessage `json:"running-jobs"`
		}
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(mnt, "status.json"))), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Jobs) == 0 {
			break
		}
		if i > 500 {
			t.Fatalf("jobs still running: %s", readFile(t, filepath.Join(mnt, "status.json")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ds struct {
		Status struct {
			TapeSeconds *float64 `json:"simulated-tape-time"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(mnt, "drives", drive, "status.json"))), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.Status.TapeSeconds == nil {
		t.Fatalf("drive %s shows no simulated tape time", drive)
	}
	return *ds.Status.TapeSeconds
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestFuseSnapshotCopy backs up a tree with every file type, mounts, and
// uses real clients on the snapshot: ls -lR, find, getfattr -d, cat, and
// cp -a of the whole snapshot directory, compared with the source byte for
// byte and attribute for attribute; writes get EROFS. It reports the
// simulated tape time of the cp -a against `tapefs restore` of the same
// snapshot.
func TestFuseSnapshotCopy(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 3)
	want := describeTree(t, src)
	b := s.backup(src, "daily")
	mnt := s.mount()
	snap := filepath.Join(mnt, "pools/daily/snapshots", b.Snapshot)

	ls := sh(t, "ls", "-lR", snap)
	for _, name := range []string{"small.txt", "copy-of-big.bin", "link-rel -> small.txt", "null-dev", "fifo"} {
		if !strings.Contains(ls, name) {
			t.Errorf("ls -lR lacks %q:\n%s", name, ls)
		}
	}
	found := strings.Fields(sh(t, "find", snap, "-printf", "%P\\n"))
	srcFound := strings.Fields(sh(t, "find", src, "-printf", "%P\\n"))
	sort.Strings(found)
	sort.Strings(srcFound)
	if strings.Join(found, " ") != strings.Join(srcFound, " ") {
		t.Errorf("find in the snapshot:\n%v\nin the source:\n%v", found, srcFound)
	}
	if _, err := exec.LookPath("getfattr"); err == nil {
		attrs := sh(t, "getfattr", "-d", filepath.Join(snap, "small.txt"))
		if !strings.Contains(attrs, `user.color="blue"`) || strings.Contains(attrs, "user.tapefs.") {
			t.Errorf("getfattr -d: want the file's own user.color and no user.tapefs.*:\n%s", attrs)
		}
		for name, w := range map[string]string{"user.tapefs.media": b.Tapes[0], "user.tapefs.set": b.Set} {
			if got := sh(t, "getfattr", "-n", name, "--only-values", filepath.Join(snap, "small.txt")); got != w {
				t.Errorf("getfattr -n %s: %q, want %q", name, got, w)
			}
		}
		if sb := sh(t, "getfattr", "-n", "user.ltfs.startblock", "--only-values", filepath.Join(snap, "dir/big.bin")); sb == "" {
			t.Errorf("no user.ltfs.startblock")
		}
	} else {
		t.Log("getfattr is not installed: xattrs checked by cp -a only")
	}
	for _, c := range [][]string{
		{"touch", filepath.Join(snap, "new")},
		{"mkdir", filepath.Join(snap, "newdir")},
		{"mv", filepath.Join(snap, "small.txt"), filepath.Join(snap, "moved")},
		{"rm", filepath.Join(snap, "empty")},
		{"chmod", "600", filepath.Join(snap, "small.txt")},
		{"sh", "-c", "echo x >> " + filepath.Join(snap, "small.txt")},
	} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Read-only file system") {
			t.Errorf("%v: %v %s; want a read-only file system error", c, err, out)
		}
	}

	// The copy comes first: nothing of the snapshot is cached yet.
	before := simSeconds(t, mnt, "mydrive")
	dest := filepath.Join(s.root, "copy")
	sh(t, "cp", "-a", snap+"/", dest)
	copyTime := simSeconds(t, mnt, "mydrive") - before
	// The tape attributes are virtual (not listed): the copy is the
	// source, without user.tapefs.* on every file.
	diffTrees(t, want, describeTree(t, dest))
	if got := sh(t, "cat", filepath.Join(snap, "small.txt")); got != "hello tape\n" {
		t.Errorf("cat small.txt: %q", got)
	}

	var rr struct {
		TapeSeconds float64 `json:"simulated-tape-seconds"`
	}
	out := s.ok("restore", b.Set, filepath.Join(s.root, "restore"), b.Snapshot, "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatalf("restore output %q: %v", out, err)
	}
	t.Logf("simulated tape time: cp -a of the snapshot %.2f s, tapefs restore %.2f s, ratio %.2f", copyTime, rr.TapeSeconds, copyTime/rr.TapeSeconds)
}
