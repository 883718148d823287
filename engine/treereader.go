// The tree reader: walks a backup source in path order into snapshot
// entries and feeds the chunks a media set lacks to the spool.

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"tapefs/catalog"
	"tapefs/engine/chunker"
	"tapefs/engine/format"
)

// previousFiles returns the regular files of the newest snapshot of group
// in media set set, by path (nil if there is none).
func previousFiles(cat *catalog.Catalog, set uuid.UUID, group string) (map[string]*format.Entry, error) {
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: set, Group: group})
	if err != nil || len(snaps) == 0 {
		return nil, err
	}
	last := snaps[len(snaps)-1]
	out := map[string]*format.Entry{}
	err = cat.WalkTree(set, last.Name, func(te catalog.TreeEntry) error {
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", last.Name, te.Path, err)
		}
		if ent.Type == format.EntryFile {
			out[ent.Path] = &ent
		}
		return nil
	})
	return out, err
}

// countSource counts the regular files and bytes of a source, for
// progress; unreadable parts are not counted. ok is false when ctx ended
// first.
func countSource(ctx context.Context, src BackupSource) (files, bytes int64, ok bool) {
	var visit func(rel string)
	visit = func(rel string) {
		if ctx.Err() != nil {
			return
		}
		se, err := src.Stat(rel)
		if err != nil {
			return
		}
		switch se.Entry.Type {
		case format.EntryFile:
			files++
			bytes += se.Entry.Size
		case format.EntryDir:
			names, _ := src.ReadDir(rel)
			for _, n := range names {
				visit(path.Join(rel, n))
			}
		}
	}
	visit("")
	return files, bytes, ctx.Err() == nil
}

// chunkBufs holds the buffers of chunks on their way from a backup's
// reader through the spool to the tape writer, which gives them back.
var chunkBufs chunker.BufferPool

// treeReader walks a source tree in depth-first path order, turning it into
// snapshot entries and sending chunks the set does not have yet to out.
type treeReader struct {
	src      BackupSource
	ctx      context.Context
	cat      *catalog.Catalog
	set      uuid.UUID
	seen     map[chunker.Digest]bool // chunks this job already sent
	out      *spool
	progress func(files, bytes int64)
	names    *idNames
	// prev holds the regular files of the group's last snapshot in this
	// media set: a file whose size, mtime and ctime are unchanged reuses
	// its chunk list without being read (the quick check restic and
	// rsync make).
	prev map[string]*format.Entry

	// Set by the walk: the entries in order, hard link identities, and
	// counts (reused: chunks of unchanged files).
	entries              []*format.Entry
	inodes               map[[2]uint64]string // identity → first path, for hard links
	files, bytes, reused int64
	// Set by the pipeline's delivery (add).
	chunks, newChunks int64
	// omitted: files that changed while they were read
	// (ErrSourceChanged), left out of the snapshot with their other
	// names.
	omitted map[string]bool
	// recheck: stat each file again once it is read and report it in
	// changed when its size, mtime or ctime moved meanwhile, as tar's
	// "file changed as we read it" (a local directory source; a
	// commit's frozen group reports ErrSourceChanged instead).
	recheck bool
	changed []string
}

// summarize logs what the walk left out or saw change and puts its counts
// into res; the walk has ended.
func (r *treeReader) summarize(j *driveJob, snapName string, res *BackupResult) {
	if n := len(r.omitted); n > 0 {
		j.logf("snapshot %s: %d files changed while they were read and are left out (%s)", snapName, n, strings.Join(slices.Sorted(maps.Keys(r.omitted)), ", "))
	}
	for _, c := range r.changed {
		j.logf("warning: %s", c)
	}
	res.Warnings = r.changed
	res.Files, res.Bytes, res.Chunks, res.NewChunks = r.files, r.bytes, r.chunks+r.reused, r.newChunks
}

// fileJob is a regular file the walk hands to the reading pipeline.
type fileJob struct {
	rel string
	e   *format.Entry
	off int64 // bytes delivered so far
}

// Reading: files are read, chunked and hashed on a pipeline beside the
// walk, so that reading one file overlaps hashing the last; up to
// readAheadFiles files wait between the walk and the pipeline.
const (
	readAheadFiles = 64
	hashWorkers    = 2
)

