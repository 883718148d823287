package format

import (
	"context"
	"io"
	"testing"
)

// discardDrive accepts records and filemarks and keeps nothing, so the
// benchmarks measure the format layer, not a device.
type discardDrive struct{ memDrive }

func (*discardDrive) WriteRecord(context.Context, []byte) error { return nil }
func (*discardDrive) WriteFilemarks(context.Context, int) error { return nil }

// replayDrive returns first, then the full record next forever with
// increasing sequence numbers, so a reader can be benchmarked without
// storing a large file.
type replayDrive struct {
	memDrive
	first, next []byte
	h           recordHeader
}

func (r *replayDrive) ReadRecord(_ context.Context, buf []byte) (int, error) {
	if r.first != nil {
		n := copy(buf, r.first)
		r.first = nil
		return n, nil
	}
	n := copy(buf, r.next)
	r.h.Seq++
	r.h.put(buf)
	return n, nil
}

const benchWrite = 64 << 10 // bytes per Write call, like a chunk writer

// BenchmarkWriteBaseline copies the same bytes into a block-sized buffer
// with no headers or CRC: the ratio to BenchmarkFileWriter is the cost of
// the format layer.
func BenchmarkWriteBaseline(b *testing.B) {
	src := testData(1, benchWrite)
	buf := make([]byte, DefaultBlockSize)
	n := 0
	b.SetBytes(benchWrite)
	for b.Loop() {
		n += copy(buf[n%(DefaultBlockSize-benchWrite):], src)
	}
}

func BenchmarkFileWriter(b *testing.B) {
	src := testData(1, benchWrite)
	w, err := NewFileWriter(context.Background(), &discardDrive{}, DefaultBlockSize, testHeader(1))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchWrite)
	for b.Loop() {
		if _, err := w.Write(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileReader(b *testing.B) {
	d := &memDrive{}
	writeFile(b, d, DefaultBlockSize, testHeader(1), testData(2, 3*DefaultBlockSize))
	h, err := decodeRecordHeader(d.objs[1].data)
	if err != nil {
		b.Fatal(err)
	}
	rd := &replayDrive{first: d.objs[0].data, next: d.objs[1].data, h: h}
	rd.h.Seq = 0
	r, err := NewFileReader(context.Background(), rd, 0)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, benchWrite)
	b.SetBytes(benchWrite)
	for b.Loop() {
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
	}
}
