package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Schema 1 stored every entry of every snapshot under its own keys. Open
// migrates such a catalog to content-addressed directories (dirtree.go);
// what is here reads the old keys for that, and Dump still names them.

// Tree keys. A snapshot's tree lives under
//
//	treePrefix | set (16 bytes) | snapshot name | 0x00
//
// followed by 0x00 for the root entry, or by 0x01 | dir | 0x00 | name for the
// entry dir/name (dir "" for entries in the root). The children of a
// directory thus share the prefix ... 0x01 | dir | 0x00, and one prefix scan
// lists them in name order. Neither names nor snapshot names contain NUL, so
// every key parses one way.
//
// A value longer than treePartSize is split: the head key holds the first
// treePartSize bytes, and continuation keys head | 0x00 | part (4 bytes big
// endian, from 1) the rest. They sort right after their head and before its
// next sibling, so scans read an entry's parts in passing.
const (
	treeRootTag  = 0x00
	treeEntryTag = 0x01
	treePartSize = 64 << 10
)

// Flags of a tree head value.
const (
	treeHasChildren byte = 1 << 0
	// treeHasLinks: the head holds the entry's number of names (hard
	// links to it plus its own) after the part count.
	treeHasLinks   byte = 1 << 1
	treeKnownFlags      = treeHasChildren | treeHasLinks
)

func treeSetPrefix(set uuid.UUID) []byte {
	k := make([]byte, 0, len(treePrefix)+16)
	return append(append(k, treePrefix...), set[:]...)
}

func treeSnapPrefix(set uuid.UUID, snapshot string) []byte {
	k := append(treeSetPrefix(set), snapshot...)
	return append(k, 0)
}

// treeKey returns the head key of the entry at path p.
func treeKey(set uuid.UUID, snapshot, p string) []byte {
	k := treeSnapPrefix(set, snapshot)
	if p == "" {
		return append(k, treeRootTag)
	}
	dir, name := splitLast(p)
	k = append(k, treeEntryTag)
	k = append(k, dir...)
	k = append(k, 0)
	return append(k, name...)
}

// treeDirPrefix returns the prefix shared by the head keys of dir's children.
func treeDirPrefix(set uuid.UUID, snapshot, dir string) []byte {
	k := append(treeSnapPrefix(set, snapshot), treeEntryTag)
	k = append(k, dir...)
	return append(k, 0)
}

func treePartKey(head []byte, part uint32) []byte {
	k := make([]byte, 0, len(head)+5)
	k = append(append(k, head...), 0)
	return binary.BigEndian.AppendUint32(k, part)
}

// splitTreeValue encodes an entry's value as its head value and continuation
// values. The head is valueV1, the flags, the number of continuation values
// as an unsigned varint, the number of names when links is 2 or more (flag
// treeHasLinks, an unsigned varint; links 0 or 1 stores nothing), and the
// first treePartSize bytes of v; each continuation value is valueV1 and the
// next treePartSize bytes (the last one fewer, but at least one).
func splitTreeValue(flags byte, links uint32, v []byte) [][]byte {
	n := 0
	if len(v) > treePartSize {
		n = (len(v) - 1) / treePartSize
	}
	flags &^= treeHasLinks
	if links > 1 {
		flags |= treeHasLinks
	}
	first := v[:min(len(v), treePartSize)]
	head := make([]byte, 0, 2+2*binary.MaxVarintLen32+len(first))
	head = append(head, valueV1, flags)
	head = binary.AppendUvarint(head, uint64(n))
	if links > 1 {
		head = binary.AppendUvarint(head, uint64(links))
	}
	out := [][]byte{append(head, first...)}
	for rest := v[len(first):]; len(rest) > 0; {
		p := rest[:min(len(rest), treePartSize)]
		out = append(out, append([]byte{valueV1}, p...))
		rest = rest[len(p):]
	}
	return out
}

// maxTreeParts bounds the continuation count a head may announce.
const maxTreeParts = 1<<32 - 1

