package cdcbench

import (
	"bytes"
	"crypto/sha256"
	"io"
	"slices"
	"testing"
)

// sizedReader returns data in reads whose sizes come from size.
type sizedReader struct {
	data []byte
	size func() int
}

func (r *sizedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.size())], r.data)
	r.data = r.data[n:]
	return n, nil
}

func digests(t *testing.T, next func() ([]byte, error)) [][32]byte {
	t.Helper()
	var out [][32]byte
	for {
		data, err := next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sha256.Sum256(data))
	}
}

// TestCandidatesAreContentDefined checks what the choice rests on besides
// speed: boundaries that do not depend on read sizes, and that come back
// after an insert at the front of the stream.
func TestCandidatesAreContentDefined(t *testing.T) {
	data := mixedData(3, 48<<20)
	for _, c := range candidates {
		t.Run(c.name, func(t *testing.T) {
			want := digests(t, c.new(bytes.NewReader(data)))
			rnd := splitmix(5)
			for name, size := range map[string]func() int{
				"4096":   func() int { return 4096 },
				"random": func() int { return 1 + rnd.intn(3*maxSize) },
			} {
				if got := digests(t, c.new(&sizedReader{data, size})); !slices.Equal(got, want) {
					t.Errorf("reads of %s bytes cut differently from one whole read", name)
				}
			}
			known := map[[32]byte]bool{}
			for _, d := range want {
				known[d] = true
			}
			shifted := digests(t, c.new(io.MultiReader(bytes.NewReader([]byte("tapefs")), bytes.NewReader(data))))
			fresh := 0
			for _, d := range shifted {
				if !known[d] {
					fresh++
				}
			}
			t.Logf("%d chunks; after a 6-byte insert at the front %d of %d are new", len(want), fresh, len(shifted))
			if fresh > 2 {
				t.Errorf("a 6-byte insert at the front changed %d chunks, want at most 2", fresh)
			}
		})
	}
}
