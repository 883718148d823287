package test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// The tests in this file run the commands of the field report's "State and
// media handling" section (issue 11) as users ran them.

// smallLibrary creates a virtual library of n cartridges (slots 1..16,
// import/export slots 17 and 18) with changer sl3 and drive mydrive, and
// returns its directory. With pool given (NAME and `pool create` options)
// it creates that pool on mydrive and barcode-labels the tapes for it.
func smallLibrary(s *sandbox, cartridges string, pool ...string) string {
	s.t.Helper()
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "16", "--drives", "2", "--import-export", "2",
		"--cartridges", cartridges, "--barcode-prefix", "TEST", "--cleaning", "0", "--generation", "LTO-8", "--capacity", "64MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"))
	s.ok("drive", "update", "mydrive", "--changer", "sl3", "--changer-drivenum", "0")
	if len(pool) > 0 {
		s.ok(append([]string{"pool", "create", pool[0], "--drive", "mydrive"}, pool[1:]...)...)
		s.ok("barcode-label", "--pool", pool[0])
	}
	return lib
}

// smallSource writes a directory with one file and returns it.
func smallSource(t *testing.T, s *sandbox, name, content string) string {
	t.Helper()
	src := filepath.Join(s.root, "src", name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestFailedNewSetKeepsCurrentSet (item 1): a forced new media set that
// finds no writable tape fails, and the pool keeps appending to its
// current set afterwards; the same after a key change that is undone.
func TestFailedNewSetKeepsCurrentSet(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "1", "kp", "--allocation", "continue", "--retention", "keep")
	src := smallSource(t, s, "docs", "one\n")
	b1 := s.backup(src, "kp")
	b2 := s.backup(src, "kp")
	if b2.Set != b1.Set {
		t.Fatalf("second backup went to set %s, want the current set %s", b2.Set, b1.Set)
	}
	r := s.run(nil, "tapefs", "backup", src, "kp", "--force-media-set")
	if r.code != 7 || !strings.Contains(r.stderr, "no writable media") {
		t.Fatalf("backup --force-media-set with the only tape in use: exit %d, stderr %q; want 7, no writable media", r.code, r.stderr)
	}
	b3 := s.backup(src, "kp")
	if b3.Set != b1.Set {
		t.Errorf("backup after the failed new set went to set %s, want the current set %s", b3.Set, b1.Set)
	}
	if list := s.ok("media", "list").stdout; !lineHas(list, b1.Tapes[0], "writable") {
		t.Errorf("media list after the failed new set:\n%s", list)
	}

	// A key change starts a new set; with no tape for it the backup
	// fails, and once the key is set back the pool appends again.
	m := fingerprintRe.FindStringSubmatch(s.okIn("secret\nsecret\n", "key", "create", "--hint", "h").stdout)
	if m == nil {
		t.Fatal("key create printed no fingerprint")
	}
	fp := m[1]
	s.ok("pool", "update", "kp", "--encrypt", fp)
	if r := s.run(nil, "tapefs", "backup", src, "kp"); r.code != 7 {
		t.Fatalf("backup after the key change with no free tape: exit %d, stderr %q; want 7", r.code, r.stderr)
	}
	s.ok("pool", "update", "kp", "--delete", "encrypt")
	if b4 := s.backup(src, "kp"); b4.Set != b1.Set {
		t.Errorf("backup after the key was set back went to set %s, want the current set %s", b4.Set, b1.Set)
	}
}

// gatedDrive, once armed, holds its next WriteRecord until gate is
// closed, and says on reached that it got there.
type gatedDrive struct {
	device.Drive
	armed   atomic.Bool
	once    sync.Once
	reached chan struct{}
	gate    chan struct{}
}

func (d *gatedDrive) WriteRecord(ctx context.Context, p []byte) error {
	if d.armed.Load() {
		d.once.Do(func() {
			close(d.reached)
			<-d.gate
		})
	}
	return d.Drive.WriteRecord(ctx, p)
}

// gatedOpener opens drive 0 of the library as a gatedDrive.
type gatedOpener struct {
	vtapeOpener
	d0 *gatedDrive
}

func (o gatedOpener) OpenDrive(p string) (device.Drive, error) {
	d, err := vtape.OpenDrive(p)
	if err != nil || p != vtape.DrivePath(o.lib, 0) {
		return d, err
	}
	o.d0.Drive = d
	return o.d0, nil
}

// TestConcurrentBackupsClaimTapes (item 2): two backups into two pools on
// two drives at once never choose the same unassigned tape. The first is
// held while it writes the media-set label of the tape it chose (before
// the inventory assigns the tape to its set); the second must choose
// another tape.
func TestConcurrentBackupsClaimTapes(t *testing.T) {
	root := t.TempDir()
	d0 := &gatedDrive{reached: make(chan struct{}), gate: make(chan struct{})}
	eng, _ := engineLibrary(t, root, vtape.LibraryOptions{Drives: 2, Slots: 8, Cartridges: 4, Capacity: 256 << 20}, engine.Options{},
		func(lib string) device.Opener { return gatedOpener{vtapeOpener{lib}, d0} }, ptr(""))
	ctx := context.Background()
	if err := eng.PoolCreate(config.Pool{Name: "pb", Drive: "d1"}); err != nil {
		t.Fatal(err)
	}
	srcA, srcB := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{srcA, srcB} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		makeRandomFile(t, filepath.Join(d, "f"), 1<<20, 7)
	}
	d0.armed.Store(true)
	var resA *engine.BackupResult
	var errA error
	done := make(chan struct{})
	go func() {
		defer close(done)
		resA, errA = eng.Backup(ctx, engine.BackupOptions{Source: srcA, Pool: "pa"})
	}()
	select {
	case <-d0.reached:
	case <-done:
		t.Fatalf("backup into pa finished before it wrote: %v", errA)
	}
	resB, errB := eng.Backup(ctx, engine.BackupOptions{Source: srcB, Pool: "pb"})
	close(d0.gate)
	<-done
	if errA != nil || errB != nil {
		t.Fatalf("concurrent backups: pa: %v; pb: %v", errA, errB)
	}
	for _, l := range resB.Tapes {
		if slices.Contains(resA.Tapes, l) {
			t.Errorf("both backups wrote to %s (pa: %v, pb: %v)", l, resA.Tapes, resB.Tapes)
		}
	}
}

