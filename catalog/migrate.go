package catalog

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// migrateV1 upgrades a schema-1 catalog: every snapshot's tree is stored
// again as content-addressed directories, its record gets the top hash,
// the old tree keys go, and the schema version becomes 2 last. A crash
// midway leaves version 1 and the old trees, so the next Open starts over;
// what the interrupted run wrote is shared or swept then.
func (c *Catalog) migrateV1() error {
	return c.bulk(func(db *badger.DB) error {
		type rec struct {
			key []byte
			s   Snapshot
		}
		var recs []rec
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(snapPrefix)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				var s Snapshot
				err := it.Item().Value(func(v []byte) error {
					var err error
					s, _, err = decodeSnapshotRecord(v)
					return err
				})
				if err != nil {
					return fmt.Errorf("key %q: %w", it.Item().Key(), err)
				}
				recs = append(recs, rec{it.Item().KeyCopy(nil), s})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			tw := newTreeWriter(db, r.s.Set, nil)
			err := db.View(func(txn *badger.Txn) error {
				return walkV1(txn, r.s.Set, r.s.Name, tw.add)
			})
			var top [32]byte
			if err == nil {
				top, err = tw.finish()
			}
			if err != nil {
				tw.cancel()
				return fmt.Errorf("snapshot %s of media set %s: %w", r.s.Name, r.s.Set, err)
			}
			val, err := encodeSnapshot(r.s, top)
			if err != nil {
				return err
			}
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set(r.key, val) }); err != nil {
				return err
			}
		}
		if _, err := deletePrefix(db, []byte(treePrefix)); err != nil {
			return err
		}
		return db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(schemaKey), encodeSchemaVersion(SchemaVersion))
		})
	})
}
