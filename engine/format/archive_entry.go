package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EntryType is the file type of a snapshot entry. It is stored as one byte;
// 0 is never valid.
type EntryType uint8

// Entry types.
const (
	EntryFile     EntryType = 1 // regular file; data in Chunks
	EntryDir      EntryType = 2 // directory
	EntrySymlink  EntryType = 3 // symbolic link to Target
	EntryHardLink EntryType = 4 // another name of the inode first seen at Target
	EntryCharDev  EntryType = 5 // character device Rdev
	EntryBlockDev EntryType = 6 // block device Rdev
	EntryFIFO     EntryType = 7 // named pipe
	EntrySocket   EntryType = 8 // Unix socket
)

// String returns the type's name as docs/tape-format.md uses it.
func (t EntryType) String() string {
	switch t {
	case EntryFile:
		return "file"
	case EntryDir:
		return "dir"
	case EntrySymlink:
		return "symlink"
	case EntryHardLink:
		return "hardlink"
	case EntryCharDev:
		return "chardev"
	case EntryBlockDev:
		return "blockdev"
	case EntryFIFO:
		return "fifo"
	case EntrySocket:
		return "socket"
	}
	return "entry-type(" + strconv.Itoa(int(t)) + ")"
}

// Limits of a snapshot entry. They follow Linux (PATH_MAX, NAME_MAX,
// XATTR_NAME_MAX, XATTR_SIZE_MAX) and bound what a decoder allocates.
const (
	MaxPathLen       = 4095     // bytes of Entry.Path and of a symlink target
	MaxNameLen       = 255      // bytes of one path component
	MaxOwnerNameLen  = 256      // bytes of Entry.User and Entry.Group
	MaxXattrNameLen  = 255      // bytes of an extended attribute name
	MaxXattrValueLen = 64 << 10 // bytes of an extended attribute value
	MaxXattrs        = 4096     // extended attributes of one entry
	MaxChunkRefs     = 4 << 20  // chunk references of one file
	MaxEntrySize     = 256 << 20
	entryVersion     = 1
	chunkRefZero     = 1 << 0 // ChunkRef flag: a zero range, no digest follows
	maxModeBits      = 0o7777
)

// ChunkRef places one chunk in a regular file.
type ChunkRef struct {
	// Digest is the SHA-256 of the chunk; all zeros for a Zero range.
	Digest [32]byte
	// Offset is where the chunk starts in the file.
	Offset int64
	// Size is the chunk's length, 1 to MaxChunkSize.
	Size uint32
	// Zero marks a range of zero bytes that has no chunk on tape (a hole
	// the chunker found); restore writes zeros or leaves a hole.
	Zero bool
}

// Entry is one file, directory or other node of a snapshot tree.
type Entry struct {
	// Path is relative to the snapshot root, "/"-separated and clean: no
	// leading or trailing "/", no empty, "." or ".." components, no NUL.
	// "" is the snapshot root (a directory).
	Path string
	Type EntryType
	// Mode holds the permission bits and setuid, setgid and sticky as in
	// st_mode & 07777 (not os.FileMode); the file type is Type.
	Mode        uint32
	UID, GID    uint32
	User, Group string // owner names at backup time; "" if unknown
	// Size is st_size; for a regular file, the length its Chunks and holes
	// make up.
	Size int64
	// Mtime, Atime and Ctime keep nanoseconds and lie within the years 1
	// to 9999. Decoded times are in UTC.
	Mtime, Atime, Ctime time.Time
	// Rdev is the device number of a character or block device; 0 for
	// every other type.
	Rdev uint64
	// Target is a symlink's target (any bytes but NUL), or for a hard link
	// the Path of the first entry of that inode in this snapshot (which
	// comes before it in path order); "" for every other type.
	Target string
	// Xattrs are the extended attributes, including the POSIX ACLs
	// system.posix_acl_access and system.posix_acl_default.
	Xattrs map[string][]byte
	// Chunks are a regular file's data, in offset order, not overlapping,
	// ending at or before Size. Gaps are holes (zeros).
	Chunks []ChunkRef
}

// ValidatePath checks a snapshot entry path: "" (the root) or a relative,
// "/"-separated path of at most MaxPathLen bytes whose components are 1 to
// MaxNameLen bytes, not "." or "..", without NUL.
func ValidatePath(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("path of %d bytes is longer than %d", len(p), MaxPathLen)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	if p[0] == '/' {
		return fmt.Errorf("path %q is absolute; snapshot paths are relative to the snapshot root", p)
	}
	for c := range strings.SplitSeq(p, "/") {
		switch {
		case c == "":
			return fmt.Errorf("path %q has an empty component", p)
		case c == "." || c == "..":
			return fmt.Errorf("path %q has a %q component", p, c)
		case len(c) > MaxNameLen:
			return fmt.Errorf("path %q has a component of %d bytes, longer than %d", p, len(c), MaxNameLen)
		}
	}
	return nil
}

