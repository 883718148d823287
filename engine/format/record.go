package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/google/uuid"
)

// FormatVersion is the version of the on-tape format this package writes
// and the only one it reads. It is stored in every record header and every
// content header; docs/tape-format.md describes version 1.
const FormatVersion = 1

// Block sizes. Every record of a tape file has the same size, the block size
// of that file. It is a multiple of 4 KiB between MinBlockSize and
// MaxBlockSize.
const (
	DefaultBlockSize = 256 << 10
	MinBlockSize     = 64 << 10
	MaxBlockSize     = 4 << 20
	blockSizeAlign   = 4 << 10
)

// RecordHeaderSize is the size of the fixed header at the start of every
// record; the payload follows it.
const RecordHeaderSize = 64

// Record flags.
const (
	// flagEndOfStream marks the last record of a tape file.
	flagEndOfStream uint16 = 1 << 0
	// flagIncomplete marks, together with flagEndOfStream, the last record
	// of a file whose writer stopped early (FileWriter.Abort).
	flagIncomplete uint16 = 1 << 1

	knownFlags = flagEndOfStream | flagIncomplete
)

// recordMagic opens every record. Like the PNG signature it has a byte with
// the high bit set and a CR LF pair, so text-mode or 7-bit damage shows.
var recordMagic = [8]byte{0x89, 'T', 'F', 'S', 'R', '\r', '\n', 0x1a}

var (
	// ErrCorrupt is wrapped by every error about on-tape data that does not
	// decode: bad magic, unsupported version, impossible lengths, CRC
	// mismatches, records out of sequence. The wrapping error says which
	// check failed and where.
	ErrCorrupt = errors.New("corrupt tape data")

	// ErrIncomplete is returned by FileReader.Read after the last byte of a
	// tape file whose writer did not finish it: the file was closed with
	// FileWriter.Abort (early warning or an error), or it ends without an
	// end-of-stream record. The data read before it is intact.
	ErrIncomplete = errors.New("tape file is incomplete: its writer stopped before the end of the archive")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c returns the CRC-32C (Castagnoli) of b.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// corruptf returns an error wrapping ErrCorrupt with the formatted detail.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// ValidateBlockSize reports whether n can be the block size of a tape file:
// a multiple of 4 KiB from 64 KiB to 4 MiB.
func ValidateBlockSize(n int) error {
	if n < MinBlockSize || n > MaxBlockSize || n%blockSizeAlign != 0 {
		return fmt.Errorf("invalid block size %d: use a multiple of 4096 from %d (64 KiB) to %d (4 MiB)", n, MinBlockSize, MaxBlockSize)
	}
	return nil
}

// recordHeader is the decoded fixed header of one record. See
// docs/tape-format.md for the byte layout.
type recordHeader struct {
	Flags      uint16
	BlockSize  uint32
	Seq        uint64
	PayloadLen uint32
	PayloadCRC uint32
	Content    uuid.UUID
}

func (h recordHeader) endOfStream() bool { return h.Flags&flagEndOfStream != 0 }
func (h recordHeader) incomplete() bool  { return h.Flags&flagIncomplete != 0 }

// put writes the header into b[:RecordHeaderSize], computing the header CRC.
// PayloadCRC must already be set.
func (h recordHeader) put(b []byte) {
	b = b[:RecordHeaderSize]
	copy(b[0:8], recordMagic[:])
	le := binary.LittleEndian
	le.PutUint16(b[8:], FormatVersion)
	le.PutUint16(b[10:], h.Flags)
	le.PutUint32(b[12:], h.BlockSize)
	le.PutUint64(b[16:], h.Seq)
	le.PutUint32(b[24:], h.PayloadLen)
	le.PutUint32(b[28:], h.PayloadCRC)
	copy(b[32:48], h.Content[:])
	clear(b[48:60])
	le.PutUint32(b[60:], crc32c(b[:60]))
}

// decodeRecordHeader decodes and checks the header at the start of b. It
// checks the header on its own (magic, version, header CRC, flags, block
// size, payload length); checkRecord then checks it against the record.
// Errors wrap ErrCorrupt.
func decodeRecordHeader(b []byte) (recordHeader, error) {
	var h recordHeader
	if len(b) < RecordHeaderSize {
		return h, corruptf("record of %d bytes is shorter than the %d-byte record header", len(b), RecordHeaderSize)
	}
	if [8]byte(b[0:8]) != recordMagic {
		return h, corruptf("bad record magic % x", b[0:8])
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[8:]); v != FormatVersion {
		return h, corruptf("record format version %d, this tapefs reads version %d", v, FormatVersion)
	}
	if got, want := le.Uint32(b[60:]), crc32c(b[:60]); got != want {
		return h, corruptf("record header checksum %08x, computed %08x", got, want)
	}
	for i, c := range b[48:60] {
		if c != 0 {
			return h, corruptf("record header reserved byte %d is %#02x, must be zero", 48+i, c)
		}
	}
	h.Flags = le.Uint16(b[10:])
	h.BlockSize = le.Uint32(b[12:])
	h.Seq = le.Uint64(b[16:])
	h.PayloadLen = le.Uint32(b[24:])
	h.PayloadCRC = le.Uint32(b[28:])
	h.Content = uuid.UUID(b[32:48])
	if h.Flags&^knownFlags != 0 {
		return h, corruptf("record %d has unknown flags %#04x", h.Seq, h.Flags&^knownFlags)
	}
	if h.incomplete() && !h.endOfStream() {
		return h, corruptf("record %d is flagged incomplete but not end of stream", h.Seq)
	}
	if err := ValidateBlockSize(int(h.BlockSize)); err != nil {
		return h, corruptf("record %d: %v", h.Seq, err)
	}
	if h.PayloadLen > h.BlockSize-RecordHeaderSize {
		return h, corruptf("record %d payload length %d exceeds %d bytes available in a %d-byte block", h.Seq, h.PayloadLen, h.BlockSize-RecordHeaderSize, h.BlockSize)
	}
	return h, nil
}

// checkRecord decodes the header of the whole record rec and checks that
// the record has the header's block size and that the payload CRC matches.
// It returns the header and the payload (a sub-slice of rec).
func checkRecord(rec []byte) (recordHeader, []byte, error) {
	h, err := decodeRecordHeader(rec)
	if err != nil {
		return h, nil, err
	}
	if len(rec) != int(h.BlockSize) {
		return h, nil, corruptf("record %d is %d bytes long, its header says block size %d", h.Seq, len(rec), h.BlockSize)
	}
	payload := rec[RecordHeaderSize : RecordHeaderSize+int(h.PayloadLen)]
	if got := crc32c(payload); got != h.PayloadCRC {
		return h, nil, corruptf("record %d payload checksum %08x, header says %08x", h.Seq, got, h.PayloadCRC)
	}
	return h, payload, nil
}
