package catalog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// Dump writes every key and value of the catalog to w as text, one line per
// key, in key order, from one consistent snapshot:
//
//	"<key>" <value>
//
// The key is a Go-quoted string; the binary media set UUID in chunk and tree
// keys is shown as "<UUID>/" and the digest of a chunk key in hex, so the
// text stays one-to-one with the key. The value is rendered by its kind: the
// schema version quoted; a label reference as "uuid <UUID>"; a chunk
// location as "loc <media> file <n> offset <n> size <n>"; a tree head as
// "tree children=<bool> parts=<n> hex <payload>" and a continuation as
// "part hex <payload>"; a value of a known format whose payload is printable
// text (the JSON records) as "v<format> <payload>"; anything else (a value
// that does not decode) as "hex <bytes>". Two catalogs with the same content
// dump identically. Errors come from w or the database.
func (c *Catalog) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				_, err := fmt.Fprintln(bw, renderLine(item.Key(), v))
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("dump catalog %s: %w", c.dir, err)
	}
	return nil
}

// renderLine formats one key and value as a Dump line (without newline).
func renderLine(key, v []byte) string {
	return strconv.Quote(renderKey(key)) + " " + renderValue(key, v)
}

// renderKey shows the binary parts of chunk and tree keys as text.
func renderKey(key []byte) string {
	if set, digest, ok := parseChunkKey(key); ok {
		return chunkPrefix + set.String() + "/" + hex.EncodeToString(digest[:])
	}
	if rest, ok := bytes.CutPrefix(key, []byte(treePrefix)); ok && len(rest) >= 16 {
		return treePrefix + uuid.UUID(rest[:16]).String() + "/" + string(rest[16:])
	}
	if set, h, page, first, ok := parseDirKey(key); ok {
		k := dirPrefix + set.String() + "/" + hex.EncodeToString(h[:])
		if page {
			k += "/page/" + first
		}
		return k
	}
	if rest, ok := bytes.CutPrefix(key, []byte(blobPrefix)); ok && len(rest) == 16+32+4 {
		return fmt.Sprintf("%s%s/%x/%d", blobPrefix, uuid.UUID(rest[:16]), rest[16:48], binary.BigEndian.Uint32(rest[48:]))
	}
	return string(key)
}

// renderDirValue shows a directory header or page.
func renderDirValue(key, v []byte) (string, bool) {
	_, _, page, _, ok := parseDirKey(key)
	if !ok {
		return "", false
	}
	if !page {
		p, n, err := decodeDirHeader(v)
		return fmt.Sprintf("dir pages=%d entries=%d", p, n), err == nil
	}
	ents, err := decodeDirPage(v)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.WriteString("page")
	for i, e := range ents {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " %q", e.name)
		if e.flags&dirLinks != 0 {
			fmt.Fprintf(&b, " links=%d", e.links)
		}
		if e.flags&dirChildren != 0 {
			fmt.Fprintf(&b, " dir=%x", e.child)
		}
		switch {
		case e.flags&dirBlob != 0:
			fmt.Fprintf(&b, " blob=%x size=%d", e.blob, e.blobSize)
		case e.flags&dirNoValue != 0:
			b.WriteString(" novalue")
		default:
			fmt.Fprintf(&b, " value=%x", e.value)
		}
	}
	return b.String(), true
}

// renderValue formats one value for Dump.
func renderValue(key, v []byte) string {
	switch {
	case string(key) == schemaKey:
		return strconv.Quote(string(v))
	case bytes.HasPrefix(key, []byte(labelPrefix)):
		if id, err := decodeLabelRef(v); err == nil {
			return "uuid " + id.String()
		}
	case bytes.HasPrefix(key, []byte(chunkPrefix)):
		if l, err := decodeChunkLoc(v); err == nil {
			return fmt.Sprintf("loc %s file %d offset %d size %d", l.Media, l.File, l.Offset, l.Size)
		}
		return "hex " + hex.EncodeToString(v)
	case bytes.HasPrefix(key, []byte(dirPrefix)):
		if r, ok := renderDirValue(key, v); ok {
			return r
		}
		return "hex " + hex.EncodeToString(v)
	case bytes.HasPrefix(key, []byte(blobPrefix)):
		if len(v) > 0 && v[0] == valueV1 {
			return "blob hex " + hex.EncodeToString(v[1:])
		}
		return "hex " + hex.EncodeToString(v)
	case bytes.HasPrefix(key, []byte(treePrefix)):
		if isTreePartKey(key) {
			if p, err := decodeTreePart(v, true); err == nil {
				return "part hex " + hex.EncodeToString(p)
			}
		} else if flags, more, links, p, err := decodeTreeHead(v); err == nil {
			if links > 0 {
				return fmt.Sprintf("tree children=%t parts=%d links=%d hex %s", flags&treeHasChildren != 0, more+1, links, hex.EncodeToString(p))
			}
			return fmt.Sprintf("tree children=%t parts=%d hex %s", flags&treeHasChildren != 0, more+1, hex.EncodeToString(p))
		}
		return "hex " + hex.EncodeToString(v)
	case len(v) > 1 && v[0] == valueV1 && printable(v[1:]):
		return fmt.Sprintf("v%d %s", v[0], v[1:])
	}
	return "hex " + hex.EncodeToString(v)
}

// printable reports whether b is UTF-8 text without control characters, so it
// fits on one Dump line unescaped.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