// decodeTreeHead parses a tree head value into its flags, the number of
// continuation values, the number of names (0 without treeHasLinks) and the
// first part of the payload. It accepts only what splitTreeValue produces.
// Errors wrap ErrCorrupt.
func decodeTreeHead(b []byte) (flags byte, more, links uint32, payload []byte, err error) {
	if len(b) < 3 || b[0] != valueV1 {
		return 0, 0, 0, nil, fmt.Errorf("tree value %.40x is not format %d + flags + count: %w", b, valueV1, ErrCorrupt)
	}
	flags = b[1]
	if flags&^treeKnownFlags != 0 {
		return 0, 0, 0, nil, fmt.Errorf("tree value has unknown flags %#x: %w", flags, ErrCorrupt)
	}
	n, l := uvarint(b[2:])
	if l <= 0 || n > maxTreeParts {
		return 0, 0, 0, nil, fmt.Errorf("tree value %.40x has a bad part count: %w", b, ErrCorrupt)
	}
	rest := b[2+l:]
	if flags&treeHasLinks != 0 {
		k, l := uvarint(rest)
		if l <= 0 || k < 2 || k > math.MaxUint32 {
			return 0, 0, 0, nil, fmt.Errorf("tree value %.40x has a bad link count: %w", b, ErrCorrupt)
		}
		links, rest = uint32(k), rest[l:]
	}
	if len(rest) > treePartSize || (n > 0 && len(rest) != treePartSize) {
		return 0, 0, 0, nil, fmt.Errorf("tree value holds %d bytes with %d more parts: %w", len(rest), n, ErrCorrupt)
	}
	return flags, uint32(n), links, rest, nil
}

// decodeTreePart parses a continuation value; last says whether it is the
// entry's last one (which may be short, but not empty). Errors wrap
// ErrCorrupt.
func decodeTreePart(b []byte, last bool) ([]byte, error) {
	if len(b) < 2 || b[0] != valueV1 {
		return nil, fmt.Errorf("tree continuation %.40x is not format %d + data: %w", b, valueV1, ErrCorrupt)
	}
	p := b[1:]
	if len(p) > treePartSize || (!last && len(p) != treePartSize) {
		return nil, fmt.Errorf("tree continuation holds %d bytes: %w", len(p), ErrCorrupt)
	}
	return p, nil
}

// readTreeEntry reads the entry whose head the iterator is at, with its
// continuation values, and leaves the iterator at the key after them. It
// returns the head key, the flags, the number of names and the reassembled
// value (a copy).
func readTreeEntry(it *badger.Iterator) (head []byte, flags byte, links uint32, value []byte, err error) {
	item := it.Item()
	head = item.KeyCopy(nil)
	var more uint32
	err = item.Value(func(v []byte) error {
		var p []byte
		flags, more, links, p, err = decodeTreeHead(v)
		value = append([]byte(nil), p...)
		return err
	})
	if err != nil {
		return nil, 0, 0, nil, fmt.Errorf("key %q: %w", head, err)
	}
	for part := uint32(1); part <= more; part++ {
		it.Next()
		want := treePartKey(head, part)
		if !it.Valid() || !bytes.Equal(it.Item().Key(), want) {
			return nil, 0, 0, nil, fmt.Errorf("key %q: continuation %d of %d is missing: %w", head, part, more, ErrCorrupt)
		}
		err = it.Item().Value(func(v []byte) error {
			p, err := decodeTreePart(v, part == more)
			value = append(value, p...)
			return err
		})
		if err != nil {
			return nil, 0, 0, nil, fmt.Errorf("key %q: %w", want, err)
		}
	}
	it.Next()
	return head, flags, links, value, nil
}

// treeIterOpts are the options of tree scans. Values stay in the LSM tree
// (see memTableSize), so prefetching them gains nothing, and Badger's
// prefetch starts a goroutine per item: a third of the CPU time of a
// directory listing went there.
func treeIterOpts(prefix []byte) badger.IteratorOptions {
	return badger.IteratorOptions{Prefix: prefix}
}

