package engine

import (
	"context"
	"path"
	"sync"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// prefetchSource is a BackupSource that can start reading a file's data
// in the background, so that the backup's own read finds it in memory.
type prefetchSource interface {
	BackupSource
	// Prefetch starts reading up to n bytes of regular file rel. It must
	// not block on the data, and errors are ignored: it is a hint.
	Prefetch(rel string, n int64)
}

// Prefetch windows: how far the lookahead may run ahead of the backup's
// reader, in files and in bytes of data asked for. A cold small file costs
// a disk round trip of its own; having several in flight keeps the disk
// busy while the reader chunks and hashes. The bytes bound keeps the data
// read ahead small against the page cache.
const (
	prefetchFiles = 64
	prefetchBytes = 32 << 20
	prefetchMax   = 8 << 20 // of one file; the chunker's reads go on from there
)

// lookahead walks a source in the backup's order (depth first, names
// sorted) ahead of the tree reader and prefetches the regular files it
// meets, at most prefetchFiles files and prefetchBytes bytes ahead.
//
// The two walks meet by counting the regular files the backup reads (not
// unchanged files, not second names of a file): the reader reports each
// file it starts (fileStarted), the lookahead numbers the files it meets.
// If the tree changes between the two walks the counts drift, which costs
// only useless prefetches.
type lookahead struct {
	src prefetchSource
	// unchanged reports a file the reader will not read (the quick
	// check against the previous snapshot).
	unchanged func(rel string, e *format.Entry) bool

	mu      sync.Mutex
	cond    *sync.Cond
	started int64 // files the reader has started
	done    bool
}

// startLookahead starts prefetching src's files on a goroutine when the
// source supports it; stop ends it and waits for it. The reader calls
// fileStarted for every regular file it is about to read.
func startLookahead(ctx context.Context, src BackupSource, unchanged func(string, *format.Entry) bool) (la *lookahead, stop func()) {
	ps, ok := src.(prefetchSource)
	if !ok {
		return nil, func() {}
	}
	la = &lookahead{src: ps, unchanged: unchanged}
	la.cond = sync.NewCond(&la.mu)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { la.run(ctx) })
	stop = func() {
		cancel()
		la.mu.Lock()
		la.done = true
		la.cond.Broadcast()
		la.mu.Unlock()
		wg.Wait()
	}
	return la, stop
}

// fileStarted tells the lookahead the reader starts its next regular file.
func (la *lookahead) fileStarted() {
	if la == nil {
		return
	}
	la.mu.Lock()
	la.started++
	la.cond.Broadcast()
	la.mu.Unlock()
}

// pending is a prefetched file the reader has not started yet.
type pending struct {
	index int64
	n     int64
}

func (la *lookahead) run(ctx context.Context) {
	var (
		next   int64     // number of the next regular file met
		queue  []pending // prefetched, not yet started by the reader
		queued int64     // bytes in queue
		links  = map[[2]uint64]bool{}
	)
	// wait blocks until the file numbered next may be prefetched with n
	// bytes; false when the reader has already started it (skip it) or
	// the walk is over.
	wait := func(n int64) (prefetch, ok bool) {
		la.mu.Lock()
		defer la.mu.Unlock()
		for {
			if la.done || ctx.Err() != nil {
				return false, false
			}
			for len(queue) > 0 && queue[0].index < la.started {
				queued -= queue[0].n
				queue = queue[1:]
			}
			if next < la.started {
				return false, true
			}
			if next-la.started < prefetchFiles && (queued+n <= prefetchBytes || len(queue) == 0) {
				return true, true
			}
			la.cond.Wait()
		}
	}
	var visit func(rel string) bool
	visit = func(rel string) bool {
		se, err := la.src.Stat(rel)
		if err != nil {
			return true
		}
		switch se.Entry.Type {
		case format.EntryFile:
			// Only the files the reader reads count: not the second
			// names of a file, not unchanged files.
			if se.Links > 1 {
				if links[se.Key] {
					return true
				}
				links[se.Key] = true
			}
			if la.unchanged(rel, &se.Entry) {
				return true
			}
			n := min(se.Entry.Size, prefetchMax)
			prefetch, ok := wait(n)
			if !ok {
				return false
			}
			if prefetch && n > 0 {
				la.src.Prefetch(rel, n)
				queue = append(queue, pending{next, n})
				queued += n
			}
			next++
		case format.EntryDir:
			names, _ := la.src.ReadDir(rel)
			for _, name := range names {
				if !visit(path.Join(rel, name)) {
					return false
				}
			}
		}
		return true
	}
	visit("")
}

// Prefetch asks the kernel to read the first n bytes of rel into the page
// cache (posix_fadvise WILLNEED starts the reads and returns).
func (d dirSource) Prefetch(rel string, n int64) {
	fd, err := unix.Open(d.Describe(rel), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_ = unix.Fadvise(fd, 0, n, unix.FADV_WILLNEED)
	unix.Close(fd)
}
