package staging

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
	"time"
)

// Journal records. Each is framed as
//
//	uint32 LE  payload length
//	uint32 LE  CRC-32C of the payload
//	payload    op byte, then the op's fields (uvarints, zigzag varints,
//	           length-prefixed bytes)
//
// A frame that is cut short or fails its CRC ends the journal: it is the
// torn tail of a write that was interrupted by power loss.
const (
	opNode   = 1 // the full metadata of one node (replaces what was known)
	opLink   = 2 // a directory entry parent/name → id
	opUnlink = 3 // remove the entry parent/name
	opRename = 4 // move parent/name to newParent/newName (replacing it)

	// Flags of an opNode record. A packed node's record continues after
	// the flags with uvarints pack, offset, length.
	flagDirty  = 1
	flagPacked = 2
	// flagWideTimes: a time does not fit in int64 nanoseconds (before
	// 1677 or after 2262). The three time fields then hold 0 and the
	// record ends with atime, mtime and ctime as zigzag varint seconds and
	// uvarint nanoseconds each.
	flagWideTimes = 4

	frameHeader = 8
	// maxRecord bounds one record: a node with every xattr at the format's
	// limits stays below it.
	maxRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is a record that does not decode.
var errCorrupt = errors.New("staging journal: corrupt record")

// record is one decoded journal record.
type record struct {
	op        byte
	node      nodeMeta // opNode
	parent    ID       // opLink, opUnlink, opRename
	name      string   // opLink, opUnlink, opRename
	id        ID       // opLink
	newParent ID       // opRename
	newName   string   // opRename
	exchange  bool     // opRename: swap the two entries
}

// nodeMeta is what the journal keeps of a node.
type nodeMeta struct {
	ID                  ID
	Mode                uint32
	UID, GID            uint32
	Rdev                uint64
	Atime, Mtime, Ctime stamp
	Dirty               bool // a regular file being written
	// Pack, PackOff, PackLen: a regular file whose data is the PackLen
	// bytes at PackOff of pack file Pack (0: its own data file).
	Pack             uint64
	PackOff, PackLen int64
	Target           string
	Xattrs           map[string][]byte
}

// stamp is a time as the kernel passes it: seconds since the epoch and
// nanoseconds (0 to 999,999,999). Unlike int64 nanoseconds it holds every
// time a Linux filesystem can store (ext4 reaches 2446, XFS and tmpfs
// further).
type stamp struct {
	Sec  int64
	Nsec uint32
}

// stampOf is t as a stamp.
func stampOf(t time.Time) stamp { return stamp{Sec: t.Unix(), Nsec: uint32(t.Nanosecond())} }

// time is s as a time.Time.
func (s stamp) time() time.Time { return time.Unix(s.Sec, int64(s.Nsec)) }

// Range of whole seconds that int64 nanoseconds reach (about 1677 to
// 2262), and the nanoseconds past the last one.
const (
	loNanoSec = math.MinInt64 / int64(time.Second) // -9223372036
	hiNanoSec = math.MaxInt64 / int64(time.Second) // 9223372036
	loNanoRem = math.MinInt64 % int64(time.Second) // -854775808
	hiNanoRem = math.MaxInt64 % int64(time.Second) // 854775807
)

// nanos is s in nanoseconds since the epoch; ok is false when it does not
// fit in an int64 (or s is not a valid time).
func (s stamp) nanos() (ns int64, ok bool) {
	switch {
	case s.Nsec >= uint32(time.Second),
		s.Sec > hiNanoSec || s.Sec < loNanoSec-1,
		s.Sec == hiNanoSec && int64(s.Nsec) > hiNanoRem,
		s.Sec == loNanoSec-1 && int64(s.Nsec) < int64(time.Second)+loNanoRem:
		return 0, false
	case s.Sec < 0 && s.Nsec > 0:
		return (s.Sec+1)*int64(time.Second) + int64(s.Nsec) - int64(time.Second), true
	}
	return s.Sec*int64(time.Second) + int64(s.Nsec), true
}

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encode appends the framed record to dst.
func (r *record) encode(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeader)...)
	dst = append(dst, r.op)
	switch r.op {
	case opNode:
		n := &r.node
		dst = appendUvarint(dst, uint64(n.ID))
		dst = appendUvarint(dst, uint64(n.Mode))
		dst = appendUvarint(dst, uint64(n.UID))
		dst = appendUvarint(dst, uint64(n.GID))
		dst = appendUvarint(dst, n.Rdev)
		times := [3]stamp{n.Atime, n.Mtime, n.Ctime}
		wide := false
		for _, t := range times {
			if _, ok := t.nanos(); !ok {
				wide = true
			}
		}
		for _, t := range times {
			ns, _ := t.nanos()
			if wide {
				ns = 0
			}
			dst = appendVarint(dst, ns)
		}
		flags := uint64(0)
		if wide {
			flags |= flagWideTimes
		}
		if n.Dirty {
			flags |= flagDirty
		}
		if n.Pack != 0 {
			flags |= flagPacked
		}
		dst = appendUvarint(dst, flags)
		if n.Pack != 0 {
			dst = appendUvarint(dst, n.Pack)
			dst = appendUvarint(dst, uint64(n.PackOff))
			dst = appendUvarint(dst, uint64(n.PackLen))
		}
		dst = appendBytes(dst, n.Target)
		names := make([]string, 0, len(n.Xattrs))
		for k := range n.Xattrs {
			names = append(names, k)
		}
		sort.Strings(names)
		dst = appendUvarint(dst, uint64(len(names)))
		for _, k := range names {
			dst = appendBytes(dst, k)
			dst = appendBytes(dst, string(n.Xattrs[k]))
		}
		if wide {
			for _, t := range times {
				dst = appendVarint(dst, t.Sec)
				dst = appendUvarint(dst, uint64(t.Nsec))
			}
		}
	case opLink:
		dst = appendUvarint(dst, uint64(r.parent))
		dst = appendBytes(dst, r.name)
		dst = appendUvarint(dst, uint64(r.id))
	case opUnlink:
		dst = appendUvarint(dst, uint64(r.parent))
		dst = appendBytes(dst, r.name)
	case opRename:
		dst = appendUvarint(dst, uint64(r.parent))
		dst = appendBytes(dst, r.name)
		dst = appendUvarint(dst, uint64(r.newParent))
		dst = appendBytes(dst, r.newName)
		x := uint64(0)
		if r.exchange {
			x = 1
		}
		dst = appendUvarint(dst, x)
	}
	payload := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, crcTable))
	return dst
}