// listDir walks the children of dir whose head keys share prefix, calling
// fn with each entry, its head key and flags. fn may move the iterator;
// listDir then seeks past the entry it returned from.
func listDir(it *badger.Iterator, prefix []byte, dir string, fn func(e TreeEntry, head []byte, flags byte) error) error {
	for it.Seek(prefix); it.ValidForPrefix(prefix); {
		name := it.Item().Key()[len(prefix):]
		if bytes.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("key %q: continuation without its entry: %w", it.Item().Key(), ErrCorrupt)
		}
		head, flags, links, value, err := readTreeEntry(it)
		if err != nil {
			return err
		}
		p := joinPath(dir, string(head[len(prefix):]))
		if err := fn(TreeEntry{Path: p, Value: value, Links: links}, head, flags); err != nil {
			return err
		}
	}
	return nil
}

// parseTreeKey splits a tree key into its media set, snapshot name, entry
// path and continuation number (0 for a head key). ok is false for a key
// that treeKey and treePartKey cannot produce.
func parseTreeKey(k []byte) (set uuid.UUID, snapshot, p string, part uint32, ok bool) {
	rest, found := bytes.CutPrefix(k, []byte(treePrefix))
	if !found || len(rest) < 16 {
		return uuid.Nil, "", "", 0, false
	}
	set = uuid.UUID(rest[:16])
	rest = rest[16:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 || i+1 >= len(rest) || checkSnapshotName(string(rest[:i])) != nil {
		return uuid.Nil, "", "", 0, false
	}
	snapshot, tag, rest := string(rest[:i]), rest[i+1], rest[i+2:]
	// What is left after the entry's name: nothing (a head) or a NUL and a
	// 4-byte continuation number.
	tail := func(b []byte) (uint32, bool) {
		switch {
		case len(b) == 0:
			return 0, true
		case len(b) == 5 && b[0] == 0:
			n := binary.BigEndian.Uint32(b[1:])
			return n, n > 0
		}
		return 0, false
	}
	switch tag {
	case treeRootTag:
		part, ok = tail(rest)
		return set, snapshot, "", part, ok
	case treeEntryTag:
		d := bytes.IndexByte(rest, 0)
		if d < 0 {
			return uuid.Nil, "", "", 0, false
		}
		dir, name := string(rest[:d]), rest[d+1:]
		if n := bytes.IndexByte(name, 0); n >= 0 {
			name, rest = name[:n], name[n:]
		} else {
			rest = nil
		}
		p = joinPath(dir, string(name))
		if len(name) == 0 || strings.Contains(string(name), "/") || checkTreePath(p) != nil {
			return uuid.Nil, "", "", 0, false
		}
		part, ok = tail(rest)
		return set, snapshot, p, part, ok
	}
	return uuid.Nil, "", "", 0, false
}

// isTreePartKey reports whether k is a continuation key.
func isTreePartKey(k []byte) bool {
	_, _, _, part, ok := parseTreeKey(k)
	return ok && part > 0
}

// walkV1 calls fn for every entry of a schema-1 tree in walk order (the
// order of WalkTree), with the link counts its heads carry.
func walkV1(txn *badger.Txn, set uuid.UUID, snapshot string, fn func(TreeEntry) error) error {
	it := txn.NewIterator(treeIterOpts(treeSnapPrefix(set, snapshot)))
	defer it.Close()
	root := treeKey(set, snapshot, "")
	if it.Seek(root); it.Valid() && bytes.Equal(it.Item().Key(), root) {
		_, _, links, value, err := readTreeEntry(it)
		if err != nil {
			return err
		}
		if err := fn(TreeEntry{Path: "", Value: value, Links: links}); err != nil {
			return err
		}
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		return listDir(it, treeDirPrefix(set, snapshot, dir), dir, func(e TreeEntry, head []byte, flags byte) error {
			if err := fn(e); err != nil {
				return err
			}
			if flags&treeHasChildren == 0 {
				return nil
			}
			if err := walk(e.Path); err != nil {
				return err
			}
			// Back to the next sibling: past head and its
			// continuations (head | 0x00 | 4 bytes).
			it.Seek(append(head, 0, 0xff, 0xff, 0xff, 0xff, 0xff))
			return nil
		})
	}
	return walk("")
}
