package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Snapshot trees, schema 2: content-addressed directories.
//
// Every directory of a snapshot is stored once per media set, under the
// SHA-256 of its listing, so a directory that did not change between two
// snapshots costs nothing the second time, and neither does its subtree.
// A snapshot record names its top listing: a listing with the single,
// nameless entry of the snapshot's root.
//
//	dirPrefix | set (16) | hash (32)                 directory header
//	dirPrefix | set (16) | hash (32) | 0x01 | first  one page of the listing
//	blobPrefix | set (16) | hash (32) | part (4)     a value kept out of line
//
// A listing holds its entries in name order (bytes), each encoded as
//
//	name     uvarint length, bytes
//	flags    byte: dirChildren, dirLinks, dirBlob, dirNoValue
//	links    uvarint, with dirLinks: the entry's number of names (>= 2)
//	child    32 bytes, with dirChildren: the hash of its own listing
//	value    with dirBlob: 32-byte blob hash and uvarint length; without
//	         dirNoValue: uvarint length and bytes; else nothing
//
// The hash of a directory is the SHA-256 of "tapefs dir\x00" and its
// encoded entries. The encoding is split into pages of about pageSize
// bytes at entry boundaries; a page's key ends with the name of its first
// entry, so finding a name is one reverse seek and one page decode, and
// listing a directory is one prefix scan. A page value is valueV1 followed
// by entries; the header, written after the pages, is valueV1 and the
// number of pages and of entries as uvarints: a directory whose header
// exists is complete. Values longer than inlineMax go to blobs (hash of
// "tapefs blob\x00" and the value, parts of blobPart bytes).
const (
	dirPrefix  = "v2/dir/"
	blobPrefix = "v2/blob/"

	dirChildren byte = 1 << 0
	dirLinks    byte = 1 << 1
	dirBlob     byte = 1 << 2
	dirNoValue  byte = 1 << 3
	dirKnown         = dirChildren | dirLinks | dirBlob | dirNoValue

	pageTag   = 0x01
	pageSize  = 32 << 10
	inlineMax = 8 << 10
	blobPart  = 64 << 10
	// maxName bounds a name in a listing (Linux allows 255 bytes; tapefs
	// keeps whatever the tape says up to this).
	maxName = 4096
)

type dirHash = [32]byte

// dirEntry is one decoded entry of a listing.
type dirEntry struct {
	name     string
	flags    byte
	links    uint32
	child    dirHash
	value    []byte // inline value
	blob     dirHash
	blobSize uint64
}

func dirSetPrefix(set uuid.UUID) []byte {
	return append([]byte(dirPrefix), set[:]...)
}

func dirKey(set uuid.UUID, h dirHash) []byte {
	return append(dirSetPrefix(set), h[:]...)
}

func pagesPrefix(set uuid.UUID, h dirHash) []byte {
	return append(dirKey(set, h), pageTag)
}

func blobSetPrefix(set uuid.UUID) []byte {
	return append([]byte(blobPrefix), set[:]...)
}

func blobKey(set uuid.UUID, h dirHash, part uint32) []byte {
	k := append(blobSetPrefix(set), h[:]...)
	return binary.BigEndian.AppendUint32(k, part)
}

// appendDirEntry encodes e.
func appendDirEntry(b []byte, e *dirEntry) []byte {
	b = binary.AppendUvarint(b, uint64(len(e.name)))
	b = append(b, e.name...)
	b = append(b, e.flags)
	if e.flags&dirLinks != 0 {
		b = binary.AppendUvarint(b, uint64(e.links))
	}
	if e.flags&dirChildren != 0 {
		b = append(b, e.child[:]...)
	}
	switch {
	case e.flags&dirBlob != 0:
		b = append(b, e.blob[:]...)
		b = binary.AppendUvarint(b, e.blobSize)
	case e.flags&dirNoValue == 0:
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.value...)
	}
	return b
}

