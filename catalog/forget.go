package catalog

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// DeleteSnapshot removes snapshot name of media set set with its tree. The
// snapshot record goes first (with a marker, as PutSnapshot leaves one),
// so no reader ever sees the snapshot with a partial tree; a crash midway
// leaves the marker, and the next read-write Open removes the rest of the
// tree. Errors: ErrNotFound (no such snapshot), ErrReadOnly, ErrClosed.
func (c *Catalog) DeleteSnapshot(set uuid.UUID, name string) error {
	err := c.bulk(func(db *badger.DB) error {
		err := db.Update(func(txn *badger.Txn) error {
			if _, err := txn.Get(snapKey(set, name)); errors.Is(err, badger.ErrKeyNotFound) {
				return ErrNotFound
			} else if err != nil {
				return err
			}
			if err := txn.Delete(snapKey(set, name)); err != nil {
				return err
			}
			return txn.Set(pendingKey(set, name), []byte{valueV1})
		})
		if err != nil {
			return err
		}
		if _, err := deletePrefix(db, treeSnapPrefix(set, name)); err != nil {
			return fmt.Errorf("remove tree: %w", err)
		}
		return db.Update(func(txn *badger.Txn) error { return txn.Delete(pendingKey(set, name)) })
	})
	if err != nil {
		return fmt.Errorf("delete snapshot %s of media set %s: %w", name, set, err)
	}
	return nil
}

// DeleteChunksOn removes the chunk index entries of media set set that
// point at tape media and returns their digests. Errors: ErrCorrupt,
// ErrReadOnly, ErrClosed.
func (c *Catalog) DeleteChunksOn(set, media uuid.UUID) (map[[32]byte]bool, error) {
	gone := map[[32]byte]bool{}
	err := c.bulk(func(db *badger.DB) error {
		wb := db.NewWriteBatch()
		defer wb.Cancel()
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 1000, Prefix: chunkSetPrefix(set)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				item := it.Item()
				_, digest, ok := parseChunkKey(item.Key())
				if !ok {
					return fmt.Errorf("key %q is not a chunk key: %w", item.Key(), ErrCorrupt)
				}
				var l ChunkLoc
				if err := item.Value(func(v []byte) error {
					var err error
					l, err = decodeChunkLoc(v)
					return err
				}); err != nil {
					return fmt.Errorf("chunk %x: %w", digest, err)
				}
				if l.Media != media {
					continue
				}
				if err := wb.Delete(item.KeyCopy(nil)); err != nil {
					return err
				}
				gone[digest] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		// The set's chunk filter may keep the digests: it may claim more
		// than the index holds (HasChunk confirms), never less.
		return wb.Flush()
	})
	if err != nil {
		return nil, fmt.Errorf("delete chunks on tape %s from media set %s: %w", media, set, err)
	}
	return gone, nil
}
