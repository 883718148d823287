package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Ignore names a field that Equal leaves out of the comparison, beyond
// Media.Updated, which it always ignores (it stamps when an entry was
// written, not what the entry says).
type Ignore int

// Fields a catalog rebuilt from tape may legitimately get differently from
// the live one.
const (
	// IgnoreMediaStatus: a rebuild may not know whether a tape is full.
	IgnoreMediaStatus Ignore = iota + 1
	// IgnoreMediaLocation: the rebuild ran where the tapes are now.
	IgnoreMediaLocation
	// IgnoreMediaBytesUsed: usage counters come from the drive, not tape.
	IgnoreMediaBytesUsed
	// IgnoreSetClosed: whether a set takes more writes is a decision of
	// the live engine.
	IgnoreSetClosed
	// IgnoreSetLastWrite: the time of the last append is not on tape.
	IgnoreSetLastWrite
)

// Equal compares the content of c and other: every key and value, in key
// order, from one consistent snapshot of each. Media entries and media set
// records are compared field by field, without Media.Updated and without the
// fields named in ignore; every other value byte by byte. It returns true,
// or false and a one-line description of the first difference (the Dump
// lines of both sides). Commit records (commit.go) are left out: they
// are the live engine's notes of a commit in flight, which a rebuild from
// tape cannot have and which say nothing about what the tapes hold. It
// reads both catalogs at once and holds neither beyond the call. Errors:
// ErrClosed, ErrCorrupt (a media or set record that does not decode),
// database errors.
func (c *Catalog) Equal(other *Catalog, ignore ...Ignore) (bool, string, error) {
	if c == other {
		return true, "", nil
	}
	ign := make(map[Ignore]bool, len(ignore))
	for _, i := range ignore {
		ign[i] = true
	}
	var (
		equal = true
		diff  string
	)
	err := c.view(func(ta *badger.Txn) error {
		return other.view(func(tb *badger.Txn) error {
			opts := badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100}
			a, b := ta.NewIterator(opts), tb.NewIterator(opts)
			defer a.Close()
			defer b.Close()
			a.Rewind()
			b.Rewind()
			skipNotes := func(it *badger.Iterator) {
				for it.Valid() && bytes.HasPrefix(it.Item().Key(), []byte(commitPrefix)) {
					it.Next()
				}
			}
			for {
				skipNotes(a)
				skipNotes(b)
				if !a.Valid() && !b.Valid() {
					break
				}
				var cmp int
				switch {
				case !a.Valid():
					cmp = 1
				case !b.Valid():
					cmp = -1
				default:
					cmp = bytes.Compare(a.Item().Key(), b.Item().Key())
				}
				if cmp != 0 {
					it, who := a, c.dir
					if cmp > 0 {
						it, who = b, other.dir
					}
					line, err := itemLine(it.Item())
					if err != nil {
						return err
					}
					equal, diff = false, fmt.Sprintf("only in %s: %s", who, line)
					return nil
				}
				va, err := a.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				vb, err := b.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				key := a.Item().Key()
				same, err := sameValue(key, va, vb, ign)
				if err != nil {
					return fmt.Errorf("key %q: %w", renderKey(key), err)
				}
				if !same {
					equal, diff = false, fmt.Sprintf("differs: %s: %s; %s: %s", c.dir, renderLine(key, va), other.dir, renderLine(key, vb))
					if d, err := treeDiff(ta, tb, key, va, vb); err != nil {
						return err
					} else if d != "" {
						diff = fmt.Sprintf("differs: %s: %s", renderKey(key), d)
					}
					return nil
				}
				a.Next()
				b.Next()
			}
			return nil
		})
	})
	if err != nil {
		return false, "", fmt.Errorf("compare catalogs %s and %s: %w", c.dir, other.dir, err)
	}
	return equal, diff, nil
}

func itemLine(item *badger.Item) (string, error) {
	v, err := item.ValueCopy(nil)
	if err != nil {
		return "", err
	}
	return renderLine(item.Key(), v), nil
}

