package engine

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func chunkOf(i, n int) newChunk {
	var c newChunk
	c.digest[0], c.digest[1] = byte(i), byte(i>>8)
	c.data = bytes.Repeat([]byte{byte(i)}, n)
	return c
}

// TestSpoolOrderAndSpill: chunks come out in order whether they were kept
// in memory or spilled to disk, and the writer gets nothing until a burst
// is ready.
func TestSpoolOrderAndSpill(t *testing.T) {
	ctx := context.Background()
	s := newSpool(t.TempDir(), 4<<10, 32<<10, 1e12, t.Logf)
	defer s.release()
	s.slow = true // bursts of high bytes, spilling beyond memory
	got := make(chan newChunk, 100)
	done := make(chan error, 1)
	go func() {
		for {
			c, ok, err := s.Next(ctx)
			if err != nil || !ok {
				done <- err
				return
			}
			got <- c
		}
	}()
	for i := 0; i < 7; i++ { // 7 KiB: below the 32 KiB burst
		if err := s.Put(ctx, chunkOf(i, 1<<10)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case c := <-got:
		t.Fatalf("writer got chunk %d before a burst was ready", c.digest[0])
	case <-time.After(50 * time.Millisecond):
	}
	for i := 7; i < 60; i++ {
		if err := s.Put(ctx, chunkOf(i, 1<<10)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(got)
	i := 0
	for c := range got {
		if int(c.digest[0]) != i || !bytes.Equal(c.data, chunkOf(i, 1<<10).data) {
			t.Fatalf("chunk %d out of order or damaged (got %d)", i, c.digest[0])
		}
		i++
	}
	if i != 60 {
		t.Fatalf("got %d chunks, want 60", i)
	}
	if s.spilled == 0 {
		t.Error("nothing was spilled to disk")
	}
}

// TestSpoolBackpressure: while the writer drains, a fast reader is held
// back at the memory limit instead of spilling.
func TestSpoolBackpressure(t *testing.T) {
	ctx := context.Background()
	s := newSpool(t.TempDir(), 4<<10, 1<<20, 1, t.Logf)
	defer s.release()
	var mu sync.Mutex
	maxMem := int64(0)
	go func() {
		for {
			c, ok, err := s.Next(ctx)
			if err != nil || !ok {
				return
			}
			s.mu.Lock()
			mu.Lock()
			maxMem = max(maxMem, s.inMem)
			mu.Unlock()
			s.mu.Unlock()
			_ = c
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 40; i++ {
		if err := s.Put(ctx, chunkOf(i, 1<<10)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s.spilled != 0 {
		t.Errorf("a reader faster than the writer spilled %d bytes", s.spilled)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxMem > 4<<10 {
		t.Errorf("memory held %d bytes, limit 4 KiB", maxMem)
	}
}

// TestSpoolCancel: a cancelled context frees a waiting writer and reader.
func TestSpoolCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := newSpool(t.TempDir(), 1<<10, 1<<20, 1, t.Logf)
	defer s.release()
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.Next(ctx)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after cancel")
	}
}
