package fusefs

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// benchLibrary is an engine over a one-drive library with cartridges of
// capacity bytes, pool p0, labelled tapes, a snapshot cache of cacheBytes,
// and a mounted tree.
func benchLibrary(b *testing.B, capacity, cacheBytes int64) (*engine.Engine, string) {
	b.Helper()
	needFuse(b)
	lib := vtape.NewTestLibrary(b, vtape.LibraryOptions{Cartridges: 2, Capacity: capacity})
	eng, err := engine.New(engine.Options{ConfigDir: b.TempDir(), StateDir: b.TempDir(), Opener: vtOpener{}, RefreshAfterJobs: true, SnapshotCacheBytes: cacheBytes})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
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
	return eng, mnt
}

// driveSeconds is the drive's simulated tape time so far, read when no job
// holds the drive.
func driveSeconds(b *testing.B, eng *engine.Engine) float64 {
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
	if testing.Verbose() {
		b.Logf("sim: %+v", *sim)
	}
	return sim.TapeSeconds
}

// BenchmarkSnapshotCopyTapeTime copies a whole snapshot (96 MiB in 3
// directories of files from 4 KiB to 8 MiB, with a 32 MiB chunk cache, so
// the read-ahead is bounded well below the snapshot) out of the mount with
// cp -a, and reports its simulated tape time relative to `tapefs restore`
// of the same snapshot (tape-ratio; target ≤ 1.5).
func BenchmarkSnapshotCopyTapeTime(b *testing.B) {
	eng, mnt := benchLibrary(b, 2<<30, 32<<20)
	src := filepath.Join(b.TempDir(), "data")
	rng := rand.New(rand.NewPCG(1, 2))
	total := 0
	for d := 0; total < 96<<20; d++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", d%3), fmt.Sprintf("s%d", d))
		os.MkdirAll(dir, 0o755)
		n := 4<<10 + rng.IntN(8<<20)
		if err := os.WriteFile(filepath.Join(dir, "f"), randBytes(rng, n), 0o644); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	ctx := context.Background()
	res, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		b.Fatal(err)
	}
	snap := filepath.Join(mnt, "pools/p0/snapshots", res.Snapshot)
	var ratio float64
	for i := 0; b.Loop(); i++ {
		before := driveSeconds(b, eng)
		dest := filepath.Join(b.TempDir(), "copy")
		if out, err := exec.Command("cp", "-a", snap+"/", dest).CombinedOutput(); err != nil {
			b.Fatalf("cp -a: %v\n%s", err, out)
		}
		// Let the kernel forget the pages, so the next round reads again.
		exec.Command("sh", "-c", "echo 1 > /proc/sys/vm/drop_caches").Run()
		copyTime := driveSeconds(b, eng) - before
		rr, err := eng.Restore(ctx, engine.RestoreOptions{Set: res.Set, Target: b.TempDir(), Snapshots: []string{res.Snapshot}})
		if err != nil {
			b.Fatal(err)
		}
		ratio = copyTime / rr.TapeSecond
		b.Logf("%d MiB: cp -a %.2f s, restore %.2f s of simulated tape time", total>>20, copyTime, rr.TapeSecond)
	}
	b.ReportMetric(ratio, "tape-ratio")
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
