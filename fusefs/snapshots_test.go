package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/keys"
	"tapefs/vtape"
)

// snapFixture is a mounted tree over a library with two drives (d0, d1),
// pools p0 and p1 on them, and one backup of src in p0.
type snapFixture struct {
	eng      *engine.Engine
	root     *Root
	mnt, src string
	snap     string // pools/p0/snapshots/<group>/<time>, relative to mnt
	res      *engine.BackupResult
	logs     *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *logBuf) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func needFuse(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("TAPEFS_TEST_REQUIRE_FUSE") == "1" {
			t.Fatal("/dev/fuse is missing and TAPEFS_TEST_REQUIRE_FUSE=1")
		}
		t.Skip("/dev/fuse is missing")
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// makeSource writes a small tree with a large file, a hole, a hard link, a
// symlink, a fifo and xattrs.
func makeSource(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "a/big"), randBytes(rng, 9<<20+333), 0o640))
	must(os.WriteFile(filepath.Join(dir, "a/b/small"), []byte("small file\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	f, err := os.Create(filepath.Join(dir, "holey"))
	must(err)
	_, err = f.WriteAt(randBytes(rng, 4096), 5<<20)
	must(err)
	must(f.Close())
	must(os.Link(filepath.Join(dir, "a/b/small"), filepath.Join(dir, "hard")))
	must(os.Symlink("a/b/small", filepath.Join(dir, "sym")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o640))
	must(unix.Setxattr(filepath.Join(dir, "a/b/small"), "user.k", []byte("v"), 0))
}

// newSnapFixture backs up makeSource's tree, or the one mk makes.
func newSnapFixture(t *testing.T, mk ...func(*testing.T, string)) *snapFixture {
	t.Helper()
	return newSnapFixtureKey(t, "", mk...)
}

// newSnapFixtureKey is newSnapFixture with pool p0 encrypting with key
// fingerprint fp, which must be in the key store of a config directory the
// caller made with keyConfigDir (fp "" for none).
func newSnapFixtureKey(t *testing.T, fp string, mk ...func(*testing.T, string)) *snapFixture {
	t.Helper()
	needFuse(t)
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Drives: 2, Cartridges: 4})
	cfg, state := t.TempDir(), t.TempDir()
	if fp != "" {
		cfg = keyConfigDir
	}
	logs := &logBuf{}
	eng, err := engine.New(engine.Options{ConfigDir: cfg, StateDir: state, Opener: vtOpener{}, RefreshAfterJobs: true, Logf: logs.logf,
		SnapshotCacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(eng.ChangerCreate("sl3", lib, nil))
	must(eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0), Changer: "sl3", ChangerDriveNum: 0}))
	must(eng.DriveCreate(config.Drive{Name: "d1", Path: vtape.DrivePath(lib, 1), Changer: "sl3", ChangerDriveNum: 1}))
	must(eng.PoolCreate(config.Pool{Name: "p0", Drive: "d0", Encrypt: fp}))
	must(eng.PoolCreate(config.Pool{Name: "p1", Drive: "d1"}))
	ctx := context.Background()
	if _, err := eng.BarcodeLabel(ctx, "d0", ""); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "www")
	if len(mk) > 0 {
		mk[0](t, src)
	} else {
		makeSource(t, src)
	}
	res, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		t.Fatal(err)
	}
	must(eng.RefreshStatus())
	root, err := New(Options{Engine: eng, Run: (&fakeRunner{}).run, MountPoint: "test", Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	server, err := Mount(mnt, root, MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return &snapFixture{eng: eng, root: root, mnt: mnt, src: src, snap: "pools/p0/snapshots/" + res.Snapshot, res: res, logs: logs}
}

func (f *snapFixture) path(p string) string { return filepath.Join(f.mnt, f.snap, p) }

func TestSnapshotTreeAttributes(t *testing.T) {
	f := newSnapFixture(t)
	for _, p := range []string{"", "a", "a/big", "a/b", "a/b/small", "empty", "holey", "hard", "sym", "fifo"} {
		var want, got unix.Stat_t
		if err := unix.Lstat(filepath.Join(f.src, p), &want); err != nil {
			t.Fatal(err)
		}
		if err := unix.Lstat(f.path(p), &got); err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if got.Mode != want.Mode || got.Uid != want.Uid || got.Gid != want.Gid || got.Mtim != want.Mtim {
			t.Errorf("%s: mode %o uid %d gid %d mtime %v; source %o %d %d %v", p, got.Mode, got.Uid, got.Gid, got.Mtim, want.Mode, want.Uid, want.Gid, want.Mtim)
		}
		if want.Mode&unix.S_IFMT != unix.S_IFDIR && (got.Size != want.Size || got.Nlink != want.Nlink) {
			t.Errorf("%s: size %d nlink %d; source %d %d", p, got.Size, got.Nlink, want.Size, want.Nlink)
		}
		if p == "holey" && got.Blocks >= want.Size/512 {
			t.Errorf("holey: %d blocks, want fewer than %d (sparse)", got.Blocks, want.Size/512)
		}
	}
	var a, b unix.Stat_t
	unix.Lstat(f.path("hard"), &a)
	unix.Lstat(f.path("a/b/small"), &b)
	if a.Ino != b.Ino {
		t.Errorf("hard link inode %d, its file %d", a.Ino, b.Ino)
	}
	if target, err := os.Readlink(f.path("sym")); err != nil || target != "a/b/small" {
		t.Errorf("readlink sym: %q, %v", target, err)
	}
	// The same snapshot under media-sets/<set>/snapshots.
	sets, err := os.ReadDir(filepath.Join(f.mnt, "pools/p0/media-sets"))
	if err != nil || len(sets) != 1 {
		t.Fatalf("media-sets: %v, %v", sets, err)
	}
	setDir := filepath.Join(f.mnt, "pools/p0/media-sets", sets[0].Name())
	if b, err := os.ReadFile(filepath.Join(setDir, "snapshots", f.res.Snapshot, "a/b/small")); err != nil || string(b) != "small file\n" {
		t.Errorf("media-sets view: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(setDir, "media")); err != nil || string(b) != strings.Join(f.res.Tapes, "\n")+"\n" {
		t.Errorf("media: %q, %v; want %v", b, err, f.res.Tapes)
	}
	if info, err := os.ReadFile(filepath.Join(setDir, "info")); err != nil || !strings.Contains(string(info), f.res.Set.String()) {
		t.Errorf("info: %s, %v", info, err)
	}
	// media/<label>/content lists the snapshot on its tape.
	if b, err := os.ReadFile(filepath.Join(f.mnt, "media", f.res.Tapes[0], "content")); err != nil || !strings.Contains(string(b), f.res.Snapshot) {
		t.Errorf("media/%s/content: %q, %v", f.res.Tapes[0], b, err)
	}
	// By UUID too.
	if _, err := os.Stat(filepath.Join(f.mnt, "pools/p0/media-sets", f.res.Set.String(), "snapshots", f.res.Snapshot)); err != nil {
		t.Errorf("media set by uuid: %v", err)
	}
	if es, err := os.ReadDir(filepath.Join(f.mnt, "pools/p1/snapshots")); err != nil || len(es) != 0 {
		t.Errorf("p1 snapshots: %v, %v", es, err)
	}
}

func TestSnapshotXattrs(t *testing.T) {
	f := newSnapFixture(t)
	get := func(p, name string) (string, error) {
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(f.path(p), name, buf)
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	if v, err := get("a/b/small", "user.k"); err != nil || v != "v" {
		t.Errorf("user.k: %q, %v", v, err)
	}
	if v, err := get("a/big", "user.tapefs.media"); err != nil || v != f.res.Tapes[0] {
		t.Errorf("user.tapefs.media: %q, %v", v, err)
	}
	if v, err := get("a/big", "user.tapefs.set"); err != nil || v != f.res.Set.String() {
		t.Errorf("user.tapefs.set: %q, %v", v, err)
	}
	for _, name := range []string{"user.tapefs.file", "user.tapefs.offset", "user.ltfs.startblock", "user.ltfs.partition"} {
		if _, err := get("a/big", name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Tape order: a/big was backed up before a/b/small (name order).
	sb := func(p string) string { v, _ := get(p, "user.ltfs.startblock"); return v }
	if len(sb("a/b/small")) == 0 || len(sb("a/big")) == 0 {
		t.Errorf("startblock missing")
	}
	if _, err := get("empty", "user.tapefs.media"); !errors.Is(err, unix.ENODATA) {
		t.Errorf("user.tapefs.media of an empty file: %v, want ENODATA", err)
	}
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(f.path("a/b/small"), buf)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
	// The tape attributes are virtual: answered by name, not listed, so
	// copies out of the mount do not carry them.
	want := []string{"user.k"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("listxattr: %q, want %q", names, want)
	}
}

func TestSnapshotReadOnly(t *testing.T) {
	f := newSnapFixture(t)
	checks := []struct {
		what string
		err  error
	}{
		{"write", os.WriteFile(f.path("a/big"), []byte("x"), 0o644)},
		{"create", os.WriteFile(f.path("a/new"), []byte("x"), 0o644)},
		{"mkdir", os.Mkdir(f.path("a/newdir"), 0o755)},
		{"rename", os.Rename(f.path("a/big"), f.path("a/big2"))},
		{"remove", os.Remove(f.path("empty"))},
		{"chmod", os.Chmod(f.path("empty"), 0o600)},
		{"symlink", os.Symlink("x", f.path("newlink"))},
		{"link", os.Link(f.path("empty"), f.path("newhard"))},
		{"setxattr", unix.Setxattr(f.path("empty"), "user.x", []byte("1"), 0)},
		{"removexattr", unix.Removexattr(f.path("a/b/small"), "user.k")},
		{"truncate", os.Truncate(f.path("a/big"), 0)},
		{"mkdir in snapshots", os.Mkdir(filepath.Join(f.mnt, "pools/p0/snapshots/new"), 0o755)},
	}
	for _, c := range checks {
		if !errors.Is(c.err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", c.what, c.err)
		}
	}
}

// TestSnapshotRead reads files whole, in random out-of-order pieces from
// several goroutines, and through holes, with a cache smaller than the
// data.
func TestSnapshotRead(t *testing.T) {
	f := newSnapFixture(t)
	for _, p := range []string{"a/big", "a/b/small", "empty", "holey", "hard"} {
		want, _ := os.ReadFile(filepath.Join(f.src, p))
		got, err := os.ReadFile(f.path(p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes equal to the source", p, len(got), err, len(want))
		}
	}
	want, _ := os.ReadFile(filepath.Join(f.src, "a/big"))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fd, err := os.Open(f.path("a/big"))
			if err != nil {
				t.Error(err)
				return
			}
			defer fd.Close()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			buf := make([]byte, 200<<10)
			for range 20 {
				off := rng.Int64N(int64(len(want)))
				n, err := fd.ReadAt(buf, off)
				if err != nil && n == 0 {
					t.Errorf("read at %d: %v", off, err)
					return
				}
				if !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
					t.Errorf("read at %d: data differs", off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSnapshotReadDuringBackup reads a snapshot of p0 on d0 while a backup
// of p1 runs on d1.
func TestSnapshotReadDuringBackup(t *testing.T) {
	f := newSnapFixture(t)
	done := make(chan error, 1)
	go func() {
		_, err := f.eng.Backup(context.Background(), engine.BackupOptions{Source: f.src, Pool: "p1", Group: "other"})
		done <- err
	}()
	want, _ := os.ReadFile(filepath.Join(f.src, "a/big"))
	got, err := os.ReadFile(f.path("a/big"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read during a backup: %d bytes, %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(filepath.Join(f.mnt, "pools/p1/snapshots/other"))
	if err != nil || len(es) != 1 {
		t.Errorf("p1 after its backup: %v, %v", es, err)
	}
}

// TestSnapshotReadNoMedium reads through a standalone drive that does not
// hold the tape: ENOMEDIUM and a log line that names the tape.
func TestSnapshotReadNoMedium(t *testing.T) {
	f := newSnapFixture(t)
	ctx := context.Background()
	if err := f.eng.Unload(ctx, "d0", 0); err != nil {
		t.Fatal(err)
	}
	if err := f.eng.DriveUpdate("d0", engine.DriveUpdate{Delete: []string{"changer"}}); err != nil {
		t.Fatal(err)
	}
	_, err := os.ReadFile(f.path("a/big"))
	if !errors.Is(err, syscall.ENOMEDIUM) {
		t.Errorf("read without the tape: %v, want ENOMEDIUM", err)
	}
	if !f.logs.has("insert tape " + f.res.Tapes[0] + " into drive d0") {
		t.Errorf("no log line asks for the tape: %q", f.logs.lines)
	}
}

// TestSnapshotCopyTapeTime copies a snapshot four times the size of the
// chunk cache out of the mount with cp -a, three rounds, and checks that
// each costs at most 1.5 times the simulated tape time of restoring it:
// read-ahead must never be dropped before it is read, which would read an
// archive twice.
func TestSnapshotCopyTapeTime(t *testing.T) {
	if testing.Short() {
		t.Skip("copies 48 MiB three times")
	}
	f := newCopyFixture(t, 48<<20, 12<<20)
	for round := range 3 {
		if r := f.ratio(t); r > 1.5 {
			t.Errorf("round %d: cp -a took %.2f× the tape time of restore, want ≤ 1.5×", round, r)
		}
	}
}

// TestSnapshotXattrsOwnTapeNames: a file that carries user.tapefs.*
// attributes of its own (copied from a snapshot when they were listed)
// lists none of them, and the value by name is the one from tape.
func TestSnapshotXattrsOwnTapeNames(t *testing.T) {
	f := newSnapFixture(t, func(t *testing.T, dir string) {
		makeSource(t, dir)
		p := filepath.Join(dir, "copied")
		if err := os.WriteFile(p, []byte("copied from a snapshot\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"user.tapefs.media", "user.tapefs.set", "user.tapefs.file", "user.tapefs.offset"} {
			if err := unix.Setxattr(p, name, []byte("stale"), 0); err != nil {
				t.Fatal(err)
			}
		}
	})
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(f.path("copied"), buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("listxattr: %q, want no names", buf[:n])
	}
	n, err = unix.Lgetxattr(f.path("copied"), "user.tapefs.media", buf)
	if err != nil || string(buf[:n]) != f.res.Tapes[0] {
		t.Errorf("user.tapefs.media: %q, %v; want %s", buf[:max(n, 0)], err, f.res.Tapes[0])
	}
}

// TestSnapshotReadTapeNotInLibrary reads a file whose tape an operator
// took out of the library: the read fails with ENOMEDIUM, as with a
// standalone drive that lacks the tape, and the log names the tape. It
// failed with ENOENT ("No such file or directory") for a file ls shows.
func TestSnapshotReadTapeNotInLibrary(t *testing.T) {
	f := newSnapFixture(t)
	ctx := context.Background()
	if err := f.eng.Unload(ctx, "d0", 0); err != nil {
		t.Fatal(err)
	}
	_, st, err := f.eng.ChangerStatus(ctx, "sl3", "")
	if err != nil {
		t.Fatal(err)
	}
	slot := 0
	for _, el := range st {
		if el.Kind == "slot" && el.LabelText == f.res.Tapes[0] {
			slot = el.ID
		}
	}
	lib, err := f.eng.ChangerConfig("sl3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vtape.Remove(lib.Path, slot); err != nil {
		t.Fatal(err)
	}
	_, err = os.ReadFile(f.path("a/big"))
	if !errors.Is(err, syscall.ENOMEDIUM) {
		t.Errorf("read with the tape out of the library: %v, want ENOMEDIUM", err)
	}
	if !f.logs.has(f.res.Tapes[0] + " is not in the library (changer sl3)") {
		t.Errorf("no log line names the tape: %q", f.logs.lines)
	}
}

// keyConfigDir is the config directory of newSnapFixtureKey: the test
// puts its key there first.
var keyConfigDir string

// TestSnapshotReadKeyMissing: reading a file of an encrypted snapshot whose
// key is not in the key store fails with ENOKEY ("Required key not
// available"), not ENOENT for a file ls shows, and the log says why.
func TestSnapshotReadKeyMissing(t *testing.T) {
	needFuse(t)
	keyConfigDir = t.TempDir()
	store := keys.Store{Dir: keyConfigDir}
	key, kc, err := keys.NewKey([]byte("pw"), "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(key, kc); err != nil {
		t.Fatal(err)
	}
	f := newSnapFixtureKey(t, kc.Fingerprint)
	if err := f.eng.Unload(context.Background(), "d0", 0); err != nil {
		t.Fatal(err)
	}
	if err := store.Remove(kc.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(f.path("a/big")); !errors.Is(err, syscall.ENOKEY) {
		t.Errorf("read with the key gone: %v, want ENOKEY", err)
	}
	if !f.logs.has("encrypted") {
		t.Errorf("no log line says the set is encrypted: %q", f.logs.lines)
	}
}
