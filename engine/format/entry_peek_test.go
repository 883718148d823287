package format

import (
	"errors"
	"testing"
)

func TestPeekEntryType(t *testing.T) {
	for _, e := range sampleEntries() {
		b := EncodeEntry(nil, &e)
		got, err := PeekEntryType(b)
		if err != nil || got != e.Type {
			t.Errorf("PeekEntryType(%q) = %v, %v; want %v", e.Path, got, err, e.Type)
		}
	}
	for _, b := range [][]byte{nil, {2, 1, 1}, {1, 0}, {1, 5, 1}, {1, 1, 9}, {1, 0x80}} {
		if _, err := PeekEntryType(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("PeekEntryType(% x) = %v, want ErrCorrupt", b, err)
		}
	}
}

// FuzzPeekEntryType checks that PeekEntryType never panics, and agrees with
// DecodeEntry on every entry that decodes.
func FuzzPeekEntryType(f *testing.F) {
	for _, e := range sampleEntries() {
		f.Add(EncodeEntry(nil, &e))
	}
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, perr := PeekEntryType(b)
		if perr != nil && !errors.Is(perr, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", perr)
		}
		e, _, err := DecodeEntry(b)
		if err != nil {
			return
		}
		if perr != nil || typ != e.Type {
			t.Fatalf("PeekEntryType = %v, %v; DecodeEntry says %v", typ, perr, e.Type)
		}
	})
}