// TestFormatForgetsTape (item 3): formatting the only tape of a retention
// keep set needs --force; then the catalog forgets the set: media content
// and the mount no longer show it, and restore says the set is unknown.
func TestFormatForgetsTape(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "2", "kp", "--allocation", "continue", "--retention", "keep")
	src := smallSource(t, s, "docs", "keep me\n")
	b := s.backup(src, "kp")
	mnt := s.mount()
	sets := filepath.Join(mnt, "pools", "kp", "media-sets")
	if names := listNames(t, sets); len(names) != 1 {
		t.Fatalf("media-sets before format: %v", names)
	}

	r := s.run(nil, "tapefs", "format", "--label-text", b.Tapes[0])
	if r.code != 6 || !strings.Contains(r.stderr, "not expired") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("format of an unexpired tape without --force: exit %d, stderr %q; want 6 and --force", r.code, r.stderr)
	}
	if !lineHas(s.ok("media", "content").stdout, b.Tapes[0], b.Snapshot) {
		t.Fatal("the refused format changed the catalog")
	}
	s.ok("restore", b.Set, filepath.Join(s.root, "r0"), "--dry-run")

	s.ok("format", "--label-text", b.Tapes[0], "--force")
	if out := s.ok("media", "content").stdout; strings.Contains(out, b.Snapshot) {
		t.Errorf("media content after format lists the snapshot:\n%s", out)
	}
	if out := s.ok("media", "list").stdout; strings.Contains(out, b.Tapes[0]) {
		t.Errorf("media list after format lists the tape:\n%s", out)
	}
	if names := listNames(t, sets); len(names) != 0 {
		t.Errorf("the mount lists media sets %v after their only tape was formatted", names)
	}
	if names := listNames(t, filepath.Join(mnt, "pools", "kp", "snapshots")); len(names) != 0 {
		t.Errorf("the mount lists snapshot groups %v after their tape was formatted", names)
	}
	if r := s.run(nil, "tapefs", "restore", b.Set, filepath.Join(s.root, "r1"), "--dry-run"); r.code != 3 || !strings.Contains(r.stderr, "not in the catalog") {
		t.Errorf("restore --dry-run of the forgotten set: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFormatOneTapeOfSet (item 3): formatting one tape of a two-tape set
// keeps what the other tape holds in full: the set is closed and
// incomplete, snapshots that had data on the erased tape are forgotten,
// and a snapshot wholly on the other tape still restores.
func TestFormatOneTapeOfSet(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "8", "--drives", "1", "--cartridges", "4", "--cleaning", "0", "--capacity", "32MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"), "--changer", "sl3")
	s.ok("pool", "create", "daily", "--drive", "mydrive", "--retention", "keep")
	s.ok("barcode-label", "--pool", "daily")
	big := filepath.Join(s.root, "src", "big")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	// 30 MiB: early warning at 24 MiB moves the rest to a second tape.
	for i := 0; i < 15; i++ {
		makeRandomFile(t, filepath.Join(big, "f"+strconv.Itoa(i)), 2<<20, uint64(100+i))
	}
	b1 := s.backup(big, "daily")
	if len(b1.Tapes) != 2 {
		t.Fatalf("first backup used tapes %v, want 2", b1.Tapes)
	}
	small := smallSource(t, s, "small", "only on the second tape\n")
	b2 := s.backup(small, "daily")
	if b2.Set != b1.Set || len(b2.Tapes) != 1 || b2.Tapes[0] != b1.Tapes[1] {
		t.Fatalf("second backup: set %s tapes %v; want set %s on %s", b2.Set, b2.Tapes, b1.Set, b1.Tapes[1])
	}

	// Item 9: a snapshot is listed on every tape that holds part of it.
	content := s.ok("media", "content").stdout
	if !lineHas(content, b1.Tapes[0], b1.Snapshot) || !lineHas(content, b1.Tapes[1], b1.Snapshot) || lineHas(content, b1.Tapes[0], b2.Snapshot) {
		t.Errorf("media content: want %s on %s and %s, %s on %s only:\n%s", b1.Snapshot, b1.Tapes[0], b1.Tapes[1], b2.Snapshot, b1.Tapes[1], content)
	}

	s.ok("format", "--label-text", b1.Tapes[0], "--force")
	content = s.ok("media", "content").stdout
	if strings.Contains(content, b1.Snapshot) {
		t.Errorf("media content lists %s, which had data on the erased tape:\n%s", b1.Snapshot, content)
	}
	if !lineHas(content, b1.Tapes[1], b2.Snapshot) {
		t.Errorf("media content lost %s, which is wholly on %s:\n%s", b2.Snapshot, b1.Tapes[1], content)
	}
	target := filepath.Join(s.root, "restore")
	s.ok("restore", b2.Set, target)
	diffTrees(t, describeTree(t, small), describeTree(t, filepath.Join(target, filepath.FromSlash(b2.Snapshot))))
	// The incomplete set takes no more writes.
	if b3 := s.backup(small, "daily"); b3.Set == b1.Set {
		t.Errorf("a backup after the format appended to the incomplete set %s", b1.Set)
	}
}

