// Snapshot scopes: the snapshots with open files whose chunks a set's
// reader reads ahead into the cache (see snapread.go).

package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// scopeLinger keeps a snapshot in the read-ahead scope after its last file
// was closed: cp and rsync close one file and open the next.
const scopeLinger = 10 * time.Second

// want is a chunk that reads are waiting for.
type want struct {
	loc  catalog.ChunkLoc
	done chan struct{} // closed when data or err is set
	data []byte
	err  error
}

// snapScope is a snapshot whose chunks the reader reads ahead.
type snapScope struct {
	name string
	open int       // open files; guarded by setReader.mu
	last time.Time // when the last file closed; guarded by setReader.mu

	once sync.Once
	// chunks and ends are set once (under setReader.mu) when the scope
	// is built, in the background: nil until then, and a scope without
	// them reads nothing ahead.
	chunks map[[32]byte]bool    // every data chunk of the snapshot
	ends   map[archiveKey]int64 // per chunk archive: end of the last chunk in scope
	err    error                // the build failed (guarded by setReader.mu)
}

type archiveKey struct {
	media uuid.UUID
	file  uint64
}

func (r *setReader) openScope(name string) (*snapScope, error) {
	r.mu.Lock()
	sc := r.scopes[name]
	if sc == nil {
		sc = &snapScope{name: name}
		r.scopes[name] = sc
	}
	sc.open++
	r.mu.Unlock()
	// The scope (every chunk of the snapshot: a walk of its whole tree
	// in the catalog) is built behind the reads, never before one: a
	// read waits only for its own data.
	sc.once.Do(func() { go r.buildScope(sc) })
	return sc, nil
}

func (r *setReader) closeScope(sc *snapScope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc.open--
	sc.last = r.e.now()
	if sc.err != nil && sc.open == 0 && r.scopes[sc.name] == sc {
		delete(r.scopes, sc.name) // try again on the next open
	}
}

// buildScope collects the data chunks of a snapshot and, per chunk
// archive, where the last of them ends, from the catalog, and publishes
// them; a failure (logged) leaves the snapshot without read-ahead.
func (r *setReader) buildScope(sc *snapScope) {
	chunks, ends, err := r.scopeChunks(sc)
	r.mu.Lock()
	sc.chunks, sc.ends, sc.err = chunks, ends, err
	if err != nil && sc.open == 0 && r.scopes[sc.name] == sc {
		delete(r.scopes, sc.name) // try again on the next open
	}
	r.mu.Unlock()
	if err != nil {
		r.e.logf("snapshot %s of media set %s: no read-ahead: %v", sc.name, r.set, err)
	}
}

func (r *setReader) scopeChunks(sc *snapScope) (map[[32]byte]bool, map[archiveKey]int64, error) {
	cat, err := r.e.Catalog()
	if err != nil {
		return nil, nil, err
	}
	chunks := map[[32]byte]bool{}
	err = cat.WalkTree(r.set, sc.name, func(te catalog.TreeEntry) error {
		if t, err := format.PeekEntryType(te.Value); err != nil || t != format.EntryFile {
			return err
		}
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", sc.name, te.Path, err)
		}
		for _, c := range ent.Chunks {
			if !c.Zero {
				chunks[c.Digest] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ends := map[archiveKey]int64{}
	for d := range chunks {
		loc, err := cat.GetChunk(r.set, d)
		if err != nil {
			continue // reading it will report the missing chunk
		}
		k := archiveKey{loc.Media, loc.File}
		ends[k] = max(ends[k], loc.Offset+int64(loc.Size))
	}
	return chunks, ends, nil
}

// active lists the scopes to read ahead for: open, or closed recently.
func (r *setReader) active() []*snapScope {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.e.now()
	var out []*snapScope
	for name, sc := range r.scopes {
		switch {
		case sc.open > 0 || now.Sub(sc.last) < scopeLinger:
			if sc.chunks != nil {
				out = append(out, sc)
			}
		default:
			delete(r.scopes, name)
		}
	}
	return out
}

// scopeAhead reports whether a scope has chunks after the cursor in the
// open archive.
func (r *setReader) scopeAhead(scopes []*snapScope) bool {
	for _, sc := range scopes {
		if end, ok := sc.ends[r.cur.key]; ok && end > r.cur.next {
			return true
		}
	}
	return false
}
