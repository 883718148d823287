// A restore job's state: the files to restore, the chunks they need and
// where each chunk goes, laid out and written as the tapes are read.

package engine

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// restoreFile is a regular file being restored.
type restoreFile struct {
	entry *format.Entry
	path  string // absolute target path
	// dev and ino identify the file this restore created at path.
	dev, ino uint64
	// created: this restore created the file, so it may remove it.
	created bool
	left    int   // chunks still to write
	err     error // first failure
	idx     int   // in restoreJob.files
}

// chunkNeed is every place one chunk goes.
type chunkNeed struct {
	loc     catalog.ChunkLoc
	size    uint32
	targets []chunkTarget
}

type chunkTarget struct {
	f   *restoreFile
	off int64
}

// restoreJob is one restore: the selected entries, where each chunk goes,
// and what failed.
type restoreJob struct {
	target string
	// failed holds the entries layout refused; nothing more is done to
	// their paths (they may lie behind a symlink a hostile tape made).
	failed map[*format.Entry]error
	snaps  []restoreSnap
	// matched[i] says whether paths[i] of add matched an entry of any
	// snapshot added so far.
	matched []bool
	files   []*restoreFile
	// fds holds the files open for writing, a bounded number at a time.
	fds   *fileSet
	needs map[[32]byte]*chunkNeed
	res   *RestoreResult
	// mu guards the files' left and err while chunks are written on
	// several goroutines (put, spoil), and created.
	mu sync.Mutex
	// created counts the files (in files order) layout has dealt with:
	// they exist or their err is set. laid is signalled as it grows.
	created int
	laid    *sync.Cond
	// Progress, under mu: bytes written, files complete, the tape being
	// read; report (if set) is called after each chunk with a copy.
	doneBytes, doneFiles int64
	tape                 string
	report               func(bytes, files int64, tape string)
}

type restoreSnap struct {
	name    string
	root    string
	entries []*format.Entry
}

// add selects the entries of one snapshot that match paths.
func (r *restoreJob) add(name string, entries []*format.Entry, paths []string) {
	rs := restoreSnap{name: name, root: joinUnder(r.target, name)}
	byPath := make(map[string]*format.Entry, len(entries))
	for _, e := range entries {
		byPath[e.Path] = e
	}
	chosen := map[string]bool{}
	// moved: the first name of a node that is not restored → the
	// selected name that gets the node instead.
	moved := map[string]string{}
	if len(r.matched) < len(paths) {
		r.matched = append(r.matched, make([]bool, len(paths)-len(r.matched))...)
	}
	for _, e := range entries {
		if !selected(e.Path, paths) {
			continue
		}
		for i, pat := range paths {
			if !r.matched[i] {
				r.matched[i], _ = path.Match(pat, e.Path)
			}
		}
		if err := e.Validate(); err != nil {
			// Never act on a path a tape should not hold.
			r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: %v", name, e.Path, err))
			continue
		}
		chosen[e.Path] = true
		if e.Type == format.EntryHardLink {
			if p, ok := moved[e.Target]; ok {
				// Later names link to the name that got the node.
				l := *e
				l.Target = p
				e = &l
			} else if t := byPath[e.Target]; !chosen[e.Target] && t != nil && t.Type != format.EntryDir && t.Type != format.EntryHardLink {
				// The link's first name is not restored: this name
				// gets the node itself (a file, symlink, device, ...).
				f := *t
				f.Path = e.Path
				moved[e.Target] = e.Path
				e = &f
			}
		}
		rs.entries = append(rs.entries, e)
	}
	r.res.Plan.Snapshots = append(r.res.Plan.Snapshots, name)
	r.snaps = append(r.snaps, rs)
}

// unmatched fails when a pattern of paths matched no entry of the
// snapshots added: a typo would otherwise restore nothing and succeed.
func (r *restoreJob) unmatched(paths []string) error {
	for i, pat := range paths {
		if i >= len(r.matched) || !r.matched[i] {
			return notFoundf("--path %q matches nothing in %s (patterns are relative to the snapshot root, e.g. dir/file or dir/*.conf)",
				pat, strings.Join(r.res.Plan.Snapshots, ", "))
		}
	}
	return nil
}