// ComparePaths orders snapshot paths depth first: component by component,
// each compared by bytes, a directory before its contents. It returns -1, 0
// or +1. Snapshot archives hold their entries in this order.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		// "/" sorts before every other byte, so "a/b" < "a.txt" as ["a",
		// "b"] < ["a.txt"].
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// ClampTime returns t moved into the years 1 to 9999 that an entry's
// times must lie in: the first nanosecond of the year 1 for an earlier t,
// the last nanosecond of 9999 for a later one, t itself otherwise. Like
// a Linux filesystem with a narrower time range than the caller's, a
// source clamps times with it rather than refuse a file.
func ClampTime(t time.Time) time.Time {
	switch {
	case t.Unix() < minCtime:
		return time.Unix(minCtime, 0)
	case t.Unix() > maxCtime:
		return time.Unix(maxCtime, int64(time.Second)-1)
	}
	return t
}

// Validate checks the path rules, the type and the fields that depend on
// it, the limits above, times within the years 1 to 9999, and a regular
// file's chunk references: sorted, not overlapping, each 1 to MaxChunkSize
// bytes, within Size, a Zero reference with an all-zero digest. The error
// names the entry and the first problem found.
func (e *Entry) Validate() error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("snapshot entry %q: %w", e.Path, err)
	}
	return nil
}

func (e *Entry) validate() error {
	if err := ValidatePath(e.Path); err != nil {
		return err
	}
	if e.Type < EntryFile || e.Type > EntrySocket {
		return fmt.Errorf("unknown entry type %d", e.Type)
	}
	if e.Path == "" && e.Type != EntryDir {
		return fmt.Errorf("the snapshot root is a %s, must be a dir", e.Type)
	}
	if e.Mode > maxModeBits {
		return fmt.Errorf("mode %#o has bits outside 07777 (the type goes in Type)", e.Mode)
	}
	if len(e.User) > MaxOwnerNameLen || len(e.Group) > MaxOwnerNameLen {
		return fmt.Errorf("owner name longer than %d bytes", MaxOwnerNameLen)
	}
	if e.Size < 0 {
		return fmt.Errorf("negative size %d", e.Size)
	}
	for _, t := range [...]struct {
		name string
		t    time.Time
	}{{"mtime", e.Mtime}, {"atime", e.Atime}, {"ctime", e.Ctime}} {
		if !timeInRange(t.t) {
			return fmt.Errorf("%s %v is outside the years 1 to 9999", t.name, t.t)
		}
	}
	if e.Rdev != 0 && e.Type != EntryCharDev && e.Type != EntryBlockDev {
		return fmt.Errorf("a %s has device number %d; only devices have one", e.Type, e.Rdev)
	}
	switch e.Type {
	case EntrySymlink:
		if e.Target == "" || len(e.Target) > MaxPathLen || strings.IndexByte(e.Target, 0) >= 0 {
			return fmt.Errorf("symlink target must be 1 to %d bytes without NUL", MaxPathLen)
		}
	case EntryHardLink:
		if e.Target == "" {
			return errors.New("hard link without a target")
		}
		if err := ValidatePath(e.Target); err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if ComparePaths(e.Target, e.Path) >= 0 {
			return fmt.Errorf("hard link target %q does not come before the link in path order", e.Target)
		}
	default:
		if e.Target != "" {
			return fmt.Errorf("a %s has a target", e.Type)
		}
	}
	if len(e.Xattrs) > MaxXattrs {
		return fmt.Errorf("%d extended attributes, at most %d allowed", len(e.Xattrs), MaxXattrs)
	}
	for name, v := range e.Xattrs {
		if name == "" || len(name) > MaxXattrNameLen || strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("extended attribute name %q must be 1 to %d bytes without NUL", name, MaxXattrNameLen)
		}
		if len(v) > MaxXattrValueLen {
			return fmt.Errorf("extended attribute %s is %d bytes, at most %d allowed", name, len(v), MaxXattrValueLen)
		}
	}
	if e.Type != EntryFile {
		if len(e.Chunks) > 0 {
			return fmt.Errorf("a %s has chunk references; only regular files have data", e.Type)
		}
		return nil
	}
	return validateChunkRefs(e.Chunks, e.Size)
}

