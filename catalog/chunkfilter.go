package catalog

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// chunkFilter is an in-memory Bloom filter over the digests of one media
// set's chunk index, so that HasChunk answers a miss (a new chunk) without a
// Badger lookup. It may report digests that are not in the index (false
// positives, about 1%, and digests whose PutChunks failed), never miss one
// that is: every hit is confirmed in Badger.
//
// It grows as a scalable Bloom filter: when the newest layer reaches its
// capacity a new, larger layer is added, and a lookup tests every layer.
// mu guards layers; add takes it for writing, mayContain for reading.
type chunkFilter struct {
	mu     sync.RWMutex
	layers []*bloomLayer
}

// Bloom filter parameters: 10 bits per entry and 7 probes give a false
// positive rate of about 0.8% per full layer.
const (
	bloomBitsPerEntry = 10
	bloomProbes       = 7
	bloomMinCapacity  = 1 << 16
)

type bloomLayer struct {
	words []uint64
	m     uint64 // number of bits
	n     int    // entries added
	cap   int    // entries this layer is sized for
}

func newBloomLayer(capacity int) *bloomLayer {
	m := uint64(capacity) * bloomBitsPerEntry
	return &bloomLayer{words: make([]uint64, (m+63)/64), m: m, cap: capacity}
}

// bloomHashes derives the two hashes of double hashing from a digest. A
// SHA-256 digest is uniform already; the mixing keeps the filter sound for
// callers (and tests) whose digests are not.
func bloomHashes(d *[32]byte) (h1, h2 uint64) {
	h1 = mix64(binary.LittleEndian.Uint64(d[0:8]) ^ binary.LittleEndian.Uint64(d[16:24]))
	h2 = mix64(binary.LittleEndian.Uint64(d[8:16])^binary.LittleEndian.Uint64(d[24:32])) | 1
	return h1, h2
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (l *bloomLayer) add(h1, h2 uint64) {
	for i := range uint64(bloomProbes) {
		bit, _ := bits.Mul64(h1+i*h2, l.m)
		l.words[bit/64] |= 1 << (bit % 64)
	}
	l.n++
}

func (l *bloomLayer) has(h1, h2 uint64) bool {
	for i := range uint64(bloomProbes) {
		bit, _ := bits.Mul64(h1+i*h2, l.m)
		if l.words[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// newChunkFilter returns an empty filter sized for n entries and some
// growth.
func newChunkFilter(n int) *chunkFilter {
	return &chunkFilter{layers: []*bloomLayer{newBloomLayer(max(n+n/4, bloomMinCapacity))}}
}

// addDigest adds one digest; the caller holds mu for writing (or owns f).
func (f *chunkFilter) addDigest(d *[32]byte) {
	last := f.layers[len(f.layers)-1]
	if last.n >= last.cap {
		total := 0
		for _, l := range f.layers {
			total += l.cap
		}
		last = newBloomLayer(max(total/2, bloomMinCapacity))
		f.layers = append(f.layers, last)
	}
	last.add(bloomHashes(d))
}

func (f *chunkFilter) add(chunks []ChunkEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range chunks {
		f.addDigest(&chunks[i].Digest)
	}
}

func (f *chunkFilter) mayContain(d [32]byte) bool {
	h1, h2 := bloomHashes(&d)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.layers {
		if l.has(h1, h2) {
			return true
		}
	}
	return false
}

// loadedChunkFilter returns the filter of set if one was built, else nil.
func (c *Catalog) loadedChunkFilter(set uuid.UUID) *chunkFilter {
	c.filtersMu.RLock()
	defer c.filtersMu.RUnlock()
	return c.filters[set]
}

// chunkFilter returns the filter of set, building it on first use from one
// key-only scan of the set's chunk keys. The caller holds state for reading
// and has checked that the catalog is open. The build holds writeMu, so no
// PutChunks runs between the scan and the filter's registration (after
// which PutChunks keeps it current).
func (c *Catalog) chunkFilter(set uuid.UUID) (*chunkFilter, error) {
	if f := c.loadedChunkFilter(set); f != nil {
		return f, nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if f := c.loadedChunkFilter(set); f != nil {
		return f, nil
	}
	var f *chunkFilter
	err := c.db.View(func(txn *badger.Txn) error {
		// Count first so the filter is sized once; both scans read keys
		// only, from the same snapshot.
		n, err := forEachChunkKey(txn, set, func([]byte) {})
		if err != nil {
			return err
		}
		f = newChunkFilter(int(n))
		var d [32]byte
		_, err = forEachChunkKey(txn, set, func(k []byte) {
			copy(d[:], k)
			f.addDigest(&d)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load chunk filter: %w", err)
	}
	c.filtersMu.Lock()
	defer c.filtersMu.Unlock()
	if c.filters == nil {
		c.filters = make(map[uuid.UUID]*chunkFilter)
	}
	c.filters[set] = f
	return f, nil
}

// dropChunkFilter forgets the filter of set; the caller holds writeMu.
func (c *Catalog) dropChunkFilter(set uuid.UUID) {
	c.filtersMu.Lock()
	defer c.filtersMu.Unlock()
	delete(c.filters, set)
}
