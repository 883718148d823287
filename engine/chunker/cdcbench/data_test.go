package cdcbench

import (
	"encoding/binary"
	"strconv"
)

// splitmix is SplitMix64: a tiny generator whose output is fixed by its
// definition, so test data (and the golden boundaries) never depend on the
// Go release's math/rand.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n).
func (s *splitmix) intn(n int) int {
	return int(s.next() % uint64(n))
}

// randomData returns n pseudo-random bytes: like compressed or encrypted
// files.
func randomData(seed uint64, n int) []byte {
	s := splitmix(seed)
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], s.next())
	}
	return b[:n:n]
}

// textData returns n bytes of log-like text: lines of a timestamp, a level,
// a few words from a small vocabulary and numbers, so that the data repeats
// at short range the way logs, source code and configuration do.
func textData(seed uint64, n int) []byte {
	s := splitmix(seed)
	vocab := make([]string, 400)
	for i := range vocab {
		w := make([]byte, 2+s.intn(9))
		for j := range w {
			w[j] = "etaoinshrdlucmfwypvbgkqjxz"[s.intn(26)%(8+j%18)]
		}
		vocab[i] = string(w)
	}
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	b := make([]byte, 0, n+256)
	ts := int64(1_700_000_000)
	for len(b) < n {
		ts += int64(s.intn(3))
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, ' ')
		b = append(b, levels[s.intn(len(levels))]...)
		for range 3 + s.intn(10) {
			b = append(b, ' ')
			b = append(b, vocab[s.intn(s.intn(len(vocab))+1)]...)
		}
		if s.intn(3) == 0 {
			b = append(b, " id="...)
			b = strconv.AppendInt(b, int64(s.intn(100000)), 10)
		}
		b = append(b, '\n')
	}
	return b[:n:n]
}

// mixedData returns n bytes made of segments of 64 KiB to 8 MiB, each
// text-like (45%), random (45%) or all zero (10%): a file system's worth of
// logs, documents, compressed archives and sparse regions.
func mixedData(seed uint64, n int) []byte {
	s := splitmix(seed)
	b := make([]byte, 0, n)
	for len(b) < n {
		size := min(64<<10+s.intn(8<<20), n-len(b))
		switch k := s.intn(20); {
		case k < 9:
			b = append(b, textData(s.next(), size)...)
		case k < 18:
			b = append(b, randomData(s.next(), size)...)
		default:
			b = append(b, make([]byte, size)...)
		}
	}
	return b
}