func validateChunkRefs(refs []ChunkRef, size int64) error {
	if len(refs) > MaxChunkRefs {
		return fmt.Errorf("%d chunk references, at most %d allowed", len(refs), MaxChunkRefs)
	}
	var end int64
	for i, c := range refs {
		switch {
		case c.Size == 0 || c.Size > MaxChunkSize:
			return fmt.Errorf("chunk reference %d has size %d, must be 1 to %d", i, c.Size, MaxChunkSize)
		case c.Offset < end:
			return fmt.Errorf("chunk reference %d at offset %d overlaps or precedes the one before it (ends at %d)", i, c.Offset, end)
		case c.Offset > size-int64(c.Size):
			return fmt.Errorf("chunk reference %d (offset %d, size %d) ends after the file size %d", i, c.Offset, c.Size, size)
		case c.Zero && c.Digest != [32]byte{}:
			return fmt.Errorf("zero chunk reference %d has a digest; zero ranges have none", i)
		}
		end = c.Offset + int64(c.Size)
	}
	return nil
}

// EncodeEntry appends the binary encoding of e to dst and returns the
// extended slice. The encoding is a version byte, the body length as a
// uvarint and the body (docs/tape-format.md); it is canonical: equal
// entries encode to equal bytes (extended attributes in name order). e
// should be valid (Validate); an invalid entry encodes to bytes that
// DecodeEntry rejects.
func EncodeEntry(dst []byte, e *Entry) []byte {
	// Encode the body after room for the longest length prefix, then move
	// it down next to the prefix: no second buffer.
	dst = append(dst, entryVersion)
	start := len(dst)
	dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
	dst = appendEntryBody(dst, e)
	bodyLen := len(dst) - start - binary.MaxVarintLen64
	n := binary.PutUvarint(dst[start:], uint64(bodyLen))
	copy(dst[start+n:], dst[start+binary.MaxVarintLen64:])
	return dst[:start+n+bodyLen]
}

