package chunker

import (
	"bytes"
	"io"
	"slices"
	"testing"
)

// FuzzChunker cuts arbitrary input with arbitrary valid Params, read in
// arbitrary pieces: the chunks must add up to the input, every chunk but
// the last must lie within [Min, Max], and the cut must match the one of a
// single whole read.
func FuzzChunker(f *testing.F) {
	f.Add([]byte(""), uint16(0), uint16(0), uint16(0), uint64(0))
	f.Add([]byte("tapefs"), uint16(1), uint16(2), uint16(3), uint64(7))
	f.Add(randomData(1, 5000), uint16(0), uint16(100), uint16(900), uint64(1))
	f.Add(textData(2, 8000), uint16(10), uint16(200), uint16(2000), uint64(99))
	f.Add(make([]byte, 3000), uint16(0), uint16(0), uint16(0), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, a, b, c uint16, seed uint64) {
		// Small sizes so that short inputs still span many chunks.
		p := Params{Min: MinParamSize + int(a)%512}
		p.Avg = p.Min + int(b)%2048
		p.Max = p.Avg + int(c)%4096
		whole := New(bytes.NewReader(data), p)
		rnd := splitmix(seed)
		pieces := New(&sizedReader{data, func() int { return rnd.intn(p.Max + 100) }}, p)
		var got []byte
		for i := 0; ; i++ {
			chunk, err := whole.Next()
			other, otherErr := pieces.Next()
			if err != otherErr || !bytes.Equal(chunk, other) {
				t.Fatalf("chunk %d with %+v: whole read gives %d bytes, %v; pieces give %d bytes, %v",
					i, p, len(chunk), err, len(other), otherErr)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			got = append(got, chunk...)
			last := len(got) == len(data)
			if len(chunk) == 0 || len(chunk) > p.Max || (!last && len(chunk) < p.Min) {
				t.Fatalf("chunk %d has %d bytes, want %d..%d", i, len(chunk), p.Min, p.Max)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("chunks add up to %d bytes that differ from the %d input bytes", len(got), len(data))
		}
	})
}

// FuzzScanZeros: scanZeros, which skips runs of zeros, finds the boundary
// scan finds, with the same final hash, on data made of the fuzzer's bytes
// with zero runs spliced in, from any hash, with the masks of any Params.
func FuzzScanZeros(f *testing.F) {
	f.Add([]byte("tapefs"), uint16(300), uint64(0), uint16(0), uint16(0))
	f.Add([]byte{0, 1, 0, 0, 2}, uint16(5000), uint64(12345), uint16(100), uint16(900))
	f.Add([]byte{}, uint16(200), uint64(1), uint16(1), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, zeros uint16, fp uint64, a, b uint16) {
		// The fuzzer's bytes with a zero run of the given length before,
		// in the middle and after them.
		run := make([]byte, int(zeros)%20000)
		in := slices.Concat(run, data[:len(data)/2], run, data[len(data)/2:], run)
		p := Params{Min: MinParamSize, Avg: MinParamSize + int(a)%(1<<20), Max: MaxParamSize}
		p.Max = p.Avg + int(b)%(1<<20)
		maskS, maskL := p.masks()
		for _, mask := range []uint64{maskS, maskL} {
			k, h := scan(in, fp, mask)
			kz, hz := scanZeros(in, fp, mask)
			if k != kz || h != hz {
				t.Fatalf("mask %#x over %d bytes: scan = %d, %#x; scanZeros = %d, %#x", mask, len(in), k, h, kz, hz)
			}
		}
	})
}
