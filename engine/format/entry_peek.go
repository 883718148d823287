package format

import "encoding/binary"

// PeekEntryType returns the type of the encoded entry at the start of b
// without decoding the rest, for scans that only need to know which
// entries are hard links. It checks the version byte and the length
// prefix only; use DecodeEntry for the entry itself. Errors wrap
// ErrCorrupt.
func PeekEntryType(b []byte) (EntryType, error) {
	if len(b) == 0 {
		return 0, corruptf("snapshot entry: %v", errShort)
	}
	if b[0] != entryVersion {
		return 0, corruptf("snapshot entry version %d, this tapefs reads version %d", b[0], entryVersion)
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > MaxEntrySize {
		return 0, corruptf("snapshot entry: bad length prefix")
	}
	body := b[1+k:]
	if n == 0 || uint64(len(body)) < n {
		return 0, corruptf("snapshot entry of %d bytes is cut short at %d", n, len(body))
	}
	t := EntryType(body[0])
	if t < EntryFile || t > EntrySocket {
		return 0, corruptf("snapshot entry: unknown entry type %d", t)
	}
	return t, nil
}