func appendEntryBody(b []byte, e *Entry) []byte {
	b = append(b, byte(e.Type))
	b = appendString(b, e.Path)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendUvarint(b, uint64(e.UID))
	b = binary.AppendUvarint(b, uint64(e.GID))
	b = appendString(b, e.User)
	b = appendString(b, e.Group)
	b = binary.AppendUvarint(b, uint64(e.Size))
	for _, t := range [...]time.Time{e.Mtime, e.Atime, e.Ctime} {
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	b = binary.AppendUvarint(b, e.Rdev)
	b = appendString(b, e.Target)
	var small [8]string
	names := small[:0]
	for name := range e.Xattrs {
		names = append(names, name)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		b = appendString(b, string(e.Xattrs[name]))
	}
	b = binary.AppendUvarint(b, uint64(len(e.Chunks)))
	var end int64
	for _, c := range e.Chunks {
		var flags byte
		if c.Zero {
			flags |= chunkRefZero
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(c.Offset-end))
		b = binary.AppendUvarint(b, uint64(c.Size))
		if !c.Zero {
			b = append(b, c.Digest[:]...)
		}
		end = c.Offset + int64(c.Size)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeEntry decodes one entry from the start of b and returns it and the
// number of bytes it took. It accepts only the canonical encoding of a
// valid entry (Validate), so EncodeEntry of the result gives back the same
// bytes. Lengths are checked against MaxEntrySize and the bytes present
// before anything is allocated. Errors wrap ErrCorrupt; a b that ends
// inside the entry gives an error wrapping io.ErrUnexpectedEOF as well.
func DecodeEntry(b []byte) (Entry, int, error) {
	if len(b) == 0 {
		return Entry{}, 0, corruptf("snapshot entry: %v", errShort)
	}
	if b[0] != entryVersion {
		return Entry{}, 0, corruptf("snapshot entry version %d, this tapefs reads version %d", b[0], entryVersion)
	}
	d := decoder{b: b[1:]}
	n := d.uvarint("entry length", MaxEntrySize)
	if d.err != nil {
		return Entry{}, 0, fmt.Errorf("%w: snapshot entry: %w", ErrCorrupt, d.err)
	}
	hdr := len(b) - len(d.b)
	if uint64(len(d.b)) < n {
		return Entry{}, 0, fmt.Errorf("%w: snapshot entry of %d bytes is cut short at %d: %w", ErrCorrupt, n, len(d.b), errShort)
	}
	e, err := decodeEntryBody(d.b[:n])
	if err != nil {
		return Entry{}, 0, err
	}
	return e, hdr + int(n), nil
}

// decodeEntryBody decodes and validates an entry body that must be used up
// exactly. Errors wrap ErrCorrupt.
func decodeEntryBody(body []byte) (Entry, error) {
	d := decoder{b: body}
	var e Entry
	e.Type = EntryType(d.byte("type"))
	e.Path = d.string("path", MaxPathLen)
	e.Mode = uint32(d.uvarint("mode", maxModeBits))
	e.UID = uint32(d.uvarint("uid", math.MaxUint32))
	e.GID = uint32(d.uvarint("gid", math.MaxUint32))
	e.User = d.string("user", MaxOwnerNameLen)
	e.Group = d.string("group", MaxOwnerNameLen)
	e.Size = int64(d.uvarint("size", math.MaxInt64))
	e.Mtime = d.time("mtime")
	e.Atime = d.time("atime")
	e.Ctime = d.time("ctime")
	e.Rdev = d.uvarint("rdev", math.MaxUint64)
	e.Target = d.string("target", MaxPathLen)
	// Each attribute takes at least 3 bytes (two lengths and a name byte).
	if nx := d.count("extended attributes", MaxXattrs, 3); nx > 0 {
		e.Xattrs = make(map[string][]byte, nx)
		prev := ""
		for i := range nx {
			name := d.string("extended attribute name", MaxXattrNameLen)
			v := d.bytes("extended attribute value", int(d.uvarint("extended attribute value", MaxXattrValueLen)))
			if d.err != nil {
				break
			}
			if i > 0 && name <= prev {
				d.fail(fmt.Errorf("extended attribute %q is out of order or repeated", name))
				break
			}
			e.Xattrs[name] = append([]byte{}, v...)
			prev = name
		}
	}
	// A reference takes at least 3 bytes (flags, gap, size).
	if nc := d.count("chunk references", MaxChunkRefs, 3); nc > 0 {
		e.Chunks = make([]ChunkRef, nc)
		var end int64
		for i := range e.Chunks {
			c := &e.Chunks[i]
			flags := d.byte("chunk reference flags")
			gap := d.uvarint("chunk reference gap", math.MaxInt64)
			c.Size = uint32(d.uvarint("chunk size", MaxChunkSize))
			if flags&^chunkRefZero != 0 {
				d.fail(fmt.Errorf("chunk reference %d has unknown flags %#02x", i, flags))
			}
			if d.err != nil {
				break
			}
			if gap > uint64(math.MaxInt64-end) {
				d.fail(fmt.Errorf("chunk reference %d offset overflows", i))
				break
			}
			c.Offset = end + int64(gap)
			c.Zero = flags&chunkRefZero != 0
			if !c.Zero {
				copy(c.Digest[:], d.bytes("chunk digest", 32))
			}
			if c.Size == 0 || c.Offset > math.MaxInt64-int64(c.Size) {
				d.fail(fmt.Errorf("chunk reference %d: size %d at offset %d", i, c.Size, c.Offset))
				break
			}
			end = c.Offset + int64(c.Size)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the last field", len(d.b)))
	}
	if d.err != nil {
		return Entry{}, fmt.Errorf("%w: snapshot entry %q: %w", ErrCorrupt, e.Path, d.err)
	}
	if err := e.Validate(); err != nil {
		return Entry{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e, nil
}

// errShort is wrapped by decoder errors for data that ends early.
var errShort = fmt.Errorf("data ends early: %w", io.ErrUnexpectedEOF)

// decoder reads the canonical varint encoding used by snapshot entries and
// catalog archives from a byte slice. The first error sticks; later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(fmt.Errorf("%s: %w", field, errShort))
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail(fmt.Errorf("%s: %w", field, errShort))
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// uvarint reads a minimally encoded uvarint of at most max.
func (d *decoder) uvarint(field string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.fail(fmt.Errorf("%s: %w", field, errShort))
		return 0
	case n < 0:
		d.fail(fmt.Errorf("%s: varint overflows 64 bits", field))
		return 0
	case n > 1 && d.b[n-1] == 0:
		d.fail(fmt.Errorf("%s: varint is not minimally encoded", field))
		return 0
	case v > max:
		d.fail(fmt.Errorf("%s %d exceeds the limit of %d", field, v, max))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads a minimally encoded zig-zag varint.
func (d *decoder) varint(field string) int64 {
	u := d.uvarint(field, math.MaxUint64)
	return int64(u>>1) ^ -int64(u&1)
}

// count reads an element count of at most max and checks that the rest of
// the data can hold that many elements of at least minSize bytes each, so
// a damaged count never makes the caller allocate more than the data.
func (d *decoder) count(field string, max uint64, minSize int) int {
	n := d.uvarint(field, max)
	if d.err == nil && n > uint64(len(d.b)/minSize) {
		d.fail(fmt.Errorf("%d %s do not fit in the %d bytes left: %w", n, field, len(d.b), errShort))
		return 0
	}
	return int(n)
}

func (d *decoder) string(field string, max uint64) string {
	n := d.uvarint(field, max)
	return string(d.bytes(field, int(n)))
}

// time reads seconds (zig-zag varint) and nanoseconds (uvarint).
func (d *decoder) time(field string) time.Time {
	secs := d.varint(field)
	nanos := d.uvarint(field, 999_999_999)
	if d.err != nil {
		return time.Time{}
	}
	if secs < minCtime || secs > maxCtime {
		d.fail(fmt.Errorf("%s %d seconds is outside the years 1 to 9999", field, secs))
		return time.Time{}
	}
	return time.Unix(secs, int64(nanos)).UTC()
}
