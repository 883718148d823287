package chunker

import (
	"context"
	"errors"
	"io"
	"sync"
)

// job is one chunk on its way through Pipeline. Its buffer is reused once
// the chunk has been delivered.
type job struct {
	data   []byte
	digest Digest
	hashed chan struct{} // receives once per use when digest is set
}

// Pipeline chunks r and hashes chunks on `workers` goroutines, delivering
// them in stream order to fn. Memory is bounded by about (workers+2)*Max.
//
// Three stages run at once: one goroutine cuts chunks and copies each into
// one of workers+1 reusable buffers, `workers` goroutines compute the
// SHA-256 digests, and the calling goroutine calls fn, one chunk at a time.
// The data passed to fn is valid only until fn returns. workers below 1
// count as 1. Peak memory is the Chunker's buffer (1.5*Max) plus workers+1
// chunk buffers.
//
// Pipeline returns nil at the end of r. It stops at the first error and
// returns it after all its goroutines have ended: an error from fn as fn
// returned it, an error from r wrapped (chunks read before it are delivered
// first), invalid Params wrapping ErrInvalidParams, or ctx's error. A
// cancellation is noticed between reads, so a Read that blocks delays the
// return until it comes back.
func Pipeline(ctx context.Context, r io.Reader, p Params, workers int, fn func(data []byte, d Digest) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.orDefault()
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	free := make(chan *job, workers+1)
	for range workers + 1 {
		free <- &job{hashed: make(chan struct{}, 1)}
	}
	// Every job in flight is in ordered, so with workers+1 jobs a send on
	// ordered never blocks; todo hands them to the hashing workers.
	ordered := make(chan *job, workers+1)
	todo := make(chan *job)
	var readErr error // set by the producer before it closes ordered

	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ordered)
		defer close(todo)
		c := New(r, p)
		for {
			chunk, err := c.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
			var j *job
			select {
			case j = <-free:
			case <-ctx.Done():
				return
			}
			if cap(j.data) < len(chunk) {
				// Grow geometrically: few reallocations per buffer,
				// and small inputs keep small buffers.
				j.data = make([]byte, len(chunk), min(max(len(chunk), 2*cap(j.data)), p.Max))
			}
			j.data = j.data[:len(chunk)]
			copy(j.data, chunk)
			ordered <- j
			select {
			case todo <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range todo {
				j.digest = Sum(j.data)
				j.hashed <- struct{}{}
			}
		})
	}

	err := deliver(ctx, ordered, free, fn)
	cancel()
	wg.Wait()
	if err == nil {
		err = readErr
	}
	return err
}

// deliver waits for each job of ordered to be hashed, in order, passes it to
// fn and returns its buffer to free. It returns fn's first error, or ctx's
// error, or nil when ordered is closed.
func deliver(ctx context.Context, ordered <-chan *job, free chan<- *job, fn func([]byte, Digest) error) error {
	for j := range ordered {
		select {
		case <-j.hashed:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(j.data, j.digest); err != nil {
			return err
		}
		free <- j
	}
	return ctx.Err()
}
