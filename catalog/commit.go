package catalog

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// commitPrefix + set UUID + "/" + media UUID + "/" + file number (20
// decimal digits) → an unfinished commit's snapshot archive
// (CommitRecord).
const commitPrefix = "v1/commit/"

// CommitRecord says that a backup is writing (or wrote) the snapshot
// archive of snapshot Snapshot into tape file File of Media, and has not
// recorded the snapshot yet. The backup puts it before the archive goes
// to tape and deletes it once the snapshot is recorded (PutSnapshot); one
// left behind by a crash names an archive the catalog does not know,
// which the engine voids on tape.
type CommitRecord struct {
	Set      uuid.UUID `json:"set"`
	Media    uuid.UUID `json:"media"`
	File     uint64    `json:"file"`
	Archive  uuid.UUID `json:"archive"` // the archive's content UUID
	Snapshot string    `json:"snapshot"`
}

func commitKey(set, media uuid.UUID, file uint64) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%020d", commitPrefix, set, media, file)
}

// PutCommit records r and returns once it is synced. Errors: ErrInvalid,
// ErrReadOnly, ErrClosed.
func (c *Catalog) PutCommit(r CommitRecord) error {
	if r.Set == uuid.Nil || r.Media == uuid.Nil || r.Archive == uuid.Nil || r.Snapshot == "" {
		return fmt.Errorf("put commit record %+v: %w", r, ErrInvalid)
	}
	js, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put commit record: %w", err)
	}
	val := append([]byte{valueV1}, js...)
	return c.update(func(txn *badger.Txn) error {
		return txn.Set(commitKey(r.Set, r.Media, r.File), val)
	})
}

// DeleteCommit removes the commit record of (set, media, file), if any.
// Errors: ErrReadOnly, ErrClosed.
func (c *Catalog) DeleteCommit(set, media uuid.UUID, file uint64) error {
	return c.update(func(txn *badger.Txn) error {
		return txn.Delete(commitKey(set, media, file))
	})
}

// ListCommits returns the commit records of media set set on tape media
// (uuid.Nil: every set, every tape), in key order. Errors: ErrCorrupt,
// ErrClosed.
func (c *Catalog) ListCommits(set, media uuid.UUID) ([]CommitRecord, error) {
	prefix := commitPrefix
	if set != uuid.Nil {
		prefix += set.String() + "/"
		if media != uuid.Nil {
			prefix += media.String() + "/"
		}
	}
	var out []CommitRecord
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			var r CommitRecord
			if len(v) < 1 || v[0] != valueV1 || json.Unmarshal(v[1:], &r) != nil {
				return fmt.Errorf("commit record %q: %w", it.Item().Key(), ErrCorrupt)
			}
			if media != uuid.Nil && r.Media != media || !strings.HasPrefix(string(it.Item().Key()), prefix) {
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
