package format

import (
	"fmt"
	"math"
	"time"
)

// EntryAttr is what a directory listing shows of a snapshot entry: the
// fields of stat(2) and a link's target, without the path, owner names,
// extended attributes and chunk digests of the full Entry.
type EntryAttr struct {
	Type                EntryType
	Mode, UID, GID      uint32
	Size                int64
	Mtime, Atime, Ctime time.Time
	Rdev                uint64
	// Target is a symlink's target or a hard link's first name, as in
	// Entry.Target.
	Target string
	// Stored is the number of bytes of a regular file's chunks that are
	// on tape (zero ranges and holes excluded).
	Stored int64
	// Xattrs is the number of the entry's extended attributes.
	Xattrs int
}

// DecodeEntryAttr decodes the attributes of the encoded entry at the start
// of b, skipping over the path, owner names, extended attributes and chunk
// digests without allocating them: the cheap decoder for listings. It
// checks the framing and every field it returns as DecodeEntry does, and
// that the body is used up exactly, but not what it skips (use DecodeEntry
// for the whole entry): every entry DecodeEntry accepts gives the same
// attributes here. Errors wrap ErrCorrupt.
func DecodeEntryAttr(b []byte) (EntryAttr, error) {
	if len(b) == 0 {
		return EntryAttr{}, corruptf("snapshot entry: %v", errShort)
	}
	if b[0] != entryVersion {
		return EntryAttr{}, corruptf("snapshot entry version %d, this tapefs reads version %d", b[0], entryVersion)
	}
	d := decoder{b: b[1:]}
	n := d.uvarint("entry length", MaxEntrySize)
	if d.err != nil {
		return EntryAttr{}, fmt.Errorf("%w: snapshot entry: %w", ErrCorrupt, d.err)
	}
	if uint64(len(d.b)) < n {
		return EntryAttr{}, fmt.Errorf("%w: snapshot entry of %d bytes is cut short at %d: %w", ErrCorrupt, n, len(d.b), errShort)
	}
	d.b = d.b[:n]
	var a EntryAttr
	a.Type = EntryType(d.byte("type"))
	d.skip("path", MaxPathLen)
	a.Mode = uint32(d.uvarint("mode", maxModeBits))
	a.UID = uint32(d.uvarint("uid", math.MaxUint32))
	a.GID = uint32(d.uvarint("gid", math.MaxUint32))
	d.skip("user", MaxOwnerNameLen)
	d.skip("group", MaxOwnerNameLen)
	a.Size = int64(d.uvarint("size", math.MaxInt64))
	a.Mtime = d.time("mtime")
	a.Atime = d.time("atime")
	a.Ctime = d.time("ctime")
	a.Rdev = d.uvarint("rdev", math.MaxUint64)
	a.Target = d.string("target", MaxPathLen)
	a.Xattrs = d.count("extended attributes", MaxXattrs, 3)
	for range a.Xattrs {
		d.skip("extended attribute name", MaxXattrNameLen)
		d.skip("extended attribute value", MaxXattrValueLen)
	}
	var end int64
	for i := range d.count("chunk references", MaxChunkRefs, 3) {
		flags := d.byte("chunk reference flags")
		gap := d.uvarint("chunk reference gap", math.MaxInt64)
		size := int64(d.uvarint("chunk size", MaxChunkSize))
		if flags&^chunkRefZero != 0 {
			d.fail(fmt.Errorf("chunk reference %d has unknown flags %#02x", i, flags))
		}
		if d.err != nil {
			break
		}
		if gap > uint64(math.MaxInt64-end) || size == 0 || end+int64(gap) > math.MaxInt64-size {
			d.fail(fmt.Errorf("chunk reference %d: size %d at gap %d overflows", i, size, gap))
			break
		}
		end += int64(gap) + size
		if flags&chunkRefZero == 0 {
			d.bytes("chunk digest", 32)
			a.Stored += size
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the last field", len(d.b)))
	}
	if d.err == nil && (a.Type < EntryFile || a.Type > EntrySocket) {
		d.fail(fmt.Errorf("unknown entry type %d", a.Type))
	}
	if d.err == nil && end > a.Size {
		d.fail(fmt.Errorf("chunks end at %d, after the file size %d", end, a.Size))
	}
	if d.err != nil {
		return EntryAttr{}, fmt.Errorf("%w: snapshot entry: %w", ErrCorrupt, d.err)
	}
	return a, nil
}

// skip passes over a length-prefixed string of at most max bytes.
func (d *decoder) skip(field string, max uint64) {
	d.bytes(field, int(d.uvarint(field, max)))
}
