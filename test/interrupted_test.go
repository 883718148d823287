package test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tapefs/engine"
	"tapefs/engine/chunker"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/vtape"
)

// TestBackupAfterInterruptedWrite: a job killed while it wrote a chunk
// archive leaves records at end of data with no filemark after them (the
// daemon was killed with kill -9 during a commit). The next backup must
// start a file of its own there: appended to the unfinished file, its
// chunk archive sat behind the dead job's records, and every read of the
// new snapshot failed with "record 0 belongs to content ...".
func TestBackupAfterInterruptedWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, lib := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, Capacity: 1 << 30}, engine.Options{}, nil, ptr("pa"))
	src1, src2 := filepath.Join(dir, "src", "one"), filepath.Join(dir, "src", "two")
	for _, d := range []string{src1, src2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	makeRandomFile(t, filepath.Join(src1, "a"), 3<<20, 1)
	makeRandomFile(t, filepath.Join(src2, "b"), 3<<20, 2)
	r1, err := eng.Backup(ctx, engine.BackupOptions{Source: src1, Pool: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	// The dead job: a chunk archive with a few records on tape, no end.
	d, err := vtape.OpenDrive(vtape.DrivePath(lib, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Space(ctx, device.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	aw, err := format.NewChunkArchiveWriter(ctx, d, format.DefaultBlockSize, format.ChunkArchiveHeader{Set: r1.Set}, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("dead job "), 200_000)
	if _, err := aw.Add(chunker.Sum(junk), junk); err != nil {
		t.Fatal(err)
	}
	if pos, err := d.ReadPosition(ctx); err != nil || pos.Record == 0 {
		t.Fatalf("no record of the dead job on tape: %+v %v", pos, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	eng, err = engine.New(engine.Options{ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "state"), Opener: vtapeOpener{lib}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	r2, err := eng.Backup(ctx, engine.BackupOptions{Source: src2, Pool: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Set != r1.Set {
		t.Fatalf("second backup went to media set %s, want %s", r2.Set, r1.Set)
	}
	restore := func(when string) {
		t.Helper()
		target := filepath.Join(dir, "restore-"+when)
		if _, err := eng.Restore(ctx, engine.RestoreOptions{Set: r1.Set, Target: target}); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, c := range []struct{ src, snap, name string }{{src1, r1.Snapshot, "a"}, {src2, r2.Snapshot, "b"}} {
			want, _ := os.ReadFile(filepath.Join(c.src, c.name))
			got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(c.snap), c.name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %s/%s restored: %d bytes, %v; want the %d bytes of the source", when, c.snap, c.name, len(got), err, len(want))
			}
		}
	}
	restore("after the second backup")
	// The catalog read back from every archive of the tape, the dead
	// job's cut-off one included.
	if _, err := eng.RestoreCatalog(ctx, "d0", true, true); err != nil {
		t.Fatalf("catalog --scan --force: %v", err)
	}
	restore("after catalog --scan")
}

// TestBarcodeLabelTapeLeftInDrive: a job stopped while a cartridge was in
// the drive (kill -9 during barcode-label) leaves it there; the next
// barcode-label puts it back and labels it with the others, and one in
// another drive is reported, not silently left out.
func TestBarcodeLabelTapeLeftInDrive(t *testing.T) {
	ctx := context.Background()
	eng, lib := engineLibrary(t, t.TempDir(), vtape.LibraryOptions{Drives: 2, Slots: 6, Cartridges: 3, Capacity: 1 << 30}, engine.Options{}, nil, nil)
	ch, err := vtape.OpenChanger(lib)
	if err != nil {
		t.Fatal(err)
	}
	slot := func(n int) device.Element { return device.Element{Kind: device.ElementSlot, ID: n} }
	for _, m := range [][2]device.Element{{slot(1), {Kind: device.ElementDrive, ID: 0}}, {slot(2), {Kind: device.ElementDrive, ID: 1}}} {
		if err := ch.Move(ctx, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	ch.Close()
	res, err := eng.BarcodeLabel(ctx, "d0", "pa")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range res {
		got[r.LabelText] = r.Result
	}
	if got["TEST01L8"] != "labelled" || got["TEST03L8"] != "labelled" {
		t.Errorf("results %v: want TEST01L8 (left in d0) and TEST03L8 labelled", got)
	}
	if !strings.Contains(got["TEST02L8"], "in drive number 1") {
		t.Errorf("TEST02L8 (in the other drive): %q, want it reported", got["TEST02L8"])
	}
}
