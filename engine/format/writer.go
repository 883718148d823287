package format

import (
	"context"
	"errors"
	"fmt"

	"tapefs/engine/device"
)

var errWriterClosed = errors.New("tape file writer is already closed")

// FileWriter writes one tape file: a content header followed by the bytes
// given to Write, cut into records of the block size, then one filemark.
//
// Records are emitted only when full, so a file of n payload bytes takes
// ceil((content header + n) / (block size - 64)) records, at least one.
// The last record carries the end-of-stream flag and is padded to the full
// block size.
//
// A FileWriter is used by one goroutine. It keeps the context given to
// NewFileWriter for every device call it makes.
type FileWriter struct {
	ctx       context.Context
	d         device.Drive
	blockSize int
	content   ContentHeader
	hdrLen    int // bytes of the encoded content header at the start of the stream

	rec     []byte // one record: header, then payload rec[RecordHeaderSize:][:n]
	n       int    // payload bytes buffered in rec
	seq     uint64 // sequence number of the record in rec
	written int64  // bytes accepted by Write

	earlyWarning bool
	ended        bool  // the end-of-stream record is on tape; only the filemark is missing
	closed       bool  // the filemark is on tape
	err          error // sticky error of a failed record write
}

// NewFileWriter starts a tape file at the drive's current position (every
// object after it is discarded once the first record is written). blockSize
// 0 means DefaultBlockSize; otherwise ValidateBlockSize must accept it. h
// needs a non-zero Type, UUID and Ctime and a JSON header of at most
// MaxHeaderJSON bytes. The content header is buffered like payload, so
// NewFileWriter writes to the drive only when the header fills a record.
func NewFileWriter(ctx context.Context, d device.Drive, blockSize int, h ContentHeader) (*FileWriter, error) {
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	if err := ValidateBlockSize(blockSize); err != nil {
		return nil, err
	}
	hb, err := h.encode()
	if err != nil {
		return nil, err
	}
	w := &FileWriter{
		ctx:       ctx,
		d:         d,
		blockSize: blockSize,
		content:   h,
		hdrLen:    len(hb),
		rec:       make([]byte, blockSize),
	}
	if _, err := w.write(hb); err != nil {
		return nil, err
	}
	return w, nil
}

// payloadCap is the payload capacity of one record.
func (w *FileWriter) payloadCap() int { return w.blockSize - RecordHeaderSize }

// Write buffers p and writes every record that fills up. It returns the
// number of bytes of p taken into the buffer; n < len(p) only with an error.
// A failed record write is sticky: later Writes and Close return the same
// error, and the caller finishes the file with Abort. Errors wrap the
// device error, e.g. device.ErrEndOfMedium when the tape is full (nothing of
// that record was written) or device.ErrMediumError. Early warning is not an
// error here: see EarlyWarning.
func (w *FileWriter) Write(p []byte) (int, error) {
	if w.closed || w.ended {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.write(p)
	w.written += int64(n)
	return n, err
}

func (w *FileWriter) write(p []byte) (int, error) {
	var nn int
	for len(p) > 0 {
		if w.n == w.payloadCap() {
			// Emit only when more data follows, so the last full record
			// can still carry the end-of-stream flag.
			if err := w.emit(0); err != nil {
				w.err = err
				return nn, err
			}
		}
		c := copy(w.rec[RecordHeaderSize+w.n:], p)
		w.n += c
		nn += c
		p = p[c:]
	}
	return nn, nil
}

// emit writes the buffered record with the given flags. On failure the
// buffer is kept, so Abort can still write its payload.
func (w *FileWriter) emit(flags uint16) error {
	payload := w.rec[RecordHeaderSize : RecordHeaderSize+w.n]
	clear(w.rec[RecordHeaderSize+w.n:])
	recordHeader{
		Flags:      flags,
		BlockSize:  uint32(w.blockSize),
		Seq:        w.seq,
		PayloadLen: uint32(w.n),
		PayloadCRC: crc32c(payload),
		Content:    w.content.UUID,
	}.put(w.rec)
	err := w.d.WriteRecord(w.ctx, w.rec)
	if err != nil && !errors.Is(err, device.ErrEarlyWarning) {
		return fmt.Errorf("write record %d of %s %s: %w", w.seq, w.content.Type, w.content.UUID, err)
	}
	if err != nil {
		w.earlyWarning = true
	}
	w.seq++
	w.n = 0
	return nil
}

// filemark writes the filemark that ends the file and syncs the drive.
func (w *FileWriter) filemark() error {
	err := w.d.WriteFilemarks(w.ctx, 1)
	if err != nil && !errors.Is(err, device.ErrEarlyWarning) {
		return fmt.Errorf("write filemark after %s %s: %w", w.content.Type, w.content.UUID, err)
	}
	if err != nil {
		w.earlyWarning = true
	}
	w.closed = true
	return nil
}

// EarlyWarning reports whether the drive signalled early warning (LEOM,
// device.ErrEarlyWarning) on a record or the filemark of this file. The
// record was written; the caller should finish the file soon (Close, or
// Abort for an archive that must continue on another tape).
func (w *FileWriter) EarlyWarning() bool { return w.earlyWarning }

// Close writes the buffered payload as the last record, flagged end of
// stream, then one filemark. It returns when everything is on the medium:
// WriteFilemarks is the drive's synchronisation point. After a failed
// Write, Close returns that error without writing; finish with Abort. If
// only the filemark failed, Close (or Abort) may be called again to retry
// it. Closing a closed writer returns an error.
func (w *FileWriter) Close() error {
	if w.closed {
		return errWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	if !w.ended {
		if err := w.emit(flagEndOfStream); err != nil {
			w.err = err
			return err
		}
		w.ended = true
	}
	return w.filemark()
}

// Abort finishes the file as incomplete: the buffered payload goes into a
// last record flagged end of stream and incomplete, then one filemark. A
// reader gets the data written so far and then ErrIncomplete. Use it for an
// archive that stops at early warning or after a failed Write (the record
// that failed is written again as the incomplete last record). If the end-
// of-stream record was already written by a Close whose filemark failed,
// Abort only retries the filemark and the file reads back complete.
func (w *FileWriter) Abort() error {
	if w.closed {
		return errWriterClosed
	}
	if !w.ended {
		if err := w.emit(flagEndOfStream | flagIncomplete); err != nil {
			w.err = err
			return err
		}
		w.ended = true
	}
	return w.filemark()
}

// BytesWritten returns the number of payload bytes accepted by Write so far
// (the content header and record overhead are not counted). Bytes still in
// the buffer are counted: they reach tape with the next full record or on
// Close.
func (w *FileWriter) BytesWritten() int64 { return w.written }

// RecordOf returns the sequence number (record index within this tape file)
// of the record that holds payload byte off, where off counts like
// BytesWritten. A catalog stores it so a reader can later locate the record
// without reading the file from its start.
func (w *FileWriter) RecordOf(off int64) uint64 {
	return uint64((int64(w.hdrLen) + off) / int64(w.payloadCap()))
}

// BlockSize returns the record size of this file.
func (w *FileWriter) BlockSize() int { return w.blockSize }
