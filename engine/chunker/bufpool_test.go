package chunker

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

func TestBufferPoolClasses(t *testing.T) {
	var p BufferPool
	for _, n := range []int{0, 1, 4095, 4096, 4097, 5120, 5121, 16 << 10, 1<<20 + 1, 4 << 20, 64 << 20} {
		b := p.Get(n)
		if len(b) != n {
			t.Errorf("Get(%d): len %d", n, len(b))
		}
		if n > 4096 && cap(b) > n+n/4 {
			t.Errorf("Get(%d): cap %d, more than 25%% over", n, cap(b))
		}
		p.Put(b)
		if again := p.Get(n); len(again) != n {
			t.Errorf("Get(%d) after Put: len %d", n, len(again))
		}
	}
	// Beyond the largest class: exact allocations, not kept.
	big := p.Get(64<<20 + 1)
	if cap(big) != 64<<20+1 {
		t.Errorf("Get(64 MiB + 1): cap %d", cap(big))
	}
	p.Put(big)
	// A foreign buffer whose capacity is no class size is dropped.
	p.Put(make([]byte, 5000))
	if b := p.Get(4097); cap(b) == 5000 {
		t.Error("a buffer of a foreign size was handed out")
	}
}

func TestClassForIsMonotonic(t *testing.T) {
	prevClass, prevSize := -1, 0
	for n := 1; n <= 1<<20; n += 97 {
		c, size := classFor(n)
		if size < n {
			t.Fatalf("classFor(%d) = size %d, smaller than asked", n, size)
		}
		if c < prevClass || (c == prevClass && size != prevSize) {
			t.Fatalf("classFor(%d) = %d/%d after %d/%d", n, c, size, prevClass, prevSize)
		}
		if c2, s2 := classFor(size); c2 != c || s2 != size {
			t.Fatalf("classFor(%d) = %d/%d, but its size maps to %d/%d", n, c, size, c2, s2)
		}
		prevClass, prevSize = c, size
	}
}

// countingBuffers records the buffers Pipeline takes and gives back.
type countingBuffers struct {
	BufferPool
	mu        sync.Mutex
	got, back int
}

func (c *countingBuffers) Get(n int) []byte {
	c.mu.Lock()
	c.got++
	c.mu.Unlock()
	return c.BufferPool.Get(n)
}

func (c *countingBuffers) Put(b []byte) {
	c.mu.Lock()
	c.back++
	c.mu.Unlock()
	c.BufferPool.Put(b)
}

// TestPipelineHandsOverBuffers keeps every other chunk and gives the rest
// back at once: the kept chunks stay intact while their neighbours'
// buffers are reused, and every buffer is either kept or given back.
func TestPipelineHandsOverBuffers(t *testing.T) {
	data := mixedData(150, 3<<20)
	want := chunkAll(t, bytes.NewReader(data), smallParams)
	for _, workers := range []int{1, 2, 4} {
		bufs := &countingBuffers{}
		var kept [][]byte
		i := 0
		err := ReadAll(context.Background(), Config{Params: smallParams, Workers: workers, Bufs: bufs}, bytes.NewReader(data), func(b []byte, d Digest) error {
			if i%2 == 0 {
				kept = append(kept, b)
			} else {
				bufs.Put(b)
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if i != len(want) {
			t.Fatalf("workers %d: %d chunks, want %d", workers, i, len(want))
		}
		for k, b := range kept {
			if w := want[2*k]; len(b) != w.Len || Sum(b) != w.Digest {
				t.Fatalf("workers %d: kept chunk %d was overwritten", workers, 2*k)
			}
		}
		if bufs.got != len(kept)+bufs.back {
			t.Errorf("workers %d: %d buffers taken, %d kept, %d given back", workers, bufs.got, len(kept), bufs.back)
		}
	}
}

// TestPipelineReturnsUndelivered stops early: the buffers of chunks cut
// but not delivered go back to the pool.
func TestPipelineReturnsUndelivered(t *testing.T) {
	errStop := errors.New("stop")
	for _, workers := range []int{1, 3} {
		bufs := &countingBuffers{}
		delivered := 0
		err := ReadAll(context.Background(), Config{Params: smallParams, Workers: workers, Bufs: bufs}, bytes.NewReader(randomData(151, 4<<20)), func(b []byte, d Digest) error {
			delivered++
			if delivered == 4 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Pipeline = %v, want %v", err, errStop)
		}
		if bufs.got != delivered+bufs.back {
			t.Errorf("workers %d: %d buffers taken, %d delivered, %d given back", workers, bufs.got, delivered, bufs.back)
		}
	}
}
