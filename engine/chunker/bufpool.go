package chunker

import (
	"math/bits"
	"sync"
)

// BufferPool recycles chunk buffers: a backup's reader takes one per new
// chunk and its tape writer gives it back once the chunk is on tape, so
// that chunk data is neither allocated (and zeroed) nor garbage-collected
// once per chunk. Buffers come in size classes, four per power of two
// (1, 1.25, 1.5 and 1.75 times it), so a buffer is at most 25% larger than
// asked for; requests below 4 KiB or above 64 MiB are plain allocations.
// The zero BufferPool is ready to use and safe for concurrent use.
type BufferPool struct {
	classes [numClasses]sync.Pool
}

const (
	minClassShift = 12 // 4 KiB
	maxClassShift = 26 // 64 MiB
	numClasses    = (maxClassShift - minClassShift + 1) * 4
)

// classOf returns the class of a buffer of capacity c that can serve
// requests up to c bytes, and the class that serves a request of n bytes;
// -1 when there is none.
func classFor(n int) (class, size int) {
	if n <= 1<<minClassShift {
		return 0, 1 << minClassShift
	}
	if n > 1<<maxClassShift {
		return -1, n
	}
	shift := bits.Len(uint(n-1)) - 1 // 2^shift < n <= 2^(shift+1)
	quarter := 1 << (shift - 2)
	step := (n - 1 - 1<<shift) / quarter // 0..3: which quarter above 2^shift
	size = 1<<shift + (step+1)*quarter
	return (shift-minClassShift)*4 + step + 1, size
}

// Get returns a buffer of length n.
func (p *BufferPool) Get(n int) []byte {
	class, size := classFor(n)
	if class < 0 || class >= numClasses {
		return make([]byte, n)
	}
	if b, ok := p.classes[class].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, size)
}

// Put gives back a buffer that Get returned; the caller must not use it
// afterwards. Buffers of other sizes are dropped.
func (p *BufferPool) Put(b []byte) {
	class, size := classFor(cap(b))
	if class < 0 || class >= numClasses || size != cap(b) {
		return
	}
	b = b[:cap(b)]
	p.classes[class].Put(&b)
}
