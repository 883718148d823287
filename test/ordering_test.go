package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/uuid"

	"tapefs/engine"
	"tapefs/engine/format"
	"tapefs/vtape"
)

// TestRestoreOrdering restores 1,000 scattered files of a snapshot that
// spans three tapes and compares the restore's simulated tape time (vtape's
// LTO-8 model) with two references computed from the same model's
// parameters and the chunks' places on tape:
//
//   - the sorted lower bound: every tape loaded once, one positioning per
//     tape, and exactly the span from the first to the last needed byte
//     streamed at native rate;
//   - naive file order: the files read in path order, one positioning per
//     file, a tape change whenever the next file is on another tape.
//
// The restore must load each tape once and stay within 10% of the bound.
func TestRestoreOrdering(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3 tapes")
	}
	root := t.TempDir()
	eng, _ := engineLibrary(t, root, vtape.LibraryOptions{Drives: 1, Slots: 8, Cartridges: 5, Generation: "LTO-8", Capacity: 40 << 20}, engine.Options{}, nil, ptr("pa"))
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// 2,200 files of 32 KiB in 22 directories: ~70 MiB, three tapes with
	// early warning at ~30 MiB.
	src := filepath.Join(root, "src", "data")
	var names []string
	for d := 0; d < 22; d++ {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", d))
		must(os.MkdirAll(dir, 0o755))
		for f := 0; f < 100; f++ {
			name := fmt.Sprintf("d%02d/f%03d", d, f)
			makeRandomFile(t, filepath.Join(src, name), 32<<10, uint64(d*1000+f))
			names = append(names, name)
		}
	}
	res, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"})
	must(err)
	if len(res.Tapes) < 3 {
		t.Fatalf("backup used %v, want 3 tapes", res.Tapes)
	}
	// Every 11th file pair: 1,000 files spread over the whole set.
	var sel []string
	for i, n := range names {
		if i%11 < 5 {
			sel = append(sel, n)
		}
	}
	out, err := eng.Restore(ctx, engine.RestoreOptions{Set: res.Set, Target: filepath.Join(root, "restore"), Snapshots: []string{res.Snapshot}, Paths: sel})
	must(err)
	if out.Restored != int64(len(sel)) {
		t.Fatalf("restored %d of %d files", out.Restored, len(sel))
	}
	if out.Loads != uint64(len(out.Plan.Tapes)) {
		t.Errorf("restore loaded %d times for %d tapes", out.Loads, len(out.Plan.Tapes))
	}

	// Where each selected file's data is.
	cat, err := eng.Catalog()
	must(err)
	set, err := cat.GetMediaSet(res.Set)
	must(err)
	seqOf := map[uuid.UUID]int{}
	for i, m := range set.Media {
		seqOf[m] = i
	}
	type place struct {
		seq  int
		file uint64
		off  int64
		size int64
	}
	var places []place // in path order
	for _, p := range sel {
		v, err := cat.TreeEntry(res.Set, res.Snapshot, p)
		must(err)
		ent, _, err := format.DecodeEntry(v)
		must(err)
		for _, c := range ent.Chunks {
			loc, err := cat.GetChunk(res.Set, c.Digest)
			must(err)
			places = append(places, place{seqOf[loc.Media], loc.File, loc.Offset, int64(loc.Size)})
		}
	}
	tm, err := vtape.TimingFor("LTO-8")
	must(err)

	// Naive: path order.
	naive, cur := 0.0, -1
	for _, p := range places {
		if p.seq != cur {
			naive += tm.LoadTime + tm.UnloadTime
			cur = p.seq
		}
		naive += tm.LocateOverhead + float64(p.size)/tm.NativeRate
	}
	// Sorted bound: per tape, one positioning and the needed span, with
	// each archive's span counted on its own (archives lie one after the
	// other on a tape).
	sorted := append([]place(nil), places...)
	sort.Slice(sorted, func(a, b int) bool {
		x, y := sorted[a], sorted[b]
		if x.seq != y.seq {
			return x.seq < y.seq
		}
		if x.file != y.file {
			return x.file < y.file
		}
		return x.off < y.off
	})
	bound := 0.0
	type span struct{ lo, hi int64 }
	spans := map[[2]uint64]*span{}
	tapes := map[int]bool{}
	for _, p := range sorted {
		tapes[p.seq] = true
		k := [2]uint64{uint64(p.seq), p.file}
		s := spans[k]
		if s == nil {
			s = &span{p.off, p.off + p.size}
			spans[k] = s
		}
		s.hi = max(s.hi, p.off+p.size)
	}
	bound += float64(len(tapes)) * (tm.LoadTime + tm.UnloadTime + tm.LocateOverhead)
	for _, s := range spans {
		bound += float64(s.hi-s.lo) / tm.NativeRate
	}
	t.Logf("restore of %d scattered files from %d tapes: simulated tape time %.1f s; sorted lower bound %.1f s (ratio %.3f); naive file order %.1f s (%.1f× the restore)",
		len(sel), len(out.Plan.Tapes), out.TapeSecond, bound, out.TapeSecond/bound, naive, naive/out.TapeSecond)
	if out.TapeSecond > 1.10*bound {
		t.Errorf("restore took %.1f s of tape time, more than 10%% over the sorted lower bound %.1f s", out.TapeSecond, bound)
	}
	if out.TapeSecond < 0.5*bound {
		t.Errorf("restore tape time %.1f s is far below the lower bound %.1f s: the bound or the measurement is wrong", out.TapeSecond, bound)
	}
}