// nanoStamp is ns nanoseconds since the epoch as a stamp.
func nanoStamp(ns int64) stamp { return stampOf(time.Unix(0, ns)) }

// decoder reads the fields of one payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

// fail marks the payload corrupt.
func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(max int) string {
	n := d.uvarint(uint64(max))
	if d.err != nil {
		return ""
	}
	if uint64(len(d.b)) < n {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Field limits of the decoder: names of one component, whole paths and
// xattrs as the Linux VFS allows them.
const (
	maxName       = 255
	maxTarget     = 4095
	maxXattrName  = 255
	maxXattrValue = 64 << 10
	maxXattrs     = 1 << 16
)

// decodeRecord decodes one payload (without its frame).
func decodeRecord(p []byte) (record, error) {
	if len(p) == 0 {
		return record{}, errCorrupt
	}
	r := record{op: p[0]}
	d := &decoder{b: p[1:]}
	switch r.op {
	case opNode:
		n := &r.node
		n.ID = ID(d.uvarint(math.MaxUint64))
		n.Mode = uint32(d.uvarint(math.MaxUint32))
		n.UID = uint32(d.uvarint(math.MaxUint32))
		n.GID = uint32(d.uvarint(math.MaxUint32))
		n.Rdev = d.uvarint(math.MaxUint64)
		var ns [3]int64
		for i := range ns {
			ns[i] = d.varint()
		}
		n.Atime, n.Mtime, n.Ctime = nanoStamp(ns[0]), nanoStamp(ns[1]), nanoStamp(ns[2])
		flags := d.uvarint(flagDirty | flagPacked | flagWideTimes)
		n.Dirty = flags&flagDirty != 0
		if flags&flagPacked != 0 {
			n.Pack = d.uvarint(math.MaxUint64)
			n.PackOff = int64(d.uvarint(math.MaxInt64))
			n.PackLen = int64(d.uvarint(math.MaxInt64 - uint64(n.PackOff)))
			if n.Pack == 0 && d.err == nil {
				d.err = fmt.Errorf("%w: pack 0", errCorrupt)
			}
		}
		n.Target = d.bytes(maxTarget)
		cnt := d.uvarint(maxXattrs)
		for i := uint64(0); i < cnt && d.err == nil; i++ {
			k := d.bytes(maxXattrName)
			v := d.bytes(maxXattrValue)
			if n.Xattrs == nil {
				n.Xattrs = map[string][]byte{}
			}
			n.Xattrs[k] = []byte(v)
		}
		if flags&flagWideTimes != 0 {
			// Only the encoding encode writes: zeros up front, and at
			// least one time that int64 nanoseconds cannot hold.
			if ns != [3]int64{} {
				d.fail()
			}
			wide := false
			for _, t := range []*stamp{&n.Atime, &n.Mtime, &n.Ctime} {
				t.Sec = d.varint()
				t.Nsec = uint32(d.uvarint(uint64(time.Second) - 1))
				if _, ok := t.nanos(); !ok {
					wide = true
				}
			}
			if !wide {
				d.fail()
			}
		}
	case opLink:
		r.parent = ID(d.uvarint(math.MaxUint64))
		r.name = d.bytes(maxName)
		r.id = ID(d.uvarint(math.MaxUint64))
	case opUnlink:
		r.parent = ID(d.uvarint(math.MaxUint64))
		r.name = d.bytes(maxName)
	case opRename:
		r.parent = ID(d.uvarint(math.MaxUint64))
		r.name = d.bytes(maxName)
		r.newParent = ID(d.uvarint(math.MaxUint64))
		r.newName = d.bytes(maxName)
		r.exchange = d.uvarint(1) == 1
	default:
		return record{}, fmt.Errorf("%w: unknown op %d", errCorrupt, r.op)
	}
	if d.err != nil {
		return record{}, d.err
	}
	if len(d.b) != 0 {
		return record{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return r, nil
}

// nextFrame splits the first frame off b. ok is false when b holds no
// complete, intact frame (the end of the journal).
func nextFrame(b []byte) (payload, rest []byte, ok bool) {
	if len(b) < frameHeader {
		return nil, b, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRecord || uint64(len(b)-frameHeader) < uint64(n) {
		return nil, b, false
	}
	payload = b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, b, false
	}
	return payload, b[frameHeader+int(n):], true
}