// plan collects every chunk the selected regular files need; locate gives
// a chunk's place on tape (nil: the chunk is not known).
func (r *restoreJob) plan(locate func(d [32]byte) (catalog.ChunkLoc, error)) {
	r.needs = map[[32]byte]*chunkNeed{}
	for _, rs := range r.snaps {
		for _, ent := range rs.entries {
			if ent.Type != format.EntryFile {
				continue
			}
			r.res.Plan.Files++
			r.res.Plan.Bytes += ent.Size
			rf := &restoreFile{entry: ent, path: joinUnder(rs.root, ent.Path), idx: len(r.files)}
			r.files = append(r.files, rf)
			for _, c := range ent.Chunks {
				if c.Zero {
					continue
				}
				rf.left++
				n := r.needs[c.Digest]
				if n == nil {
					loc, err := locate(c.Digest)
					if err != nil {
						rf.err = fmt.Errorf("chunk %x is not in the catalog", c.Digest[:8])
						r.res.Plan.Missing = append(r.res.Plan.Missing, fmt.Sprintf("%x", c.Digest))
						continue
					}
					n = &chunkNeed{loc: loc, size: c.Size}
					r.needs[c.Digest] = n
				}
				n.targets = append(n.targets, chunkTarget{f: rf, off: c.Offset})
			}
		}
	}
}

// layout creates directories, special files and the regular files (at
// their final size, holes where the snapshot has holes), open for writing.
func (r *restoreJob) layout() error {
	r.mu.Lock()
	if r.laid == nil {
		r.laid = sync.NewCond(&r.mu)
	}
	r.mu.Unlock()
	r.openFiles()
	defer r.published(len(r.files))
	failed := map[*format.Entry]error{}
	r.failed = failed
	for _, rs := range r.snaps {
		if err := os.MkdirAll(r.target, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", r.target, err)
		}
		if err := mkdirUnder(r.target, rs.root); err != nil {
			return fmt.Errorf("create %s: %w", rs.root, err)
		}
		for _, ent := range rs.entries {
			if err := createEntry(rs.root, ent); err != nil {
				failed[ent] = err
				if ent.Type != format.EntryFile {
					r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: %v", rs.name, ent.Path, err))
				}
			}
		}
	}
	for i, rf := range r.files {
		if i%64 == 0 {
			r.published(i)
		}
		if err := failed[rf.entry]; err != nil && rf.err == nil {
			rf.err = err // reported with the file when files are closed
		}
		if rf.err != nil {
			continue
		}
		// Whatever the target holds at the path, other than a directory,
		// is replaced, never written through: a symlink may point outside
		// the target, and a file may share its inode with one there.
		if fi, err := os.Lstat(rf.path); err == nil && !fi.IsDir() {
			if err := os.Remove(rf.path); err != nil {
				rf.err = err
				continue
			}
		}
		if err := r.fds.create(rf); err != nil {
			rf.err = err
		}
	}
	return nil
}

// openFiles sets up the bounded set of files open for writing.
func (r *restoreJob) openFiles() {
	if r.fds != nil {
		return
	}
	r.fds = newFileSet(maxRestoreFDs, func(rf *restoreFile, err error) {
		r.mu.Lock()
		if rf.err == nil {
			rf.err = err
		}
		r.mu.Unlock()
	})
}

// published says the first n files are laid out.
func (r *restoreJob) published(n int) {
	r.mu.Lock()
	r.created = max(r.created, n)
	r.laid.Broadcast()
	r.mu.Unlock()
}

// startLayout runs layout beside the tape reads (put waits for each file
// it writes); wait returns layout's error.
func (r *restoreJob) startLayout() (wait func() error) {
	r.laid = sync.NewCond(&r.mu)
	r.openFiles()
	done := make(chan error, 1)
	go func() { done <- r.layout() }()
	return sync.OnceValue(func() error { return <-done })
}

// write puts one chunk wherever it is needed. It reports whether the
// chunk was wanted.
func (r *restoreJob) write(d [32]byte, data []byte) bool {
	n := r.take(d)
	if n == nil {
		return false
	}
	r.put(n, data)
	return true
}

// take claims chunk d: it returns where the chunk goes and forgets it, or
// nil when nothing (or nothing any more) needs it. Only one goroutine
// takes.
func (r *restoreJob) take(d [32]byte) *chunkNeed {
	n := r.needs[d]
	if n != nil {
		delete(r.needs, d)
	}
	return n
}

