package format

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

// MaxChunkSize is the largest chunk a chunk archive holds.
const MaxChunkSize = 16 << 20

// ChunkEntryHeaderSize is the size of the fixed header before each chunk's
// data in a chunk archive.
const ChunkEntryHeaderSize = 48

// Chunk entry flags.
const (
	// chunkFlagZero: the chunk is all zero bytes; its data is not stored.
	chunkFlagZero uint8 = 1 << 0

	knownChunkFlags = chunkFlagZero
)

// chunkEntryMagic opens every chunk entry ("\x89CHK").
var chunkEntryMagic = [4]byte{0x89, 'C', 'H', 'K'}

// ChunkArchiveHeader is the JSON header of a chunk archive: the media set
// the chunks belong to and the sequence number of the tape in that set.
type ChunkArchiveHeader struct {
	Set uuid.UUID `json:"set"`
	Seq uint64    `json:"seq"`
}

// ChunkArchiveWriter writes one chunk archive (ContentChunkArchive): a
// sequence of chunk entries, each a digest, a length and the chunk's bytes.
// It is used by one goroutine, like the FileWriter under it.
type ChunkArchiveWriter struct {
	w   *FileWriter
	hdr [ChunkEntryHeaderSize]byte
}

// NewChunkArchiveWriter starts a chunk archive with content UUID id at the
// drive's current position (see NewFileWriter for blockSize and for what
// happens to the objects after that position). h.Set must not be all
// zeros; id must not be all zeros.
func NewChunkArchiveWriter(ctx context.Context, d device.Drive, blockSize int, h ChunkArchiveHeader, id uuid.UUID) (*ChunkArchiveWriter, error) {
	if h.Set == uuid.Nil {
		return nil, errors.New("chunk archive: media-set UUID is all zeros")
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("chunk archive: %w", err)
	}
	w, err := NewFileWriter(ctx, d, blockSize, ContentHeader{
		Type: ContentChunkArchive, UUID: id, Ctime: time.Now().UTC(), Header: js,
	})
	if err != nil {
		return nil, fmt.Errorf("start chunk archive: %w", err)
	}
	return &ChunkArchiveWriter{w: w}, nil
}

// Add appends one chunk and returns the offset of its entry within the
// archive payload (the byte stream after the content header), which a
// catalog stores as ChunkLocation.Offset. digest must be the SHA-256 of
// data; Add does not recompute it, the reader checks it. data is 1 to
// MaxChunkSize bytes; a chunk of only zero bytes is stored without its data.
//
// Add returns once the entry is buffered; the entry is on tape when Close
// returns. Past early warning Add still succeeds: the caller checks
// EarlyWarning after each Add and then calls Close. An error from the drive
// is sticky (see FileWriter.Write); the caller then calls Abort, and the
// chunks of this archive must be written again to another archive.
func (w *ChunkArchiveWriter) Add(digest [32]byte, data []byte) (int64, error) {
	if len(data) == 0 || len(data) > MaxChunkSize {
		return 0, fmt.Errorf("chunk archive: chunk %x is %d bytes; a chunk is 1 to %d bytes", digest, len(data), MaxChunkSize)
	}
	off := w.w.BytesWritten()
	var flags uint8
	if allZero(data) {
		flags |= chunkFlagZero
	}
	putChunkEntryHeader(w.hdr[:], flags, uint32(len(data)), digest)
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return 0, fmt.Errorf("chunk archive: add chunk %x: %w", digest, err)
	}
	if flags&chunkFlagZero == 0 {
		if _, err := w.w.Write(data); err != nil {
			return 0, fmt.Errorf("chunk archive: add chunk %x: %w", digest, err)
		}
	}
	return off, nil
}

// EarlyWarning reports whether the drive signalled early warning while this
// archive was written; the caller should stop adding and Close.
func (w *ChunkArchiveWriter) EarlyWarning() bool { return w.w.EarlyWarning() }

// BytesWritten returns the payload bytes of the archive so far, entry
// headers included.
func (w *ChunkArchiveWriter) BytesWritten() int64 { return w.w.BytesWritten() }

