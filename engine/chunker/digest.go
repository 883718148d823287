package chunker

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrBadDigest is wrapped by ParseDigest's error for text that is not 64
// hexadecimal digits.
var ErrBadDigest = errors.New("malformed chunk digest")

// Digest is the SHA-256 of a chunk: its name in the catalog and on tape.
type Digest [32]byte

// Sum returns the Digest of data.
func Sum(data []byte) Digest {
	return sha256.Sum256(data)
}

// String returns d as 64 lower-case hexadecimal digits.
func (d Digest) String() string {
	return hex.EncodeToString(d[:])
}

// ParseDigest parses the form that Digest.String returns (upper-case digits
// are accepted too). The error wraps ErrBadDigest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return Digest{}, fmt.Errorf("%w: %q has %d characters, want %d hex digits", ErrBadDigest, s, len(s), 2*len(d))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return Digest{}, fmt.Errorf("%w: %q: %w", ErrBadDigest, s, err)
	}
	return d, nil
}

// IsZero reports whether every byte of data is zero (true for empty data).
// It tests eight bytes at a time and stops at the first 64-byte block that
// holds a non-zero byte, so a chunk of real data is rejected at once.
func IsZero(data []byte) bool {
	for len(data) >= 64 {
		w := binary.LittleEndian.Uint64(data[0:8]) |
			binary.LittleEndian.Uint64(data[8:16]) |
			binary.LittleEndian.Uint64(data[16:24]) |
			binary.LittleEndian.Uint64(data[24:32]) |
			binary.LittleEndian.Uint64(data[32:40]) |
			binary.LittleEndian.Uint64(data[40:48]) |
			binary.LittleEndian.Uint64(data[48:56]) |
			binary.LittleEndian.Uint64(data[56:64])
		if w != 0 {
			return false
		}
		data = data[64:]
	}
	for len(data) >= 8 {
		if binary.LittleEndian.Uint64(data) != 0 {
			return false
		}
		data = data[8:]
	}
	for _, b := range data {
		if b != 0 {
			return false
		}
	}
	return true
}
