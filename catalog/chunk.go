package catalog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// ChunkLoc is where a chunk is on tape: in tape file File of tape Media, at
// byte Offset of that file's payload stream, Size bytes long (as stored,
// that is after compression or encryption if any).
type ChunkLoc struct {
	Media  uuid.UUID
	File   uint64
	Offset int64
	Size   uint32
}

// ChunkEntry is one chunk index entry: a chunk's SHA-256 digest and where it
// is.
type ChunkEntry struct {
	Digest [32]byte
	Loc    ChunkLoc
}

func (l ChunkLoc) validate() error {
	if l.Media == uuid.Nil {
		return fmt.Errorf("chunk location has a zero media UUID: %w", ErrInvalid)
	}
	if l.Offset < 0 {
		return fmt.Errorf("chunk location offset %d is negative: %w", l.Offset, ErrInvalid)
	}
	return nil
}

// chunkSetPrefix is the key prefix of set's chunk index: chunkPrefix and the
// 16 bytes of the set UUID. A chunk key appends the 32-byte digest.
func chunkSetPrefix(set uuid.UUID) []byte {
	k := make([]byte, 0, len(chunkPrefix)+16)
	return append(append(k, chunkPrefix...), set[:]...)
}

func chunkKey(set uuid.UUID, digest [32]byte) []byte {
	k := make([]byte, 0, chunkKeyLen)
	k = append(k, chunkPrefix...)
	k = append(k, set[:]...)
	return append(k, digest[:]...)
}

const chunkKeyLen = len(chunkPrefix) + 16 + 32

// parseChunkKey splits a chunk key into set and digest.
func parseChunkKey(k []byte) (set uuid.UUID, digest [32]byte, ok bool) {
	if len(k) != chunkKeyLen || string(k[:len(chunkPrefix)]) != chunkPrefix {
		return uuid.Nil, digest, false
	}
	copy(set[:], k[len(chunkPrefix):])
	copy(digest[:], k[len(chunkPrefix)+16:])
	return set, digest, true
}

// maxChunkValueLen bounds an encoded chunk location: format byte, UUID and
// three varints.
const maxChunkValueLen = 1 + 16 + 3*binary.MaxVarintLen64

// encodeChunkLoc returns the stored value of a chunk index entry: valueV1,
// the 16 bytes of the media UUID, then File, Offset and Size as unsigned
// varints (about 25 bytes in all). l must be valid.
func encodeChunkLoc(l ChunkLoc) []byte {
	b := make([]byte, 0, maxChunkValueLen)
	b = append(b, valueV1)
	b = append(b, l.Media[:]...)
	b = binary.AppendUvarint(b, l.File)
	b = binary.AppendUvarint(b, uint64(l.Offset))
	return binary.AppendUvarint(b, uint64(l.Size))
}

// decodeChunkLoc parses a chunk index value. It accepts only what
// encodeChunkLoc produces: minimal varints, no trailing bytes, values in
// range. Errors wrap ErrCorrupt.
func decodeChunkLoc(b []byte) (ChunkLoc, error) {
	if len(b) < 1+16 || b[0] != valueV1 {
		return ChunkLoc{}, fmt.Errorf("chunk location %x is not format %d + media UUID: %w", b, valueV1, ErrCorrupt)
	}
	var l ChunkLoc
	copy(l.Media[:], b[1:17])
	rest := b[17:]
	var fields [3]uint64
	for i := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return ChunkLoc{}, fmt.Errorf("chunk location %x: truncated varint: %w", b, ErrCorrupt)
		}
		if n != len(binary.AppendUvarint(nil, v)) {
			return ChunkLoc{}, fmt.Errorf("chunk location %x: non-minimal varint: %w", b, ErrCorrupt)
		}
		fields[i] = v
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return ChunkLoc{}, fmt.Errorf("chunk location %x: %d trailing bytes: %w", b, len(rest), ErrCorrupt)
	}
	if fields[1] > 1<<63-1 || fields[2] > 1<<32-1 {
		return ChunkLoc{}, fmt.Errorf("chunk location %x: offset or size out of range: %w", b, ErrCorrupt)
	}
	l.File, l.Offset, l.Size = fields[0], int64(fields[1]), uint32(fields[2])
	if err := l.validate(); err != nil {
		return ChunkLoc{}, fmt.Errorf("chunk location %x: %v: %w", b, err, ErrCorrupt)
	}
	return l, nil
}

