package format

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

// Snapshot archive stream tags: every item of the payload starts with one.
const (
	snapshotTagEnd   = 0            // end marker: flags, entry count
	snapshotTagEntry = entryVersion // an encoded Entry (EncodeEntry)

	snapshotFlagFinal uint8 = 1 << 0 // the tree ends in this part
)

// MaxGroupLen is the longest snapshot group name.
const MaxGroupLen = 128

// snapshotTimeLayout is the time part of a snapshot name.
const snapshotTimeLayout = "2006-01-02T15:04:05Z"

// ParseSnapshotName splits a snapshot name "<group>/<time>" into the group
// and the time. The group is 1 to MaxGroupLen characters of letters,
// digits, '_', and '.' or '-' after the first character; the time is
// RFC 3339 in UTC with a "Z" and whole seconds, as SnapshotName writes it
// ("daily/2026-11-25T17:00:00Z").
func ParseSnapshotName(s string) (group string, t time.Time, err error) {
	i := len(s) - len(snapshotTimeLayout) - 1
	if i < 1 || s[i] != '/' {
		return "", time.Time{}, fmt.Errorf("snapshot name %q is not <group>/<time>, e.g. daily/2026-11-25T17:00:00Z", s)
	}
	group = s[:i]
	if err := validateGroup(group); err != nil {
		return "", time.Time{}, fmt.Errorf("snapshot name %q: %w", s, err)
	}
	ts := s[i+1:]
	t, err = time.Parse(snapshotTimeLayout, ts)
	if err != nil || t.Format(snapshotTimeLayout) != ts {
		return "", time.Time{}, fmt.Errorf("snapshot name %q: time %q is not RFC 3339 UTC with whole seconds and Z, e.g. 2026-11-25T17:00:00Z", s, ts)
	}
	return group, t, nil
}

// ValidateSnapshotName checks a snapshot name as ParseSnapshotName does.
func ValidateSnapshotName(s string) error {
	_, _, err := ParseSnapshotName(s)
	return err
}

// SnapshotName returns the name of the snapshot of group taken at t (in
// UTC, truncated to the second). It does not check the group.
func SnapshotName(group string, t time.Time) string {
	return group + "/" + t.UTC().Format(snapshotTimeLayout)
}

func validateGroup(g string) error {
	if g == "" || len(g) > MaxGroupLen {
		return fmt.Errorf("group name must be 1 to %d characters", MaxGroupLen)
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' ||
			i > 0 && (c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("group name %q: character %q at position %d is not allowed; use letters, digits, '_', and '.' or '-' after the first character", g, c, i+1)
		}
	}
	return nil
}

// SnapshotArchiveHeader is the JSON header of a snapshot archive. A tree too
// large for the rest of a tape is split into parts 0, 1, 2, ... on
// consecutive tapes of the set; whether a part is the last one is known only
// when it ends, so it is stored at the end of the part (see
// SnapshotArchiveReader.Final), not here.
type SnapshotArchiveHeader struct {
	Set      uuid.UUID `json:"set"`
	Snapshot string    `json:"snapshot"` // "<group>/<time>", ValidateSnapshotName
	Part     int       `json:"part"`
}

func (h SnapshotArchiveHeader) validate() error {
	if h.Set == uuid.Nil {
		return errors.New("media-set UUID is all zeros")
	}
	if h.Part < 0 {
		return fmt.Errorf("part number %d is negative", h.Part)
	}
	return ValidateSnapshotName(h.Snapshot)
}

// SnapshotArchiveWriter writes one part of a snapshot tree
// (ContentSnapshotArchive): entries in depth-first path order (ComparePaths),
// then an end marker. It is used by one goroutine.
type SnapshotArchiveWriter struct {
	w       *FileWriter
	h       SnapshotArchiveHeader
	last    string
	entries uint64
	buf     []byte
}

// NewSnapshotArchiveWriter starts part h.Part of the tree of snapshot
// h.Snapshot with content UUID id at the drive's current position (see
// NewFileWriter for blockSize).
func NewSnapshotArchiveWriter(ctx context.Context, d device.Drive, blockSize int, h SnapshotArchiveHeader, id uuid.UUID) (*SnapshotArchiveWriter, error) {
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("snapshot archive: %w", err)
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("snapshot archive: %w", err)
	}
	w, err := NewFileWriter(ctx, d, blockSize, ContentHeader{
		Type: ContentSnapshotArchive, UUID: id, Ctime: time.Now().UTC(), Header: js,
	})
	if err != nil {
		return nil, fmt.Errorf("start snapshot archive %s part %d: %w", h.Snapshot, h.Part, err)
	}
	return &SnapshotArchiveWriter{w: w, h: h}, nil
}

