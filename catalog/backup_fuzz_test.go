package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzDecodeMediaSet: decoding arbitrary bytes never panics; whatever
// decodes re-encodes canonically to the same record.
func FuzzDecodeMediaSet(f *testing.F) {
	full := testSet("a", "daily", t0)
	full.Closed = true
	full.LastWrite = t0.Add(time.Hour)
	full.Media = append(full.Media, uuid.Nil)
	empty := testSet("b", "weekly", t0)
	empty.Media = nil
	for _, s := range []MediaSet{full, empty} {
		b, err := encodeMediaSet(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x01{}"))
	f.Add([]byte("\x01{\"uuid\":\"00000000-0000-0000-0000-000000000001\",\"pool\":\"p\",\"media\":null}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeMediaSet(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc, err := encodeMediaSet(s)
		if err != nil {
			t.Fatalf("decoded set %+v does not encode: %v", s, err)
		}
		back, err := decodeMediaSet(enc)
		if err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, s)
		}
		if enc2, _ := encodeMediaSet(back); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not canonical:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzDecodeChunkLoc: arbitrary bytes never panic; a decoded location
// re-encodes to exactly the input (the encoding is canonical).
func FuzzDecodeChunkLoc(f *testing.F) {
	m := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	f.Add(encodeChunkLoc(ChunkLoc{Media: m}))
	f.Add(encodeChunkLoc(ChunkLoc{Media: m, File: 40, Offset: 3 << 30, Size: 4 << 20}))
	f.Add(encodeChunkLoc(ChunkLoc{Media: m, File: 1<<64 - 1, Offset: 1<<63 - 1, Size: 1<<32 - 1}))
	f.Add([]byte{})
	f.Add(append(append([]byte{valueV1}, m[:]...), 0x80, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeChunkLoc(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if err := l.validate(); err != nil {
			t.Fatalf("decoded an invalid location %+v: %v", l, err)
		}
		if enc := encodeChunkLoc(l); !bytes.Equal(enc, b) {
			t.Fatalf("round trip: %x -> %+v -> %x", b, l, enc)
		}
	})
}

// FuzzDecodeSnapshot: decoding arbitrary bytes never panics; whatever
// decodes re-encodes canonically to the same record.
func FuzzDecodeSnapshot(f *testing.F) {
	s := testSet("a", "daily", t0)
	for _, snap := range []Snapshot{testSnapshot(s, "g/2026-11-25T17:00:00Z"), {Set: s.UUID, Name: "vm/100/t", Pool: "p"}} {
		b, err := encodeSnapshot(snap, dirHash{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x01{\"archives\":[]}"))
	f.Add([]byte("\x01{\"set\":\"11111111-2222-3333-4444-555555555555\",\"name\":\"a/../b\",\"pool\":\"p\",\"ctime\":\"2026-11-25T17:00:00Z\",\"archives\":[],\"files\":-1,\"bytes\":0}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc, err := encodeSnapshot(snap, dirHash{})
		if err != nil {
			t.Fatalf("decoded snapshot %+v does not encode: %v", snap, err)
		}
		back, err := decodeSnapshot(enc)
		if err != nil || !reflect.DeepEqual(back, snap) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, snap)
		}
		if enc2, _ := encodeSnapshot(back, dirHash{}); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not canonical:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzDecodeTreeHead: arbitrary bytes never panic; a decoded head re-encodes
// to exactly the input.
func FuzzDecodeTreeHead(f *testing.F) {
	f.Add(splitTreeValue(0, 0, nil)[0])
	f.Add(splitTreeValue(treeHasChildren, 0, []byte("value"))[0])
	f.Add(splitTreeValue(0, 3, []byte("value"))[0])
	f.Add(splitTreeValue(treeHasChildren, 1<<31, make([]byte, treePartSize+1))[0])
	f.Add(splitTreeValue(0, 0, make([]byte, treePartSize+1))[0])
	f.Add([]byte{valueV1, 4, 0})
	f.Add([]byte{valueV1, 2, 0, 1})
	f.Add([]byte{valueV1, 2, 0, 0x82, 0})
	f.Add([]byte{valueV1, 0, 0x80, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, more, links, payload, err := decodeTreeHead(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Rebuild a full value with that many continuations and check the
		// head comes out the same.
		v := append([]byte(nil), payload...)
		if more > 0 {
			if more > 4 {
				return // a value that large is not worth building here
			}
			v = append(v, make([]byte, int(more-1)*treePartSize+1)...)
		}
		if (flags&treeHasLinks != 0) != (links > 1) || (links == 1) {
			t.Fatalf("decoded flags %#x with %d links", flags, links)
		}
		if enc := splitTreeValue(flags, links, v)[0]; !bytes.Equal(enc, b) {
			t.Fatalf("round trip: %x -> %d %d %d %d bytes -> %x", b, flags, more, links, len(payload), enc)
		}
	})
}

// FuzzDecodeTreePart: arbitrary bytes never panic; a decoded part keeps the
// input's data and respects the size rule.
func FuzzDecodeTreePart(f *testing.F) {
	parts := splitTreeValue(0, 0, make([]byte, 2*treePartSize+3))
	f.Add(parts[1], false)
	f.Add(parts[2], true)
	f.Add([]byte{valueV1}, true)
	f.Add([]byte{2, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, last bool) {
		p, err := decodeTreePart(b, last)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(p) == 0 || len(p) > treePartSize || (!last && len(p) != treePartSize) {
			t.Fatalf("decoded a %d-byte part (last %v)", len(p), last)
		}
		if !bytes.Equal(append([]byte{valueV1}, p...), b) {
			t.Fatalf("part data differs from input")
		}
	})
}

// FuzzParseTreeKey: arbitrary keys never panic; a parsed key is rebuilt
// exactly by treeKey and treePartKey.
func FuzzParseTreeKey(f *testing.F) {
	set := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	f.Add(treeKey(set, "g/t", ""))
	f.Add(treeKey(set, "g/t", "a/b c/\xff"))
	f.Add(treePartKey(treeKey(set, "g/t", "a"), 3))
	f.Add(treePartKey(treeKey(set, "g/t", ""), 1))
	f.Add([]byte(treePrefix))
	f.Fuzz(func(t *testing.T, k []byte) {
		s, snap, p, part, ok := parseTreeKey(k)
		if !ok {
			return
		}
		want := treeKey(s, snap, p)
		if part > 0 {
			want = treePartKey(want, part)
		}
		if !bytes.Equal(want, k) {
			t.Fatalf("parseTreeKey(%q) = %s %q %q %d, which builds %q", k, s, snap, p, part, want)
		}
	})
}

// FuzzParseSetKeys: chunk, snapshot and marker keys: arbitrary keys never panic; a parsed
// key is rebuilt exactly.
func FuzzParseSetKeys(f *testing.F) {
	set := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	f.Add(chunkKey(set, digest(1)))
	f.Add(snapKey(set, "g/t"))
	f.Add(pendingKey(set, "g/t"))
	f.Add([]byte(snapPrefix + "11111111-2222-3333-4444-55555555555A/x"))
	f.Fuzz(func(t *testing.T, k []byte) {
		if s, d, ok := parseChunkKey(k); ok && !bytes.Equal(chunkKey(s, d), k) {
			t.Fatalf("parseChunkKey(%q) rebuilds differently", k)
		}
		if s, n, ok := parseSnapKey(k); ok && !bytes.Equal(snapKey(s, n), k) {
			t.Fatalf("parseSnapKey(%q) rebuilds differently", k)
		}
		if s, n, ok := parseSetNameKey(k, pendingPrefix); ok && !bytes.Equal(pendingKey(s, n), k) {
			t.Fatalf("parseSetNameKey(%q) rebuilds differently", k)
		}
	})
}
