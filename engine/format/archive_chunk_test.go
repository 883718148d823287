package format

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

var testSet = uuid.MustParse("9da37a55-aac7-4deb-91c6-482b3b675f30")

// testChunk is one chunk for the tests: its data and digest.
type testChunk struct {
	digest [32]byte
	data   []byte
}

func newChunk(data []byte) testChunk { return testChunk{sha256.Sum256(data), data} }

// testChunks returns chunks of varied sizes, including an all-zero one.
func testChunks() []testChunk {
	return []testChunk{
		newChunk([]byte("x")),
		newChunk(testData(10, 100_000)),
		newChunk(make([]byte, 70_000)),
		newChunk(testData(11, MinBlockSize-RecordHeaderSize)),
		newChunk(testData(12, 3)),
	}
}

// writeChunkArchive writes chunks as one chunk archive and returns the
// offsets Add returned and the writer.
func writeChunkArchive(t testing.TB, d device.Drive, chunks []testChunk) ([]int64, *ChunkArchiveWriter) {
	t.Helper()
	w, err := NewChunkArchiveWriter(context.Background(), d, MinBlockSize, ChunkArchiveHeader{Set: testSet, Seq: 4}, uuid.UUID{0: 0xca, 15: 1})
	if err != nil {
		t.Fatalf("NewChunkArchiveWriter: %v", err)
	}
	var offs []int64
	for _, c := range chunks {
		off, err := w.Add(c.digest, c.data)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		offs = append(offs, off)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return offs, w
}

// openChunkArchive opens the chunk archive at the drive's position.
func openChunkArchive(t testing.TB, d device.Drive) *ChunkArchiveReader {
	t.Helper()
	fr, err := NewFileReader(context.Background(), d, 0)
	if err != nil {
		t.Fatalf("NewFileReader: %v", err)
	}
	r, err := NewChunkArchiveReader(fr)
	if err != nil {
		t.Fatalf("NewChunkArchiveReader: %v", err)
	}
	return r
}

func TestChunkArchiveRoundTrip(t *testing.T) {
	d := &memDrive{}
	chunks := append(testChunks(), newChunk(testData(13, MaxChunkSize)))
	offs, _ := writeChunkArchive(t, d, chunks)
	if d.files() != 1 {
		t.Fatalf("%d filemarks on tape, want 1", d.files())
	}
	d.pos = 0
	r := openChunkArchive(t, d)
	if h := r.Header(); h != (ChunkArchiveHeader{Set: testSet, Seq: 4}) {
		t.Errorf("header %+v", h)
	}
	var want int64
	for i, c := range chunks {
		digest, off, data, err := r.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if digest != c.digest || !bytes.Equal(data, c.data) {
			t.Errorf("chunk %d: digest %x, %d bytes; want %x, %d bytes", i, digest, len(data), c.digest, len(c.data))
		}
		if off != offs[i] || off != want {
			t.Errorf("chunk %d: offset %d, Add returned %d, want %d", i, off, offs[i], want)
		}
		want += ChunkEntryHeaderSize
		if !allZero(c.data) {
			want += int64(len(c.data))
		}
	}
	if _, _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at the end: %v, want io.EOF", err)
	}
	if _, _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after the end: %v, want io.EOF again", err)
	}
}

func TestChunkArchiveZeroChunkStoresNoData(t *testing.T) {
	d := &memDrive{}
	writeChunkArchive(t, d, []testChunk{newChunk(make([]byte, MaxChunkSize))})
	if n := d.used(); n > MinBlockSize {
		t.Errorf("a %d-byte zero chunk takes %d bytes of tape", MaxChunkSize, n)
	}
}