// Add validates e and appends it. Entries come in strictly increasing
// ComparePaths order; a part after the first continues where the previous
// part stopped (the writer does not know that path, the reader of the
// whole tree checks it). An entry is never split between parts. Past early
// warning Add still succeeds: the caller checks EarlyWarning and, if
// entries remain, ends the part with CloseContinued and writes the rest as
// part Part+1 on the next tape. Drive errors are sticky; the caller then
// calls Abort and writes the part again on another tape.
func (w *SnapshotArchiveWriter) Add(e *Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if w.entries > 0 && ComparePaths(w.last, e.Path) >= 0 {
		return fmt.Errorf("snapshot archive %s: entry %q does not come after %q in path order", w.h.Snapshot, e.Path, w.last)
	}
	w.buf = EncodeEntry(w.buf[:0], e)
	if len(w.buf) > MaxEntrySize {
		return fmt.Errorf("snapshot archive %s: entry %q encodes to %d bytes, more than %d", w.h.Snapshot, e.Path, len(w.buf), MaxEntrySize)
	}
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("snapshot archive %s: add %q: %w", w.h.Snapshot, e.Path, err)
	}
	w.last = e.Path
	w.entries++
	return nil
}

// EarlyWarning reports whether the drive signalled early warning while this
// part was written.
func (w *SnapshotArchiveWriter) EarlyWarning() bool { return w.w.EarlyWarning() }

// Close ends the part as the last one of the tree and writes the filemark.
// When it returns nil, the part is on the medium.
func (w *SnapshotArchiveWriter) Close() error { return w.end(snapshotFlagFinal) }

// CloseContinued ends the part cleanly but marks the tree as continued in
// part Part+1, which the caller writes on the next tape of the set.
func (w *SnapshotArchiveWriter) CloseContinued() error { return w.end(0) }

func (w *SnapshotArchiveWriter) end(flags uint8) error {
	b := binary.AppendUvarint([]byte{snapshotTagEnd, flags}, w.entries)
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("close snapshot archive %s part %d: %w", w.h.Snapshot, w.h.Part, err)
	}
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("close snapshot archive %s part %d: %w", w.h.Snapshot, w.h.Part, err)
	}
	return nil
}

// Abort ends the part as incomplete (FileWriter.Abort); a reader gets the
// entries written so far and then an error wrapping ErrIncomplete.
func (w *SnapshotArchiveWriter) Abort() error {
	if err := w.w.Abort(); err != nil {
		return fmt.Errorf("abort snapshot archive %s part %d: %w", w.h.Snapshot, w.h.Part, err)
	}
	return nil
}

// SnapshotArchiveReader reads the entries of one snapshot archive part. It
// is used by one goroutine.
type SnapshotArchiveReader struct {
	id      uuid.UUID
	br      *bufio.Reader
	h       SnapshotArchiveHeader
	last    string
	entries uint64
	final   bool
	err     error // sticky
}

// NewSnapshotArchiveReader reads entries from r, a FileReader whose content
// header is a snapshot archive's. A header of another type or a JSON header
// that does not decode gives an error wrapping ErrCorrupt.
func NewSnapshotArchiveReader(r *FileReader) (*SnapshotArchiveReader, error) {
	ch := r.Header()
	if ch.Type != ContentSnapshotArchive {
		return nil, corruptf("tape file %s is a %s, not a snapshot archive", ch.UUID, ch.Type)
	}
	h, err := decodeSnapshotArchiveHeader(ch.Header)
	if err != nil {
		return nil, fmt.Errorf("snapshot archive %s: %w", ch.UUID, err)
	}
	return &SnapshotArchiveReader{id: ch.UUID, br: bufio.NewReaderSize(r, 64<<10), h: h}, nil
}

// decodeSnapshotArchiveHeader decodes and checks the JSON header of a
// snapshot archive. Errors wrap ErrCorrupt.
func decodeSnapshotArchiveHeader(js []byte) (SnapshotArchiveHeader, error) {
	var h SnapshotArchiveHeader
	if err := json.Unmarshal(js, &h); err != nil {
		return h, corruptf("snapshot archive header: %v", err)
	}
	if err := h.validate(); err != nil {
		return h, corruptf("snapshot archive header: %v", err)
	}
	return h, nil
}

// Header returns the archive's JSON header.
func (r *SnapshotArchiveReader) Header() SnapshotArchiveHeader { return r.h }

// Final reports whether this part is the last of the tree. It is valid once
// Next has returned io.EOF.
func (r *SnapshotArchiveReader) Final() bool { return r.final }

