package chunker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
)

// benchSize is how much data each benchmark operation chunks or hashes.
const benchSize = 256 << 20

// benchData returns the benchmark inputs, made once per process: 256 MiB of
// pseudo-random bytes and 256 MiB of the mixed text/random/zero data.
var benchData = sync.OnceValue(func() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"random", randomData(1, benchSize)},
		{"mixed", mixedData(2, benchSize)},
	}
})

// BenchmarkChunker measures chunking alone (FastCDC with DefaultParams).
// Compare with BenchmarkSHA256 on the same data in the same run.
func BenchmarkChunker(b *testing.B) {
	for _, in := range benchData() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			c := New(nil, DefaultParams)
			for b.Loop() {
				c.Reset(bytes.NewReader(in.data))
				n := 0
				for {
					_, err := c.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(len(in.data))/float64(n), "B/chunk")
			}
		})
	}
}

// BenchmarkSHA256 measures crypto/sha256 over the same data in 1 MiB
// pieces, the baseline that the chunker and the pipeline are judged by.
func BenchmarkSHA256(b *testing.B) {
	for _, in := range benchData() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				for off := 0; off < len(in.data); off += 1 << 20 {
					Sum(in.data[off:min(off+1<<20, len(in.data))])
				}
			}
		})
	}
}

// BenchmarkChunkerPipeline measures chunking plus hashing with Pipeline and
// a callback that does nothing.
func BenchmarkChunkerPipeline(b *testing.B) {
	for _, in := range benchData() {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", in.name, workers), func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				for b.Loop() {
					err := ReadAll(context.Background(), Config{Params: DefaultParams, Workers: workers}, bytes.NewReader(in.data), func([]byte, Digest) error { return nil })
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkChunkerSequential is chunking then hashing each chunk on one
// goroutine: what Pipeline saves.
func BenchmarkChunkerSequential(b *testing.B) {
	for _, in := range benchData() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			c := New(nil, DefaultParams)
			for b.Loop() {
				c.Reset(bytes.NewReader(in.data))
				for {
					chunk, err := c.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					Sum(chunk)
				}
			}
		})
	}
}

// BenchmarkIsZero measures the sparse test on a zero chunk of Max bytes,
// the worst case (it reads every byte).
func BenchmarkIsZero(b *testing.B) {
	zero := make([]byte, DefaultParams.Max)
	b.SetBytes(int64(len(zero)))
	for b.Loop() {
		if !IsZero(zero) {
			b.Fatal("IsZero of zeros is false")
		}
	}
}
