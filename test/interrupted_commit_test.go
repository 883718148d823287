package test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tapefs/engine"
)

// TestCommitKilledBeforeCatalogRecord kills the daemon (kill -9 of
// itself, at a fault point) inside a commit, after the snapshot archive
// reached the tape and before the snapshot was recorded in the catalog:
// after the restart (which voids the archive on tape) and a re-commit of
// the group, a catalog rebuilt from the tapes (scan and catalog archive
// both) equals the live one, and holds the re-committed snapshot only.
func TestCommitKilledBeforeCatalogRecord(t *testing.T) {
	for _, point := range []string{"commit-after-snapshot-archive", "commit-after-catalog-archive"} {
		for _, recommit := range []bool{true, false} {
			name := point
			if !recommit {
				name += "/no-recommit"
			}
			t.Run(name, func(t *testing.T) { killedCommit(t, point, recommit) })
		}
	}
}

func killedCommit(t *testing.T, point string, recommit bool) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	needFUSE(t)
	mnt := filepath.Join(s.root, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// A first snapshot, committed, so the tape has a catalog archive
	// before the one the kill interrupts.
	s.ok("mount", mnt)
	t.Cleanup(func() { s.unmount(mnt) })
	in := filepath.Join(mnt, "pools/daily/incoming")
	commit := filepath.Join(mnt, "pools/daily/commit")
	for _, g := range []string{"first", "g"} {
		if err := os.MkdirAll(filepath.Join(in, g), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			makeRandomFile(t, filepath.Join(in, g, "f"+strconv.Itoa(i)), 200<<10, uint64(i+len(g)))
		}
	}
	if e := writeCtl(t, commit, "first"); e != 0 {
		t.Fatalf("commit first: %v\n%s", e, readFile(t, commit))
	}
	s.unmount(mnt)

	if r := s.run([]string{engine.KillAtEnv + "=" + point}, "tapefs", "mount", mnt); r.code != 0 {
		t.Fatalf("mount with the fault point: %d\n%s", r.code, r.stderr)
	}
	if e := writeCtl(t, commit, "g"); e == 0 {
		t.Fatalf("the commit returned although the daemon was to die at %s", point)
	}
	s.waitDaemonGone()
	syscall.Unmount(mnt, syscall.MNT_DETACH)

	s.ok("mount", mnt)
	if _, err := os.Stat(filepath.Join(in, "g", "f0")); err != nil {
		t.Fatalf("the group of the killed commit is not in incoming/: %v", err)
	}
	// The restart settles the interrupted commit in the background.
	waitJobs(t, mnt)
	if recommit {
		if e := writeCtl(t, commit, "g"); e != 0 {
			t.Fatalf("commit after the restart: %v\n%s", e, readFile(t, commit))
		}
	}
	live := s.snapshots()
	groups := map[string]int{}
	for name := range live {
		groups[strings.SplitN(name, "/", 2)[0]]++
	}
	wantG := 0
	if recommit {
		wantG = 1
	}
	if groups["first"] != 1 || groups["g"] != wantG {
		t.Fatalf("live catalog snapshots %v; want first once and g %d times", live, wantG)
	}
	s.unmount(mnt)

	catDir := filepath.Join(s.root, "state", "catalog")
	saved := filepath.Join(s.root, "catalog-live")
	if err := os.Rename(catDir, saved); err != nil {
		t.Fatal(err)
	}
	for _, scan := range []bool{true, false} {
		if err := os.RemoveAll(catDir); err != nil {
			t.Fatal(err)
		}
		args := []string{"inventory", "--catalog"}
		if scan {
			args = append(args, "--scan")
		}
		s.ok(args...)
		if got := s.snapshots(); !maps.Equal(got, live) {
			t.Errorf("rebuilt (scan %v) snapshots %v; live %v", scan, got, live)
		}
		compareCatalogs(t, saved, catDir)
	}
}

// waitJobs waits until no job of the daemon on mnt runs.
func waitJobs(t *testing.T, mnt string) {
	t.Helper()
	for i := 0; i < 600; i++ {
		running := false
		ids, _ := os.ReadDir(filepath.Join(mnt, "jobs"))
		for _, id := range ids {
			// A task that ended has an end time in its status.
			b, _ := os.ReadFile(filepath.Join(mnt, "jobs", id.Name(), "status"))
			if !regexp.MustCompile(`(?m)^end:`).Match(b) {
				running = true
			}
		}
		if !running && i > 5 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("jobs still running after a minute")
}
