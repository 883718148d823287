package format

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

var testMedia = uuid.MustParse("7f42c4dd-9626-4d89-9f2b-c7bc6da7d533")

func sampleCatalog() *CatalogArchive {
	c := &CatalogArchive{
		Media: testMedia, Set: testSet, Seq: 2,
		SetCtime: time.Date(2026, 11, 20, 8, 0, 0, 42, time.UTC), Pool: "daily",
		Files: []ArchiveFile{
			{File: 2, Object: 4, Type: ContentChunkArchive, UUID: uuid.UUID{2}},
			{File: 3, Object: 900, Type: ContentSnapshotArchive, UUID: uuid.UUID{3}, Snapshot: "daily/2026-11-25T17:00:00Z", Part: 1, Final: true},
			{File: 4, Object: 902, Type: ContentCatalogArchive, UUID: uuid.UUID{4}},
			{File: 5, Object: 1000, Type: ContentChunkArchive, UUID: uuid.UUID{5}},
		},
	}
	var off int64
	for i := range 50 {
		size := uint32(1000 + i*37)
		file := uint64(2)
		if i >= 40 {
			file = 5
		}
		if i == 40 {
			off = 0
		}
		c.Chunks = append(c.Chunks, ChunkLocation{Digest: sha256.Sum256([]byte{byte(i)}), File: file, Offset: off, Size: size})
		off += ChunkEntryHeaderSize + int64(size)
		if i == 10 {
			off -= int64(size) // a zero chunk: no data stored
		}
	}
	// Out of order: the encoding keeps any order.
	c.Chunks = append(c.Chunks, ChunkLocation{Digest: [32]byte{9}, File: 2, Offset: 48, Size: MaxChunkSize})
	return c
}

func sameCatalog(t *testing.T, got, want *CatalogArchive) {
	t.Helper()
	if !got.SetCtime.Equal(want.SetCtime) {
		t.Errorf("set ctime %v, want %v", got.SetCtime, want.SetCtime)
	}
	g, w := *got, *want
	g.SetCtime, w.SetCtime = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("catalog:\n got %+v\nwant %+v", g, w)
	}
}

func TestCatalogPayloadRoundTrip(t *testing.T) {
	for _, c := range []*CatalogArchive{sampleCatalog(), {Media: testMedia, Set: testSet, SetCtime: time.Unix(1, 0).UTC()}} {
		b := encodeCatalogPayload(c)
		got := &CatalogArchive{Media: c.Media, Set: c.Set, Seq: c.Seq, SetCtime: c.SetCtime, Pool: c.Pool}
		if err := decodeCatalogPayload(b, got); err != nil {
			t.Fatal(err)
		}
		sameCatalog(t, got, c)
	}
}