func TestChunkArchiveAddRejects(t *testing.T) {
	w, err := NewChunkArchiveWriter(context.Background(), &memDrive{}, 0, ChunkArchiveHeader{Set: testSet}, uuid.UUID{1})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, MaxChunkSize + 1} {
		if _, err := w.Add([32]byte{}, make([]byte, n)); err == nil {
			t.Errorf("Add of %d bytes succeeded", n)
		}
	}
	if _, err := NewChunkArchiveWriter(context.Background(), &memDrive{}, 0, ChunkArchiveHeader{}, uuid.UUID{1}); err == nil {
		t.Error("NewChunkArchiveWriter accepted an all-zero set UUID")
	}
}

func TestChunkArchiveEarlyWarning(t *testing.T) {
	const bs = MinBlockSize
	d := &memDrive{earlyWarning: 3 * bs}
	w, err := NewChunkArchiveWriter(context.Background(), d, bs, ChunkArchiveHeader{Set: testSet}, uuid.UUID{2})
	if err != nil {
		t.Fatal(err)
	}
	var added []testChunk
	for i := range 100 {
		c := newChunk(testData(uint64(i), 20_000+i))
		if _, err := w.Add(c.digest, c.data); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		added = append(added, c)
		if w.EarlyWarning() {
			break
		}
	}
	if !w.EarlyWarning() {
		t.Fatal("EarlyWarning never became true")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close past early warning: %v", err)
	}
	d.pos = 0
	r := openChunkArchive(t, d)
	for i, c := range added {
		digest, _, data, err := r.Next()
		if err != nil || digest != c.digest || !bytes.Equal(data, c.data) {
			t.Fatalf("chunk %d: %x, %d bytes, %v", i, digest, len(data), err)
		}
	}
	if _, _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after %d chunks: %v, want io.EOF", len(added), err)
	}
}

// damageStream xors x into byte off of the payload stream (content header
// included) of tape file file and reseals the record's CRCs, as a writer
// that was handed bad data would have written it.
func damageStream(d *memDrive, file int, off int64, x byte) {
	pc := int64(MinBlockSize - RecordHeaderSize)
	rec := d.objs[d.record(file, int(off/pc))].data
	rec[RecordHeaderSize+off%pc] ^= x
	n := binary.LittleEndian.Uint32(rec[24:])
	binary.LittleEndian.PutUint32(rec[28:], crc32c(rec[RecordHeaderSize:RecordHeaderSize+n]))
	reseal(rec)
}

func TestChunkArchiveCorruptChunk(t *testing.T) {
	chunks := testChunks()
	d := &memDrive{}
	offs, w := writeChunkArchive(t, d, chunks)
	hdrLen := int64(w.w.hdrLen)
	// Damage the middle of chunk 1's data.
	damageStream(d, 0, hdrLen+offs[1]+ChunkEntryHeaderSize+50_000, 0x40)

	d.pos = 0
	r := openChunkArchive(t, d)
	if _, _, _, err := r.Next(); err != nil {
		t.Fatalf("chunk 0: %v", err)
	}
	digest, off, data, err := r.Next()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged chunk 1: %v, want ErrCorrupt", err)
	}
	if digest != chunks[1].digest || off != offs[1] || data != nil {
		t.Errorf("damaged chunk: digest %x offset %d, %d bytes; want %x at %d, no data", digest, off, len(data), chunks[1].digest, offs[1])
	}
	for _, s := range []string{fmt.Sprintf("%x", chunks[1].digest), fmt.Sprintf("offset %d", offs[1])} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	for i := 2; i < len(chunks); i++ {
		digest, _, data, err := r.Next()
		if err != nil || digest != chunks[i].digest || !bytes.Equal(data, chunks[i].data) {
			t.Fatalf("chunk %d after the damaged one: %x, %v", i, digest, err)
		}
	}
	if _, _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestChunkArchiveDamagedEntryHeader(t *testing.T) {
	chunks := testChunks()
	d := &memDrive{}
	offs, w := writeChunkArchive(t, d, chunks)
	damageStream(d, 0, int64(w.w.hdrLen)+offs[2]+9, 0x01) // chunk 2's length

	d.pos = 0
	r := openChunkArchive(t, d)
	for i := range 2 {
		if _, _, _, err := r.Next(); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	for range 2 {
		if _, off, _, err := r.Next(); !errors.Is(err, ErrCorrupt) || off != offs[2] {
			t.Fatalf("damaged entry header: offset %d, %v; want offset %d, ErrCorrupt (sticky)", off, err, offs[2])
		}
	}
}

func TestChunkArchiveAborted(t *testing.T) {
	d := &memDrive{}
	w, err := NewChunkArchiveWriter(context.Background(), d, MinBlockSize, ChunkArchiveHeader{Set: testSet}, uuid.UUID{3})
	if err != nil {
		t.Fatal(err)
	}
	c := newChunk([]byte("before the abort"))
	if _, err := w.Add(c.digest, c.data); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	d.pos = 0
	r := openChunkArchive(t, d)
	if digest, _, _, err := r.Next(); err != nil || digest != c.digest {
		t.Fatalf("chunk before the abort: %v", err)
	}
	if _, _, _, err := r.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("after the abort: %v, want ErrIncomplete", err)
	}
}

