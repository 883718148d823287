package engine

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// spool is the queue between a backup's tree reader and its tape writer.
//
// A tape drive must stream: when the host feeds it slower than its
// slowest speed it stops, rewinds a little and starts again (a
// back-hitch), which costs seconds each time and wears the tape. So the
// writer does not take chunks as they come. While it waits, chunks pile up
// in memory up to memLimit and then in a spool file on disk; it starts
// draining when high bytes are queued or the reader is done, and drains
// until the queue is empty: the drive streams in bursts of at least high
// bytes, whatever the source's speed. While the writer drains, a reader
// faster than the drive is held back when memory is full rather than
// spilled to disk, so a fast source costs no extra disk traffic.
//
// Memory stays below memLimit plus one chunk; disk use below high plus one
// chunk. Put and Close are called by the reader, Next by the writer.
type spool struct {
	dir      string
	memLimit int64
	high     int64
	logf     func(format string, args ...any)

	mu       sync.Mutex
	cond     *sync.Cond
	items    []spoolItem
	head     int
	queued   int64 // bytes in the queue
	inMem    int64 // of which in memory
	draining bool
	closed   bool
	file     *os.File // spill file, created on first spill
	fileEnd  int64
	spilled  int64 // bytes ever spilled, for the log
	noDisk   bool  // spilling failed once: hold the reader back instead
	// slow: a burst emptied the queue before the reader was done and the
	// source reads slower than minRate, the slowest rate at which the
	// drive streams: from then on bursts are high bytes long.
	slow    bool
	minRate float64
	start   time.Time // first Put
	put     int64     // bytes ever put
	now     func() time.Time
}

type spoolItem struct {
	digest [32]byte
	data   []byte // nil when on disk
	off    int64  // in the spill file
	size   int
}

func newSpool(dir string, memLimit, high int64, minRate float64, logf func(string, ...any)) *spool {
	s := &spool{dir: dir, memLimit: memLimit, high: high, minRate: minRate, logf: logf, now: time.Now}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// wake wakes every waiter when ctx ends, until stop is called.
func (s *spool) wake(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// waiter arms the wake-up on ctx before a caller's first wait only: most
// calls never wait and need no goroutine.
type waiter struct{ stop func() }

func (w *waiter) arm(s *spool, ctx context.Context) {
	if w.stop == nil {
		w.stop = s.wake(ctx)
	}
}

func (w *waiter) done() {
	if w.stop != nil {
		w.stop()
	}
}

// Put queues a chunk. The spool owns its data from then on: it hands it
// to Next, or gives it back to chunkBufs once spilled; memory is counted
// by the buffers' capacity.
func (s *spool) Put(ctx context.Context, c newChunk) error {
	var w waiter
	defer w.done()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(c.data))
	mem := int64(cap(c.data)) // what the chunk holds in memory
	it := spoolItem{digest: c.digest, size: len(c.data)}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !s.draining && s.queued > 0 {
			// Start a burst once enough is queued: memLimit while the
			// source keeps up with the drive, high once it does not.
			if !s.slow && s.queued+n > s.memLimit && s.rate() < s.minRate {
				s.becomeSlow()
			}
			threshold := s.memLimit
			if s.slow {
				threshold = s.high
			}
			if s.queued+n > threshold {
				s.draining = true
				s.cond.Broadcast()
			}
		}
		if s.inMem == 0 || s.inMem+mem <= s.memLimit {
			it.data = c.data
			s.inMem += mem
			break
		}
		if !s.draining && !s.noDisk {
			if err := s.spill(&it, c.data); err == nil {
				break
			} else {
				s.logf("spool: cannot spill to %s (%v); the drive may not stream", s.dir, err)
				s.noDisk = true
			}
			continue
		}
		if !s.draining {
			s.draining = true // no disk: drain what memory holds
			s.cond.Broadcast()
		}
		w.arm(s, ctx)
		s.cond.Wait()
	}
	s.items = append(s.items, it)
	s.queued += n
	if s.put == 0 {
		s.start = s.now()
	}
	s.put += n
	s.cond.Broadcast()
	return nil
}

func (s *spool) spill(it *spoolItem, data []byte) error {
	if s.file == nil {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
		f, err := os.CreateTemp(s.dir, "spool-*")
		if err != nil {
			return err
		}
		os.Remove(f.Name()) // gone with the process, whatever happens
		s.file = f
	}
	if _, err := s.file.WriteAt(data, s.fileEnd); err != nil {
		return err
	}
	chunkBufs.Put(data)
	it.off = s.fileEnd
	s.fileEnd += int64(len(data))
	s.spilled += int64(len(data))
	return nil
}

// rate is the source's pace so far in bytes/s.
func (s *spool) rate() float64 {
	return float64(s.put) / max(s.now().Sub(s.start).Seconds(), 1e-3)
}

// becomeSlow switches to long bursts for a source slower than the drive.
func (s *spool) becomeSlow() {
	s.slow = true
	s.logf("spool: the source reads %.0f MB/s, slower than the drive streams (%.0f MB/s): writing in bursts of up to %d MiB", s.rate()/1e6, s.minRate/1e6, s.high>>20)
}

// Close says the reader is done: the writer drains what is left.
func (s *spool) Close() {
	s.mu.Lock()
	s.closed, s.draining = true, true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Next returns the next chunk for the writer, waiting until the queue is
// draining. The writer owns the chunk's data (a chunkBufs buffer). ok is false once the reader closed and everything was taken.
func (s *spool) Next(ctx context.Context) (c newChunk, ok bool, err error) {
	var w waiter
	defer w.done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !(s.draining && s.head < len(s.items)) {
		if s.closed && s.head == len(s.items) {
			return newChunk{}, false, nil
		}
		if err := ctx.Err(); err != nil {
			return newChunk{}, false, err
		}
		w.arm(s, ctx)
		s.cond.Wait()
	}
	it := s.items[s.head]
	s.items[s.head] = spoolItem{}
	s.head++
	data := it.data
	if data == nil {
		data = chunkBufs.Get(it.size)
		if _, err := s.file.ReadAt(data, it.off); err != nil {
			return newChunk{}, false, fmt.Errorf("spool: read back chunk %x: %w", it.digest[:8], err)
		}
	} else {
		s.inMem -= int64(cap(data))
	}
	s.queued -= int64(it.size)
	if s.head == len(s.items) {
		// Empty: start over, and let the queue fill again before the
		// drive streams the next burst.
		s.items, s.head = s.items[:0], 0
		if s.file != nil {
			s.file.Truncate(0)
			s.fileEnd = 0
		}
		if !s.closed {
			s.draining = false
			if !s.slow && s.rate() < s.minRate {
				s.becomeSlow()
			}
		}
	}
	s.cond.Broadcast()
	return newChunk{digest: it.digest, data: data}, true, nil
}

// release drops the spill file.
func (s *spool) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}
