package format

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
)

func FuzzDecodeEntry(f *testing.F) {
	for _, e := range append(sampleEntries(), sampleGoldenEntry()) {
		f.Add(EncodeEntry(nil, &e))
	}
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 3, 2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("decoded %d bytes of %d", n, len(b))
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded entry does not validate: %v", err)
		}
		again := EncodeEntry(nil, &e)
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoded entry differs:\n% x\n% x", again, b[:n])
		}
		e2, n2, err := DecodeEntry(again)
		if err != nil || n2 != n {
			t.Fatalf("re-encoded entry does not decode: %d, %v", n2, err)
		}
		if !bytes.Equal(EncodeEntry(nil, &e2), again) {
			t.Fatalf("second round trip changed the entry")
		}
	})
}

// fuzzArchiveTape writes one tape file of type typ holding payload, with
// js as its JSON header if it is valid JSON (else def), closed normally or,
// if abort, aborted. The drive is rewound.
func fuzzArchiveTape(t *testing.T, typ ContentType, js, def, payload []byte, abort bool) *memDrive {
	t.Helper()
	if !json.Valid(js) || len(js) > MaxHeaderJSON {
		js = def
	}
	d := &memDrive{}
	w, err := NewFileWriter(context.Background(), d, MinBlockSize, ContentHeader{
		Type: typ, UUID: uuid.UUID{0xf0, 15: 1}, Ctime: time.Unix(1, 0), Header: js,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	if abort {
		err = w.Abort()
	} else {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	d.pos = 0
	return d
}

// payloadOf returns the payload bytes of the first file on d.
func payloadOf(t testing.TB, d *memDrive) []byte {
	t.Helper()
	d.pos = 0
	_, b, err := readFile(d, 0)
	if err != nil && !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	d.pos = 0
	return b
}

func FuzzChunkArchiveReader(f *testing.F) {
	def := []byte(`{"set":"9da37a55-aac7-4deb-91c6-482b3b675f30","seq":1}`)
	{
		d := &memDrive{}
		writeChunkArchive(f, d, testChunks()[:3])
		f.Add(def, payloadOf(f, d), false)
		f.Add(def, payloadOf(f, d)[:200], true)
	}
	h := sampleChunkEntryHeader()
	f.Add([]byte(`{"set":"9da37a55-aac7-4deb-91c6-482b3b675f30"}`), h, false)
	f.Add([]byte(`{"set":"00000000-0000-0000-0000-000000000000","seq":1}`), []byte{}, false)
	f.Fuzz(func(t *testing.T, js, payload []byte, abort bool) {
		d := fuzzArchiveTape(t, ContentChunkArchive, js, def, payload, abort)
		fr, err := NewFileReader(context.Background(), d, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewChunkArchiveReader(fr)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("NewChunkArchiveReader: %v", err)
			}
			return
		}
		// A second reader on the same tape reads with NextUnchecked into
		// dirty buffers and Check: it must see exactly what Next sees.
		fr2, err := NewFileReader(context.Background(), fuzzArchiveTape(t, ContentChunkArchive, js, def, payload, abort), 0)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := NewChunkArchiveReader(fr2)
		if err != nil {
			t.Fatalf("second reader: %v", err)
		}
		dirty := func(n int) []byte { return bytes.Repeat([]byte{0x5A}, n) }
		last := int64(-1)
		for range len(payload)/ChunkEntryHeaderSize + 3 {
			digest, off, data, err := r.Next()
			d2, off2, data2, err2 := r2.NextUnchecked(dirty)
			if err2 == nil {
				if cerr := r2.Check(d2, off2, data2); cerr != nil {
					err2, data2 = cerr, nil
				}
			}
			if d2 != digest || off2 != off || !bytes.Equal(data2, data) || (err == nil) != (err2 == nil) {
				t.Fatalf("NextUnchecked+Check: %x at %d (%d bytes, %v); Next: %x at %d (%d bytes, %v)", d2, off2, len(data2), err2, digest, off, len(data), err)
			}
			if err == io.EOF || errors.Is(err, ErrIncomplete) {
				return
			}
			if err != nil && off == last {
				return // a sticky error, repeated
			}
			if off <= last || off > int64(len(payload)) {
				t.Fatalf("entry offset %d after %d in a %d-byte payload", off, last, len(payload))
			}
			last = off
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: %v", err)
				}
				if data != nil {
					t.Fatal("data returned with an error")
				}
				continue
			}
			if sha256.Sum256(data) != digest {
				t.Fatalf("chunk at %d returned with a wrong digest", off)
			}
		}
		// The loop bound allows one call per possible entry, the end and
		// a repeated sticky error.
		t.Fatal("reader returned more entries than fit in the payload")
	})
}