// put writes a taken chunk to every file that needs it; safe for
// concurrent use with other chunks.
func (r *restoreJob) put(n *chunkNeed, data []byte) {
	for _, t := range n.targets {
		r.mu.Lock()
		for r.created <= t.f.idx {
			r.laid.Wait()
		}
		skip := t.f.err != nil || !t.f.created
		r.mu.Unlock()
		if skip {
			continue
		}
		of, err := r.fds.acquire(t.f)
		if err == nil {
			err = writeSparse(of.fd, data, t.off)
		}
		r.mu.Lock()
		if err != nil {
			if t.f.err == nil {
				t.f.err = err
			}
		} else {
			t.f.left--
			r.doneBytes += int64(len(data))
			if t.f.left == 0 {
				r.doneFiles++
			}
		}
		done := err == nil && t.f.left == 0
		r.mu.Unlock()
		if of == nil {
			continue
		}
		if err := r.fds.release(of, done); err != nil {
			r.mu.Lock()
			if t.f.err == nil {
				t.f.err = err
			}
			r.mu.Unlock()
		}
	}
	if r.report != nil {
		r.mu.Lock()
		b, f, tape := r.doneBytes, r.doneFiles, r.tape
		r.mu.Unlock()
		r.report(b, f, tape)
	}
}

// spoil marks the files that need a taken chunk as failed with why.
func (r *restoreJob) spoil(n *chunkNeed, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range n.targets {
		if t.f.err == nil {
			t.f.err = why
		}
	}
}

// fail marks every file that still needs a chunk of tape id as failed
// (once layout is done with every file).
func (r *restoreJob) fail(id uuid.UUID, why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.laid != nil && r.created < len(r.files) {
		r.laid.Wait()
	}
	for _, n := range r.needs {
		if n.loc.Media != id {
			continue
		}
		for _, t := range n.targets {
			if t.f.err == nil {
				t.f.err = why
			}
		}
	}
}

// closeFiles closes the regular files and drops those that could not be
// restored completely.
func (r *restoreJob) closeFiles() {
	r.closeAll()
	for _, rf := range r.files {
		if rf.err == nil && rf.left > 0 {
			rf.err = errors.New("not all data could be read")
		}
		if rf.err != nil {
			// finish must not set the file's attributes on whatever
			// is at its path (a directory, a symlink it could not
			// replace).
			if r.failed != nil {
				r.failed[rf.entry] = rf.err
			}
			r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s: %v", rf.path, rf.err))
			if rf.created {
				os.Remove(rf.path) // only what this restore created
			}
			continue
		}
		r.res.Restored++
	}
}

// finish closes files, makes hard links and sets attributes (deepest
// first, so directory times stay), and reports failures.
func (r *restoreJob) finish() error {
	r.closeFiles()
	for _, rs := range r.snaps {
		for _, ent := range rs.entries {
			if ent.Type == format.EntryHardLink && r.failed[ent] == nil {
				src, dst := joinUnder(rs.root, ent.Target), joinUnder(rs.root, ent.Path)
				os.Remove(dst)
				if err := os.Link(src, dst); err != nil {
					r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: hard link: %v", rs.name, ent.Path, err))
				}
			}
		}
		for i := len(rs.entries) - 1; i >= 0; i-- {
			ent := rs.entries[i]
			if ent.Type == format.EntryHardLink || r.failed[ent] != nil {
				continue
			}
			p := joinUnder(rs.root, ent.Path)
			if _, err := os.Lstat(p); err != nil {
				continue // failed earlier, reported there
			}
			if err := applyAttrs(p, ent); err != nil {
				r.res.Failed = append(r.res.Failed, fmt.Sprintf("%s/%s: attributes: %v", rs.name, ent.Path, err))
			}
		}
	}
	sort.Strings(r.res.Failed)
	if len(r.res.Failed) > 0 {
		return fmt.Errorf("restore finished with %d failure(s); first: %s", len(r.res.Failed), r.res.Failed[0])
	}
	return nil
}

// closeAll closes the files still open (their close errors fail them).
func (r *restoreJob) closeAll() {
	if r.fds != nil {
		r.fds.closeAll()
	}
}
