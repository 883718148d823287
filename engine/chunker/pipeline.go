package chunker

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Buffers supplies the buffers Pipeline copies chunks into, so that a
// caller can recycle them (BufferPool) instead of leaving each to the
// garbage collector.
type Buffers interface {
	// Get returns a buffer of length n.
	Get(n int) []byte
	// Put takes back a buffer that nobody uses any more.
	Put(b []byte)
}

// Config sets up a Pipeline.
type Config struct {
	// Params are the chunk sizes (the zero value means DefaultParams).
	Params Params
	// Workers is the number of hashing goroutines (at least 1).
	Workers int
	// Bufs supplies chunk buffers; nil allocates each one.
	Bufs Buffers
	// ZeroUnhashed: a chunk of zeros only is delivered with the zero
	// Digest instead of its SHA-256 (a backup stores such a chunk as a
	// hole, by its size; hashing the holes of a sparse file cost more
	// than the rest of reading it).
	ZeroUnhashed bool
	// InFlight bounds the bytes of chunks cut but not yet delivered
	// (DefaultInFlight when 0); one chunk is let through whatever its
	// size, so any value makes progress.
	InFlight int64
}

// DefaultInFlight is the Pipeline's default read-ahead: enough for the
// hashing workers to stay busy on small chunks, small against a backup's
// spool.
const DefaultInFlight = 8 << 20

// Pipeline chunks a sequence of streams and hashes the chunks on several
// goroutines, so that reading the next stream overlaps hashing the last
// one: a backup feeds it one stream per file.
//
// Three stages run at once: one goroutine takes each stream from in,
// opens it with open, cuts it into chunks and copies each into a buffer
// from c.Bufs (closing the stream when it is read); c.Workers goroutines
// compute the SHA-256 digests; the calling goroutine calls chunk for every
// chunk, in stream order, and end after each stream's last chunk with the
// error that ended the stream (nil at its end; an error from open or from
// reading, wrapped). chunk owns the data it is passed: it may keep it or
// give it back to c.Bufs. A chunk boundary depends only on the stream's
// own bytes: every stream is chunked as Chunker would chunk it alone.
//
// Pipeline returns nil once in is closed and everything is delivered. It
// stops at the first non-nil error that chunk or end returns, or when ctx
// ends, and returns that error after all its goroutines have ended (the
// buffers of chunks not delivered go back to c.Bufs, the stream being read
// is closed; streams still in in are neither opened nor ended). Invalid
// Params give an error wrapping ErrInvalidParams before anything is read.
// A cancellation is noticed between reads.
func Pipeline[S any](ctx context.Context, c Config, in <-chan S, open func(S) (io.ReadCloser, error),
	chunk func(s S, data []byte, d Digest) error, end func(s S, err error) error) error {
	if err := c.Params.Validate(); err != nil {
		return err
	}
	p := c.Params.orDefault()
	workers := max(c.Workers, 1)
	bufs := c.Bufs
	if bufs == nil {
		bufs = makeBuffers{}
	}
	budget := newBudget(c.InFlight)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Every job is sent on ordered before todo, and the deliverer takes
	// jobs off ordered in order: the producer never waits for a job that
	// only it could finish.
	ordered := make(chan *job[S], 64)
	todo := make(chan *job[S], 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ordered)
		defer close(todo)
		// send queues j; false when the pipeline stopped. A job that
		// did not get on ordered has its buffer given back here; one
		// that did is drained at the end.
		send := func(j *job[S], hash bool) bool {
			select {
			case ordered <- j:
			case <-ctx.Done():
				if !j.end {
					bufs.Put(j.data)
				}
				return false
			}
			if hash {
				select {
				case todo <- j:
				case <-ctx.Done():
					return false
				}
			}
			return true
		}
		ch := New(nil, p)
		for {
			var s S
			var ok bool
			select {
			case s, ok = <-in:
			case <-ctx.Done():
			}
			if !ok {
				return
			}
			err := readStream(ctx, ch, s, open, budget, bufs, send)
			if errors.Is(err, errStopped) {
				return
			}
			if !send(&job[S]{stream: s, end: true, err: err}, false) {
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range todo {
				if !c.ZeroUnhashed || !IsZero(j.data) {
					j.digest = Sum(j.data)
				}
				close(j.hashed)
			}
		})
	}

	err := func() error {
		for j := range ordered {
			if j.end {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := end(j.stream, j.err); err != nil {
					return err
				}
				continue
			}
			select {
			case <-j.hashed:
			case <-ctx.Done():
				return ctx.Err() // j's buffer is left to the garbage collector: a worker may still read it
			}
			if err := ctx.Err(); err != nil {
				bufs.Put(j.data)
				return err
			}
			n := len(j.data)
			err := chunk(j.stream, j.data, j.digest)
			budget.release(int64(n))
			if err != nil {
				return err
			}
		}
		return ctx.Err()
	}()
	cancel()
	wg.Wait()
	for j := range ordered {
		if !j.end {
			bufs.Put(j.data) // not delivered
		}
	}
	return err
}

// job is one chunk on its way through Pipeline, or the end of a stream.
type job[S any] struct {
	stream S
	data   []byte
	digest Digest
	hashed chan struct{} // closed when digest is set
	end    bool
	err    error // what ended the stream (end jobs)
}

// errStopped says the pipeline stopped while a stream was read.
var errStopped = errors.New("pipeline stopped")

// readStream opens and chunks one stream, sending its chunks.
func readStream[S any](ctx context.Context, ch *Chunker, s S, open func(S) (io.ReadCloser, error), budget *budget, bufs Buffers, send func(*job[S], bool) bool) error {
	rc, err := open(s)
	if err != nil {
		return err
	}
	defer rc.Close()
	ch.Reset(rc)
	defer ch.Reset(nil)
	for {
		data, err := ch.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !budget.acquire(ctx, int64(len(data))) {
			return errStopped
		}
		j := &job[S]{stream: s, data: bufs.Get(len(data)), hashed: make(chan struct{})}
		copy(j.data, data)
		if !send(j, true) {
			return errStopped
		}
	}
}

// budget bounds the bytes in flight between the producer (acquire, one
// goroutine) and the deliverer (release).
type budget struct {
	mu          sync.Mutex
	used, limit int64
	freed       chan struct{}
}

func newBudget(limit int64) *budget {
	if limit <= 0 {
		limit = DefaultInFlight
	}
	return &budget{limit: limit, freed: make(chan struct{}, 1)}
}

// acquire waits until n more bytes fit (or nothing is in flight); false
// when ctx ended first.
func (b *budget) acquire(ctx context.Context, n int64) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		select {
		case <-b.freed:
		case <-ctx.Done():
			return false
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// makeBuffers allocates every buffer and lets the garbage collector have
// the ones given back.
type makeBuffers struct{}

func (makeBuffers) Get(n int) []byte { return make([]byte, n) }
func (makeBuffers) Put([]byte)       {}

// ReadAll runs a Pipeline over the single stream r, which it reads but
// does not close: a convenience for callers with one stream. It returns
// the first error of fn, of reading r, or of ctx.
func ReadAll(ctx context.Context, c Config, r io.Reader, fn func(data []byte, d Digest) error) error {
	in := make(chan io.Reader, 1)
	in <- r
	close(in)
	return Pipeline(ctx, c, in,
		func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil },
		func(_ io.Reader, data []byte, d Digest) error { return fn(data, d) },
		func(_ io.Reader, err error) error { return err })
}