// Close ends the archive and writes its filemark. When it returns nil,
// every chunk added is on the medium.
func (w *ChunkArchiveWriter) Close() error {
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("close chunk archive: %w", err)
	}
	return nil
}

// Abort ends the archive as incomplete (FileWriter.Abort), for a writer
// that failed. A reader returns the entries before the failure and then an
// error wrapping ErrIncomplete; the chunks do not count as written.
func (w *ChunkArchiveWriter) Abort() error {
	if err := w.w.Abort(); err != nil {
		return fmt.Errorf("abort chunk archive: %w", err)
	}
	return nil
}

// putChunkEntryHeader encodes a chunk entry header into b.
func putChunkEntryHeader(b []byte, flags uint8, n uint32, digest [32]byte) {
	b = b[:ChunkEntryHeaderSize]
	copy(b[0:4], chunkEntryMagic[:])
	b[4] = flags
	clear(b[5:8])
	binary.LittleEndian.PutUint32(b[8:], n)
	copy(b[12:44], digest[:])
	binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44]))
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.NativeEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ChunkArchiveReader reads the entries of a chunk archive in order. It is
// used by one goroutine, like the FileReader under it.
type ChunkArchiveReader struct {
	r   *FileReader
	h   ChunkArchiveHeader
	off int64 // payload offset of the next entry
	err error // sticky: end of the stream or an entry header that does not decode
	hdr [ChunkEntryHeaderSize]byte
}

// NewChunkArchiveReader reads chunk entries from r, a FileReader whose
// content header is a chunk archive's. A header of another type or a JSON
// header that does not decode gives an error wrapping ErrCorrupt.
func NewChunkArchiveReader(r *FileReader) (*ChunkArchiveReader, error) {
	ch := r.Header()
	if ch.Type != ContentChunkArchive {
		return nil, corruptf("tape file %s is a %s, not a chunk archive", ch.UUID, ch.Type)
	}
	h, err := decodeChunkArchiveHeader(ch.Header)
	if err != nil {
		return nil, fmt.Errorf("chunk archive %s: %w", ch.UUID, err)
	}
	return &ChunkArchiveReader{r: r, h: h}, nil
}

// decodeChunkArchiveHeader decodes and checks the JSON header of a chunk
// archive. Errors wrap ErrCorrupt.
func decodeChunkArchiveHeader(js []byte) (ChunkArchiveHeader, error) {
	var h ChunkArchiveHeader
	if err := json.Unmarshal(js, &h); err != nil {
		return h, corruptf("chunk archive header: %v", err)
	}
	if h.Set == uuid.Nil {
		return h, corruptf("chunk archive header: media-set UUID is all zeros")
	}
	return h, nil
}

// Header returns the archive's JSON header.
func (r *ChunkArchiveReader) Header() ChunkArchiveHeader { return r.h }

// Next returns the next chunk: its digest, the payload offset of its entry
// and its data (a new slice). At the end of the archive it returns io.EOF.
//
// If the data does not match the digest, Next returns the digest and offset
// with nil data and an error wrapping ErrCorrupt that names both; the next
// call reads the following entry. An entry header that does not decode is
// ErrCorrupt too, but the entries after it cannot be found and later calls
// return the same error. An archive aborted by its writer ends with an
// error wrapping ErrIncomplete; so does an archive that ends inside an
// entry. Errors of the FileReader (ErrCorrupt, device errors) are returned
// wrapped and are sticky.
func (r *ChunkArchiveReader) Next() (digest [32]byte, offset int64, data []byte, err error) {
	digest, offset, data, err = r.NextUnchecked(nil)
	if err != nil {
		return digest, offset, data, err
	}
	if err := r.Check(digest, offset, data); err != nil {
		return digest, offset, nil, err
	}
	return digest, offset, data, nil
}

