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
		// What no other snapshot of the set shares goes with it.
		return dropPending(db, set, name)
	})
	if err != nil {
		return fmt.Errorf("delete snapshot %s of media set %s: %w", name, set, err)
	}
	return nil
}

// DeleteChunks removes digests from the chunk index of media set set
// (digests it does not hold are ignored). The set's chunk filter may keep
// them: it may claim more than the index holds (HasChunk confirms), never
// less. Errors: ErrReadOnly, ErrClosed.
func (c *Catalog) DeleteChunks(set uuid.UUID, digests [][32]byte) error {
	err := c.bulk(func(db *badger.DB) error {
		wb := db.NewWriteBatch()
		defer wb.Cancel()
		for _, d := range digests {
			if err := wb.Delete(chunkKey(set, d)); err != nil {
				return err
			}
		}
		return wb.Flush()
	})
	if err != nil {
		return fmt.Errorf("delete %d chunks from media set %s: %w", len(digests), set, err)
	}
	return nil
}
