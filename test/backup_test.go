package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"tapefs/catalog"
)

type backupJSON struct {
	Snapshot  string   `json:"snapshot"`
	Set       string   `json:"media-set-uuid"`
	Files     int64    `json:"files"`
	Bytes     int64    `json:"bytes"`
	NewBytes  int64    `json:"new-bytes"`
	NewChunks int64    `json:"new-chunks"`
	Tapes     []string `json:"tapes"`
}

func (s *sandbox) backup(args ...string) backupJSON {
	s.t.Helper()
	return s.backupOf(s.ok(append([]string{"backup", "--output-format", "json"}, args...)...))
}

// backupOf parses the JSON result of a backup run.
func (s *sandbox) backupOf(r result) backupJSON {
	s.t.Helper()
	var b backupJSON
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		s.t.Fatalf("backup output %q: %v", r.stdout, err)
	}
	return b
}

// TestBackupRestoreRoundTrip backs up a tree with every file type, restores
// it, and compares content, modes, owners, times, links, devices, xattrs.
func TestBackupRestoreRoundTrip(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 1)
	want := describeTree(t, src)
	src0 := src

	b := s.backup(src, "daily")
	if !strings.HasPrefix(b.Snapshot, "www/") || b.Files == 0 || len(b.Tapes) != 1 {
		t.Fatalf("backup result %+v", b)
	}
	content := s.ok("media", "content").stdout
	if !lineHas(content, b.Tapes[0], "daily", b.Snapshot, b.Set) {
		t.Errorf("media content lacks the snapshot:\n%s", content)
	}
	target := filepath.Join(s.root, "restore")
	dry := s.ok("restore", b.Set, target, "--dry-run").stdout
	if !strings.Contains(dry, "estimated tape time") || !lineHas(dry, b.Tapes[0]) {
		t.Errorf("dry run does not show the plan:\n%s", dry)
	}
	// Lists read as text, not as Go slices.
	if !strings.Contains(dry, "snapshots: "+b.Snapshot+"\n") || !strings.Contains(dry, "(1 load, 1 archive located, ") || strings.Contains(dry, "[") {
		t.Errorf("dry run lists the plan as Go values:\n%s", dry)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("dry run created the target")
	}
	s.ok("restore", b.Set, target)
	diffTrees(t, want, describeTree(t, filepath.Join(target, filepath.FromSlash(b.Snapshot))))
	// Sparse files stay sparse, also where a hole shares a chunk with data.
	for _, name := range []string{"sparse", "sparse-tail", "all-hole"} {
		var src, got syscall.Stat_t
		if err := syscall.Stat(filepath.Join(src0, name), &src); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Stat(filepath.Join(target, filepath.FromSlash(b.Snapshot), name), &got); err != nil {
			t.Fatal(err)
		}
		if got.Blocks > src.Blocks+64 { // 32 KiB of slack for block rounding
			t.Errorf("%s restored with %d KiB allocated, the source has %d KiB", name, got.Blocks/2, src.Blocks/2)
		}
	}

	// Selective restore: one directory by glob.
	sel := filepath.Join(s.root, "selective")
	s.ok("restore", b.Set, sel, b.Snapshot, "--path", "dir/sub")
	got := filepath.Join(sel, filepath.FromSlash(b.Snapshot))
	if _, err := os.Stat(filepath.Join(got, "dir/sub/copy-of-big.bin")); err != nil {
		t.Errorf("selected file not restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(got, "small.txt")); err == nil {
		t.Errorf("unselected file restored")
	}
	// A selected hard link whose first name (in path order, here
	// dir/sub/null-link, dir/fifo-link and dir/hardlink) is not selected
	// gets the node itself, also when that is not a regular file, and
	// the node's later selected names link to it.
	links := filepath.Join(s.root, "links")
	s.ok("restore", b.Set, links, b.Snapshot, "--path", "null-dev", "--path", "fifo", "--path", "small.txt", "--path", "dir/sub/deep")
	got = filepath.Join(links, filepath.FromSlash(b.Snapshot))
	for name, typ := range map[string]os.FileMode{"null-dev": os.ModeDevice | os.ModeCharDevice, "fifo": os.ModeNamedPipe, "small.txt": 0} {
		if st, err := os.Lstat(filepath.Join(got, name)); err != nil || st.Mode()&os.ModeType != typ {
			t.Errorf("restore --path %s (a hard link): %v %v", name, st, err)
		}
	}
	var a, c unix.Stat_t
	if unix.Lstat(filepath.Join(got, "small.txt"), &a) != nil || unix.Lstat(filepath.Join(got, "dir/sub/deep/hardlink-3"), &c) != nil || a.Ino != c.Ino {
		t.Errorf("small.txt and dir/sub/deep/hardlink-3 restored as different inodes")
	}

	// A second backup of unchanged data writes almost nothing new.
	b2 := s.backup(src, "daily")
	if b2.Set != b.Set {
		t.Errorf("second backup went to a new media set %s (first %s)", b2.Set, b.Set)
	}
	if b2.NewBytes*100 > b.Bytes {
		t.Errorf("deduplicated backup wrote %d new bytes of %d", b2.NewBytes, b.Bytes)
	}
	// The second snapshot reused the unchanged files' chunk lists without
	// reading them; it restores the same tree.
	again := filepath.Join(s.root, "restore-again")
	s.ok("restore", b2.Set, again, b2.Snapshot)
	diffTrees(t, want, describeTree(t, filepath.Join(again, filepath.FromSlash(b2.Snapshot))))
	// A changed file is read again.
	if err := os.WriteFile(filepath.Join(src, "small.txt"), []byte("changed\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	bc := s.backup(src, "daily")
	changed := filepath.Join(s.root, "restore-changed")
	s.ok("restore", bc.Set, changed, bc.Snapshot, "--path", "small.txt")
	if got, _ := os.ReadFile(filepath.Join(changed, filepath.FromSlash(bc.Snapshot), "small.txt")); string(got) != "changed\n" {
		t.Errorf("changed file restored as %q", got)
	}
	// A new media set gets everything again.
	b3 := s.backup(src, "daily", "--force-media-set")
	if b3.Set == b.Set || b3.NewBytes*100 < b.NewBytes*99 {
		t.Errorf("forced new set: %+v (first %+v)", b3, b)
	}
	ml := s.ok("media", "list").stdout
	if !strings.Contains(ml, b.Set) || !strings.Contains(ml, b3.Set) {
		t.Errorf("media list lacks the media sets:\n%s", ml)
	}
}

// TestBackupSpanningAndCatalogRebuild writes a backup that spans three
// small tapes, restores it whole and selectively, deletes the catalog,
// rebuilds it from the tapes and checks the rebuilt catalog restores the same.
func TestBackupSpanningAndCatalogRebuild(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "8", "--drives", "1", "--cartridges", "6", "--cleaning", "0", "--capacity", "32MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"), "--changer", "sl3")
	s.ok("pool", "create", "daily", "--drive", "mydrive")
	s.ok("barcode-label", "--pool", "daily")

	src := filepath.Join(s.root, "src", "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// 60 MiB of incompressible data in 30 files: spans 3 tapes of 32 MiB
	// with early warning at 24 MiB.
	for i := 0; i < 30; i++ {
		makeRandomFile(t, filepath.Join(src, "f"+strconv.Itoa(i)), 2<<20, uint64(i))
	}
	want := describeTree(t, src)
	hookLog := filepath.Join(s.root, "hook.log")
	recorder(t, filepath.Join(s.root, "hook"), hookLog, true)
	s.ok("notify", "update", "--command", filepath.Join(s.root, "hook"))
	b := s.backup(src, "daily")
	if len(b.Tapes) < 3 {
		t.Fatalf("backup used %d tapes (%v), want ≥ 3", len(b.Tapes), b.Tapes)
	}
	// Each full tape was an event for the hook (sent before the command
	// returned).
	if hook := readLog(t, hookLog); strings.Count(hook, "TAPEFS_EVENT=tape-full") != len(b.Tapes)-1 ||
		!strings.Contains(hook, "TAPEFS_TAPE="+b.Tapes[0]+"\n") {
		t.Errorf("tape-full events for tapes %v:\n%s", b.Tapes, hook)
	}
	target := filepath.Join(s.root, "restore")
	s.ok("restore", b.Set, target)
	diffTrees(t, want, describeTree(t, filepath.Join(target, filepath.FromSlash(b.Snapshot))))

	live := s.ok("media", "content", "--output-format", "json").stdout
	// Lose the catalog (keep a copy to compare); rebuild it from the tapes.
	catDir := filepath.Join(s.root, "state", "catalog")
	saved := filepath.Join(s.root, "catalog-live")
	if err := os.Rename(catDir, saved); err != nil {
		t.Fatal(err)
	}
	// Without any catalog a whole media set still restores: every tape of
	// the set is read once, front to back.
	scanned := filepath.Join(s.root, "restore-nocatalog")
	if r := s.ok("restore", b.Set, scanned); !strings.Contains(r.stdout, "restored 30 files") {
		t.Errorf("restore without catalog:\n%s\n%s", r.stdout, r.stderr)
	}
	diffTrees(t, want, describeTree(t, filepath.Join(scanned, filepath.FromSlash(b.Snapshot))))
	if err := os.RemoveAll(catDir); err != nil {
		t.Fatal(err)
	}

	s.ok("inventory", "--catalog")
	compareCatalogs(t, saved, catDir)
	if got := s.ok("media", "content", "--output-format", "json").stdout; got != live {
		t.Errorf("media content after rebuild differs:\nlive:    %s\nrebuilt: %s", live, got)
	}
	target2 := filepath.Join(s.root, "restore2")
	r := s.ok("restore", b.Set, target2, "--path", "f1*", "--output-format", "json")
	var rr struct {
		Plan struct {
			Tapes []struct {
				Label    string   `json:"label-text"`
				Archives []uint64 `json:"archives"`
			} `json:"tapes"`
		} `json:"plan"`
		Loads uint64 `json:"simulated-loads"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rr); err != nil {
		t.Fatalf("restore json %q: %v", r.stdout, err)
	}
	// Each tape of the plan is loaded once and its archives are read in
	// increasing order.
	seen := map[string]bool{}
	for _, pt := range rr.Plan.Tapes {
		if seen[pt.Label] {
			t.Errorf("tape %s twice in the plan", pt.Label)
		}
		seen[pt.Label] = true
		for i := 1; i < len(pt.Archives); i++ {
			if pt.Archives[i] <= pt.Archives[i-1] {
				t.Errorf("tape %s archives out of order: %v", pt.Label, pt.Archives)
			}
		}
	}
	if len(rr.Plan.Tapes) == 0 || rr.Loads > uint64(len(rr.Plan.Tapes)) {
		t.Errorf("selective restore loaded %d times for %d tapes", rr.Loads, len(rr.Plan.Tapes))
	}
	got := filepath.Join(target2, filepath.FromSlash(b.Snapshot))
	for _, name := range []string{"f1", "f10", "f19"} {
		a, _ := os.ReadFile(filepath.Join(src, name))
		c, err := os.ReadFile(filepath.Join(got, name))
		if err != nil || string(a) != string(c) {
			t.Errorf("%s after catalog rebuild: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(got, "f2")); err == nil {
		t.Errorf("f2 restored though not selected")
	}
}

func makeRandomFile(t *testing.T, p string, n int, seed uint64) {
	t.Helper()
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// compareCatalogs checks that a catalog rebuilt from tapes holds what the
// live one held: every media set, chunk location, snapshot and tree entry,
// and every tape's identity and set membership. Only what is not on tape
// is left out (status, location, usage counters, set open/closed, last
// write time).
func compareCatalogs(t *testing.T, liveDir, rebuiltDir string) {
	t.Helper()
	live, err := catalog.Open(liveDir, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	rebuilt, err := catalog.Open(rebuiltDir, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	eq, diff, err := live.Equal(rebuilt, catalog.IgnoreMediaStatus, catalog.IgnoreMediaLocation,
		catalog.IgnoreMediaBytesUsed, catalog.IgnoreSetClosed, catalog.IgnoreSetLastWrite)
	if err != nil {
		t.Fatal(err)
	}
	if !eq {
		t.Errorf("catalog rebuilt from tapes differs from the live one: %s", diff)
	}
}

// TestEarlyWarningPositions injects early warning at several points of
// every tape: each backup must close its archive cleanly there, go on with
// the next tape, and restore byte for byte.
func TestEarlyWarningPositions(t *testing.T) {
	for _, ew := range []string{"1300KiB", "2MiB", "3700KiB"} {
		t.Run(ew, func(t *testing.T) {
			s := newSandbox(t)
			lib := filepath.Join(s.root, "vlib")
			s.ok("vtape", "create", lib, "--slots", "10", "--drives", "1", "--cartridges", "8", "--cleaning", "0", "--capacity", "64MiB")
			for i := 1; i <= 8; i++ {
				s.ok("vtape", "fault", lib, "--cartridge", "TEST0"+strconv.Itoa(i)+"L8", "--early-warning-at", ew)
			}
			s.ok("changer", "create", "sl3", "--path", lib)
			s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"), "--changer", "sl3")
			s.ok("pool", "create", "daily", "--drive", "mydrive")
			s.ok("barcode-label", "--pool", "daily")
			src := filepath.Join(s.root, "src", "data")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 6; i++ {
				makeRandomFile(t, filepath.Join(src, "f"+strconv.Itoa(i)), 1<<20+i*4099, uint64(100+i))
			}
			want := describeTree(t, src)
			b := s.backup(src, "daily")
			if len(b.Tapes) < 2 {
				t.Fatalf("early warning at %s: backup used %v", ew, b.Tapes)
			}
			target := filepath.Join(s.root, "restore")
			s.ok("restore", b.Set, target)
			diffTrees(t, want, describeTree(t, filepath.Join(target, filepath.FromSlash(b.Snapshot))))
		})
	}
}

// TestAllocationAlwaysOverwrite: with a new media set per backup and
// overwrite retention, a third backup into a two-tape library reuses the
// tape of the oldest set, which then disappears from the catalog.
func TestAllocationAlwaysOverwrite(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "4", "--drives", "1", "--cartridges", "2", "--cleaning", "0", "--capacity", "64MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"), "--changer", "sl3")
	s.ok("pool", "create", "daily", "--drive", "mydrive", "--allocation", "always", "--retention", "overwrite")
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 1<<20, 7)
	b1 := s.backup(src, "daily")
	b2 := s.backup(src, "daily")
	if b1.Set == b2.Set || b1.Tapes[0] == b2.Tapes[0] {
		t.Fatalf("allocation always: %+v then %+v", b1, b2)
	}
	b3 := s.backup(src, "daily")
	if b3.Tapes[0] != b1.Tapes[0] {
		t.Fatalf("third backup used %v, want the oldest set's tape %v", b3.Tapes, b1.Tapes)
	}
	content := s.ok("media", "content").stdout
	if strings.Contains(content, b1.Set) || !strings.Contains(content, b2.Set) || !strings.Contains(content, b3.Set) {
		t.Errorf("media content after overwrite:\n%s", content)
	}
	target := filepath.Join(s.root, "restore")
	s.ok("restore", b3.Set, target)
	got, _ := os.ReadFile(filepath.Join(target, filepath.FromSlash(b3.Snapshot), "f"))
	want, _ := os.ReadFile(filepath.Join(src, "f"))
	if string(got) != string(want) {
		t.Errorf("restore of the newest set differs")
	}
	// Retention keep protects a set: a pool that keeps forever refuses to
	// overwrite and says what to do.
	s.ok("pool", "update", "daily", "--retention", "keep")
	r := s.run(nil, "tapefs", "backup", src, "daily")
	if r.code != 7 || !strings.Contains(r.stderr, "label") {
		t.Errorf("backup with no writable tape: exit %d, %q", r.code, r.stderr)
	}
}

// TestRestoreReportsUnreadableFiles: a read error in the middle of a chunk
// archive costs exactly the files whose data could not be read; they are
// listed, and every other file is restored intact.
func TestRestoreReportsUnreadableFiles(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		makeRandomFile(t, filepath.Join(src, "f"+strconv.Itoa(i)), 1<<20, uint64(300+i))
	}
	b := s.backup(src, "daily")
	// Objects 0-3 are the labels and their filemarks; the chunk archive
	// starts at object 4. Break a record in its middle.
	s.ok("vtape", "fault", lib, "--cartridge", b.Tapes[0], "--read-error-at", "30")
	target := filepath.Join(s.root, "restore")
	r := s.run(nil, "tapefs", "restore", b.Set, target)
	if r.code == 0 {
		t.Fatalf("restore over a read error succeeded:\n%s", r.stdout)
	}
	var failed []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "not restored: ") {
			failed = append(failed, line)
		}
	}
	if len(failed) == 0 || len(failed) == 12 {
		t.Fatalf("%d of 12 files reported as not restored:\n%s", len(failed), r.stdout)
	}
	restored := 0
	root := filepath.Join(target, filepath.FromSlash(b.Snapshot))
	for i := 0; i < 12; i++ {
		name := "f" + strconv.Itoa(i)
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			if !strings.Contains(strings.Join(failed, "\n"), "/"+name+":") {
				t.Errorf("%s is missing but not reported", name)
			}
			continue
		}
		want, _ := os.ReadFile(filepath.Join(src, name))
		if string(got) != string(want) {
			t.Errorf("%s restored with wrong content", name)
		}
		restored++
	}
	if restored+len(failed) != 12 {
		t.Errorf("%d restored + %d failed != 12", restored, len(failed))
	}
}

// TestBackupsInOneSecond: two backups of a group in the same second get
// distinct snapshot names, and both restore.
func TestBackupsInOneSecond(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 100<<10, 1)
	names := map[string]bool{}
	for i := 0; i < 3; i++ {
		b := s.backup(src, "daily")
		if names[b.Snapshot] {
			t.Fatalf("snapshot name %s given twice", b.Snapshot)
		}
		names[b.Snapshot] = true
	}
	content := s.ok("media", "content").stdout
	for n := range names {
		if !strings.Contains(content, n) {
			t.Errorf("media content lacks %s:\n%s", n, content)
		}
	}
}
