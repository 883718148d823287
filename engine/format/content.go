package format

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ContentType says what a tape file holds. It is stored as a little-endian
// uint32 in the content header; 0 is never valid. Readers skip files whose
// type they do not know.
type ContentType uint32

// Content types of format version 1.
const (
	// ContentMediaLabel is file 0 of every tapefs tape (MediaLabel).
	ContentMediaLabel ContentType = 1
	// ContentMediaSetLabel is file 1 (MediaSetLabel).
	ContentMediaSetLabel ContentType = 2
	// ContentChunkArchive holds deduplicated data chunks
	// (ChunkArchiveWriter).
	ContentChunkArchive ContentType = 3
	// ContentSnapshotArchive holds the directory tree of one snapshot with
	// chunk references (SnapshotArchiveWriter).
	ContentSnapshotArchive ContentType = 4
	// ContentCatalogArchive holds this tape's part of the catalog
	// (WriteCatalogArchive).
	ContentCatalogArchive ContentType = 5
)

// String returns the type's name as used in docs/tape-format.md, or
// "content-type(N)" for a type this version does not know.
func (t ContentType) String() string {
	switch t {
	case ContentMediaLabel:
		return "media-label"
	case ContentMediaSetLabel:
		return "media-set-label"
	case ContentChunkArchive:
		return "chunk-archive"
	case ContentSnapshotArchive:
		return "snapshot-archive"
	case ContentCatalogArchive:
		return "catalog-archive"
	}
	return "content-type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// MaxHeaderJSON bounds the JSON header of a content header, so a reader never
// allocates more than this for a damaged length field.
const MaxHeaderJSON = 64 << 10

// Creation times are limited to the years 1 to 9999, the range RFC 3339
// (used by the label JSON) can express.
var (
	minCtime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxCtime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// contentFixedSize is the size of the content header before its JSON.
const contentFixedSize = 52

// contentMagic opens the stream of every tape file.
var contentMagic = [8]byte{0x89, 'T', 'F', 'S', 'C', '\r', '\n', 0x1a}

// ContentHeader opens the byte stream of every tape file: what the file
// holds, its identity and a JSON header whose schema depends on Type.
type ContentHeader struct {
	Type ContentType
	// UUID identifies this tape file's content; never all zeros. Every
	// record of the file carries it too.
	UUID uuid.UUID
	// Ctime is the creation time, stored with nanosecond precision and
	// read back in UTC.
	Ctime time.Time
	// Header is the type-specific JSON header, at most MaxHeaderJSON bytes;
	// empty means none.
	Header json.RawMessage
}

// validate checks what a writer must supply.
func (h ContentHeader) validate() error {
	switch {
	case h.Type == 0:
		return fmt.Errorf("content header: content type 0 is not valid")
	case h.UUID == uuid.Nil:
		return fmt.Errorf("content header: content UUID is all zeros")
	case h.Ctime.IsZero():
		return fmt.Errorf("content header: creation time is not set")
	case h.Ctime.Unix() < minCtime || h.Ctime.Unix() > maxCtime:
		return fmt.Errorf("content header: creation time %v is outside the years 1 to 9999", h.Ctime)
	case len(h.Header) > MaxHeaderJSON:
		return fmt.Errorf("content header: JSON header is %d bytes, at most %d allowed", len(h.Header), MaxHeaderJSON)
	case len(h.Header) > 0 && !json.Valid(h.Header):
		return fmt.Errorf("content header: JSON header is not valid JSON")
	}
	return nil
}

// encode returns the content header bytes: fixed part, then the JSON.
func (h ContentHeader) encode() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, contentFixedSize+len(h.Header))
	copy(b[0:8], contentMagic[:])
	le := binary.LittleEndian
	le.PutUint16(b[8:], FormatVersion)
	le.PutUint32(b[12:], uint32(h.Type))
	copy(b[16:32], h.UUID[:])
	le.PutUint64(b[32:], uint64(h.Ctime.Unix()))
	le.PutUint32(b[40:], uint32(h.Ctime.Nanosecond()))
	le.PutUint32(b[44:], uint32(len(h.Header)))
	copy(b[contentFixedSize:], h.Header)
	crc := crc32.Update(crc32c(b[:48]), castagnoli, h.Header)
	le.PutUint32(b[48:], crc)
	return b, nil
}

// decodeContentFixed decodes the fixed part of a content header and returns
// it (without Header) and the length of the JSON that follows. The CRC is
// checked by decodeContentHeader once the JSON is there.
func decodeContentFixed(b []byte) (ContentHeader, int, error) {
	var h ContentHeader
	if len(b) < contentFixedSize {
		return h, 0, corruptf("content header needs %d bytes, stream holds %d", contentFixedSize, len(b))
	}
	if [8]byte(b[0:8]) != contentMagic {
		return h, 0, corruptf("bad content header magic % x", b[0:8])
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[8:]); v != FormatVersion {
		return h, 0, corruptf("content header format version %d, this tapefs reads version %d", v, FormatVersion)
	}
	if r := le.Uint16(b[10:]); r != 0 {
		return h, 0, corruptf("content header reserved field is %#04x, must be zero", r)
	}
	h.Type = ContentType(le.Uint32(b[12:]))
	h.UUID = uuid.UUID(b[16:32])
	secs := int64(le.Uint64(b[32:]))
	nanos := le.Uint32(b[40:])
	n := le.Uint32(b[44:])
	if h.Type == 0 {
		return h, 0, corruptf("content type 0")
	}
	if h.UUID == uuid.Nil {
		return h, 0, corruptf("content UUID is all zeros")
	}
	if secs < minCtime || secs > maxCtime {
		return h, 0, corruptf("content header creation time %d seconds is outside the years 1 to 9999", secs)
	}
	if nanos >= 1e9 {
		return h, 0, corruptf("content header creation time nanoseconds %d out of range", nanos)
	}
	if n > MaxHeaderJSON {
		return h, 0, corruptf("content header JSON length %d exceeds the limit of %d", n, MaxHeaderJSON)
	}
	h.Ctime = time.Unix(secs, int64(nanos)).UTC()
	return h, int(n), nil
}

// decodeContentHeader decodes a complete content header from the start of b
// and returns it and the number of bytes it occupies. Errors wrap
// ErrCorrupt.
func decodeContentHeader(b []byte) (ContentHeader, int, error) {
	h, n, err := decodeContentFixed(b)
	if err != nil {
		return h, 0, err
	}
	if len(b) < contentFixedSize+n {
		return h, 0, corruptf("content header JSON of %d bytes is cut short at %d", n, len(b)-contentFixedSize)
	}
	js := b[contentFixedSize : contentFixedSize+n]
	want := binary.LittleEndian.Uint32(b[48:])
	if got := crc32.Update(crc32c(b[:48]), castagnoli, js); got != want {
		return h, 0, corruptf("content header checksum %08x, computed %08x", want, got)
	}
	if n > 0 {
		if !json.Valid(js) {
			return h, 0, corruptf("content header JSON is not valid JSON")
		}
		h.Header = json.RawMessage(append([]byte(nil), js...))
	}
	return h, contentFixedSize + n, nil
}
