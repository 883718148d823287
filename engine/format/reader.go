package format

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

// probeBuffers hold MaxBlockSize buffers for reading the first record of a
// file whose block size is not known yet; reading many files in a row then
// does not allocate 4 MiB per file.
var probeBuffers = sync.Pool{New: func() any {
	b := make([]byte, MaxBlockSize)
	return &b
}}

var errReaderSkipped = errors.New("tape file reader: the rest of the file was skipped")

// FileReader reads one tape file written by FileWriter: it decodes the
// content header, then returns the payload through Read, checking every
// record's header, sequence number, content UUID and CRC on the way.
//
// The reader needs the drive in variable block mode (or fixed mode with the
// file's block size): it learns the block size from the length of the first
// record. A FileReader is used by one goroutine and keeps the context given
// to NewFileReader for every device call.
type FileReader struct {
	ctx       context.Context
	d         device.Drive
	blockSize int
	content   uuid.UUID // content UUID of record 0; every record must carry it
	header    ContentHeader

	buf        []byte // one record
	payload    []byte // unread payload of the current record, a sub-slice of buf
	seq        uint64 // sequence number of the next record to read
	eos        bool   // the current record is the last of the stream
	incomplete bool   // the last record is flagged incomplete
	done       bool   // the tape is positioned after the file (filemark consumed, or at EOD)
	err        error  // sticky: io.EOF, ErrIncomplete, ErrCorrupt or a device error
}

// NewFileReader reads the first record of the tape file at the drive's
// current position and decodes its content header. blockSize 0 learns the
// block size from the first record (read with a MaxBlockSize buffer);
// otherwise the file must have exactly that block size.
//
// At end of data the error wraps device.ErrEndOfData. Data that is not a
// tapefs tape file (a foreign record, an empty file, a damaged header)
// gives an error wrapping ErrCorrupt. The tape is then after what was read:
// at the start of the next file if the "file" was just a filemark, else
// inside the damaged file, where Space(SpaceFilemarks, 1) skips its rest.
// Other device errors are returned wrapped.
func NewFileReader(ctx context.Context, d device.Drive, blockSize int) (*FileReader, error) {
	var buf []byte
	if blockSize != 0 {
		if err := ValidateBlockSize(blockSize); err != nil {
			return nil, err
		}
		buf = make([]byte, blockSize)
	} else {
		probe := probeBuffers.Get().(*[]byte)
		defer probeBuffers.Put(probe)
		buf = *probe
	}
	bufSize := len(buf)
	n, err := d.ReadRecord(ctx, buf)
	switch {
	case errors.Is(err, device.ErrEndOfData):
		return nil, fmt.Errorf("read tape file: no file at this position: %w", err)
	case errors.Is(err, device.ErrFilemark):
		return nil, corruptf("read tape file: empty file (a filemark where its first record should be)")
	case errors.Is(err, device.ErrRecordTooLong):
		return nil, corruptf("read tape file: first record is larger than %d bytes", bufSize)
	case err != nil:
		return nil, fmt.Errorf("read tape file: %w", err)
	}
	h, payload, err := checkRecord(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("read tape file: %w", err)
	}
	if blockSize != 0 && int(h.BlockSize) != blockSize {
		return nil, corruptf("read tape file: block size %d, expected %d", h.BlockSize, blockSize)
	}
	if h.Seq != 0 {
		return nil, corruptf("read tape file: first record has sequence number %d (not at the start of a file?)", h.Seq)
	}
	r := &FileReader{ctx: ctx, d: d, blockSize: int(h.BlockSize), content: h.Content}
	if blockSize == 0 {
		// Keep a block-sized buffer instead of the MaxBlockSize probe.
		r.buf = make([]byte, h.BlockSize)
		copy(r.buf, buf[:n])
		payload = r.buf[RecordHeaderSize : RecordHeaderSize+len(payload)]
	} else {
		r.buf = buf
	}
	r.accept(h, payload)

	if err := r.readHeader(); err != nil {
		return nil, err
	}
	if h.Content != r.header.UUID {
		return nil, corruptf("read tape file: record 0 belongs to content %s, content header says %s", h.Content, r.header.UUID)
	}
	return r, nil
}

// readHeader reads and decodes the content header from the stream.
func (r *FileReader) readHeader() error {
	b := make([]byte, contentFixedSize)
	if err := r.readFull(b); err != nil {
		return err
	}
	_, n, err := decodeContentFixed(b)
	if err != nil {
		return fmt.Errorf("read tape file: %w", err)
	}
	b = append(b, make([]byte, n)...)
	if err := r.readFull(b[contentFixedSize:]); err != nil {
		return err
	}
	h, _, err := decodeContentHeader(b)
	if err != nil {
		return fmt.Errorf("read tape file: %w", err)
	}
	r.header = h
	return nil
}

// readFull fills p from the stream while the content header is read; a
// stream that ends early is corrupt.
func (r *FileReader) readFull(p []byte) error {
	_, err := io.ReadFull(r, p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrIncomplete):
		return corruptf("read tape file: stream ends inside the content header")
	}
	return err
}

// accept makes a checked record the current one.
func (r *FileReader) accept(h recordHeader, payload []byte) {
	r.seq = h.Seq + 1
	r.payload = payload
	r.eos = h.endOfStream()
	r.incomplete = h.incomplete()
}

// Header returns the content header of the file.
func (r *FileReader) Header() ContentHeader { return r.header }

// BlockSize returns the record size of the file.
func (r *FileReader) BlockSize() int { return r.blockSize }

