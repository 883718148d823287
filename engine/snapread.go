package engine

import (
	"context"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/format"
)

// Reading snapshot files from tape.
//
// Reads of snapshot files (the FUSE tree's cp, cat, rsync) arrive in file
// order and, from the kernel, partly out of order; the data is in tape
// order. One reader goroutine per media set turns them into forward reads:
//
//   - a read takes its chunks from a byte-bounded LRU cache (chunkCache);
//   - a miss becomes a "want" of the set's reader and the read waits for
//     it (or for its own context, which gives up the wait but not the tape
//     work);
//   - the reader reserves the pool's drive for a batch, loads the tape
//     (changer) or checks it is there (standalone drive: ENOMEDIUM with a
//     log line when it is not), and reads forward: the wanted chunks
//     nearest ahead first, and on the way every chunk of the snapshots
//     with open files ("scope") into the cache as read-ahead, until the
//     unread read-ahead reaches half the cache; it then waits a moment for
//     readers to catch up and releases the drive when nobody does;
//   - the chunk archive reader stays open between batches, so the next
//     batch goes on from the same place without positioning, as long as
//     the tape was not moved in between (checked with ReadPosition; a
//     read error after resuming falls back to positioning afresh).
//
// Tape operations run on the engine's context, never on a request's: a
// read whose caller gave up leaves the tape in a clean state and its chunk
// in the cache.

// snapReadIdle is how long a reader keeps the drive while it waits for
// readers to use the read-ahead before it releases the drive.
const snapReadIdle = 2 * time.Second

// DefaultSnapshotSkipBytes is the default of Options.SnapshotSkipBytes:
// streaming over 256 MiB takes about as long as a locate on LTO drives
// (0.7-1.8 s at their native rates against a second or two to stop,
// position and restart), so a read spaces over larger gaps.
const DefaultSnapshotSkipBytes = 256 << 20

// snapReaders is the engine's state for snapshot reads.
type snapReaders struct {
	cache *chunkCache

	mu      sync.Mutex
	readers map[uuid.UUID]*setReader
	links   map[snapKey]*linkCounts
	counted map[snapKey]bool // snapshots known to carry link counts
}

func (e *Engine) snapState() *snapReaders {
	e.snapOnce.Do(func() {
		e.snaps = &snapReaders{
			cache:   newChunkCache(e.opts.SnapshotCacheBytes),
			readers: map[uuid.UUID]*setReader{},
			links:   map[snapKey]*linkCounts{},
			counted: map[snapKey]bool{},
		}
	})
	return e.snaps
}

func (s *snapReaders) reader(e *Engine, set uuid.UUID) *setReader {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.readers[set]
	if r == nil {
		r = &setReader{e: e, set: set, cache: s.cache, wants: map[[32]byte]*want{}, scopes: map[string]*snapScope{}, wake: make(chan struct{}, 1)}
		s.readers[set] = r
	}
	return r
}

// SnapshotFile is a regular file of a snapshot opened for reading. ReadAt
// may be called concurrently; Close once, when done.
type SnapshotFile struct {
	r     *setReader
	scope *snapScope
	entry format.Entry
	once  sync.Once
}

// OpenSnapshotFile opens the regular file at path p of snapshot snapshot
// of media set set (a hard link opens the file it names). Opening touches
// only the catalog; it puts the snapshot into the read-ahead scope of its
// set until the file is closed (and a few seconds after). Errors: not
// found, invalid (not a regular file), catalog errors.
func (e *Engine) OpenSnapshotFile(ctx context.Context, set uuid.UUID, snapshot, p string) (*SnapshotFile, error) {
	ent, err := e.SnapshotEntry(set, snapshot, p)
	if err != nil {
		return nil, err
	}
	if ent.Type != format.EntryFile {
		return nil, invalidf("%s in snapshot %s is a %s, not a regular file", p, snapshot, ent.Type)
	}
	r := e.snapState().reader(e, set)
	sc, err := r.openScope(snapshot)
	if err != nil {
		return nil, err
	}
	return &SnapshotFile{r: r, scope: sc, entry: ent}, nil
}

// Entry returns the file's snapshot entry.
func (f *SnapshotFile) Entry() *format.Entry { return &f.entry }

// Close ends the file's part in the read-ahead scope. It always returns nil.
func (f *SnapshotFile) Close() error {
	f.once.Do(func() { f.r.closeScope(f.scope) })
	return nil
}

// ReadAt reads len(p) bytes at off, like io.ReaderAt: fewer only at the end
// of the file, with io.EOF. Holes and zero ranges are zeros without tape;
// data comes from the chunk cache or, on a miss, from tape through the
// set's reader, which ReadAt waits for. A ctx that ends stops the wait
// (context error), not the tape work. Errors: no medium (the tape is not
// in a standalone drive), busy (the tape is in another drive), device and
// corruption errors of the chunk's archive.
func (f *SnapshotFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	size := f.entry.Size
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	dst := p[:end-off]
	clear(dst)
	chunks := f.entry.Chunks
	i := sort.Search(len(chunks), func(i int) bool { return chunks[i].Offset+int64(chunks[i].Size) > off })
	for ; i < len(chunks) && chunks[i].Offset < end; i++ {
		c := chunks[i]
		if c.Zero {
			continue
		}
		data, err := f.r.chunk(ctx, c.Digest, c.Size)
		if err != nil {
			return 0, err
		}
		lo, hi := max(off, c.Offset), min(end, c.Offset+int64(c.Size))
		copy(dst[lo-off:hi-off], data[lo-c.Offset:hi-c.Offset])
	}
	if int64(len(p)) > end-off {
		return len(dst), io.EOF
	}
	return len(dst), nil
}
