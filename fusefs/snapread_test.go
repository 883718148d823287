package fusefs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/engine/staging"
	"tapefs/vtape"
)

// simBytesRead is what drive d0 has read from tape so far (the vtape
// timing model's counter).
func simBytesRead(t testing.TB, eng *engine.Engine) uint64 {
	t.Helper()
	st, err := eng.Status(context.Background(), "d0")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.Sim == nil {
		t.Fatal("no simulated tape counters")
	}
	return st.Status.Sim.BytesRead
}

// TestSnapshotReadWaitsOnlyForItsData: the first read of a file at the end
// of a large chunk archive reads its own chunk, not the archive before it
// (counted in bytes the drive read before the read returned), and the
// read-ahead scope of the snapshot is not built before the read.
func TestSnapshotReadWaitsOnlyForItsData(t *testing.T) {
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 2, Capacity: 1 << 30})
	eng, err := engine.New(engine.Options{ConfigDir: t.TempDir(), StateDir: t.TempDir(), Opener: vtOpener{},
		SnapshotCacheBytes: 8 << 20, SnapshotSkipBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	setUpBenchPool(t, eng, lib)
	src := filepath.Join(t.TempDir(), "big")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const files, size = 24, 1 << 20
	for i := range files {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), randBytes(rng, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	res, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		t.Fatal(err)
	}
	before := simBytesRead(t, eng)
	f, err := eng.OpenSnapshotFile(ctx, res.Set, res.Snapshot, fmt.Sprintf("f%02d", files-1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(ctx, buf, 0); err != nil {
		t.Fatal(err)
	}
	read := simBytesRead(t, eng) - before
	// Its own chunk (about 1 MiB), the labels, and the records around:
	// far less than the 24 MiB archive before it.
	if read > 4<<20 {
		t.Errorf("the drive read %.1f MiB before the first read of the last file returned; want at most 4 MiB (the file is 1 MiB, the archive %d MiB)", float64(read)/(1<<20), files)
	}
}

// TestCommitAfterSnapshotRead: a commit issued right after a snapshot
// file was read, while the read-ahead of that read still holds the pool's
// drive, waits for it (the read-ahead gives way) and succeeds, with the
// wait in the job's log.
func TestCommitAfterSnapshotRead(t *testing.T) {
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 2, Capacity: 1 << 30})
	var logs logBuf
	eng, err := engine.New(engine.Options{ConfigDir: t.TempDir(), StateDir: t.TempDir(), Opener: vtOpener{},
		SnapshotCacheBytes: 256 << 20, Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	setUpBenchPool(t, eng, lib)
	src := filepath.Join(t.TempDir(), "big")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 64 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), randBytes(rng, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	res, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "p0"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := eng.Staging("p0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.Make(staging.RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)
	if err != nil {
		t.Fatal(err)
	}
	_, sf, err := st.Create(g.ID, "new", 0o644, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sf.WriteAt([]byte("committed after a read"), 0); err != nil {
		t.Fatal(err)
	}
	if err := sf.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := eng.OpenSnapshotFile(ctx, res.Set, res.Snapshot, "f00")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(ctx, make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	// The read-ahead starts behind the read: wait until it holds the
	// drive (it reads for a while: 64 MiB of archive).
	for deadline := time.Now().Add(10 * time.Second); eng.Jobs()["d0"] == ""; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the read-ahead does not hold the drive: the test proves nothing")
		}
	}
	out, err := eng.Commit(ctx, engine.CommitOptions{Pool: "p0"})
	if err != nil {
		t.Fatalf("commit right after a snapshot read: %v", err)
	}
	if len(out) != 1 {
		t.Fatalf("commit wrote %d snapshots, want 1", len(out))
	}
	if !logs.has("waiting for drive d0 (in use by restore ") {
		t.Errorf("the commit's wait for the drive is not in the log")
	}
}