// TestExportedTapeStaysOffline (item 4): after export-media-set, a restore
// that needs the exported tape fails at once, names the tape and says
// what to do, and creates nothing; a tape loaded from an import/export
// slot by hand goes back there on unload and stays offline.
func TestExportedTapeStaysOffline(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "2", "daily")
	src := smallSource(t, s, "docs", "exported\n")
	b := s.backup(src, "daily")
	s.ok("export-media-set", "daily")
	status := s.ok("changer", "status").stdout
	if !lineHas(status, "import-export", "17", b.Tapes[0]) {
		t.Fatalf("export-media-set did not move %s to import/export slot 17:\n%s", b.Tapes[0], status)
	}

	target := filepath.Join(s.root, "restore")
	r := s.run(nil, "tapefs", "restore", b.Set, target)
	if r.code == 0 || !strings.Contains(r.stderr, b.Tapes[0]) || !strings.Contains(r.stderr, "import/export slot 17") {
		t.Errorf("restore of the exported set: exit %d, stderr %q; want a failure naming %s in import/export slot 17", r.code, r.stderr, b.Tapes[0])
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the refused restore created %s", target)
	}
	if r := s.run(nil, "tapefs", "load-media", b.Tapes[0]); r.code != 3 || !strings.Contains(r.stderr, "import/export slot 17") {
		t.Errorf("load-media of the exported tape: exit %d, stderr %q; want 3", r.code, r.stderr)
	}
	status = s.ok("changer", "status").stdout
	if !lineHas(status, "import-export", "17", b.Tapes[0]) {
		t.Errorf("the exported tape left import/export slot 17:\n%s", status)
	}
	if list := s.ok("media", "list").stdout; !lineHas(list, b.Tapes[0], "offline") {
		t.Errorf("the exported tape is not offline:\n%s", list)
	}

	// Loaded from the import/export slot by hand, it goes back there.
	s.ok("load-media-from-slot", "17")
	s.ok("unload")
	status = s.ok("changer", "status").stdout
	if !lineHas(status, "import-export", "17", b.Tapes[0]) {
		t.Errorf("unload did not put the tape back into import/export slot 17:\n%s", status)
	}
	if list := s.ok("media", "list").stdout; !lineHas(list, b.Tapes[0], "offline") {
		t.Errorf("the tape is not offline after unload:\n%s", list)
	}
}