func FuzzSnapshotArchiveReader(f *testing.F) {
	def := []byte(`{"set":"9da37a55-aac7-4deb-91c6-482b3b675f30","snapshot":"daily/2026-11-25T17:00:00Z","part":0}`)
	{
		d := &memDrive{}
		w, err := NewSnapshotArchiveWriter(context.Background(), d, MinBlockSize, testSnapshotHeader(0), uuid.UUID{1})
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range sampleEntries()[:5] {
			if err := w.Add(&e); err != nil {
				f.Fatal(err)
			}
		}
		if err := w.CloseContinued(); err != nil {
			f.Fatal(err)
		}
		f.Add(def, payloadOf(f, d), false)
	}
	f.Add(def, []byte{0, 1, 0}, false)
	f.Fuzz(func(t *testing.T, js, payload []byte, abort bool) {
		d := fuzzArchiveTape(t, ContentSnapshotArchive, js, def, payload, abort)
		fr, err := NewFileReader(context.Background(), d, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewSnapshotArchiveReader(fr)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("NewSnapshotArchiveReader: %v", err)
			}
			return
		}
		var prev *Entry
		for range len(payload) + 1 {
			e, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncomplete) {
					t.Fatalf("Next: %v", err)
				}
				if _, err2 := r.Next(); err2 == err {
					return // sticky
				}
				continue
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("entry does not validate: %v", err)
			}
			if prev != nil && ComparePaths(prev.Path, e.Path) >= 0 {
				t.Fatalf("entry %q after %q", e.Path, prev.Path)
			}
			prev = &e
		}
		t.Fatal("reader returned more entries than payload bytes")
	})
}

func FuzzCatalogArchive(f *testing.F) {
	def := []byte(`{"media":"7f42c4dd-9626-4d89-9f2b-c7bc6da7d533","set":"9da37a55-aac7-4deb-91c6-482b3b675f30","seq":2,"set-ctime":"2026-11-20T08:00:00.000000042Z","pool":"daily"}`)
	f.Add(def, encodeCatalogPayload(sampleCatalog()), false)
	f.Add(def, encodeCatalogPayload(&CatalogArchive{}), false)
	f.Add([]byte(`{"media":"7f42c4dd-9626-4d89-9f2b-c7bc6da7d533","set":"9da37a55-aac7-4deb-91c6-482b3b675f30","set-ctime":"x"}`), []byte{1, 0, 0}, true)
	f.Fuzz(func(t *testing.T, js, payload []byte, abort bool) {
		d := fuzzArchiveTape(t, ContentCatalogArchive, js, def, payload, abort)
		fr, err := NewFileReader(context.Background(), d, 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ReadCatalogArchive(fr)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("ReadCatalogArchive: %v", err)
			}
			return
		}
		if abort {
			t.Fatal("an aborted catalog archive was accepted")
		}
		if again := encodeCatalogPayload(c); !bytes.Equal(again, payload) {
			t.Fatalf("re-encoded payload differs:\n% x\n% x", again, payload)
		}
		// Write it back through the public writer and read it again.
		d2 := &memDrive{}
		if err := WriteCatalogArchive(context.Background(), d2, 0, c); err != nil {
			t.Fatalf("decoded catalog does not write: %v", err)
		}
		d2.pos = 0
		fr2, err := NewFileReader(context.Background(), d2, 0)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ReadCatalogArchive(fr2)
		if err != nil {
			t.Fatalf("written catalog does not read: %v", err)
		}
		if !bytes.Equal(encodeCatalogPayload(c2), payload) || c2.Media != c.Media || c2.Set != c.Set ||
			c2.Seq != c.Seq || !c2.SetCtime.Equal(c.SetCtime) || c2.Pool != c.Pool {
			t.Fatalf("round trip changed the catalog: %+v -> %+v", c, c2)
		}
	})
}

func FuzzSnapshotName(f *testing.F) {
	for _, s := range []string{"daily/2026-11-25T17:00:00Z", "a/0001-01-01T00:00:00Z", "x/2026-02-30T00:00:00Z", "x.y-z/2026-11-25T17:00:00+00:00", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, tm, err := ParseSnapshotName(s)
		if err != nil {
			if ValidateSnapshotName(s) == nil {
				t.Fatal("ValidateSnapshotName disagrees with ParseSnapshotName")
			}
			return
		}
		if back := SnapshotName(g, tm); back != s {
			t.Fatalf("SnapshotName(%q, %v) = %q, parsed from %q", g, tm, back, s)
		}
		if err := ValidatePath(g); err != nil {
			t.Fatalf("group %q is not a safe path component: %v", g, err)
		}
	})
}
