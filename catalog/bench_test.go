package catalog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// fill writes n media entries TAPE000000.. in transactions of 1000, without
// a sync per entry.
func fill(b *testing.B, c *Catalog, n int) {
	b.Helper()
	for start := 0; start < n; start += 1000 {
		err := c.update(func(txn *badger.Txn) error {
			for i := start; i < min(start+1000, n); i++ {
				m := testMedia(fmt.Sprintf("TAPE%06d", i))
				m.Updated = t0
				if err := putMediaTxn(txn, m.normalize()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkOpen measures Open+Close of a catalog holding 50,000 media.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	c, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, c, 50000)
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutMedia measures one synced upsert.
func BenchmarkPutMedia(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := testMedia("TEST01L8")
	for b.Loop() {
		m.BytesUsed++
		if err := c.PutMedia(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListMedia measures listing 50,000 media with a filter that
// matches all of them.
func BenchmarkListMedia(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fill(b, c, 50000)
	for b.Loop() {
		list, err := c.ListMedia(MediaFilter{Pool: "daily"})
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != 50000 {
			b.Fatalf("listed %d", len(list))
		}
	}
}

// BenchmarkFindLabel measures a label lookup among 50,000 media.
func BenchmarkFindLabel(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fill(b, c, 50000)
	want := uuid.NewSHA1(uuid.NameSpaceOID, []byte("TAPE012345"))
	for b.Loop() {
		m, err := c.FindLabel("TAPE012345")
		if err != nil || m.UUID != want {
			b.Fatal(m.UUID, err)
		}
	}
}

// benchSet returns a catalog in a temporary directory with one media set.
func benchSet(b *testing.B) (*Catalog, MediaSet) {
	b.Helper()
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s := testSet("bench", "daily", t0)
	if err := c.PutMediaSet(s); err != nil {
		b.Fatal(err)
	}
	return c, s
}

// putChunksN writes chunks from..to of s in PutChunks calls of batch
// entries, as a backup writer would after each spool flush.
func putChunksN(b *testing.B, c *Catalog, s MediaSet, from, to, batch int) {
	b.Helper()
	for i := from; i < to; i += batch {
		if err := c.PutChunks(s.UUID, chunkEntries(s, i, min(i+batch, to))); err != nil {
			b.Fatal(err)
		}
	}
}

const benchChunks = 1_000_000

// BenchmarkPutChunks measures writing the chunk index of a 1M-chunk media
// set in PutChunks calls of 10,000 entries (one op = 1M chunks; run with
// -benchtime 1x).
func BenchmarkPutChunks(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		c, s := benchSet(b)
		for i := 0; i < benchChunks; i += 10_000 {
			b.StopTimer()
			batch := chunkEntries(s, i, i+10_000)
			b.StartTimer()
			if err := c.PutChunks(s.UUID, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchChunks)*float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

// BenchmarkHasChunk measures the dedup test against a 1M-chunk set: misses
// (new chunks) and hits (known chunks) through HasChunk, and, as the
// baseline, a plain Badger lookup of a missing key.
func BenchmarkHasChunk(b *testing.B) {
	c, s := benchSet(b)
	putChunksN(b, c, s, 0, benchChunks, 100_000)
	b.Run("load-filter", func(b *testing.B) {
		for b.Loop() {
			c.dropChunkFilter(s.UUID)
			if _, err := c.HasChunk(s.UUID, digest(0)); err != nil {
				b.Fatal(err)
			}
		}
		f := c.loadedChunkFilter(s.UUID)
		var size int
		for _, l := range f.layers {
			size += 8 * len(l.words)
		}
		b.ReportMetric(float64(size)/benchChunks, "filter-bytes/chunk")
	})
	// Digests are computed up front so the loops time lookups only.
	const probes = 1 << 17
	digests := func(base int) [][32]byte {
		d := make([][32]byte, probes)
		for i := range d {
			d[i] = digest(base + i*7)
		}
		return d
	}
	hits, misses := digests(0), digests(benchChunks*7)
	lookups := func(b *testing.B, ds [][32]byte, want bool) {
		i := 0
		for b.Loop() {
			has, err := c.HasChunk(s.UUID, ds[i%probes])
			if err != nil || has != want {
				b.Fatalf("HasChunk = %v, %v; want %v", has, err, want)
			}
			i++
		}
	}
	b.Run("miss", func(b *testing.B) { lookups(b, misses, false) })
	b.Run("hit", func(b *testing.B) { lookups(b, hits, true) })
	b.Run("badger-miss", func(b *testing.B) {
		i := 0
		for b.Loop() {
			err := c.view(func(txn *badger.Txn) error {
				_, err := txn.Get(chunkKey(s.UUID, misses[i%probes]))
				return err
			})
			if !errors.Is(err, badger.ErrKeyNotFound) {
				b.Fatal(err)
			}
			i++
		}
	})
}

// benchTree is a snapshot tree of 100 directories with 1,000 files each,
// with 64-byte values.
func benchTree() []TreeEntry {
	tree := make([]TreeEntry, 0, 100_100)
	for d := range 100 {
		dir := fmt.Sprintf("dir%03d", d)
		tree = append(tree, TreeEntry{Path: dir, Value: make([]byte, 64)})
		for f := range 1000 {
			tree = append(tree, TreeEntry{Path: fmt.Sprintf("%s/file%05d", dir, f), Value: make([]byte, 64)})
		}
	}
	return tree
}

// BenchmarkPutSnapshot measures committing a 100,100-entry tree.
func BenchmarkPutSnapshot(b *testing.B) {
	c, s := benchSet(b)
	tree := benchTree()
	snap := Snapshot{Set: s.UUID, Name: "g/t", Pool: s.Pool, Ctime: t0}
	for b.Loop() {
		if err := c.PutSnapshot(snap, tree); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tree))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkListTree measures listing one directory of 1,000 entries in a
// 100,100-entry snapshot, as a FUSE readdir would.
func BenchmarkListTree(b *testing.B) {
	c, s := benchSet(b)
	if err := c.PutSnapshot(Snapshot{Set: s.UUID, Name: "g/t", Pool: s.Pool, Ctime: t0}, benchTree()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		if err := c.ListTree(s.UUID, "g/t", "dir050", func(TreeEntry) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(n, err)
		}
	}
}
