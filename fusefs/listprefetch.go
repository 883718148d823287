package fusefs

import (
	"path"
	"sync"

	"tapefs/engine"
	"tapefs/internal/procs"
)

// listPrefetch lists the directories of a snapshot that a walk (find, du,
// cp -a, rsync) will open next, on a goroutine of its own, so that the
// catalog reads overlap the kernel's and go-fuse's work on the directory
// being walked.
//
// Every directory the walk reads (READDIR) pushes its subdirectories, last name
// first, on a stack: the top is the directory a depth-first walk in name
// order opens next. The prefetcher pops it and lists it into the listing
// cache, at most prefetchListings listings ahead of the walk (those it
// listed that the walk has not asked for yet). A listing the walk asks for
// that was not prefetched means the walk went elsewhere: the outstanding
// count starts again from zero. The goroutine runs only while there is
// work.
type listPrefetch struct {
	mu      sync.Mutex
	stack   []prefetchDir
	pending map[listingKey]bool // prefetched, not yet asked for
	running bool
	hits    int // directories read whose listing was prefetched
}

type prefetchDir struct {
	t   *snapTree
	dir string
}

// Bounds: listings ahead of the walk, and directories waiting (the oldest,
// furthest in the walk's future, are dropped beyond it).
const (
	prefetchListings = 8
	prefetchStack    = 4096
)

// asked records that a walk read directory dir of t (listing l,
// prefetched or not) and queues its subdirectories.
func (r *Root) asked(t *snapTree, dir string, l *dirListing) {
	// A walk over a snapshot tree costs the daemon more CPU per request
	// than copying into incoming/ (go-fuse's inode table, the garbage
	// collector): it keeps all processors for procs.IdleDelay.
	procs.Busy()()
	key := listingKey{t.set, t.name, t.view, dir}
	p := &r.prefetch
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[key] {
		delete(p.pending, key)
		p.hits++
	} else {
		clear(p.pending)
	}
	for i := len(l.ents) - 1; i >= 0; i-- {
		e := &l.ents[i]
		if e.Attr.Type == engine.EntryDir && ownPath(key.dir, e) {
			p.stack = append(p.stack, prefetchDir{t, path.Join(key.dir, e.Name)})
		}
	}
	if len(p.stack) > prefetchStack {
		n := copy(p.stack, p.stack[len(p.stack)-prefetchStack:])
		p.stack = p.stack[:n]
	}
	if len(p.stack) > 0 && !p.running && len(p.pending) < prefetchListings {
		p.running = true
		go r.prefetchLoop()
	}
}

// prefetchLoop lists directories from the stack while it has work and the
// walk is not too far behind.
func (r *Root) prefetchLoop() {
	// Listing ahead runs beside the walk's own requests: see procs.
	defer procs.Busy()()
	p := &r.prefetch
	for {
		p.mu.Lock()
		if len(p.stack) == 0 || len(p.pending) >= prefetchListings {
			p.running = false
			p.mu.Unlock()
			return
		}
		d := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		p.mu.Unlock()

		key := listingKey{d.t.set, d.t.name, d.t.view, d.dir}
		if r.listings.get(key) != nil {
			continue
		}
		if _, err := r.loadListing(d.t, d.dir); err != nil {
			continue // the walk gets the error itself, if it comes here
		}
		p.mu.Lock()
		if p.pending == nil {
			p.pending = map[listingKey]bool{}
		}
		p.pending[key] = true
		p.mu.Unlock()
	}
}