// sameValue compares two values of key, leaving out the ignored fields of
// media and media set records.
func sameValue(key, a, b []byte, ign map[Ignore]bool) (bool, error) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	switch {
	case bytes.HasPrefix(key, []byte(mediaPrefix)):
		ma, err := decodeMedia(a)
		if err != nil {
			return false, err
		}
		mb, err := decodeMedia(b)
		if err != nil {
			return false, err
		}
		for _, m := range []*Media{&ma, &mb} {
			m.Updated = time.Time{}
			if ign[IgnoreMediaStatus] {
				m.Status = StatusUnknown
			}
			if ign[IgnoreMediaLocation] {
				m.Location = Location{Kind: LocationOffline}
			}
			if ign[IgnoreMediaBytesUsed] {
				m.BytesUsed = 0
			}
		}
		ea, err := encodeMedia(ma)
		if err != nil {
			return false, err
		}
		eb, err := encodeMedia(mb)
		if err != nil {
			return false, err
		}
		return bytes.Equal(ea, eb), nil
	case bytes.HasPrefix(key, []byte(setPrefix)):
		sa, err := decodeMediaSet(a)
		if err != nil {
			return false, err
		}
		sb, err := decodeMediaSet(b)
		if err != nil {
			return false, err
		}
		for _, s := range []*MediaSet{&sa, &sb} {
			if ign[IgnoreSetClosed] {
				s.Closed = false
			}
			if ign[IgnoreSetLastWrite] {
				s.LastWrite = time.Time{}
			}
		}
		ea, err := encodeMediaSet(sa)
		if err != nil {
			return false, err
		}
		eb, err := encodeMediaSet(sb)
		if err != nil {
			return false, err
		}
		return bytes.Equal(ea, eb), nil
	}
	return false, nil
}

// treeDiff names the first entry in which the trees of two snapshot
// records differ when nothing else of the records does ("" otherwise), so
// a difference shows as a path rather than as two tree hashes.
func treeDiff(ta, tb *badger.Txn, key, va, vb []byte) (string, error) {
	if !bytes.HasPrefix(key, []byte(snapPrefix)) {
		return "", nil
	}
	sa, topA, errA := decodeSnapshotRecord(va)
	sb, topB, errB := decodeSnapshotRecord(vb)
	if errA != nil || errB != nil || topA == topB || topA == (dirHash{}) || topB == (dirHash{}) {
		return "", nil
	}
	if ea, _ := encodeSnapshot(sa, dirHash{}); !bytes.Equal(ea, mustEncode(sb)) {
		return "", nil
	}
	next, stop := iter.Pull2(walkSeq(tb, sb.Set, topB))
	defer stop()
	var diff string
	err := walkTxn(ta, sa.Set, topA, func(a TreeEntry) error {
		b, err, ok := next()
		switch {
		case err != nil:
			return err
		case !ok:
			diff = fmt.Sprintf("entry %q is only in the first tree", a.Path)
		case a.Path != b.Path:
			p := min(a.Path, b.Path)
			diff = fmt.Sprintf("entry %q is only in one tree", p)
		case a.Links != b.Links || !bytes.Equal(a.Value, b.Value):
			diff = fmt.Sprintf("entry %q: links %d hex %x; links %d hex %x", a.Path, a.Links, a.Value, b.Links, b.Value)
		default:
			return nil
		}
		return errStopWalk
	})
	if errors.Is(err, errStopWalk) {
		return diff, nil
	}
	if err != nil {
		return "", err
	}
	if b, _, ok := next(); ok {
		return fmt.Sprintf("entry %q is only in the second tree", b.Path), nil
	}
	return "the trees are stored differently", nil
}

var errStopWalk = errors.New("stop")

func mustEncode(s Snapshot) []byte {
	b, _ := encodeSnapshot(s, dirHash{})
	return b
}

// walkSeq yields the entries walkTxn gives, and an error last if it fails.
func walkSeq(txn *badger.Txn, set uuid.UUID, top dirHash) iter.Seq2[TreeEntry, error] {
	return func(yield func(TreeEntry, error) bool) {
		err := walkTxn(txn, set, top, func(e TreeEntry) error {
			if !yield(e, nil) {
				return errStopWalk
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopWalk) {
			yield(TreeEntry{}, err)
		}
	}
}