// TestRestoreFromVaultRefuses (item 5): a restore whose tape is in a vault
// plans it as offline, its estimate says what it counts (no load for the
// offline tape), and the real restore refuses before it creates anything.
func TestRestoreFromVaultRefuses(t *testing.T) {
	s := newSandbox(t)
	lib := smallLibrary(s, "2", "daily")
	src := smallSource(t, s, "docs", "in the vault\n")
	b := s.backup(src, "daily", "--eject-media")
	s.ok("export-media", b.Tapes[0])
	s.ok("vtape", "remove", lib, "--slot", "17")
	s.ok("media", "move", b.Tapes[0], "--vault", "safe")

	target := filepath.Join(s.root, "restore")
	dry := s.ok("restore", b.Set, target, "--dry-run").stdout
	if !strings.Contains(dry, "tape "+b.Tapes[0]+" is not in the library") {
		t.Errorf("dry run does not say the tape is out:\n%s", dry)
	}
	if !strings.Contains(dry, "(0 loads, 0 archives located, 0 B read; 1 offline tape not counted)") {
		t.Errorf("the estimate does not say what it counts:\n%s", dry)
	}
	r := s.run(nil, "tapefs", "restore", b.Set, target)
	if r.code != 3 || !strings.Contains(r.stderr, b.Tapes[0]+" is not in the library") || strings.Contains(r.stdout, "not restored:") {
		t.Errorf("restore with the tape in a vault: exit %d\nstdout %q\nstderr %q\nwant exit 3 naming the tape, no file lines", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the refused restore created %s", target)
	}
}

// TestRestoreSetWithoutSnapshots (item 6): a media set whose archives are
// on tape but whose snapshot the catalog lacks (a backup that failed
// after writing them) makes restore fail, pointing at `catalog --scan`,
// which brings the snapshot back.
func TestRestoreSetWithoutSnapshots(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "2", "daily")
	src := smallSource(t, s, "docs", "on tape only\n")
	b := s.backup(src, "daily")
	// The catalog loses the snapshot record, as when the job failed
	// after writing its archives.
	cat, err := catalog.Open(filepath.Join(s.root, "state", "catalog"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set := uuid.MustParse(b.Set)
	if err := cat.DeleteSnapshot(set, b.Snapshot); err != nil {
		t.Fatal(err)
	}
	cat.Close()

	target := filepath.Join(s.root, "restore")
	r := s.run(nil, "tapefs", "restore", b.Set, target)
	if r.code != 3 || !strings.Contains(r.stderr, "no snapshots in the catalog") || !strings.Contains(r.stderr, "tapefs catalog --scan") {
		t.Fatalf("restore of a set without snapshots: exit %d\nstdout %q\nstderr %q\nwant exit 3 pointing at `tapefs catalog --scan`", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the refused restore created %s", target)
	}
	s.ok("load-media", b.Tapes[0])
	s.ok("catalog", "--scan", "--force")
	s.ok("restore", b.Set, target)
	diffTrees(t, describeTree(t, src), describeTree(t, filepath.Join(target, filepath.FromSlash(b.Snapshot))))
}

// TestRestoreUnknownSetFailsAtOnce (item 7): a well-formed media-set UUID
// that no tape of the inventory belongs to fails at once, without loading
// the library's tapes one after another.
func TestRestoreUnknownSetFailsAtOnce(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "8", "daily")
	s.backup(smallSource(t, s, "docs", "x\n"), "daily", "--eject-media")
	r := s.run(nil, "tapefs", "restore", "00000000-1111-4111-8111-000000000000", filepath.Join(s.root, "restore"))
	if r.code != 3 || !strings.Contains(r.stderr, "no tape of media set 00000000-1111-4111-8111-000000000000 is in the library") {
		t.Fatalf("restore of an unknown set: exit %d, stderr %q; want 3", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "loaded ") {
		t.Errorf("restore of an unknown set loaded tapes:\n%s", r.stderr)
	}
}

// TestExportUsesConfiguredSlotsFirst (item 8): --export-media-set puts
// tapes into the configured export slots before the library's own
// import/export slots.
func TestExportUsesConfiguredSlotsFirst(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "4")
	s.ok("changer", "update", "sl3", "--export-slots", "15,16")
	s.ok("pool", "create", "daily", "--drive", "mydrive")
	s.ok("barcode-label", "--pool", "daily")
	b := s.backup(smallSource(t, s, "docs", "x\n"), "daily", "--export-media-set")
	status := s.ok("changer", "status").stdout
	if !lineHas(status, "import-export", "15", b.Tapes[0]) {
		t.Errorf("--export-media-set did not use configured export slot 15 for %s:\n%s", b.Tapes[0], status)
	}
}

// TestBackupFilesystemsAndExcludes (item 11): `tapefs backup` stays on the
// source's filesystem (a tmpfs mounted inside is kept as an empty mount
// point directory) unless --all-file-systems is given, and leaves out what
// --exclude matches.
func TestBackupFilesystemsAndExcludes(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "2", "daily")
	src := smallSource(t, s, "www", "kept\n")
	for _, f := range []string{"debug.log", "cache/c1", "sub/cache/c2", "sub/app.log"} {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(src, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tapefs-test", tmp, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(tmp, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(tmp, "other-fs"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := s.ok("backup", src, "daily", "--output-format", "json")
	if !strings.Contains(r.stderr, tmp+" is another filesystem") {
		t.Errorf("backup does not say it stays off %s:\n%s", tmp, r.stderr)
	}
	// f.txt, debug.log, cache/c1, sub/cache/c2, sub/app.log; not tmp/other-fs.
	if b := s.backupOf(r); b.Files != 5 {
		t.Errorf("backup without --all-file-systems stored %d files, want 5", b.Files)
	}
	if b := s.backup(src, "daily", "--all-file-systems"); b.Files != 6 {
		t.Errorf("backup --all-file-systems stored %d files, want 6", b.Files)
	}
	b := s.backup(src, "daily", "--exclude", "*.log", "--exclude", "/cache")
	if b.Files != 2 {
		t.Errorf("backup --exclude '*.log' --exclude /cache stored %d files, want 2 (f.txt, sub/cache/c2)", b.Files)
	}
	target := filepath.Join(s.root, "restore")
	s.ok("restore", b.Set, target, b.Snapshot)
	root := filepath.Join(target, filepath.FromSlash(b.Snapshot))
	for f, want := range map[string]bool{"f.txt": true, "sub/cache/c2": true, "debug.log": false, "sub/app.log": false, "cache": false, "tmp": true, "tmp/other-fs": false} {
		if _, err := os.Lstat(filepath.Join(root, f)); (err == nil) != want {
			t.Errorf("restored %s: exists %v, want %v", f, err == nil, want)
		}
	}
}

// TestBackupFileChangedWhileRead (item 11): a file that grows while it is
// read is stored as read, named in the log, and the backup ends "ok with
// warnings" with exit code 8.
func TestBackupFileChangedWhileRead(t *testing.T) {
	s := newSandbox(t)
	smallLibrary(s, "2", "daily")
	src := smallSource(t, s, "logs", "steady\n")
	growing := filepath.Join(src, "growing")
	makeRandomFile(t, growing, 8<<20, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(growing, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for i := 0; i < 400; i++ { // at most 25 MiB more
			select {
			case <-stop:
				return
			default:
			}
			buf[0] = byte(i)
			if _, err := f.Write(buf); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	r := s.run(nil, "tapefs", "backup", src, "daily", "--output-format", "json")
	close(stop)
	<-done
	if r.code != 8 {
		t.Fatalf("backup of a growing file: exit %d, want 8 (ok with warnings)\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, growing+": file changed as we read it") || !strings.Contains(r.stderr, "backup finished with warnings: 1 file changed") {
		t.Errorf("stderr does not name the changed file and the warning:\n%s", r.stderr)
	}
	b := s.backupOf(r)
	if b.Files != 2 || b.Snapshot == "" {
		t.Errorf("backup result %+v: want the snapshot with both files", b)
	}
	var res struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Warnings) != 1 {
		t.Errorf("JSON warnings %v (%v), want one", res.Warnings, err)
	}
}

// TestReadOnlyCommandsBesideCLIJob (item 12): without a daemon, while a
// CLI backup runs (here: waiting for its tape in a standalone drive),
// media list, changer status, status and pool list work (they run in the
// backup's process), and a command that changes the catalog fails naming
// the job.
func TestReadOnlyCommandsBesideCLIJob(t *testing.T) {
	s := newSandbox(t)
	lib := smallLibrary(s, "2")
	s.ok("drive", "create", "solo", "--path", filepath.Join(lib, "drive1"))
	s.ok("pool", "create", "sp", "--drive", "solo")
	s.ok("barcode-label", "--drive", "mydrive", "--pool", "sp")
	src := smallSource(t, s, "docs", "x\n")

	job := s.command(nil, "tapefs", "backup", src, "sp")
	stderr, err := job.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		job.Process.Signal(os.Interrupt)
		job.Wait()
	}()
	asked := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := stderr.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "insert tape") {
				close(asked)
				io.Copy(io.Discard, stderr)
				return
			}
			if err != nil {
				t.Errorf("the backup ended before it asked for its tape:\n%s", seen.String())
				close(asked)
				return
			}
		}
	}()
	select {
	case <-asked:
	case <-time.After(60 * time.Second):
		t.Fatal("the backup did not ask for its tape")
	}

	for _, args := range [][]string{
		{"media", "list"},
		{"changer", "status", "sl3"},
		{"status", "--drive", "mydrive"},
		{"pool", "list"},
	} {
		r := s.run(nil, "tapefs", args...)
		if r.code != 0 {
			t.Errorf("tapefs %s beside the backup: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if out := s.ok("media", "list").stdout; !strings.Contains(out, "TEST01L8") {
		t.Errorf("media list beside the backup:\n%s", out)
	}
	r := s.run(nil, "tapefs", "media", "set-status", "TEST02L8", "full")
	if r.code != 4 || !strings.Contains(r.stderr, "tapefs backup "+src+" sp") {
		t.Errorf("a write command beside the backup: exit %d, stderr %q; want 4 naming the backup", r.code, r.stderr)
	}
}

// TestStatusOfBusyDrive (item 12): `status` of a drive whose job holds it
// in a long tape operation answers after a moment, from the last status
// read, naming the job, instead of waiting for the operation.
func TestStatusOfBusyDrive(t *testing.T) {
	root := t.TempDir()
	d0 := &gatedDrive{reached: make(chan struct{}), gate: make(chan struct{})}
	eng, _ := engineLibrary(t, root, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, Capacity: 256 << 20}, engine.Options{},
		func(lib string) device.Opener { return gatedOpener{vtapeOpener{lib}, d0} }, ptr(""))
	ctx := context.Background()
	if _, err := eng.Status(ctx, "d0"); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "a")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "f"), 1<<20, 7)
	d0.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"})
		done <- err
	}()
	defer func() {
		close(d0.gate)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-d0.reached
	got := make(chan *engine.DriveStatusInfo, 1)
	go func() {
		st, err := eng.Status(ctx, "d0")
		if err != nil {
			t.Error(err)
		}
		got <- st
	}()
	select {
	case st := <-got:
		if st == nil || !strings.HasPrefix(st.Job, "backup ") {
			t.Errorf("status of the busy drive: %+v, want the backup job named", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("status of the busy drive waits for the job's tape operation")
	}
}