func TestNewChunkArchiveReaderRejects(t *testing.T) {
	d := &memDrive{}
	writeFile(t, d, MinBlockSize, ContentHeader{Type: ContentSnapshotArchive, UUID: uuid.UUID{1}, Ctime: testHeader(0).Ctime}, nil)
	writeFile(t, d, MinBlockSize, ContentHeader{Type: ContentChunkArchive, UUID: uuid.UUID{2}, Ctime: testHeader(0).Ctime, Header: []byte(`{"set":"00000000-0000-0000-0000-000000000000"}`)}, nil)
	writeFile(t, d, MinBlockSize, ContentHeader{Type: ContentChunkArchive, UUID: uuid.UUID{3}, Ctime: testHeader(0).Ctime, Header: []byte(`[1]`)}, nil)
	d.pos = 0
	for i := range 3 {
		fr, err := NewFileReader(context.Background(), d, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewChunkArchiveReader(fr); !errors.Is(err, ErrCorrupt) {
			t.Errorf("file %d: %v, want ErrCorrupt", i, err)
		}
		if err := fr.SkipToEnd(); err != nil {
			t.Fatal(err)
		}
	}
}

func sampleChunkEntryHeader() []byte {
	var digest [32]byte
	for i := range digest {
		digest[i] = byte(i)
	}
	b := make([]byte, ChunkEntryHeaderSize)
	putChunkEntryHeader(b, chunkFlagZero, 0x00400000, digest)
	return b
}

func TestChunkEntryGolden(t *testing.T) {
	b := sampleChunkEntryHeader()
	golden(t, "chunk-entry.golden", b)
	flags, size, digest, err := decodeChunkEntryHeader(b)
	if err != nil || flags != chunkFlagZero || size != 0x00400000 || digest[31] != 31 {
		t.Errorf("decoded %#x %d %x, %v", flags, size, digest, err)
	}
}

func TestDecodeChunkEntryHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b []byte)
		want   string
	}{
		{"magic", func(b []byte) { b[1] = 'X' }, "magic"},
		{"crc", func(b []byte) { b[20] ^= 1 }, "checksum"},
		{"flags", func(b []byte) { b[4] = 0x80 }, "unknown flags"},
		{"reserved", func(b []byte) { b[6] = 1 }, "reserved"},
		{"zero length", func(b []byte) { clear(b[8:12]) }, "length 0"},
		{"too long", func(b []byte) { binary.LittleEndian.PutUint32(b[8:], MaxChunkSize+1) }, "outside 1 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sampleChunkEntryHeader()
			tt.mutate(b)
			if tt.name != "crc" {
				binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44]))
			}
			_, _, _, err := decodeChunkEntryHeader(b)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