// decodeDirEntry reads one entry from the front of b and returns the rest.
// It accepts only what appendDirEntry produces. Errors wrap ErrCorrupt.
func decodeDirEntry(b []byte) (dirEntry, []byte, error) {
	var e dirEntry
	bad := func(what string) (dirEntry, []byte, error) {
		return dirEntry{}, nil, fmt.Errorf("directory entry: %s: %w", what, ErrCorrupt)
	}
	n, l := uvarint(b)
	if l <= 0 || n > maxName || uint64(len(b)-l) < n {
		return bad("bad name length")
	}
	e.name, b = string(b[l:l+int(n)]), b[l+int(n):]
	if strings.ContainsAny(e.name, "/\x00") {
		return bad(fmt.Sprintf("name %q has a slash or NUL", e.name))
	}
	if len(b) < 1 {
		return bad("no flags")
	}
	e.flags, b = b[0], b[1:]
	if e.flags&^dirKnown != 0 || e.flags&(dirBlob|dirNoValue) == dirBlob|dirNoValue {
		return bad(fmt.Sprintf("flags %#x", e.flags))
	}
	if e.flags&dirLinks != 0 {
		k, l := uvarint(b)
		if l <= 0 || k < 2 || k > math.MaxUint32 {
			return bad("bad link count")
		}
		e.links, b = uint32(k), b[l:]
	}
	if e.flags&dirChildren != 0 {
		if len(b) < 32 {
			return bad("short child hash")
		}
		e.child, b = dirHash(b[:32]), b[32:]
	}
	switch {
	case e.flags&dirBlob != 0:
		if len(b) < 32 {
			return bad("short blob hash")
		}
		e.blob, b = dirHash(b[:32]), b[32:]
		s, l := uvarint(b)
		if l <= 0 || s <= inlineMax {
			return bad("bad blob size")
		}
		e.blobSize, b = s, b[l:]
	case e.flags&dirNoValue == 0:
		s, l := uvarint(b)
		if l <= 0 || s > inlineMax || uint64(len(b)-l) < s {
			return bad("bad value length")
		}
		e.value, b = b[l:l+int(s)], b[l+int(s):]
	}
	return e, b, nil
}

// decodeDirPage parses a page value into its entries, which must be in
// strictly increasing name order. Errors wrap ErrCorrupt.
func decodeDirPage(b []byte) ([]dirEntry, error) {
	if len(b) < 2 || b[0] != valueV1 {
		return nil, fmt.Errorf("directory page %.40x is not format %d + entries: %w", b, valueV1, ErrCorrupt)
	}
	var out []dirEntry
	for b = b[1:]; len(b) > 0; {
		e, rest, err := decodeDirEntry(b)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && out[len(out)-1].name >= e.name {
			return nil, fmt.Errorf("directory page: %q after %q: %w", e.name, out[len(out)-1].name, ErrCorrupt)
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}

func encodeDirHeader(pages, entries int) []byte {
	b := []byte{valueV1}
	b = binary.AppendUvarint(b, uint64(pages))
	return binary.AppendUvarint(b, uint64(entries))
}

// decodeDirHeader parses a directory header. Errors wrap ErrCorrupt.
func decodeDirHeader(b []byte) (pages, entries uint64, err error) {
	if len(b) < 3 || b[0] != valueV1 {
		return 0, 0, fmt.Errorf("directory header %x is not format %d + counts: %w", b, valueV1, ErrCorrupt)
	}
	p, l := uvarint(b[1:])
	if l <= 0 || p == 0 {
		return 0, 0, fmt.Errorf("directory header %x: bad page count: %w", b, ErrCorrupt)
	}
	n, l2 := uvarint(b[1+l:])
	if l2 <= 0 || 1+l+l2 != len(b) || n < p {
		return 0, 0, fmt.Errorf("directory header %x: bad entry count: %w", b, ErrCorrupt)
	}
	return p, n, nil
}

func hashDir(encoded []byte) dirHash {
	h := sha256.New()
	h.Write([]byte("tapefs dir\x00"))
	h.Write(encoded)
	return dirHash(h.Sum(nil))
}

func hashBlob(v []byte) dirHash {
	h := sha256.New()
	h.Write([]byte("tapefs blob\x00"))
	h.Write(v)
	return dirHash(h.Sum(nil))
}

// walkLess orders tree paths as WalkTree visits them: component by
// component, so a directory comes right before its subtree ("a", "a/b",
// "a!"): a slash compares below every other byte.
func walkLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return true
		}
		if cb == '/' {
			return false
		}
		return ca < cb
	}
	return len(a) < len(b)
}

