package format

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

// ErrNoCatalogArchive: the last file on the tape is not a complete catalog
// archive. The job that wrote the tape was interrupted (or the tape holds
// only labels); rebuild its catalog by scanning every archive.
var ErrNoCatalogArchive = errors.New("the last file on the tape is not a catalog archive; scan the tape's archives instead")

// catalogPayloadVersion is the first byte of a catalog archive's payload.
const catalogPayloadVersion = 1

// maxPoolLen bounds CatalogArchive.Pool.
const maxPoolLen = 256

// MaxArchiveOffset bounds ChunkLocation.Offset (2^56 bytes, far beyond any
// tape), so offset arithmetic in the encoding never overflows.
const MaxArchiveOffset = 1 << 56

// ArchiveFile describes one archive on a tape.
type ArchiveFile struct {
	// File is the tape file number (0 and 1 are the labels).
	File uint64
	// Object is the logical object number of the archive's first record,
	// for device.Drive.Locate.
	Object uint64
	// Type is ContentChunkArchive, ContentSnapshotArchive or
	// ContentCatalogArchive.
	Type ContentType
	// UUID is the archive's content UUID.
	UUID uuid.UUID
	// Snapshot and Part name a snapshot archive's tree and part; Final
	// says the part is the tree's last. Empty and zero for other types.
	Snapshot string
	Part     int
	Final    bool
}

// ChunkLocation says where a chunk is on this tape.
type ChunkLocation struct {
	Digest [32]byte
	// File is the tape file number of the chunk archive.
	File uint64
	// Offset is the chunk entry's offset in the archive payload, as
	// ChunkArchiveWriter.Add returned it.
	Offset int64
	// Size is the chunk's length.
	Size uint32
}

// CatalogArchive is one tape's part of the catalog: enough to rebuild the
// catalog entries of this tape from the tape alone. It is cumulative: the
// last catalog archive on a tape describes every archive before it.
type CatalogArchive struct {
	Media    uuid.UUID // media UUID (the media label's)
	Set      uuid.UUID // media-set UUID
	Seq      uint64    // the tape's sequence number in the set
	SetCtime time.Time // creation time of the media set
	Pool     string
	// Files lists the archives on the tape before this catalog archive,
	// in tape order (strictly increasing File and Object).
	Files []ArchiveFile
	// Chunks lists every chunk on the tape, each in a chunk archive listed
	// in Files, in any order (the order is kept).
	Chunks []ChunkLocation
	// Void lists archives on the tape before this catalog archive whose
	// job did not complete (a snapshot archive whose snapshot was never
	// recorded): a catalog rebuilt from the tape leaves them out. They are
	// never in Files. Kept in the JSON header ("void"), which readers
	// without it ignore.
	Void []VoidArchive
}

// VoidArchive names a voided archive: its tape file and content UUID.
type VoidArchive struct {
	File uint64    `json:"file"`
	UUID uuid.UUID `json:"uuid"`
}

// catalogHeaderJSON is the JSON header of a catalog archive.
type catalogHeaderJSON struct {
	Media    uuid.UUID `json:"media"`
	Set      uuid.UUID `json:"set"`
	Seq      uint64    `json:"seq"`
	SetCtime string    `json:"set-ctime"`
	Pool     string    `json:"pool,omitempty"`
	// Void: CatalogArchive.Void.
	Void []VoidArchive `json:"void,omitempty"`
}

// Validate checks the fields WriteCatalogArchive needs: non-zero UUIDs, a
// set creation time in range, the file list in tape order with valid
// snapshot names, and every chunk 1 to MaxChunkSize bytes in a listed chunk
// archive.
func (c *CatalogArchive) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("catalog archive: %w", err)
	}
	return nil
}