// labelledTape returns a drive holding the labels of a tape in testSet.
func labelledTape(t *testing.T) *memDrive {
	t.Helper()
	d := &memDrive{}
	ml, _ := sampleLabels()
	set := MediaSetLabel{Pool: "daily", SetUUID: testSet, Seq: 2, Ctime: ml.Ctime}
	if err := WriteLabels(context.Background(), d, ml, set); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCatalogArchiveOnTape(t *testing.T) {
	ctx := context.Background()
	d := labelledTape(t)
	want := &CatalogArchive{Media: testMedia, Set: testSet, Seq: 2, SetCtime: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), Pool: "daily"}

	// A job: one chunk archive, one snapshot archive, then the catalog.
	pos, _ := d.ReadPosition(ctx)
	chunks := testChunks()
	offs, _ := writeChunkArchive(t, d, chunks)
	want.Files = append(want.Files, ArchiveFile{File: pos.File, Object: pos.Object, Type: ContentChunkArchive, UUID: uuid.UUID{0: 0xca, 15: 1}})
	for i, c := range chunks {
		want.Chunks = append(want.Chunks, ChunkLocation{Digest: c.digest, File: pos.File, Offset: offs[i], Size: uint32(len(c.data))})
	}
	pos, _ = d.ReadPosition(ctx)
	w, err := NewSnapshotArchiveWriter(ctx, d, 0, testSnapshotHeader(0), uuid.UUID{0x5a})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want.Files = append(want.Files, ArchiveFile{File: pos.File, Object: pos.Object, Type: ContentSnapshotArchive, UUID: uuid.UUID{0x5a}, Snapshot: testSnapshotHeader(0).Snapshot, Final: true})
	if err := WriteCatalogArchive(ctx, d, 0, want); err != nil {
		t.Fatal(err)
	}

	got, err := ReadLastCatalogArchive(ctx, d)
	if err != nil {
		t.Fatalf("ReadLastCatalogArchive: %v", err)
	}
	sameCatalog(t, got, want)

	// The chunk locations find the chunks.
	if err := d.Locate(ctx, want.Files[0].Object); err != nil {
		t.Fatal(err)
	}
	r := openChunkArchive(t, d)
	for _, loc := range want.Chunks {
		digest, off, data, err := r.Next()
		if err != nil || digest != loc.Digest || off != loc.Offset || len(data) != int(loc.Size) {
			t.Fatalf("chunk at %d: %x, %d bytes, %v", off, digest, len(data), err)
		}
	}

	// A second job appends archives and a cumulative catalog; the last one
	// wins.
	if err := d.Space(ctx, device.SpaceEndOfData, 0); err != nil {
		t.Fatal(err)
	}
	pos, _ = d.ReadPosition(ctx)
	// The first catalog archive is one record and a filemark.
	if err := d.Locate(ctx, pos.Object-2); err != nil {
		t.Fatal(err)
	}
	fr, err := NewFileReader(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Locate(ctx, pos.Object); err != nil {
		t.Fatal(err)
	}
	writeChunkArchive(t, d, chunks[:1])
	want.Files = append(want.Files,
		ArchiveFile{File: pos.File - 1, Object: pos.Object - 2, Type: ContentCatalogArchive, UUID: fr.Header().UUID},
		ArchiveFile{File: pos.File, Object: pos.Object, Type: ContentChunkArchive, UUID: uuid.UUID{0: 0xca, 15: 1}})
	want.Chunks = append(want.Chunks, ChunkLocation{Digest: chunks[0].digest, File: pos.File, Size: 1})
	if err := WriteCatalogArchive(ctx, d, MinBlockSize, want); err != nil {
		t.Fatal(err)
	}
	got, err = ReadLastCatalogArchive(ctx, d)
	if err != nil {
		t.Fatalf("second ReadLastCatalogArchive: %v", err)
	}
	sameCatalog(t, got, want)
}

func TestReadLastCatalogArchiveMissing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		tape    func(d *memDrive)
		corrupt bool
	}{
		{"labels only", func(*memDrive) {}, false},
		{"job interrupted after a chunk archive", func(d *memDrive) { writeChunkArchive(t, d, testChunks()) }, false},
		{"last file unterminated", func(d *memDrive) {
			if err := WriteCatalogArchive(ctx, d, 0, sampleCatalog()); err != nil {
				t.Fatal(err)
			}
			writeChunkArchive(t, d, testChunks())
			d.objs = d.objs[:len(d.objs)-1]
		}, false},
		{"catalog archive damaged", func(d *memDrive) {
			if err := WriteCatalogArchive(ctx, d, MinBlockSize, sampleCatalog()); err != nil {
				t.Fatal(err)
			}
			// The payload version byte, right after the content header.
			d.pos = d.record(2, 0)
			fr, err := NewFileReader(ctx, d, 0)
			if err != nil {
				t.Fatal(err)
			}
			damageStream(d, 2, int64(contentFixedSize+len(fr.Header().Header)), 0x80)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := labelledTape(t)
			tt.tape(d)
			_, err := ReadLastCatalogArchive(ctx, d)
			if !errors.Is(err, ErrNoCatalogArchive) || errors.Is(err, ErrCorrupt) != tt.corrupt {
				t.Errorf("got %v, want ErrNoCatalogArchive (corrupt: %v)", err, tt.corrupt)
			}
		})
	}
}

func TestCatalogValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(c *CatalogArchive)
		want string
	}{
		{"nil media", func(c *CatalogArchive) { c.Media = uuid.Nil }, "media UUID"},
		{"nil set", func(c *CatalogArchive) { c.Set = uuid.Nil }, "media-set UUID"},
		{"no set ctime", func(c *CatalogArchive) { c.SetCtime = time.Time{} }, "creation time"},
		{"pool control char", func(c *CatalogArchive) { c.Pool = "a\nb" }, "pool name"},
		{"label file", func(c *CatalogArchive) { c.Files[0].File = 1 }, "labels"},
		{"files out of order", func(c *CatalogArchive) { c.Files[1].File = 2 }, "not after"},
		{"objects out of order", func(c *CatalogArchive) { c.Files[1].Object = 4 }, "not after"},
		{"nil file uuid", func(c *CatalogArchive) { c.Files[2].UUID = uuid.Nil }, "all zeros"},
		{"label type", func(c *CatalogArchive) { c.Files[0].Type = ContentMediaLabel }, "not an archive"},
		{"bad snapshot name", func(c *CatalogArchive) { c.Files[1].Snapshot = "x" }, "snapshot name"},
		{"snapshot on chunk archive", func(c *CatalogArchive) { c.Files[0].Snapshot = "daily/2026-11-25T17:00:00Z" }, "no snapshot"},
		{"chunk size 0", func(c *CatalogArchive) { c.Chunks[3].Size = 0 }, "size 0"},
		{"chunk negative offset", func(c *CatalogArchive) { c.Chunks[3].Offset = -1 }, "outside 0"},
		{"chunk in snapshot archive", func(c *CatalogArchive) { c.Chunks[3].File = 3 }, "not a chunk archive"},
		{"chunk in unknown file", func(c *CatalogArchive) { c.Chunks[3].File = 77 }, "not a chunk archive"},
	}
	if err := sampleCatalog().Validate(); err != nil {
		t.Fatalf("sample: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleCatalog()
			tt.mut(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
			if err := WriteCatalogArchive(context.Background(), &memDrive{}, 0, c); err == nil {
				t.Error("WriteCatalogArchive accepted it")
			}
		})
	}
}