// treeWriter stores one snapshot tree given entry by entry in walk order
// (walkLess). It holds the open directories from the root to the current
// entry, so its memory is one directory's width times the depth, not the
// tree's size. Directories (and long values) already stored in the media
// set are not written again.
type treeWriter struct {
	db  *badger.DB
	set uuid.UUID
	wb  *badger.WriteBatch
	// links gives an entry's number of names; nil takes TreeEntry.Links.
	links func(path string) uint32
	// dry only checks the order of the entries: nothing is stored.
	dry bool
	// stack[0] is the top listing (the root's entry), then the root and
	// each directory down to the last entry added.
	stack []*openDir
	// stored remembers hashes known to be in the catalog or in wb, so a
	// directory repeated within one tree is checked once. Bounded: it is
	// only an optimisation.
	stored map[dirHash]bool
	// pages and blobs count what was written, for tests and logs.
	pages, blobs int
	// room, when set, is told the size of every value queued and fails
	// when the catalog's filesystem has no room left (space.wrote).
	room func(n int) error
}

// queue queues k=v in the batch.
func (w *treeWriter) queue(k, v []byte) error {
	if w.room != nil {
		if err := w.room(len(k) + len(v)); err != nil {
			return err
		}
	}
	return w.wb.Set(k, v)
}

type openDir struct {
	path string
	ents []dirEntry
}

const maxStoredMemo = 1 << 16

func newTreeWriter(db *badger.DB, set uuid.UUID, links func(string) uint32) *treeWriter {
	return &treeWriter{db: db, set: set, wb: db.NewWriteBatch(), links: links,
		stack: []*openDir{{path: "\x00top"}}, stored: map[dirHash]bool{}}
}

// newOrderCheck returns a writer that only checks that entries come in
// walk order, each after its directory, none twice.
func newOrderCheck() *treeWriter {
	return &treeWriter{dry: true, stack: []*openDir{{path: "\x00top"}}}
}

// add stores entry e; entries come in walk order, each after its parent
// (the root may be left out: it is then stored without a value). Errors
// wrap ErrInvalid for a tree that breaks the rules.
func (w *treeWriter) add(e TreeEntry) error {
	if err := checkTreePath(e.Path); err != nil {
		return err
	}
	if e.Path == "" {
		if len(w.stack) != 1 || len(w.stack[0].ents) != 0 {
			return fmt.Errorf("tree path \"\" (the root) is not the first entry: %w", ErrInvalid)
		}
		return w.push("", "", e.Value, e.Links, false)
	}
	if len(w.stack) == 1 {
		if len(w.stack[0].ents) != 0 {
			return fmt.Errorf("tree path %q comes after the root's subtree: %w", e.Path, ErrInvalid)
		}
		// The root was left out.
		if err := w.push("", "", nil, 0, true); err != nil {
			return err
		}
	}
	dir, name := splitLast(e.Path)
	for len(w.stack) > 2 && w.stack[len(w.stack)-1].path != dir {
		if err := w.pop(); err != nil {
			return err
		}
	}
	top := w.stack[len(w.stack)-1]
	if top.path != dir {
		return fmt.Errorf("tree path %q has no entry for its directory %q before it (entries must come in walk order): %w", e.Path, dir, ErrInvalid)
	}
	if n := len(top.ents); n > 0 && top.ents[n-1].name >= name {
		return fmt.Errorf("tree path %q comes after %q (twice, or not in walk order): %w", e.Path, joinPath(dir, top.ents[n-1].name), ErrInvalid)
	}
	return w.push(e.Path, name, e.Value, e.Links, false)
}

