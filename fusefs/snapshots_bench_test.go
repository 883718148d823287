package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/catalog"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/internal/procs"
	"tapefs/vtape"
)

// setUpBenchPool configures changer sl3 on lib, its drive d0 and pool p0
// on eng, and labels the library's tapes.
func setUpBenchPool(b testing.TB, eng *engine.Engine, lib string) {
	b.Helper()
	for _, err := range []error{
		eng.ChangerCreate("sl3", lib, nil),
		eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0), Changer: "sl3"}),
		eng.PoolCreate(config.Pool{Name: "p0", Drive: "d0"}),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := eng.BarcodeLabel(context.Background(), "d0", ""); err != nil {
		b.Fatal(err)
	}
}

// benchLibrary is an engine over a one-drive library with cartridges of
// capacity bytes, pool p0, labelled tapes, a snapshot cache of cacheBytes,
// and a mounted tree.
func benchLibrary(b testing.TB, capacity, cacheBytes int64) (*engine.Engine, string) {
	b.Helper()
	needFuse(b)
	lib := vtape.NewTestLibrary(b, vtape.LibraryOptions{Cartridges: 2, Capacity: capacity})
	eng, err := engine.New(engine.Options{ConfigDir: b.TempDir(), StateDir: b.TempDir(), Opener: vtOpener{}, RefreshAfterJobs: true, SnapshotCacheBytes: cacheBytes})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	setUpBenchPool(b, eng, lib)
	root, err := New(Options{Engine: eng, Run: (&fakeRunner{}).run})
	if err != nil {
		b.Fatal(err)
	}
	mnt := b.TempDir()
	server, err := Mount(mnt, root, MountOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Unmount() })
	// As the daemon (cmd/tapefs mount) runs: one processor while idle.
	b.Cleanup(procs.Enable())
	return eng, mnt
}

// driveSeconds is the drive's simulated tape time so far, read when no job
// holds the drive.
func driveSeconds(b testing.TB, eng *engine.Engine) float64 {
	b.Helper()
	for len(eng.Jobs()) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	st, err := eng.Status(context.Background(), "d0")
	if err != nil {
		b.Fatal(err)
	}
	var sim *device.SimStats = st.Status.Sim
	if sim == nil {
		b.Fatal("no simulated tape time")
	}
	return sim.TapeSeconds
}

// copyFixture is a mounted library with one backup of about total bytes
// in 3 directories of files from 4 KiB to 8 MiB, read through a chunk
// cache of cacheBytes.
type copyFixture struct {
	eng   *engine.Engine
	snap  string // the snapshot's directory in the mount
	res   *engine.BackupResult
	total int
}

func newCopyFixture(tb testing.TB, total int, cacheBytes int64) *copyFixture {
	tb.Helper()
	eng, mnt := benchLibrary(tb, 2<<30, cacheBytes)
	src := filepath.Join(tb.TempDir(), "data")
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for d := 0; n < total; d++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", d%3), fmt.Sprintf("s%d", d))
		os.MkdirAll(dir, 0o755)
		size := 4<<10 + rng.IntN(8<<20)
		if err := os.WriteFile(filepath.Join(dir, "f"), randBytes(rng, size), 0o644); err != nil {
			tb.Fatal(err)
		}
		n += size
	}
	res, err := eng.Backup(context.Background(), engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		tb.Fatal(err)
	}
	return &copyFixture{eng: eng, snap: filepath.Join(mnt, "pools/p0/snapshots", res.Snapshot), res: res, total: n}
}