func (c *CatalogArchive) validate() error {
	switch {
	case c.Media == uuid.Nil:
		return errors.New("media UUID is all zeros")
	case c.Set == uuid.Nil:
		return errors.New("media-set UUID is all zeros")
	case !timeInRange(c.SetCtime) || c.SetCtime.IsZero():
		return fmt.Errorf("media-set creation time %v is not set or outside the years 1 to 9999", c.SetCtime)
	case len(c.Pool) > maxPoolLen || strings.ContainsFunc(c.Pool, func(r rune) bool { return r < ' ' }):
		return fmt.Errorf("pool name %q is longer than %d bytes or has control characters", c.Pool, maxPoolLen)
	}
	for i, f := range c.Files {
		if i > 0 && (f.File <= c.Files[i-1].File || f.Object <= c.Files[i-1].Object) {
			return fmt.Errorf("file %d (object %d) is not after file %d (object %d)", f.File, f.Object, c.Files[i-1].File, c.Files[i-1].Object)
		}
		if err := f.validate(); err != nil {
			return err
		}
	}
	for _, v := range c.Void {
		if v.File < 2 || v.UUID == uuid.Nil {
			return fmt.Errorf("void archive in file %d (%s): not an archive", v.File, v.UUID)
		}
		if _, ok := slices.BinarySearchFunc(c.Files, v.File, func(f ArchiveFile, n uint64) int { return cmpUint64(f.File, n) }); ok {
			return fmt.Errorf("void archive in file %d is also listed as valid", v.File)
		}
	}
	for i, ch := range c.Chunks {
		if ch.Size == 0 || ch.Size > MaxChunkSize {
			return fmt.Errorf("chunk %d (%x) has size %d, must be 1 to %d", i, ch.Digest, ch.Size, MaxChunkSize)
		}
		if ch.Offset < 0 || ch.Offset > MaxArchiveOffset {
			return fmt.Errorf("chunk %d (%x) has offset %d, outside 0 to %d", i, ch.Digest, ch.Offset, int64(MaxArchiveOffset))
		}
		j, ok := slices.BinarySearchFunc(c.Files, ch.File, func(f ArchiveFile, n uint64) int {
			return cmpUint64(f.File, n)
		})
		if !ok || c.Files[j].Type != ContentChunkArchive {
			return fmt.Errorf("chunk %d (%x) is in file %d, which is not a chunk archive listed in Files", i, ch.Digest, ch.File)
		}
	}
	return nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f ArchiveFile) validate() error {
	if f.File < 2 {
		return fmt.Errorf("archive in file %d: files 0 and 1 hold the labels", f.File)
	}
	if f.UUID == uuid.Nil {
		return fmt.Errorf("archive in file %d: content UUID is all zeros", f.File)
	}
	switch f.Type {
	case ContentSnapshotArchive:
		if err := ValidateSnapshotName(f.Snapshot); err != nil {
			return fmt.Errorf("archive in file %d: %w", f.File, err)
		}
		if f.Part < 0 {
			return fmt.Errorf("archive in file %d: negative part number %d", f.File, f.Part)
		}
	case ContentChunkArchive, ContentCatalogArchive:
		if f.Snapshot != "" || f.Part != 0 || f.Final {
			return fmt.Errorf("archive in file %d: a %s has no snapshot, part or final flag", f.File, f.Type)
		}
	default:
		return fmt.Errorf("archive in file %d: content type %s is not an archive", f.File, f.Type)
	}
	return nil
}

// maxSnapshotNameLen bounds the snapshot name a decoder reads.
const maxSnapshotNameLen = MaxGroupLen + 1 + len(snapshotTimeLayout)

// Per-item minimum sizes in the payload, used to bound counts.
const (
	minArchiveFileSize   = 4 + 16 + 2 // file, object, type, flags; UUID; part, name length
	minChunkLocationSize = 32 + 3     // digest, file delta, offset delta, size
	archiveFileFinal     = 1 << 0
)

// encodeCatalogPayload returns the binary payload of c (without the JSON
// header fields).
func encodeCatalogPayload(c *CatalogArchive) []byte {
	b := make([]byte, 0, 16+len(c.Files)*40+len(c.Chunks)*37)
	b = append(b, catalogPayloadVersion)
	b = binary.AppendUvarint(b, uint64(len(c.Files)))
	for _, f := range c.Files {
		b = binary.AppendUvarint(b, f.File)
		b = binary.AppendUvarint(b, f.Object)
		b = binary.AppendUvarint(b, uint64(f.Type))
		var flags byte
		if f.Final {
			flags |= archiveFileFinal
		}
		b = append(b, flags)
		b = append(b, f.UUID[:]...)
		b = binary.AppendUvarint(b, uint64(f.Part))
		b = appendString(b, f.Snapshot)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Chunks)))
	var file uint64
	var next int64 // where the previous chunk's entry ended, if its data was stored
	for _, ch := range c.Chunks {
		if ch.File != file {
			next = 0
		}
		b = append(b, ch.Digest[:]...)
		b = binary.AppendVarint(b, int64(ch.File-file))
		b = binary.AppendVarint(b, ch.Offset-next)
		b = binary.AppendUvarint(b, uint64(ch.Size))
		file = ch.File
		next = ch.Offset + ChunkEntryHeaderSize + int64(ch.Size)
	}
	return b
}

