package catalog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// Dump writes every key and value of the catalog to w as text, one line per
// key, in key order, from one consistent snapshot:
//
//	"<key>" <value>
//
// The key is a Go-quoted string. The value is rendered by its kind: the
// schema version quoted; a label reference as "uuid <UUID>"; a value of a
// known format whose payload is printable text (the JSON records) as
// "v<format> <payload>"; anything else as "hex <bytes>". Two catalogs with
// the same content dump identically, so Dump can compare a catalog rebuilt
// from tape with the live one. Errors come from w or the database.
func (c *Catalog) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				_, err := fmt.Fprintf(bw, "%s %s\n", strconv.Quote(string(item.Key())), renderValue(item.Key(), v))
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

// renderValue formats one value for Dump.
func renderValue(key, v []byte) string {
	switch {
	case string(key) == schemaKey:
		return strconv.Quote(string(v))
	case bytes.HasPrefix(key, []byte(labelPrefix)):
		if id, err := decodeLabelRef(v); err == nil {
			return "uuid " + id.String()
		}
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