func TestDecodeCatalogPayloadRejects(t *testing.T) {
	good := encodeCatalogPayload(sampleCatalog())
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{2}, good[1:]...)},
		{"cut short", good[:len(good)-1]},
		{"trailing", append(good[:len(good):len(good)], 0)},
		{"file count too large", []byte{1, 0xff, 0xff, 0x03}},
		{"chunk count too large", []byte{1, 0, 0xff, 0xff, 0x03}},
		{"non-minimal varint", []byte{1, 0x80, 0x00, 0}},
		{"negative offset", func() []byte {
			b := []byte{1, 0, 1}
			b = append(b, make([]byte, 32)...)
			return append(b, 0, 1, 1) // file delta 0, offset delta -1, size 1
		}()},
		{"huge offset delta", func() []byte {
			b := []byte{1, 0, 1}
			b = append(b, make([]byte, 32)...)
			b = append(b, 0)
			b = binary.AppendVarint(b, 1<<62)
			return append(b, 1)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c CatalogArchive
			if err := decodeCatalogPayload(tt.b, &c); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// millionChunks returns a catalog of one chunk archive with 10^6 chunks of
// about 1 MiB, laid out as a chunk archive writes them.
func millionChunks() *CatalogArchive {
	c := &CatalogArchive{Media: testMedia, Set: testSet, SetCtime: time.Unix(1e9, 0).UTC(),
		Files: []ArchiveFile{{File: 2, Object: 4, Type: ContentChunkArchive, UUID: uuid.UUID{1}}}}
	c.Chunks = make([]ChunkLocation, 1_000_000)
	var off int64
	for i := range c.Chunks {
		var d [32]byte
		binary.LittleEndian.PutUint64(d[:], uint64(i)*0x9e3779b97f4a7c15)
		binary.LittleEndian.PutUint64(d[8:], uint64(i))
		size := uint32(1<<20 - i%4096)
		c.Chunks[i] = ChunkLocation{Digest: d, File: 2, Offset: off, Size: size}
		off += ChunkEntryHeaderSize + int64(size)
	}
	return c
}

// TestCatalogMillionChunksSize checks the encoding stays compact: about 37
// bytes per chunk, so a million chunks take well under 64 MiB.
func TestCatalogMillionChunksSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 37 MB catalog")
	}
	c := millionChunks()
	b := encodeCatalogPayload(c)
	t.Logf("a million chunks encode to %d bytes", len(b))
	if len(b) > 38_000_000 {
		t.Errorf("a million chunks encode to %d bytes, want at most 38,000,000", len(b))
	}
	var got CatalogArchive
	if err := decodeCatalogPayload(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Chunks) != len(c.Chunks) || got.Chunks[999_999] != c.Chunks[999_999] {
		t.Errorf("decoded %d chunks; last %+v", len(got.Chunks), got.Chunks[len(got.Chunks)-1])
	}
}

// BenchmarkCatalogDecode decodes and validates a million-chunk catalog
// payload, as ReadCatalogArchive does; compare
// with BenchmarkCatalogCopyBaseline, a plain copy of the same bytes.
func BenchmarkCatalogDecode(b *testing.B) {
	c := millionChunks()
	p := encodeCatalogPayload(c)
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for b.Loop() {
		got := CatalogArchive{Media: c.Media, Set: c.Set, SetCtime: c.SetCtime}
		if err := decodeCatalogPayload(p, &got); err != nil {
			b.Fatal(err)
		}
		if err := got.validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatalogEncode encodes a million-chunk catalog.
func BenchmarkCatalogEncode(b *testing.B) {
	c := millionChunks()
	for b.Loop() {
		encodeCatalogPayload(c)
	}
}

// BenchmarkCatalogCopyBaseline copies a payload of the same size.
func BenchmarkCatalogCopyBaseline(b *testing.B) {
	p := encodeCatalogPayload(millionChunks())
	dst := make([]byte, len(p))
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for b.Loop() {
		copy(dst, p)
	}
}

// TestCatalogArchiveVoidRoundTrip: the void list goes into the JSON
// header and comes back; a void file that is also listed is refused.
func TestCatalogArchiveVoidRoundTrip(t *testing.T) {
	c := &CatalogArchive{
		Media: uuid.UUID{1: 1}, Set: testSet, Seq: 0, SetCtime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Pool: "p",
		Files: []ArchiveFile{{File: 2, Object: 10, Type: ContentChunkArchive, UUID: uuid.UUID{2: 2}}},
		Void:  []VoidArchive{{File: 3, UUID: uuid.UUID{3: 3}}},
	}
	d := &memDrive{}
	if err := WriteCatalogArchive(context.Background(), d, MinBlockSize, c); err != nil {
		t.Fatal(err)
	}
	d.pos = 0
	fr, err := NewFileReader(context.Background(), d, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadCatalogArchive(fr)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Void) != 1 || got.Void[0] != c.Void[0] {
		t.Errorf("void list read back as %+v, want %+v", got.Void, c.Void)
	}
	c.Void = []VoidArchive{{File: 2, UUID: uuid.UUID{3: 3}}}
	if err := c.Validate(); err == nil {
		t.Error("a void file that is also listed passed Validate")
	}
}