// NextUnchecked is Next without the digest check, which the caller makes
// with Check (on another goroutine, say). The data is read into a buffer
// from alloc (a new slice when alloc is nil) of the chunk's length.
func (r *ChunkArchiveReader) NextUnchecked(alloc func(n int) []byte) (digest [32]byte, offset int64, data []byte, err error) {
	if r.err != nil {
		return digest, r.off, nil, r.err
	}
	offset = r.off
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			r.err = io.EOF
		} else {
			r.err = r.streamError(err, "entry header")
		}
		return digest, offset, nil, r.err
	}
	flags, size, digest, err := decodeChunkEntryHeader(r.hdr[:])
	if err != nil {
		r.err = fmt.Errorf("chunk archive %s: entry at offset %d: %w", r.r.Header().UUID, offset, err)
		return digest, offset, nil, r.err
	}
	if alloc == nil {
		data = make([]byte, size)
	} else {
		data = alloc(int(size))
	}
	if flags&chunkFlagZero == 0 {
		if _, err := io.ReadFull(r.r, data); err != nil {
			r.err = r.streamError(err, fmt.Sprintf("data of chunk %x", digest))
			return digest, offset, nil, r.err
		}
		r.off += int64(size)
	} else if alloc != nil {
		clear(data)
	}
	r.off += ChunkEntryHeaderSize
	return digest, offset, data, nil
}

// SkipTo moves to the entry at payload offset off, at or after the next
// entry's, without reading the records in between (FileReader.Skip). off
// must be where an entry starts (a chunk location from a catalog or
// catalog archive); a wrong offset shows as a corrupt entry header on the
// next read. Errors are sticky, as Next's.
func (r *ChunkArchiveReader) SkipTo(off int64) error {
	if r.err != nil {
		return r.err
	}
	if off < r.off {
		return fmt.Errorf("chunk archive %s: cannot skip back from offset %d to %d", r.r.Header().UUID, r.off, off)
	}
	if err := r.r.Skip(off - r.off); err != nil {
		r.err = r.streamError(err, "skipped entries")
		return r.err
	}
	r.off = off
	return nil
}

// Offset is the payload offset of the next entry.
func (r *ChunkArchiveReader) Offset() int64 { return r.off }

// Check returns nil if data matches digest, and otherwise the error
// (wrapping ErrCorrupt) that Next returns for the chunk at offset.
func (r *ChunkArchiveReader) Check(digest [32]byte, offset int64, data []byte) error {
	if sha256.Sum256(data) != digest {
		return corruptf("chunk archive %s: chunk %x at offset %d: data does not match its SHA-256 digest", r.r.Header().UUID, digest, offset)
	}
	return nil
}

// streamError turns an error that stopped reading what inside an entry
// into the reader's sticky error.
func (r *ChunkArchiveReader) streamError(err error, what string) error {
	id := r.r.Header().UUID
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("chunk archive %s: stream ends inside the %s at offset %d: %w", id, what, r.off, ErrIncomplete)
	}
	return fmt.Errorf("chunk archive %s: reading the %s at offset %d: %w", id, what, r.off, err)
}

// decodeChunkEntryHeader checks a chunk entry header and returns its
// fields. Errors wrap ErrCorrupt.
func decodeChunkEntryHeader(b []byte) (flags uint8, size uint32, digest [32]byte, err error) {
	if len(b) < ChunkEntryHeaderSize {
		return 0, 0, digest, corruptf("chunk entry header needs %d bytes, got %d", ChunkEntryHeaderSize, len(b))
	}
	if [4]byte(b[0:4]) != chunkEntryMagic {
		return 0, 0, digest, corruptf("bad chunk entry magic % x", b[0:4])
	}
	le := binary.LittleEndian
	if got, want := le.Uint32(b[44:]), crc32c(b[:44]); got != want {
		return 0, 0, digest, corruptf("chunk entry header checksum %08x, computed %08x", got, want)
	}
	flags = b[4]
	size = le.Uint32(b[8:])
	digest = [32]byte(b[12:44])
	switch {
	case flags&^knownChunkFlags != 0:
		return 0, 0, digest, corruptf("chunk entry has unknown flags %#02x", flags&^knownChunkFlags)
	case b[5] != 0 || b[6] != 0 || b[7] != 0:
		return 0, 0, digest, corruptf("chunk entry reserved bytes are % x, must be zero", b[5:8])
	case size == 0 || size > MaxChunkSize:
		return 0, 0, digest, corruptf("chunk entry length %d is outside 1 to %d", size, MaxChunkSize)
	}
	return flags, size, digest, nil
}