func (r *treeReader) walk() error {
	r.inodes = map[[2]uint64]string{}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	ahead, stopAhead := startLookahead(ctx, r.src, r.unchanged)
	defer stopAhead()

	files := make(chan *fileJob, readAheadFiles)
	walkErr := make(chan error, 1)
	go func() {
		defer close(files)
		err := r.visit(ctx, "", files)
		if err != nil {
			cancel()
		}
		walkErr <- err
	}()
	err := chunker.Pipeline(ctx, chunker.Config{Params: chunkParams, Workers: hashWorkers, Bufs: &chunkBufs, ZeroUnhashed: true}, files,
		func(f *fileJob) (io.ReadCloser, error) {
			ahead.fileStarted()
			return r.src.Open(f.rel)
		},
		r.add,
		func(f *fileJob, err error) error {
			if errors.Is(err, ErrSourceChanged) {
				if r.omitted == nil {
					r.omitted = map[string]bool{}
				}
				r.omitted[f.rel] = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", r.src.Describe(f.rel), err)
			}
			if r.recheck {
				if why := r.changedWhileRead(f); why != "" {
					r.changed = append(r.changed, fmt.Sprintf("%s: file changed as we read it (%s); stored as read, %d bytes", r.src.Describe(f.rel), why, f.off))
				}
			}
			if f.off != f.e.Size {
				// The file changed while it was read: record what was read.
				f.e.Size = f.off
			}
			return nil
		})
	if err != nil {
		cancel()
	}
	if werr := <-walkErr; werr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = werr
	}
	if err == nil && len(r.omitted) > 0 {
		keep := r.entries[:0]
		for _, e := range r.entries {
			if r.omitted[e.Path] || e.Type == format.EntryHardLink && r.omitted[e.Target] {
				continue
			}
			keep = append(keep, e)
		}
		r.entries = keep
	}
	return err
}

// changedWhileRead says how file f, just read, differs from what the walk
// saw: bytes read other than its size, or (for a source that can tell, a
// changeChecker) a size, mtime or ctime that moved meanwhile; "" when it
// did not change.
func (r *treeReader) changedWhileRead(f *fileJob) string {
	if f.off != f.e.Size {
		return fmt.Sprintf("%d bytes read, size was %d", f.off, f.e.Size)
	}
	if cc, ok := r.src.(changeChecker); ok {
		return cc.changedSince(f.rel, f.e)
	}
	return ""
}

// unchanged reports whether regular file rel, as e describes it, is the
// same as in the previous snapshot by size, mtime and ctime: then its
// chunk list is reused and the file is not read.
func (r *treeReader) unchanged(rel string, e *format.Entry) bool {
	p := r.prev[rel]
	return p != nil && p.Size == e.Size && p.Mtime.Equal(e.Mtime) && p.Ctime.Equal(e.Ctime)
}

// visit adds rel ("" for the root) and, for a directory, its children in
// name order; regular files to read go to files.
func (r *treeReader) visit(ctx context.Context, rel string, files chan<- *fileJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	se, err := r.src.Stat(rel)
	if err != nil {
		return err
	}
	e := &se.Entry
	e.Path = rel
	e.User, e.Group = r.names.user(e.UID), r.names.group(e.GID)
	if first, ok := r.inodes[se.Key]; ok && se.Links > 1 && e.Type != format.EntryDir {
		// Another name of a file, symlink, device, FIFO or socket seen
		// before.
		e.Type, e.Target, e.Size, e.Rdev = format.EntryHardLink, first, 0, 0
	} else if se.Links > 1 && e.Type != format.EntryDir {
		r.inodes[se.Key] = rel
	}
	if e.Type == format.EntryFile {
		r.files++
		r.bytes += e.Size
		r.progress(1, 0)
		if r.unchanged(rel, e) {
			p := r.prev[rel]
			e.Chunks = p.Chunks
			r.reused += int64(len(p.Chunks))
			r.progress(0, e.Size)
		} else {
			select {
			case files <- &fileJob{rel: rel, e: e}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	r.entries = append(r.entries, e)
	if e.Type != format.EntryDir {
		return nil
	}
	names, err := r.src.ReadDir(rel)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := r.visit(ctx, path.Join(rel, n), files); err != nil {
			return err
		}
	}
	return nil
}

// add records the next chunk of f. data is a chunkBufs buffer: it goes to
// the spool when the set needs the chunk, back to the pool otherwise.
func (r *treeReader) add(f *fileJob, data []byte, d chunker.Digest) error {
	e := f.e
	ref := format.ChunkRef{Digest: d, Offset: f.off, Size: uint32(len(data))}
	f.off += int64(len(data))
	r.progress(0, int64(len(data)))
	r.chunks++
	if chunker.IsZero(data) {
		ref.Zero = true
		ref.Digest = [32]byte{}
		e.Chunks = append(e.Chunks, ref)
		chunkBufs.Put(data)
		return nil
	}
	e.Chunks = append(e.Chunks, ref)
	if r.seen[d] {
		chunkBufs.Put(data)
		return nil
	}
	have, err := r.cat.HasChunk(r.set, d)
	if err != nil {
		chunkBufs.Put(data)
		return fmt.Errorf("%s: %w", r.src.Describe(f.rel), err)
	}
	r.seen[d] = true
	if have {
		chunkBufs.Put(data)
		return nil
	}
	r.newChunks++
	return r.out.Put(r.ctx, newChunk{digest: d, data: data})
}

func readXattrs(p string) (map[string][]byte, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	if sz == 0 {
		return nil, nil
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue // removed meanwhile
		}
		v := make([]byte, vsz)
		if vsz, err = unix.Lgetxattr(p, name, v); err != nil {
			continue
		}
		out[name] = v[:vsz]
	}
	return out, nil
}