// BenchmarkChunkArchiveAdd writes 1 MiB chunks to a drive that discards
// them; compare with BenchmarkFileWriter, the record layer alone.
func BenchmarkChunkArchiveAdd(b *testing.B) {
	c := newChunk(testData(1, 1<<20))
	w, err := NewChunkArchiveWriter(context.Background(), &discardDrive{}, DefaultBlockSize, ChunkArchiveHeader{Set: testSet}, uuid.UUID{1})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(c.data)))
	for b.Loop() {
		if _, err := w.Add(c.digest, c.data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChunkArchiveNextUnchecked reads into caller buffers full of garbage
// (as a recycled pool hands out): data chunks overwrite them, zero chunks
// clear them; Check accepts the good chunks and names the damaged one.
func TestChunkArchiveNextUnchecked(t *testing.T) {
	chunks := testChunks()
	d := &memDrive{}
	offs, w := writeChunkArchive(t, d, chunks)
	damageStream(d, 0, int64(w.w.hdrLen)+offs[1]+ChunkEntryHeaderSize+50_000, 0x40)
	d.pos = 0
	r := openChunkArchive(t, d)
	dirty := func(n int) []byte { return bytes.Repeat([]byte{0xAA}, n) }
	for i, c := range chunks {
		digest, off, data, err := r.NextUnchecked(dirty)
		if err != nil || digest != c.digest || off != offs[i] || len(data) != len(c.data) {
			t.Fatalf("chunk %d: %x at %d, %d bytes, %v", i, digest, off, len(data), err)
		}
		err = r.Check(digest, off, data)
		if i == 1 {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%x", c.digest)) {
				t.Errorf("damaged chunk: Check = %v", err)
			}
			continue
		}
		if err != nil || !bytes.Equal(data, c.data) {
			t.Errorf("chunk %d (zero %v): Check = %v, data equal %v", i, allZero(c.data), err, bytes.Equal(data, c.data))
		}
	}
	if _, _, _, err := r.NextUnchecked(dirty); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestChunkArchiveSkipTo: SkipTo reaches an entry far into the archive
// without reading the records before it (they read back as medium
// errors here), and reading goes on from there to the end.
func TestChunkArchiveSkipTo(t *testing.T) {
	d := &memDrive{}
	var chunks []testChunk
	for i := range 40 {
		chunks = append(chunks, newChunk(testData(uint64(100+i), 100_000+i)))
	}
	offs, _ := writeChunkArchive(t, d, chunks)
	const target = 30
	per := int64(MinBlockSize - RecordHeaderSize)
	// Every record wholly before the target entry's record: never read.
	d.badRead = map[int]bool{}
	first := d.record(0, 1)
	for obj := first; obj < first+int(offs[target]/per)-1; obj++ {
		d.badRead[obj] = true
	}
	if len(d.badRead) < 20 {
		t.Fatalf("only %d records to skip: the test needs a larger archive", len(d.badRead))
	}
	d.pos = 0
	r := openChunkArchive(t, d)
	if err := r.SkipTo(offs[target]); err != nil {
		t.Fatalf("SkipTo: %v", err)
	}
	for i := target; i < len(chunks); i++ {
		digest, off, data, err := r.Next()
		if err != nil {
			t.Fatalf("Next %d after the skip: %v", i, err)
		}
		if digest != chunks[i].digest || off != offs[i] || !bytes.Equal(data, chunks[i].data) {
			t.Fatalf("chunk %d after the skip: offset %d, want %d", i, off, offs[i])
		}
	}
	if _, _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at the end: %v, want io.EOF", err)
	}
	// Back is refused; past the end is the end.
	d.badRead = nil
	d.pos = 0
	r = openChunkArchive(t, d)
	if err := r.SkipTo(offs[2]); err != nil {
		t.Fatal(err)
	}
	if err := r.SkipTo(offs[1]); err == nil {
		t.Error("SkipTo backwards succeeded")
	}
	d.pos = 0
	r = openChunkArchive(t, d)
	if err := r.SkipTo(1 << 30); !errors.Is(err, ErrIncomplete) && !errors.Is(err, io.EOF) {
		t.Errorf("SkipTo past the end: %v, want the end of the stream", err)
	}
}