// decodeCatalogPayload decodes the binary payload into c. Errors wrap
// ErrCorrupt.
func decodeCatalogPayload(b []byte, c *CatalogArchive) error {
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != catalogPayloadVersion {
		return corruptf("catalog archive payload version %d, this tapefs reads version %d", v, catalogPayloadVersion)
	}
	if n := d.count("archive files", math.MaxInt32, minArchiveFileSize); n > 0 {
		c.Files = make([]ArchiveFile, n)
		for i := range c.Files {
			f := &c.Files[i]
			f.File = d.uvarint("file number", math.MaxUint64)
			f.Object = d.uvarint("object number", math.MaxUint64)
			f.Type = ContentType(d.uvarint("content type", math.MaxUint32))
			flags := d.byte("flags")
			copy(f.UUID[:], d.bytes("content UUID", 16))
			f.Part = int(d.uvarint("part", math.MaxInt32))
			f.Snapshot = d.string("snapshot name", uint64(maxSnapshotNameLen))
			if d.err != nil {
				break
			}
			if flags&^archiveFileFinal != 0 {
				d.fail(fmt.Errorf("archive file %d has unknown flags %#02x", i, flags))
				break
			}
			f.Final = flags&archiveFileFinal != 0
		}
	}
	if n := d.count("chunks", math.MaxInt32, minChunkLocationSize); n > 0 {
		c.Chunks = make([]ChunkLocation, n)
		var file uint64
		var next int64
		for i := range c.Chunks {
			ch := &c.Chunks[i]
			copy(ch.Digest[:], d.bytes("chunk digest", 32))
			df := d.varint("chunk file delta")
			do := d.varint("chunk offset delta")
			ch.Size = uint32(d.uvarint("chunk size", MaxChunkSize))
			if d.err != nil {
				break
			}
			ch.File = file + uint64(df)
			if ch.File != file {
				next = 0
			}
			// next is at most MaxArchiveOffset + 48 + MaxChunkSize, so with
			// the delta bounded the sum cannot overflow.
			if do > 2*MaxArchiveOffset || do < -2*MaxArchiveOffset {
				d.fail(fmt.Errorf("chunk %d offset delta %d out of range", i, do))
				break
			}
			ch.Offset = next + do
			if ch.Offset < 0 || ch.Offset > MaxArchiveOffset {
				d.fail(fmt.Errorf("chunk %d offset %d out of range", i, ch.Offset))
				break
			}
			file = ch.File
			next = ch.Offset + ChunkEntryHeaderSize + int64(ch.Size)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the chunk list", len(d.b)))
	}
	if d.err != nil {
		return fmt.Errorf("%w: catalog archive: %w", ErrCorrupt, d.err)
	}
	return nil
}

// WriteCatalogArchive writes c as a catalog archive (ContentCatalogArchive)
// with a new random content UUID at the drive's current position, normally
// end of data after the job's last archive (see NewFileWriter for
// blockSize). It returns when the archive and its filemark are on the
// medium. c must pass Validate. Early warning is not an error: the catalog
// archive is always finished.
func WriteCatalogArchive(ctx context.Context, d device.Drive, blockSize int, c *CatalogArchive) error {
	if err := c.Validate(); err != nil {
		return err
	}
	js, err := json.Marshal(catalogHeaderJSON{
		Media: c.Media, Set: c.Set, Seq: c.Seq, SetCtime: formatTime(c.SetCtime), Pool: c.Pool, Void: c.Void,
	})
	if err != nil {
		return fmt.Errorf("catalog archive: %w", err)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("catalog archive: %w", err)
	}
	w, err := NewFileWriter(ctx, d, blockSize, ContentHeader{
		Type: ContentCatalogArchive, UUID: id, Ctime: time.Now().UTC(), Header: js,
	})
	if err != nil {
		return fmt.Errorf("write catalog archive: %w", err)
	}
	if _, err := w.Write(encodeCatalogPayload(c)); err != nil {
		if aerr := w.Abort(); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return fmt.Errorf("write catalog archive: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write catalog archive: %w", err)
	}
	return nil
}

// ReadCatalogArchive reads the catalog archive of r, a FileReader whose
// content header is a catalog archive's, to its end. Damaged or implausible
// data gives an error wrapping ErrCorrupt (allocation is bounded by the
// data present); an archive aborted by its writer gives an error wrapping
// ErrIncomplete; device errors are returned wrapped.
func ReadCatalogArchive(r *FileReader) (*CatalogArchive, error) {
	ch := r.Header()
	if ch.Type != ContentCatalogArchive {
		return nil, corruptf("tape file %s is a %s, not a catalog archive", ch.UUID, ch.Type)
	}
	c, err := decodeCatalogHeader(ch.Header)
	if err != nil {
		return nil, fmt.Errorf("catalog archive %s: %w", ch.UUID, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read catalog archive %s: %w", ch.UUID, err)
	}
	if err := decodeCatalogPayload(buf.Bytes(), c); err != nil {
		return nil, fmt.Errorf("catalog archive %s: %w", ch.UUID, err)
	}
	if err := c.validate(); err != nil {
		return nil, corruptf("catalog archive %s: %v", ch.UUID, err)
	}
	return c, nil
}

// decodeCatalogHeader decodes the JSON header of a catalog archive. Errors
// wrap ErrCorrupt.
func decodeCatalogHeader(js []byte) (*CatalogArchive, error) {
	var h catalogHeaderJSON
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, corruptf("catalog archive header: %v", err)
	}
	t, err := parseTime("set-ctime", h.SetCtime)
	if err != nil {
		return nil, corruptf("catalog archive header: %v", err)
	}
	return &CatalogArchive{Media: h.Media, Set: h.Set, Seq: h.Seq, SetCtime: t, Pool: h.Pool, Void: h.Void}, nil
}

// ReadLastCatalogArchive reads the catalog archive that ends the tape: it
// spaces to end of data, back to the start of the last file, and reads it
// (reading in variable block mode, as NewFileReader does). If the last file
// is not a complete catalog archive (the job that wrote the tape was
// interrupted, or the tape ends unterminated or holds only labels) the
// error wraps ErrNoCatalogArchive, and ErrCorrupt as well when a catalog
// archive is there but damaged; the caller then scans the tape. Device
// errors are returned wrapped. The tape is left after the file read.
func ReadLastCatalogArchive(ctx context.Context, d device.Drive) (*CatalogArchive, error) {
	if err := d.Space(ctx, device.SpaceEndOfData, 0); err != nil {
		return nil, fmt.Errorf("read last catalog archive: space to end of data: %w", err)
	}
	pos, err := d.ReadPosition(ctx)
	if err != nil {
		return nil, fmt.Errorf("read last catalog archive: %w", err)
	}
	switch {
	case pos.Record > 0:
		return nil, fmt.Errorf("%w: the last file has no filemark (a write stopped in the middle)", ErrNoCatalogArchive)
	case pos.File <= 2:
		return nil, fmt.Errorf("%w: the tape holds %d files, no archives", ErrNoCatalogArchive, pos.File)
	}
	// Back over the last filemark and the one before it, then forward over
	// that one: the start of the last file.
	if err := d.Space(ctx, device.SpaceFilemarks, -2); err != nil {
		return nil, fmt.Errorf("read last catalog archive: space back to file %d: %w", pos.File-1, err)
	}
	if err := d.Space(ctx, device.SpaceFilemarks, 1); err != nil {
		return nil, fmt.Errorf("read last catalog archive: space to file %d: %w", pos.File-1, err)
	}
	r, err := NewFileReader(ctx, d, 0)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("%w: file %d: %w", ErrNoCatalogArchive, pos.File-1, err)
		}
		return nil, fmt.Errorf("read last catalog archive: file %d: %w", pos.File-1, err)
	}
	if t := r.Header().Type; t != ContentCatalogArchive {
		return nil, fmt.Errorf("%w: file %d is a %s", ErrNoCatalogArchive, pos.File-1, t)
	}
	c, err := ReadCatalogArchive(r)
	if err != nil {
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIncomplete) {
			return nil, fmt.Errorf("%w: file %d: %w", ErrNoCatalogArchive, pos.File-1, err)
		}
		return nil, err
	}
	return c, nil
}
