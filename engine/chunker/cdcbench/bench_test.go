package cdcbench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	cdc "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc"
	"github.com/jotfs/fastcdc-go"
	restic "github.com/restic/chunker"

	"tapefs/engine/chunker"
)

// Sizes shared by every candidate: tapefs's DefaultParams.
const (
	minSize = 256 << 10
	avgSize = 1 << 20
	maxSize = 4 << 20
)

// resticPol is the polynomial of restic's own examples and tests.
const resticPol = restic.Pol(0x3DA3358B4DC173)

// next returns a function that yields the chunks of r one by one, then
// io.EOF. The slice is valid until the following call.
type newChunker func(r io.Reader) func() ([]byte, error)

var candidates = []struct {
	name string
	new  newChunker
}{
	{"Restic", func(r io.Reader) func() ([]byte, error) {
		c := restic.NewWithBoundaries(r, resticPol, minSize, maxSize)
		c.SetAverageBits(20)
		buf := make([]byte, maxSize)
		return func() ([]byte, error) {
			ch, err := c.Next(buf)
			return ch.Data, err
		}
	}},
	{"JotfsFastCDC", func(r io.Reader) func() ([]byte, error) {
		c, err := fastcdc.NewChunker(r, fastcdc.Options{MinSize: minSize, AverageSize: avgSize, MaxSize: maxSize})
		if err != nil {
			panic(err)
		}
		return func() ([]byte, error) {
			ch, err := c.Next()
			return ch.Data, err
		}
	}},
	{"PlakarFastCDC", func(r io.Reader) func() ([]byte, error) {
		c, err := cdc.NewChunker("fastcdc-v1.0.0", r, &cdc.ChunkerOpts{MinSize: minSize, NormalSize: avgSize, MaxSize: maxSize})
		if err != nil {
			panic(err)
		}
		return c.Next
	}},
	{"Tapefs", func(r io.Reader) func() ([]byte, error) {
		return chunker.New(r, chunker.DefaultParams).Next
	}},
}

const benchSize = 256 << 20

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

// threadCPU returns the CPU time the calling thread has used, in ns.
func threadCPU(b *testing.B) int64 {
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchOneThread runs op on a locked thread and reports its throughput in
// thread CPU time besides the usual wall-clock MB/s.
func benchOneThread(b *testing.B, size int, op func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(size))
	start := threadCPU(b)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	cpu := threadCPU(b) - start
	b.ReportMetric(float64(size)*float64(n)/float64(cpu)*1e3, "cpuMB/s")
}

func chunkAll(b *testing.B, next func() ([]byte, error)) int {
	n := 0
	for {
		_, err := next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func BenchmarkChunkerRestic(b *testing.B)        { benchCandidate(b, "Restic") }
func BenchmarkChunkerJotfsFastCDC(b *testing.B)  { benchCandidate(b, "JotfsFastCDC") }
func BenchmarkChunkerPlakarFastCDC(b *testing.B) { benchCandidate(b, "PlakarFastCDC") }
func BenchmarkChunkerTapefs(b *testing.B)        { benchCandidate(b, "Tapefs") }

func benchCandidate(b *testing.B, name string) {
	for _, c := range candidates {
		if c.name != name {
			continue
		}
		for _, in := range benchData() {
			b.Run(in.name, func(b *testing.B) {
				chunks := 0
				benchOneThread(b, len(in.data), func() {
					chunks = chunkAll(b, c.new(bytes.NewReader(in.data)))
				})
				b.ReportMetric(float64(len(in.data))/float64(chunks), "B/chunk")
			})
		}
	}
}

// BenchmarkSHA256 is crypto/sha256 over the same data in 1 MiB pieces.
func BenchmarkSHA256(b *testing.B) {
	for _, in := range benchData() {
		b.Run(in.name, func(b *testing.B) {
			benchOneThread(b, len(in.data), func() {
				for off := 0; off < len(in.data); off += 1 << 20 {
					sha256.Sum256(in.data[off:min(off+1<<20, len(in.data))])
				}
			})
		})
	}
}

// processCPU returns the CPU time all threads of the process have used, in
// ns.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkChunkerTapefsPipeline is chunking plus SHA-256 with Pipeline.
// It runs on several threads, so its MB/s is wall clock and needs an idle
// machine; cpuMB/s is bytes per second of CPU time summed over all threads,
// which shows Pipeline's overhead against BenchmarkChunkerTapefsSequential;
// cores is CPU time over wall time, how many cores the run actually got.
func BenchmarkChunkerTapefsPipeline(b *testing.B) {
	for _, in := range benchData() {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", in.name, workers), func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				start, wall := processCPU(b), time.Now()
				n := 0
				for b.Loop() {
					n++
					err := chunker.Pipeline(context.Background(), bytes.NewReader(in.data), chunker.DefaultParams, workers,
						func([]byte, chunker.Digest) error { return nil })
					if err != nil {
						b.Fatal(err)
					}
				}
				cpu := processCPU(b) - start
				b.ReportMetric(float64(len(in.data))*float64(n)/float64(cpu)*1e3, "cpuMB/s")
				b.ReportMetric(float64(cpu)/float64(time.Since(wall).Nanoseconds()), "cores")
			})
		}
	}
}

// BenchmarkChunkerTapefsSequential is chunking then hashing on one
// goroutine, the baseline for Pipeline.
func BenchmarkChunkerTapefsSequential(b *testing.B) {
	for _, in := range benchData() {
		b.Run(in.name, func(b *testing.B) {
			benchOneThread(b, len(in.data), func() {
				c := chunker.New(bytes.NewReader(in.data), chunker.DefaultParams)
				for {
					data, err := c.Next()
					if err == io.EOF {
						return
					}
					if err != nil {
						b.Fatal(err)
					}
					chunker.Sum(data)
				}
			})
		})
	}
}