// push adds an entry to the directory on top of the stack and opens it as
// a directory of its own (it stays empty if nothing is added below it).
func (w *treeWriter) push(p, name string, value []byte, links uint32, noValue bool) error {
	top := w.stack[len(w.stack)-1]
	de := dirEntry{name: name}
	if w.links != nil {
		links = w.links(p)
	}
	if links > 1 {
		de.flags |= dirLinks
		de.links = links
	}
	switch {
	case w.dry:
	case noValue:
		de.flags |= dirNoValue
	case len(value) > inlineMax:
		h, err := w.putBlob(value)
		if err != nil {
			return err
		}
		de.flags |= dirBlob
		de.blob, de.blobSize = h, uint64(len(value))
	default:
		de.value = append([]byte(nil), value...)
	}
	top.ents = append(top.ents, de)
	w.stack = append(w.stack, &openDir{path: p})
	return nil
}

// pop closes the directory on top of the stack: a directory with entries
// is stored and its hash goes to its entry in the parent.
func (w *treeWriter) pop() error {
	d := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	if len(d.ents) == 0 || w.dry {
		return nil
	}
	h, err := w.putDir(d.ents)
	if err != nil {
		return err
	}
	parent := w.stack[len(w.stack)-1]
	pe := &parent.ents[len(parent.ents)-1]
	pe.flags |= dirChildren
	pe.child = h
	return nil
}

// finish closes every open directory and returns the hash of the top
// listing, then flushes everything written.
func (w *treeWriter) finish() (dirHash, error) {
	if len(w.stack) == 1 && len(w.stack[0].ents) == 0 {
		// An empty tree: a root without a value.
		if err := w.push("", "", nil, 0, true); err != nil {
			return dirHash{}, err
		}
	}
	for len(w.stack) > 1 {
		if err := w.pop(); err != nil {
			return dirHash{}, err
		}
	}
	if w.dry {
		return dirHash{}, nil
	}
	h, err := w.putDir(w.stack[0].ents)
	if err != nil {
		return dirHash{}, err
	}
	if err := w.wb.Flush(); err != nil {
		return dirHash{}, err
	}
	return h, nil
}

func (w *treeWriter) cancel() {
	if w.wb != nil {
		w.wb.Cancel()
	}
}

// known reports whether key (a directory header or a blob's first part)
// is stored already.
func (w *treeWriter) known(h dirHash, key []byte) (bool, error) {
	if w.stored[h] {
		return true, nil
	}
	err := w.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	w.remember(h)
	return true, nil
}

func (w *treeWriter) remember(h dirHash) {
	if len(w.stored) >= maxStoredMemo {
		clear(w.stored)
	}
	w.stored[h] = true
}

// putDir stores a listing unless the media set has it already.
func (w *treeWriter) putDir(ents []dirEntry) (dirHash, error) {
	var enc []byte
	var cuts []int // page starts in enc
	var firsts []string
	for i := range ents {
		if i == 0 || len(enc)-cuts[len(cuts)-1] >= pageSize {
			cuts = append(cuts, len(enc))
			firsts = append(firsts, ents[i].name)
		}
		enc = appendDirEntry(enc, &ents[i])
	}
	h := hashDir(enc)
	if ok, err := w.known(h, dirKey(w.set, h)); err != nil || ok {
		return h, err
	}
	// Pages first, the header last: a header means a whole directory.
	for i, c := range cuts {
		end := len(enc)
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		k := append(pagesPrefix(w.set, h), firsts[i]...)
		if err := w.queue(k, append([]byte{valueV1}, enc[c:end]...)); err != nil {
			return h, err
		}
		w.pages++
	}
	if err := w.queue(dirKey(w.set, h), encodeDirHeader(len(cuts), len(ents))); err != nil {
		return h, err
	}
	w.remember(h)
	return h, nil
}

// putBlob stores a long value unless the media set has it already.
func (w *treeWriter) putBlob(v []byte) (dirHash, error) {
	h := hashBlob(v)
	if ok, err := w.known(h, blobKey(w.set, h, 0)); err != nil || ok {
		return h, err
	}
	// Parts in order, the first last: a first part means a whole blob.
	n := (len(v) + blobPart - 1) / blobPart
	for i := n - 1; i >= 0; i-- {
		p := v[i*blobPart : min(len(v), (i+1)*blobPart)]
		if err := w.queue(blobKey(w.set, h, uint32(i)), append([]byte{valueV1}, p...)); err != nil {
			return h, err
		}
	}
	w.blobs++
	w.remember(h)
	return h, nil
}