// Next returns the next entry, or io.EOF after the end marker. An entry
// that does not decode, or is out of path order, gives an error wrapping
// ErrCorrupt, and the next call reads the entry after it. Damage to the
// framing (an unknown tag, a bad end marker, a stream without one) gives a
// sticky ErrCorrupt error. A part aborted by its writer ends with an error
// wrapping ErrIncomplete. Errors of the FileReader are returned wrapped and
// are sticky.
func (r *SnapshotArchiveReader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	e, err := r.next()
	if err != nil && r.err == nil && !errors.Is(err, ErrCorrupt) {
		r.err = err
	}
	return e, err
}

func (r *SnapshotArchiveReader) next() (Entry, error) {
	tag, err := r.br.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			r.err = corruptf("snapshot archive %s: stream ends after %d entries without an end marker", r.id, r.entries)
			return Entry{}, r.err
		}
		return Entry{}, r.streamError(err, "next entry")
	}
	switch tag {
	case snapshotTagEnd:
		return Entry{}, r.end()
	case snapshotTagEntry:
	default:
		r.err = corruptf("snapshot archive %s: unknown tag %#02x after %d entries", r.id, tag, r.entries)
		return Entry{}, r.err
	}
	n, err := r.readUvarint(MaxEntrySize)
	if err != nil {
		return Entry{}, err
	}
	var body []byte
	if n <= 1<<20 {
		body = make([]byte, n)
		_, err = io.ReadFull(r.br, body)
	} else {
		// Grow with the data actually read, not with a length that may
		// be damaged.
		body, err = io.ReadAll(io.LimitReader(r.br, int64(n)))
		if err == nil && uint64(len(body)) < n {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return Entry{}, r.streamError(err, "entry")
	}
	r.entries++
	e, err := decodeEntryBody(body)
	if err != nil {
		return Entry{}, fmt.Errorf("snapshot archive %s: entry %d: %w", r.id, r.entries-1, err)
	}
	if r.entries > 1 && ComparePaths(r.last, e.Path) >= 0 {
		return Entry{}, corruptf("snapshot archive %s: entry %q does not come after %q in path order", r.id, e.Path, r.last)
	}
	r.last = e.Path
	return e, nil
}

// end reads the end marker after its tag and checks that the stream ends
// there.
func (r *SnapshotArchiveReader) end() error {
	flags, err := r.br.ReadByte()
	if err != nil {
		return r.streamError(err, "end marker")
	}
	n, err := r.readUvarint(1<<63 - 1)
	if err != nil {
		return err
	}
	switch {
	case flags&^snapshotFlagFinal != 0:
		r.err = corruptf("snapshot archive %s: end marker has unknown flags %#02x", r.id, flags)
	case n != r.entries:
		r.err = corruptf("snapshot archive %s: end marker counts %d entries, the archive holds %d", r.id, n, r.entries)
	}
	if r.err != nil {
		return r.err
	}
	switch _, err := r.br.ReadByte(); {
	case err == nil:
		r.err = corruptf("snapshot archive %s: data follows the end marker", r.id)
	case errors.Is(err, io.EOF):
		r.final = flags&snapshotFlagFinal != 0
		r.err = io.EOF
	default:
		r.err = r.streamError(err, "end of stream")
	}
	return r.err
}

// readUvarint reads a minimally encoded uvarint of at most max from the
// stream.
func (r *SnapshotArchiveReader) readUvarint(max uint64) (uint64, error) {
	var b [binary.MaxVarintLen64]byte
	for i := range b {
		c, err := r.br.ReadByte()
		if err != nil {
			return 0, r.streamError(err, "length")
		}
		b[i] = c
		if c < 0x80 {
			d := decoder{b: b[:i+1]}
			v := d.uvarint("length", max)
			if d.err != nil {
				r.err = fmt.Errorf("%w: snapshot archive %s: %w", ErrCorrupt, r.id, d.err)
				return 0, r.err
			}
			return v, nil
		}
	}
	r.err = corruptf("snapshot archive %s: varint overflows 64 bits", r.id)
	return 0, r.err
}

// streamError makes err, which stopped reading what, the sticky error.
func (r *SnapshotArchiveReader) streamError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		r.err = fmt.Errorf("%w: snapshot archive %s: stream ends inside the %s after %d entries: %w", ErrCorrupt, r.id, what, r.entries, io.ErrUnexpectedEOF)
	} else {
		r.err = fmt.Errorf("snapshot archive %s: reading the %s after %d entries: %w", r.id, what, r.entries, err)
	}
	return r.err
}
