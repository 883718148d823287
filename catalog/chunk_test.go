package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func chunkEntries(s MediaSet, from, to int) []ChunkEntry {
	var out []ChunkEntry
	for i := from; i < to; i++ {
		out = append(out, ChunkEntry{Digest: digest(i), Loc: ChunkLoc{
			Media: s.Media[i%len(s.Media)], File: uint64(2 + i/1000), Offset: int64(i) * 4096, Size: uint32(i%65536 + 1),
		}})
	}
	return out
}

func TestChunkCRUD(t *testing.T) {
	c := NewTestCatalog(t)
	s := testSet("a", "daily", t0)
	other := testSet("b", "daily", t0)
	mustPutSet(t, c, s, other)

	if has, err := c.HasChunk(s.UUID, digest(0)); err != nil || has {
		t.Fatalf("HasChunk on an empty set = %v, %v", has, err)
	}
	entries := chunkEntries(s, 0, 100)
	if err := c.PutChunks(s.UUID, entries); err != nil {
		t.Fatal(err)
	}
	// The filter was loaded (empty) before the put and must have learnt it.
	for i, e := range entries {
		has, err := c.HasChunk(s.UUID, e.Digest)
		if err != nil || !has {
			t.Fatalf("HasChunk(%d) after PutChunks = %v, %v", i, has, err)
		}
		l, err := c.GetChunk(s.UUID, e.Digest)
		if err != nil || l != e.Loc {
			t.Fatalf("GetChunk(%d) = %+v, %v; want %+v", i, l, err, e.Loc)
		}
		// Dedup never crosses sets.
		if has, _ := c.HasChunk(other.UUID, e.Digest); has {
			t.Fatalf("chunk %d of set a shows up in set b", i)
		}
	}
	if has, _ := c.HasChunk(s.UUID, digest(100)); has {
		t.Error("HasChunk of a chunk never put = true")
	}
	if _, err := c.GetChunk(s.UUID, digest(100)); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetChunk of a missing chunk = %v, want ErrNotFound", err)
	}

	// Idempotent, and a repeated digest takes the new location.
	moved := entries[7]
	moved.Loc.File = 99
	if err := c.PutChunks(s.UUID, append(entries[:10:10], moved)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.ChunkCount(s.UUID); err != nil || n != 100 {
		t.Errorf("ChunkCount = %d, %v; want 100", n, err)
	}
	if l, _ := c.GetChunk(s.UUID, moved.Digest); l != moved.Loc {
		t.Errorf("replaced location = %+v, want %+v", l, moved.Loc)
	}

	var listed []ChunkEntry
	if err := c.ListChunks(s.UUID, func(e ChunkEntry) error { listed = append(listed, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 100 {
		t.Fatalf("ListChunks listed %d entries", len(listed))
	}
	for i := 1; i < len(listed); i++ {
		if bytes.Compare(listed[i-1].Digest[:], listed[i].Digest[:]) >= 0 {
			t.Fatalf("ListChunks not in digest order at %d", i)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := c.ListChunks(s.UUID, func(ChunkEntry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListChunks with failing fn = %v after %d calls", err, n)
	}

	if n, _ := c.ChunkCount(other.UUID); n != 0 {
		t.Errorf("ChunkCount(other) = %d", n)
	}
}

func TestPutChunksInvalid(t *testing.T) {
	c := NewTestCatalog(t)
	s := testSet("a", "daily", t0)
	mustPutSet(t, c, s)
	good := ChunkEntry{Digest: digest(1), Loc: ChunkLoc{Media: s.Media[0], File: 3}}
	tests := []struct {
		name    string
		set     uuid.UUID
		entries []ChunkEntry
		want    error
	}{
		{"unknown set", uuid.NewSHA1(uuid.NameSpaceURL, []byte("nope")), []ChunkEntry{good}, ErrNotFound},
		{"zero media", s.UUID, []ChunkEntry{good, {Digest: digest(2)}}, ErrInvalid},
		{"negative offset", s.UUID, []ChunkEntry{good, {Digest: digest(2), Loc: ChunkLoc{Media: s.Media[0], Offset: -1}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.PutChunks(tt.set, tt.entries); !errors.Is(err, tt.want) {
				t.Errorf("PutChunks = %v, want %v", err, tt.want)
			}
			if n, _ := c.ChunkCount(s.UUID); n != 0 {
				t.Errorf("a refused PutChunks stored %d chunks", n)
			}
		})
	}
}

// TestPutChunksLarge puts more chunks in one call than one Badger
// transaction holds, checks all of them, including through a filter loaded
// afterwards and after a reopen.
func TestPutChunksLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	s := testSet("a", "daily", t0)
	mustPutSet(t, c, s)
	const n = 120_000
	entries := chunkEntries(s, 0, n)
	if err := c.PutChunks(s.UUID, entries); err != nil {
		t.Fatal(err)
	}
	check := func(c *Catalog) {
		t.Helper()
		if got, err := c.ChunkCount(s.UUID); err != nil || got != n {
			t.Fatalf("ChunkCount = %d, %v; want %d", got, err, n)
		}
		for i, e := range entries {
			has, err := c.HasChunk(s.UUID, e.Digest)
			if err != nil || !has {
				t.Fatalf("HasChunk(%d) = %v, %v", i, has, err)
			}
		}
		for i := 0; i < n; i += 997 {
			if l, err := c.GetChunk(s.UUID, entries[i].Digest); err != nil || l != entries[i].Loc {
				t.Fatalf("GetChunk(%d) = %+v, %v", i, l, err)
			}
		}
		misses := 0
		for i := n; i < n+10_000; i++ {
			if has, _ := c.HasChunk(s.UUID, digest(i)); has {
				misses++
			}
		}
		if misses != 0 {
			t.Fatalf("HasChunk claimed %d absent chunks", misses)
		}
	}
	check(c)
	closeT(t, c)
	c = openT(t, dir, Options{ReadOnly: true})
	defer closeT(t, c)
	check(c)
}

// TestChunkFilterGrowth drives the filter across several layers and checks
// it never misses a digest and keeps false positives rare.
func TestChunkFilterGrowth(t *testing.T) {
	f := newChunkFilter(0)
	const n = 5 * bloomMinCapacity
	var batch []ChunkEntry
	for i := range n {
		batch = append(batch, ChunkEntry{Digest: digest(i)})
		if len(batch) == 1000 {
			f.add(batch)
			batch = batch[:0]
		}
	}
	f.add(batch)
	if len(f.layers) < 2 {
		t.Fatalf("filter has %d layers after %d adds", len(f.layers), n)
	}
	for i := range n {
		if !f.mayContain(digest(i)) {
			t.Fatalf("filter misses digest %d", i)
		}
	}
	fp := 0
	const probes = 100_000
	for i := n; i < n+probes; i++ {
		if f.mayContain(digest(i)) {
			fp++
		}
	}
	// About 0.8% per full layer; a broken filter (all bits set, a bad
	// hash) claims far more.
	if rate := float64(fp) / probes; rate > 0.05 {
		t.Errorf("false positive rate %.3f with %d layers", rate, len(f.layers))
	}
	// Digests that are not random (counters) spread as well.
	g := newChunkFilter(0)
	var seq []ChunkEntry
	for i := range 50_000 {
		var d [32]byte
		d[31] = byte(i)
		d[30] = byte(i >> 8)
		seq = append(seq, ChunkEntry{Digest: d})
	}
	g.add(seq)
	fp = 0
	for i := 50_000; i < 60_000; i++ {
		var d [32]byte
		d[31], d[30], d[29] = byte(i), byte(i>>8), byte(i>>16)
		if g.mayContain(d) {
			fp++
		}
	}
	if fp > 500 {
		t.Errorf("sequential digests: %d false positives of 10000", fp)
	}
}

func TestChunkLocEncoding(t *testing.T) {
	m := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	tests := []ChunkLoc{
		{Media: m},
		{Media: m, File: 1, Offset: 127, Size: 128},
		{Media: m, File: 1<<64 - 1, Offset: 1<<63 - 1, Size: 1<<32 - 1},
	}
	for _, l := range tests {
		b := encodeChunkLoc(l)
		if len(b) > maxChunkValueLen {
			t.Errorf("%+v encodes to %d bytes", l, len(b))
		}
		got, err := decodeChunkLoc(b)
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Errorf("round trip %+v = %+v, %v", l, got, err)
		}
	}
	if n := len(encodeChunkLoc(ChunkLoc{Media: m, File: 40, Offset: 3 << 30, Size: 4 << 20})); n != 1+16+1+5+4 {
		t.Errorf("typical chunk location is %d bytes", n)
	}
	bad := [][]byte{
		nil,
		{valueV1},
		append(append([]byte{valueV1}, m[:]...), 0, 0),                                                             // one varint missing
		append(append([]byte{valueV1}, m[:]...), 0, 0, 0, 0),                                                       // trailing byte
		append(append([]byte{valueV1}, m[:]...), 0x80, 0, 0, 0),                                                    // non-minimal varint
		append(append([]byte{valueV1}, uuid.Nil[:]...), 0, 0, 0),                                                   // zero media
		append(append([]byte{2}, m[:]...), 0, 0, 0),                                                                // unknown format
		append(append([]byte{valueV1}, m[:]...), 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10),                               // size > 32 bits
		append(append([]byte{valueV1}, m[:]...), 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0), // offset > int64
	}
	for _, b := range bad {
		if _, err := decodeChunkLoc(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeChunkLoc(%x) = %v, want ErrCorrupt", b, err)
		}
	}
}

// TestChunkConcurrent runs writers and readers of one set's chunk index at
// once (run it with -race): after a PutChunks returns, every reader sees its
// chunks, and the filter load racing with the first writes loses none.
func TestChunkConcurrent(t *testing.T) {
	c := NewTestCatalog(t)
	s := testSet("a", "daily", t0)
	mustPutSet(t, c, s)
	const writers, batches, per = 2, 20, 200
	var wg sync.WaitGroup
	done := make(chan int, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				from := (w*batches + b) * per
				if err := c.PutChunks(s.UUID, chunkEntries(s, from, from+per)); err != nil {
					t.Error(err)
					return
				}
				done <- from
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for i := 0; i < writers*batches*per; i += 13 {
				if _, err := c.HasChunk(s.UUID, digest(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	for from := range done {
		for i := from; i < from+per; i++ {
			if has, err := c.HasChunk(s.UUID, digest(i)); err != nil || !has {
				t.Fatalf("HasChunk(%d) after its PutChunks returned = %v, %v", i, has, err)
			}
		}
	}
	readers.Wait()
}