// ratio copies the snapshot out of the mount with cp -a, drops the page
// cache, restores the snapshot with the engine, and returns the simulated
// tape time of the copy relative to the restore's. The vtape timing model
// is deterministic: the ratio depends only on what the reader read.
func (f *copyFixture) ratio(tb testing.TB) float64 {
	tb.Helper()
	before := driveSeconds(tb, f.eng)
	dest := filepath.Join(tb.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", f.snap+"/", dest).CombinedOutput(); err != nil {
		tb.Fatalf("cp -a: %v\n%s", err, out)
	}
	// Let the kernel forget the pages, so the next round reads again.
	exec.Command("sh", "-c", "echo 1 > /proc/sys/vm/drop_caches").Run()
	copyTime := driveSeconds(tb, f.eng) - before
	rr, err := f.eng.Restore(context.Background(), engine.RestoreOptions{Set: f.res.Set, Target: tb.TempDir(), Snapshots: []string{f.res.Snapshot}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%d MiB: cp -a %.2f s, restore %.2f s of simulated tape time", f.total>>20, copyTime, rr.TapeSecond)
	return copyTime / rr.TapeSecond
}

// BenchmarkSnapshotCopyTapeTime copies a whole snapshot (96 MiB in 3
// directories of files from 4 KiB to 8 MiB, with a 32 MiB chunk cache, so
// the read-ahead is bounded well below the snapshot) out of the mount with
// cp -a, and reports the largest simulated tape time of a round relative
// to `tapefs restore` of the same snapshot (tape-ratio; target ≤ 1.5).
func BenchmarkSnapshotCopyTapeTime(b *testing.B) {
	f := newCopyFixture(b, 96<<20, 32<<20)
	var worst float64
	for b.Loop() {
		worst = max(worst, f.ratio(b))
	}
	b.ReportMetric(worst, "tape-ratio")
}

// BenchmarkSnapshotFind runs find over a snapshot of 20,000 entries (first
// listing after mount, then with the kernel's caches warm) and reports
// entries per second.
func BenchmarkSnapshotFind(b *testing.B) {
	eng, mnt := benchLibrary(b, 1<<30, 0)
	src := filepath.Join(b.TempDir(), "many")
	const dirs, files = 100, 199
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("dir%03d", d))
		os.MkdirAll(dir, 0o755)
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%03d", f)), []byte{byte(f)}, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	res, err := eng.Backup(context.Background(), engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		b.Fatal(err)
	}
	snap := filepath.Join(mnt, "pools/p0/snapshots", res.Snapshot)
	entries := dirs*files + dirs
	start := time.Now()
	n := 0
	filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error { n++; return err })
	b.Logf("first walk: %d entries in %v (%.0f entries/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	b.ResetTimer()
	for b.Loop() {
		out, err := exec.Command("find", snap).Output()
		if err != nil {
			b.Fatal(err)
		}
		_ = out
	}
	b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// putManySnapshot stores snapshot "many/2026-01-01T00:00:00Z" of entries
// entries (dirs of up to 1,000 files each, every file with one chunk
// reference, owner names and times, as a backup writes them) straight into
// the catalog of eng, in media set set of pool p0: no files on disk, no
// tape. It returns the snapshot's name.
func putManySnapshot(b *testing.B, eng *engine.Engine, set uuid.UUID, entries int) string {
	b.Helper()
	cat, err := eng.Catalog()
	if err != nil {
		b.Fatal(err)
	}
	const perDir = 1000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 123, time.UTC)
	tree := make([]catalog.TreeEntry, 0, entries)
	var buf []byte
	put := func(e *format.Entry) {
		start := len(buf)
		buf = format.EncodeEntry(buf, e)
		tree = append(tree, catalog.TreeEntry{Path: e.Path, Value: buf[start:len(buf):len(buf)]})
	}
	put(&format.Entry{Type: format.EntryDir, Mode: 0o755, User: "root", Group: "root", Mtime: t0, Atime: t0, Ctime: t0})
	for d := 0; len(tree) < entries; d++ {
		dir := fmt.Sprintf("dir%05d", d)
		put(&format.Entry{Path: dir, Type: format.EntryDir, Mode: 0o755, UID: 1000, GID: 1000, User: "user", Group: "user", Mtime: t0, Atime: t0, Ctime: t0})
		for f := 0; f < perDir-1 && len(tree) < entries; f++ {
			var dg [32]byte
			binary.BigEndian.PutUint64(dg[:], uint64(len(tree)))
			put(&format.Entry{Path: fmt.Sprintf("%s/file%05d", dir, f), Type: format.EntryFile, Mode: 0o644, UID: 1000, GID: 1000,
				User: "user", Group: "user", Size: 4096, Mtime: t0, Atime: t0, Ctime: t0,
				Chunks: []format.ChunkRef{{Digest: dg, Size: 4096}}})
		}
	}
	name := "many/2026-01-01T00:00:00Z"
	if err := cat.PutSnapshot(catalog.Snapshot{Set: set, Name: name, Pool: "p0", Ctime: t0, Files: int64(len(tree))}, tree); err != nil {
		b.Fatal(err)
	}
	return name
}

