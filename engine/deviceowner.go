package engine

import (
	"context"
	"io"
)

// owner runs every operation on one device in one goroutine. The device is
// opened on first use and kept open (with its exclusive lock) until the
// engine closes; a failed open is retried by the next operation.
type owner[T io.Closer] struct {
	open func() (T, error)
	jobs chan ownerJob[T]
	done chan struct{}
}

type ownerJob[T io.Closer] struct {
	fn     func(ctx context.Context, dev T) error
	result chan error // buffered: the owner never blocks on a caller that left
}

func newOwner[T io.Closer](ctx context.Context, open func() (T, error)) *owner[T] {
	o := &owner[T]{open: open, jobs: make(chan ownerJob[T]), done: make(chan struct{})}
	go o.run(ctx)
	return o
}

func (o *owner[T]) run(ctx context.Context) {
	defer close(o.done)
	var dev T
	opened := false
	defer func() {
		if opened {
			dev.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-o.jobs:
			if !opened {
				d, err := o.open()
				if err != nil {
					j.result <- err
					continue
				}
				dev, opened = d, true
			}
			j.result <- j.fn(ctx, dev)
		}
	}
}

// do runs fn on the device and waits for it. The operation runs on the
// owner's context; if the caller's ctx ends first, do returns ctx.Err() and
// the operation still finishes on its own.
func (o *owner[T]) do(ctx context.Context, fn func(ctx context.Context, dev T) error) error {
	j, err := o.submit(ctx, fn)
	if err != nil {
		return err
	}
	select {
	case err := <-j.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doWait is do, except that once the owner has taken fn, it waits for fn
// to return even when ctx ends first (fn may use the caller's state); it
// then returns ctx's error if ctx ended, else fn's.
func (o *owner[T]) doWait(ctx context.Context, fn func(ctx context.Context, dev T) error) error {
	j, err := o.submit(ctx, fn)
	if err != nil {
		return err
	}
	err = <-j.result
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// submit hands fn to the owner goroutine; it fails when ctx ends or the
// owner has stopped first.
func (o *owner[T]) submit(ctx context.Context, fn func(ctx context.Context, dev T) error) (ownerJob[T], error) {
	j := ownerJob[T]{fn: fn, result: make(chan error, 1)}
	select {
	case o.jobs <- j:
		return j, nil
	case <-ctx.Done():
		return j, ctx.Err()
	case <-o.done:
		return j, context.Canceled
	}
}