// HasChunk reports whether the chunk index of media set set holds digest.
// An unknown set holds no chunks. It is the dedup test of the backup writer
// and answers most misses from memory: the first call for a set builds an
// in-memory filter of the set's digests (one key-only scan, about 1.25 bytes
// per chunk); a filter hit is confirmed in Badger. Safe for concurrent use;
// a HasChunk concurrent with PutChunks of the same digest returns either
// answer. Errors: ErrClosed, database errors.
func (c *Catalog) HasChunk(set uuid.UUID, digest [32]byte) (bool, error) {
	c.state.RLock()
	defer c.state.RUnlock()
	if c.db == nil {
		return false, fmt.Errorf("chunk index of media set %s: %w", set, ErrClosed)
	}
	f, err := c.chunkFilter(set)
	if err != nil {
		return false, fmt.Errorf("chunk index of media set %s: %w", set, err)
	}
	if !f.mayContain(digest) {
		return false, nil
	}
	found := false
	err = c.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(chunkKey(set, digest))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("chunk %x of media set %s: %w", digest, set, err)
	}
	return found, nil
}

// GetChunk returns where chunk digest of media set set is. Errors:
// ErrNotFound, ErrCorrupt, ErrClosed.
func (c *Catalog) GetChunk(set uuid.UUID, digest [32]byte) (ChunkLoc, error) {
	var l ChunkLoc
	err := c.view(func(txn *badger.Txn) error {
		item, err := txn.Get(chunkKey(set, digest))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			l, err = decodeChunkLoc(v)
			return err
		})
	})
	if err != nil {
		return ChunkLoc{}, fmt.Errorf("chunk %x of media set %s: %w", digest, set, err)
	}
	return l, nil
}

// PutChunks adds chunks to the chunk index of media set set, replacing the
// location of a digest already there (so repeating a call is harmless). The
// entries are written in batches that Badger splits at its transaction
// limit; PutChunks returns once all of them are synced. The set's record
// must exist. If PutChunks fails midway, some entries may be stored; the
// caller repeats it. Errors: ErrNotFound (no such set), ErrInvalid (an
// entry with a zero media UUID or a negative offset; nothing written),
// ErrReadOnly, ErrClosed.
func (c *Catalog) PutChunks(set uuid.UUID, chunks []ChunkEntry) error {
	for _, e := range chunks {
		if err := e.Loc.validate(); err != nil {
			return fmt.Errorf("put chunk %x of media set %s: %w", e.Digest, set, err)
		}
	}
	err := c.bulk(func(db *badger.DB) error {
		err := db.View(func(txn *badger.Txn) error {
			_, err := txn.Get(mediaSetKey(set))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return fmt.Errorf("media set %s: %w", set, ErrNotFound)
			}
			return err
		})
		if err != nil {
			return err
		}
		// The filter learns the digests before they are written: it may
		// claim more than Badger holds (HasChunk confirms), never less.
		if f := c.loadedChunkFilter(set); f != nil {
			f.add(chunks)
		}
		wb := db.NewWriteBatch()
		defer wb.Cancel()
		for _, e := range chunks {
			k, v := chunkKey(set, e.Digest), encodeChunkLoc(e.Loc)
			if err := c.space.wrote(len(k) + len(v)); err != nil {
				return err
			}
			if err := wb.Set(k, v); err != nil {
				return err
			}
		}
		return wb.Flush()
	})
	if err != nil {
		return fmt.Errorf("put %d chunks into media set %s: %w", len(chunks), set, err)
	}
	return nil
}

// ListChunks calls fn for every chunk index entry of media set set, in
// digest order, from one consistent snapshot. fn must not call methods of
// c; if it returns an error, ListChunks stops and returns it wrapped.
// Errors: ErrCorrupt, ErrClosed, or fn's error.
func (c *Catalog) ListChunks(set uuid.UUID, fn func(ChunkEntry) error) error {
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 1000, Prefix: chunkSetPrefix(set)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			_, digest, ok := parseChunkKey(item.Key())
			if !ok {
				return fmt.Errorf("key %q is not a chunk key: %w", item.Key(), ErrCorrupt)
			}
			var l ChunkLoc
			err := item.Value(func(v []byte) error {
				var err error
				l, err = decodeChunkLoc(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("chunk %x: %w", digest, err)
			}
			if err := fn(ChunkEntry{Digest: digest, Loc: l}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list chunks of media set %s: %w", set, err)
	}
	return nil
}

// ChunkCount returns the number of chunk index entries of media set set (0
// for an unknown set). It scans the set's keys without their values.
// Errors: ErrClosed, database errors.
func (c *Catalog) ChunkCount(set uuid.UUID) (int64, error) {
	var n int64
	err := c.view(func(txn *badger.Txn) error {
		var err error
		n, err = forEachChunkKey(txn, set, func([]byte) {})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count chunks of media set %s: %w", set, err)
	}
	return n, nil
}

// forEachChunkKey calls fn with the digest bytes of every chunk key of set
// (valid only during the call) and returns their number.
func forEachChunkKey(txn *badger.Txn, set uuid.UUID, fn func(digest []byte)) (int64, error) {
	prefix := chunkSetPrefix(set)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var n int64
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != chunkKeyLen {
			return n, fmt.Errorf("key %q is not a chunk key: %w", k, ErrCorrupt)
		}
		fn(k[len(prefix):])
		n++
	}
	return n, nil
}