// Read reads payload bytes of the file. At the end of the stream it reads
// the trailing filemark (leaving the tape at the start of the next file)
// and returns io.EOF, or an error wrapping ErrIncomplete if the file was
// closed with FileWriter.Abort or ends without an end-of-stream record.
// Damaged records give errors wrapping ErrCorrupt; device errors are
// returned wrapped. Every error is sticky: later calls return it again.
func (r *FileReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.payload) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.eos {
			r.err = r.finish()
		} else {
			r.err = r.next()
		}
	}
	n := copy(p, r.payload)
	r.payload = r.payload[n:]
	return n, nil
}

// Skip passes over the next n payload bytes as Read would, but spaces
// over the records it needs none of on the drive instead of reading them
// (every record but the last holds a full record's payload), so moving
// forward inside a large file costs a locate, not a read. It returns the
// errors Read returns: a stream that ends first gives io.EOF (or
// ErrIncomplete), and a filemark among the spaced records ErrIncomplete.
func (r *FileReader) Skip(n int64) error {
	for n > 0 {
		if len(r.payload) > 0 {
			k := min(int64(len(r.payload)), n)
			r.payload = r.payload[k:]
			n -= k
			continue
		}
		if r.err != nil {
			return r.err
		}
		if r.eos {
			r.err = r.finish()
			continue
		}
		per := int64(r.blockSize - RecordHeaderSize)
		if whole := n / per; whole > 0 {
			// Records seq .. seq+whole-1 are not needed: the one after
			// them holds byte n.
			if err := r.d.Space(r.ctx, device.SpaceRecords, whole); err != nil {
				if errors.Is(err, device.ErrFilemark) || errors.Is(err, device.ErrEndOfData) {
					r.done = true
					r.err = fmt.Errorf("%s: the file ends before payload byte %d ahead: %w", r.describe(), n, ErrIncomplete)
					return r.err
				}
				r.err = fmt.Errorf("%s: space over %d records: %w", r.describe(), whole, err)
				return r.err
			}
			r.seq += uint64(whole)
			n -= whole * per
		}
		r.err = r.next()
	}
	return nil
}

// describe names the file in error messages.
func (r *FileReader) describe() string {
	if r.header.Type == 0 {
		return "tape file"
	}
	return fmt.Sprintf("%s %s", r.header.Type, r.header.UUID)
}

// next reads and checks the next record. It returns nil after accepting it.
func (r *FileReader) next() error {
	n, err := r.d.ReadRecord(r.ctx, r.buf)
	switch {
	case errors.Is(err, device.ErrFilemark):
		r.done = true
		return fmt.Errorf("%s: a filemark follows record %d, which is not flagged end of stream: %w", r.describe(), r.seq-1, ErrIncomplete)
	case errors.Is(err, device.ErrEndOfData):
		r.done = true
		return fmt.Errorf("%s: end of data follows record %d (the writer never finished the file): %w", r.describe(), r.seq-1, ErrIncomplete)
	case errors.Is(err, device.ErrRecordTooLong):
		return corruptf("%s: record %d is larger than the block size %d", r.describe(), r.seq, r.blockSize)
	case err != nil:
		return fmt.Errorf("%s: read record %d: %w", r.describe(), r.seq, err)
	}
	h, payload, err := checkRecord(r.buf[:n])
	if err != nil {
		return fmt.Errorf("%s: expected record %d: %w", r.describe(), r.seq, err)
	}
	switch {
	case int(h.BlockSize) != r.blockSize:
		return corruptf("%s: record %d has block size %d, the file started with %d", r.describe(), h.Seq, h.BlockSize, r.blockSize)
	case h.Content != r.content:
		return corruptf("%s: record %d belongs to content %s", r.describe(), h.Seq, h.Content)
	case h.Seq != r.seq:
		return corruptf("%s: record sequence number %d, expected %d (a record is missing or out of order)", r.describe(), h.Seq, r.seq)
	case !h.endOfStream() && int(h.PayloadLen) != r.blockSize-RecordHeaderSize:
		return corruptf("%s: record %d is not the last but holds %d of %d payload bytes", r.describe(), h.Seq, h.PayloadLen, r.blockSize-RecordHeaderSize)
	}
	r.accept(h, payload)
	return nil
}

// finish reads the filemark after the end-of-stream record and returns the
// error that ends the stream: io.EOF, or ErrIncomplete for an aborted file.
func (r *FileReader) finish() error {
	_, err := r.d.ReadRecord(r.ctx, r.buf)
	switch {
	// End of data instead of the filemark: the writer stopped between the
	// last record and the filemark. The stream itself is whole.
	case errors.Is(err, device.ErrFilemark), errors.Is(err, device.ErrEndOfData):
		r.done = true
	case err == nil, errors.Is(err, device.ErrRecordTooLong):
		return corruptf("%s: a record follows the end-of-stream record %d", r.describe(), r.seq-1)
	default:
		return fmt.Errorf("%s: read filemark after record %d: %w", r.describe(), r.seq-1, err)
	}
	if r.incomplete {
		return fmt.Errorf("%s: aborted by its writer after record %d: %w", r.describe(), r.seq-1, ErrIncomplete)
	}
	return io.EOF
}

// SkipToEnd positions the tape after the file's filemark (or at end of data
// if the file has none) without reading the rest of its records. It is a
// no-op once Read has returned io.EOF or ErrIncomplete. After SkipToEnd,
// Read returns an error.
func (r *FileReader) SkipToEnd() error {
	r.payload = nil
	if r.err == nil {
		r.err = errReaderSkipped
	}
	if r.done {
		return nil
	}
	err := r.d.Space(r.ctx, device.SpaceFilemarks, 1)
	if err != nil && !errors.Is(err, device.ErrEndOfData) {
		return fmt.Errorf("%s: skip to end of file: %w", r.describe(), err)
	}
	r.done = true
	return nil
}
