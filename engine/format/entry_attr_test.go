package format

import (
	"errors"
	"testing"
)

// attrOf is what DecodeEntryAttr must return for e.
func attrOf(e *Entry) EntryAttr {
	a := EntryAttr{Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size,
		Mtime: e.Mtime, Atime: e.Atime, Ctime: e.Ctime, Rdev: e.Rdev, Target: e.Target, Xattrs: len(e.Xattrs)}
	for _, c := range e.Chunks {
		if !c.Zero {
			a.Stored += int64(c.Size)
		}
	}
	return a
}

func sameAttr(a, b EntryAttr) bool {
	return a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.Size == b.Size &&
		a.Mtime.Equal(b.Mtime) && a.Atime.Equal(b.Atime) && a.Ctime.Equal(b.Ctime) &&
		a.Rdev == b.Rdev && a.Target == b.Target && a.Stored == b.Stored && a.Xattrs == b.Xattrs
}

func TestDecodeEntryAttr(t *testing.T) {
	for _, e := range append(sampleEntries(), sampleGoldenEntry()) {
		b := EncodeEntry(nil, &e)
		got, err := DecodeEntryAttr(b)
		if err != nil || !sameAttr(got, attrOf(&e)) {
			t.Errorf("DecodeEntryAttr(%q) = %+v, %v; want %+v", e.Path, got, err, attrOf(&e))
		}
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if _, err := DecodeEntryAttr(b[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("DecodeEntryAttr(%q cut at %d) = %v, want ErrCorrupt", e.Path, cut, err)
			}
		}
	}
	for _, b := range [][]byte{nil, {2, 1, 1}, {1, 0}, {1, 1, 9}, {1, 0x80}} {
		if _, err := DecodeEntryAttr(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeEntryAttr(% x) = %v, want ErrCorrupt", b, err)
		}
	}
}

// FuzzDecodeEntryAttr checks that DecodeEntryAttr never panics, wraps
// ErrCorrupt, and agrees with DecodeEntry on every entry that decodes.
func FuzzDecodeEntryAttr(f *testing.F) {
	for _, e := range append(sampleEntries(), sampleGoldenEntry()) {
		f.Add(EncodeEntry(nil, &e))
	}
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, aerr := DecodeEntryAttr(b)
		if aerr != nil && !errors.Is(aerr, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", aerr)
		}
		e, _, err := DecodeEntry(b)
		if err != nil {
			return
		}
		if aerr != nil || !sameAttr(a, attrOf(&e)) {
			t.Fatalf("DecodeEntryAttr = %+v, %v; DecodeEntry says %+v", a, aerr, attrOf(&e))
		}
	})
}