// readBlob reads a value kept out of line. Errors wrap ErrCorrupt when it
// is missing or does not match its hash.
func readBlob(txn *badger.Txn, set uuid.UUID, h dirHash, size uint64) ([]byte, error) {
	if size > math.MaxInt32*blobPart {
		return nil, fmt.Errorf("blob %x: size %d: %w", h[:8], size, ErrCorrupt)
	}
	out := make([]byte, 0, size)
	n := (size + blobPart - 1) / blobPart
	for i := uint64(0); i < n; i++ {
		item, err := txn.Get(blobKey(set, h, uint32(i)))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, fmt.Errorf("blob %x: part %d is missing: %w", h[:8], i, ErrCorrupt)
		}
		if err != nil {
			return nil, err
		}
		err = item.Value(func(v []byte) error {
			want := min(uint64(blobPart), size-i*blobPart)
			if len(v) < 1 || v[0] != valueV1 || uint64(len(v)-1) != want {
				return fmt.Errorf("blob %x: part %d holds %d bytes, want %d: %w", h[:8], i, len(v)-1, want, ErrCorrupt)
			}
			out = append(out, v[1:]...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if hashBlob(out) != h {
		return nil, fmt.Errorf("blob %x does not match its hash: %w", h[:8], ErrCorrupt)
	}
	return out, nil
}

// entryValue returns e's value (a copy), reading a blob if it has one.
func entryValue(txn *badger.Txn, set uuid.UUID, e *dirEntry) ([]byte, error) {
	if e.flags&dirBlob != 0 {
		return readBlob(txn, set, e.blob, e.blobSize)
	}
	return append([]byte(nil), e.value...), nil
}

// listPages calls fn with the entries of directory h, page by page, in
// name order. Errors wrap ErrCorrupt when the directory is missing or its
// pages do not agree with its header.
func listPages(txn *badger.Txn, set uuid.UUID, h dirHash, fn func([]dirEntry) error) error {
	item, err := txn.Get(dirKey(set, h))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("directory %x is missing: %w", h[:8], ErrCorrupt)
	}
	if err != nil {
		return err
	}
	var pages, entries uint64
	if err := item.Value(func(v []byte) error {
		pages, entries, err = decodeDirHeader(v)
		return err
	}); err != nil {
		return err
	}
	prefix := pagesPrefix(set, h)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var gotPages, gotEntries uint64
	prev := ""
	for it.Rewind(); it.Valid(); it.Next() {
		var ents []dirEntry
		pageReads.Add(1)
		err := it.Item().Value(func(v []byte) error {
			var err error
			ents, err = decodeDirPage(append([]byte(nil), v...))
			return err
		})
		if err != nil {
			return fmt.Errorf("directory %x: %w", h[:8], err)
		}
		first := string(it.Item().Key()[len(prefix):])
		if ents[0].name != first || (gotPages > 0 && first <= prev) {
			return fmt.Errorf("directory %x: page key %q does not match its first entry %q: %w", h[:8], first, ents[0].name, ErrCorrupt)
		}
		prev = ents[len(ents)-1].name
		gotPages++
		gotEntries += uint64(len(ents))
		if err := fn(ents); err != nil {
			return err
		}
	}
	if gotPages != pages || gotEntries != entries {
		return fmt.Errorf("directory %x has %d pages, %d entries; its header says %d, %d: %w", h[:8], gotPages, gotEntries, pages, entries, ErrCorrupt)
	}
	return nil
}

// pageReads counts listing pages decoded, for tests that check how much a
// lookup reads.
var pageReads atomic.Int64

// findEntry looks up name in directory h: one reverse seek to the page that
// would hold it. ErrNotFound when it is not there.
func findEntry(txn *badger.Txn, set uuid.UUID, h dirHash, name string) (dirEntry, error) {
	pageReads.Add(1)
	prefix := pagesPrefix(set, h)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(append(append([]byte(nil), prefix...), name...))
	if !it.Valid() {
		if _, err := txn.Get(dirKey(set, h)); errors.Is(err, badger.ErrKeyNotFound) {
			return dirEntry{}, fmt.Errorf("directory %x is missing: %w", h[:8], ErrCorrupt)
		}
		return dirEntry{}, ErrNotFound
	}
	var ents []dirEntry
	err := it.Item().Value(func(v []byte) error {
		var err error
		ents, err = decodeDirPage(append([]byte(nil), v...))
		return err
	})
	if err != nil {
		return dirEntry{}, fmt.Errorf("directory %x: %w", h[:8], err)
	}
	for _, e := range ents {
		if e.name == name {
			return e, nil
		}
	}
	return dirEntry{}, ErrNotFound
}

// resolve finds the entry at path p of the tree whose top listing is top.
// ErrNotFound when there is none.
func resolve(txn *badger.Txn, set uuid.UUID, top dirHash, p string) (dirEntry, error) {
	e, err := findEntry(txn, set, top, "")
	if errors.Is(err, ErrNotFound) {
		return dirEntry{}, fmt.Errorf("top listing %x has no root entry: %w", top[:8], ErrCorrupt)
	}
	if err != nil || p == "" {
		return e, err
	}
	for c := range strings.SplitSeq(p, "/") {
		if e.flags&dirChildren == 0 {
			return dirEntry{}, ErrNotFound
		}
		if e, err = findEntry(txn, set, e.child, c); err != nil {
			return dirEntry{}, err
		}
	}
	return e, nil
}

// markTree adds the hashes of every directory and blob reachable from top
// to seen.
func markTree(txn *badger.Txn, set uuid.UUID, top dirHash, seen map[dirHash]bool) error {
	if seen[top] {
		return nil
	}
	seen[top] = true
	var dirs []dirHash
	err := listPages(txn, set, top, func(ents []dirEntry) error {
		for _, e := range ents {
			if e.flags&dirBlob != 0 {
				seen[e.blob] = true
			}
			if e.flags&dirChildren != 0 && !seen[e.child] {
				dirs = append(dirs, e.child)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := markTree(txn, set, d, seen); err != nil {
			return err
		}
	}
	return nil
}

// sweepSet removes the directories and blobs of set that no snapshot
// record of the set reaches: what an unfinished PutSnapshot left, or what
// a replaced snapshot no longer shares. The caller holds writeMu.
func sweepSet(db *badger.DB, set uuid.UUID) error {
	seen := map[dirHash]bool{}
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: snapSetPrefix(set)})
		var tops []dirHash
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				_, top, err := decodeSnapshotRecord(v)
				tops = append(tops, top)
				return err
			})
			if err != nil {
				it.Close()
				return err
			}
		}
		it.Close()
		for _, t := range tops {
			if err := markTree(txn, set, t, seen); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	err = db.View(func(txn *badger.Txn) error {
		for _, prefix := range [][]byte{dirSetPrefix(set), blobSetPrefix(set)} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				if len(k) < len(prefix)+32 || !seen[dirHash(k[len(prefix):len(prefix)+32])] {
					if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
						it.Close()
						return err
					}
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}

// parseDirKey splits a directory key into set, hash and page name (ok
// with page false for a header). It accepts only what dirKey and
// pagesPrefix build.
func parseDirKey(k []byte) (set uuid.UUID, h dirHash, page bool, first string, ok bool) {
	rest, found := bytes.CutPrefix(k, []byte(dirPrefix))
	if !found || len(rest) < 48 {
		return uuid.Nil, dirHash{}, false, "", false
	}
	set, h, rest = uuid.UUID(rest[:16]), dirHash(rest[16:48]), rest[48:]
	if len(rest) == 0 {
		return set, h, false, "", true
	}
	if rest[0] != pageTag || strings.ContainsAny(string(rest[1:]), "/\x00") {
		return uuid.Nil, dirHash{}, false, "", false
	}
	return set, h, true, string(rest[1:]), true
}
