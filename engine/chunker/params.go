package chunker

import (
	"errors"
	"fmt"
	"math/bits"
)

// Limits on Params. MinParamSize keeps at least one full Gear hash window
// (64 bytes) before the first possible boundary; MaxParamSize bounds the
// chunker's buffer.
const (
	MinParamSize = 64
	MaxParamSize = 1 << 30
)

// normalization is the FastCDC normalization level: the mask before Avg has
// this many more one bits than log2(Avg), the mask after it this many fewer.
const normalization = 2

// ErrInvalidParams is wrapped by the error that New's Chunker and Pipeline
// return for Params that break the rules in Params.Validate.
var ErrInvalidParams = errors.New("invalid chunk size parameters")

// Params are the chunk size bounds in bytes. Every chunk but the last of a
// stream is at least Min and at most Max bytes long; Avg is where the
// boundary test turns from strict to loose, and the mean chunk size on
// random data comes out a little above it. Only the power of two at or
// below Avg enters the boundary masks. The zero Params stands for
// DefaultParams.
type Params struct {
	Min, Avg, Max int
}

// DefaultParams are the chunk sizes tapefs uses: 256 KiB / 1 MiB / 4 MiB.
// Chunks this large keep the catalog small and tape records full, and still
// deduplicate well between successive backups of the same data.
var DefaultParams = Params{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20}

// Validate reports whether p can be used: MinParamSize <= Min <= Avg <= Max
// <= MaxParamSize. The error wraps ErrInvalidParams. The zero Params is
// valid (it means DefaultParams).
func (p Params) Validate() error {
	p = p.orDefault()
	switch {
	case p.Min < MinParamSize:
		return fmt.Errorf("%w: minimum chunk size %d is below %d bytes", ErrInvalidParams, p.Min, MinParamSize)
	case p.Max > MaxParamSize:
		return fmt.Errorf("%w: maximum chunk size %d is above %d bytes", ErrInvalidParams, p.Max, MaxParamSize)
	case p.Min > p.Avg || p.Avg > p.Max:
		return fmt.Errorf("%w: sizes must satisfy min <= avg <= max, got %d/%d/%d", ErrInvalidParams, p.Min, p.Avg, p.Max)
	}
	return nil
}

func (p Params) orDefault() Params {
	if p == (Params{}) {
		return DefaultParams
	}
	return p
}

// masks returns the boundary masks for p: maskS is used between Min and Avg,
// maskL between Avg and Max. A position is a boundary when the Gear hash
// ANDed with the mask is zero.
func (p Params) masks() (maskS, maskL uint64) {
	b := bits.Len(uint(p.Avg)) - 1
	return spreadMask(b + normalization), spreadMask(max(b-normalization, 1))
}

// spreadMask returns a mask with n one bits (at most 45) spread evenly
// over bits 60 down to 16. In the Gear hash, bit k depends on the last k+1
// input bytes only, so high bits give each boundary test a window of dozens
// of bytes, where a mask of the low n bits would look at the last n bytes
// alone. Bits 61 to 63 stay clear for scan, which tests three of every four
// positions on the hash shifted left by up to three bits.
func spreadMask(n int) uint64 {
	const top, span = 60, 45
	n = min(n, span)
	var m uint64
	for k := range n {
		m |= 1 << (top - k*span/n)
	}
	return m
}