// BenchmarkSnapshotFindCatalog runs find over a snapshot built straight in
// the catalog (TAPEFS_BENCH_FIND_ENTRIES entries, default 100,000; make
// bench uses 1,000,000): "find" lists names (find needs no stat), and
// "find-stat" prints every entry's link count and size (a stat per entry,
// as ls -l, du or rsync do). The engine that built the snapshot is closed,
// and each sub-benchmark run opens a new engine (a fresh catalog open: no
// decoded listings, no link counts, nothing of the snapshot in memory but
// what Badger reads back) and a fresh mount. The first find there is cold
// for tapefs and for the kernel (the OS page cache may still hold Badger's
// files); later rounds are warm (the kernel's dentry, attribute and
// readdir caches). It reports entries/s of both, and the CPU time of the
// cold find per entry (daemon and find together; wall time on a shared
// machine is noisy), and logs the FUSE requests per entry.
// TAPEFS_BENCH_COLD_PROFILE=file writes a CPU profile of the cold find.
func BenchmarkSnapshotFindCatalog(b *testing.B) {
	entries := 100_000
	if s := os.Getenv("TAPEFS_BENCH_FIND_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			b.Fatalf("TAPEFS_BENCH_FIND_ENTRIES=%q: want a number of entries", s)
		}
		entries = n
	}
	cfgDir, stateDir := b.TempDir(), b.TempDir()
	lib := vtape.NewTestLibrary(b, vtape.LibraryOptions{Cartridges: 2, Capacity: 1 << 30})
	open := func() *engine.Engine {
		eng, err := engine.New(engine.Options{ConfigDir: cfgDir, StateDir: stateDir, Opener: vtOpener{}})
		if err != nil {
			b.Fatal(err)
		}
		return eng
	}
	eng := open()
	setUpBenchPool(b, eng, lib)
	src := filepath.Join(b.TempDir(), "one")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	res, err := eng.Backup(context.Background(), engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		b.Fatal(err)
	}
	build := time.Now()
	name := putManySnapshot(b, eng, res.Set, entries)
	b.Logf("built a %d-entry snapshot in the catalog in %v", entries, time.Since(build).Round(time.Millisecond))
	if err := eng.Close(); err != nil {
		b.Fatal(err)
	}
	needFuse(b)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"find", nil},
		{"find-stat", []string{"-printf", "%n %s %p\n"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			findCold(b, open, name, entries, tc.args)
		})
		// The same walk over a tree of the same shape that go-fuse
		// serves from memory with no work of ours (floor_bench_test.go).
		b.Run("floor-"+tc.name, func(b *testing.B) {
			counter := &reqCounter{}
			mnt := mountFloorTree(b, entries, counter)
			measureFind(b, mnt, entries, tc.args, counter)
		})
	}
}

// findCold mounts a new engine from open and runs find with args over
// snapshot name of p0, which has entries entries: first cold, then warm.
func findCold(b *testing.B, open func() *engine.Engine, name string, entries int, args []string) {
	eng := open()
	defer eng.Close()
	root, err := New(Options{Engine: eng, Run: (&fakeRunner{}).run})
	if err != nil {
		b.Fatal(err)
	}
	mnt := b.TempDir()
	counter := &reqCounter{}
	server, err := mount(mnt, root, MountOptions{}, func(raw fuse.RawFileSystem) fuse.RawFileSystem {
		counter.RawFileSystem = raw
		return counter
	})
	if err != nil {
		b.Fatal(err)
	}
	defer server.Unmount()
	defer procs.Enable()() // as the daemon runs
	measureFind(b, filepath.Join(mnt, "pools/p0/snapshots", name), entries, args, counter)
}

// measureFind runs find with args over directory snap, which has entries
// entries, first cold, then warm, and reports the rates, the CPU time
// per entry of the first find and the requests counter saw.
func measureFind(b *testing.B, snap string, entries int, args []string, counter *reqCounter) {
	var cpu time.Duration
	var cpuText string
	find := func() float64 {
		start := time.Now()
		before := processCPU()
		cmd := exec.Command("find", append([]string{snap}, args...)...)
		// Count the lines as they come: holding find's output (70 MB
		// for 1M entries) would cost this process, the daemon's, more
		// CPU than some of what is measured.
		var lines lineCounter
		cmd.Stdout = &lines
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		daemon := processCPU() - before
		cpu = daemon + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		cpuText = fmt.Sprintf("wall %v, find user %v sys %v, daemon %v", el.Round(time.Millisecond),
			cmd.ProcessState.UserTime().Round(time.Millisecond), cmd.ProcessState.SystemTime().Round(time.Millisecond),
			daemon.Round(time.Millisecond))
		if n := int(lines); n != entries {
			b.Fatalf("find listed %d entries, want %d", n, entries)
		}
		return float64(entries) / el.Seconds()
	}
	// Only the first find after mount is cold; later rounds are warm.
	var pf *os.File
	if p := os.Getenv("TAPEFS_BENCH_COLD_PROFILE"); p != "" {
		var err error
		if pf, err = os.Create(p); err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			b.Fatal(err)
		}
	}
	cold := find()
	if pf != nil {
		pprof.StopCPUProfile()
		pf.Close()
	}
	coldCPU, coldText := cpu, cpuText
	reqs := counter.take()
	var warm float64
	for b.Loop() {
		warm = find()
	}
	b.Logf("find over %d entries: first %.0f entries/s, then %.0f entries/s", entries, cold, warm)
	b.Logf("first find: %s; last find: %s", coldText, cpuText)
	b.Logf("requests of the first find: %s", fmtCounts(reqs, entries))
	b.Logf("requests of the later finds: %s", fmtCounts(counter.take(), entries*b.N))
	b.ReportMetric(cold, "cold-entries/s")
	b.ReportMetric(warm, "warm-entries/s")
	b.ReportMetric(float64(coldCPU.Microseconds())/float64(entries), "cold-cpu-µs/entry")
}

// processCPU is the CPU time (user and system) of this process so far: the
// daemon's side of a find.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// lineCounter is an io.Writer that counts newlines.
type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
