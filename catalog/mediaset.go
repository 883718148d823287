package catalog

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// MediaSet is the catalog record of one media set: the tapes that hold it, in
// sequence order, and whether it still accepts writes. Its chunk index and
// snapshots are stored under the set's UUID and go away with it
// (DeleteMediaSet).
type MediaSet struct {
	UUID  uuid.UUID
	Pool  string
	Ctime time.Time
	// Media lists the tapes of the set by sequence number (index = seq). A
	// zero UUID marks a sequence number whose tape is not known (a catalog
	// rebuilt from some of the set's tapes). A media UUID appears at most
	// once.
	Media []uuid.UUID
	// Closed: the set takes no more writes (allocation started a new set, or
	// the set was exported).
	Closed bool
	// LastWrite is when data was last appended to the set; zero when never.
	LastWrite time.Time
	// EncryptKey is the fingerprint of the drive encryption key the set's
	// data is written with ("" when not encrypted), as its tapes' media-set
	// labels say.
	EncryptKey string
}

// normalize returns s in stored form: times in UTC without monotonic clock
// reading, Media copied (nil when empty).
func (s MediaSet) normalize() MediaSet {
	s.Ctime = s.Ctime.UTC()
	s.LastWrite = s.LastWrite.UTC()
	if len(s.Media) == 0 {
		s.Media = nil
	} else {
		s.Media = append([]uuid.UUID(nil), s.Media...)
	}
	return s
}

// validate checks the catalog's rules for a media set. Errors wrap
// ErrInvalid.
func (s MediaSet) validate() error {
	if s.UUID == uuid.Nil {
		return fmt.Errorf("media set UUID is zero: %w", ErrInvalid)
	}
	if err := checkName("media set pool", s.Pool); err != nil {
		return err
	}
	if err := checkTime("media set ctime", s.Ctime); err != nil {
		return err
	}
	if err := checkTime("media set last write", s.LastWrite); err != nil {
		return err
	}
	seen := make(map[uuid.UUID]int, len(s.Media))
	for seq, id := range s.Media {
		if id == uuid.Nil {
			continue
		}
		if prev, dup := seen[id]; dup {
			return fmt.Errorf("media %s is in the set twice (seq %d and %d): %w", id, prev, seq, ErrInvalid)
		}
		seen[id] = seq
	}
	return nil
}

// mediaSetRecord is the stored JSON form of MediaSet. Its field names are the
// catalog format: renaming one needs a new value format byte.
type mediaSetRecord struct {
	UUID      uuid.UUID   `json:"uuid"`
	Pool      string      `json:"pool"`
	Ctime     time.Time   `json:"ctime"`
	Media     []uuid.UUID `json:"media"`
	Closed    bool        `json:"closed"`
	LastWrite time.Time   `json:"last_write"`
	// EncryptKey came with encryption; records written before it have none.
	EncryptKey string `json:"encrypt_key,omitempty"`
}

func mediaSetKey(id uuid.UUID) []byte { return []byte(setPrefix + id.String()) }

// encodeMediaSet returns the stored value of s: valueV1 followed by the JSON
// mediaSetRecord. s is normalized and validated first; errors wrap
// ErrInvalid.
func encodeMediaSet(s MediaSet) ([]byte, error) {
	s = s.normalize()
	if err := s.validate(); err != nil {
		return nil, err
	}
	r := mediaSetRecord(s)
	if r.Media == nil {
		r.Media = []uuid.UUID{}
	}
	return encodeJSONValue(r)
}

// decodeMediaSet parses a stored media set value. It accepts only what
// encodeMediaSet can produce. Errors wrap ErrCorrupt.
func decodeMediaSet(b []byte) (MediaSet, error) {
	var r mediaSetRecord
	if err := decodeJSONValue(b, &r); err != nil {
		return MediaSet{}, fmt.Errorf("media set value: %w", err)
	}
	if r.Media == nil {
		return MediaSet{}, fmt.Errorf("media set value has no media list: %w", ErrCorrupt)
	}
	s := MediaSet(r).normalize()
	if err := s.validate(); err != nil {
		return MediaSet{}, fmt.Errorf("media set value: %v: %w", err, ErrCorrupt)
	}
	return s, nil
}

// PutMediaSet inserts or replaces the record of media set s.UUID and returns
// once it is synced. It does not touch the set's chunks or snapshots, nor the
// media entries. Errors: ErrInvalid (nothing written), ErrReadOnly,
// ErrClosed.
func (c *Catalog) PutMediaSet(s MediaSet) error {
	val, err := encodeMediaSet(s)
	if err != nil {
		return fmt.Errorf("put media set %s: %w", s.UUID, err)
	}
	err = c.update(func(txn *badger.Txn) error {
		return txn.Set(mediaSetKey(s.UUID), val)
	})
	if err != nil {
		return fmt.Errorf("put media set %s: %w", s.UUID, err)
	}
	return nil
}

// GetMediaSet returns the record of media set id. Errors: ErrNotFound,
// ErrCorrupt, ErrClosed.
func (c *Catalog) GetMediaSet(id uuid.UUID) (MediaSet, error) {
	var s MediaSet
	err := c.view(func(txn *badger.Txn) error {
		var found bool
		var err error
		s, found, err = getMediaSetTxn(txn, id)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return MediaSet{}, fmt.Errorf("media set %s: %w", id, err)
	}
	return s, nil
}

// ListMediaSets returns the media sets of pool ("" = all pools), oldest
// first (by Ctime, then UUID). Errors: ErrCorrupt, ErrClosed.
func (c *Catalog) ListMediaSets(pool string) ([]MediaSet, error) {
	var list []MediaSet
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte(setPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var s MediaSet
			err := item.Value(func(v []byte) error {
				var err error
				s, err = decodeMediaSet(v)
				return err
			})
			if err == nil && string(item.Key()) != string(mediaSetKey(s.UUID)) {
				err = fmt.Errorf("entry holds media set %s: %w", s.UUID, ErrCorrupt)
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", item.Key(), err)
			}
			if pool == "" || s.Pool == pool {
				list = append(list, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list media sets: %w", err)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Ctime.Equal(list[j].Ctime) {
			return list[i].Ctime.Before(list[j].Ctime)
		}
		return string(list[i].UUID[:]) < string(list[j].UUID[:])
	})
	return list, nil
}

// UpdateMediaSet reads the record of media set id, lets fn change it and
// writes it back in one write transaction: no other catalog write happens in
// between. fn is called once, with a private copy; it must not change UUID
// and must not call methods of c. If fn fails, nothing is written and its
// error is returned wrapped. Errors: ErrNotFound, ErrInvalid, ErrCorrupt,
// ErrReadOnly, ErrClosed, or fn's error.
func (c *Catalog) UpdateMediaSet(id uuid.UUID, fn func(*MediaSet) error) error {
	err := c.update(func(txn *badger.Txn) error {
		s, found, err := getMediaSetTxn(txn, id)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		if err := fn(&s); err != nil {
			return err
		}
		if s.UUID != id {
			return fmt.Errorf("update changed the media set UUID to %s: %w", s.UUID, ErrInvalid)
		}
		val, err := encodeMediaSet(s)
		if err != nil {
			return err
		}
		return txn.Set(mediaSetKey(id), val)
	})
	if err != nil {
		return fmt.Errorf("update media set %s: %w", id, err)
	}
	return nil
}

// getMediaSetTxn reads and decodes the record of set id; found is false when
// there is none.
func getMediaSetTxn(txn *badger.Txn, id uuid.UUID) (s MediaSet, found bool, err error) {
	item, err := txn.Get(mediaSetKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return MediaSet{}, false, nil
	}
	if err != nil {
		return MediaSet{}, false, err
	}
	err = item.Value(func(v []byte) error {
		s, err = decodeMediaSet(v)
		return err
	})
	if err == nil && s.UUID != id {
		err = fmt.Errorf("entry holds media set %s: %w", s.UUID, ErrCorrupt)
	}
	if err != nil {
		return MediaSet{}, false, fmt.Errorf("key %q: %w", item.Key(), err)
	}
	return s, true, nil
}

// DeleteMediaSet removes media set id with everything stored under it: its
// snapshots, their file trees and its chunk index. Media entries stay (the
// tapes still exist; the engine rewrites their set reference). It returns
// once the removal is synced.
//
// The removal runs in several batches: snapshot records first, so no
// snapshot is ever visible with a partial tree, then trees and chunks, and
// the set record last. If it is interrupted (crash), the set is still listed
// and calling DeleteMediaSet again finishes the job. Errors: ErrNotFound
// when the set has no record and nothing is stored under it, ErrReadOnly,
// ErrClosed.
func (c *Catalog) DeleteMediaSet(id uuid.UUID) error {
	err := c.bulk(func(db *badger.DB) error {
		c.dropChunkFilter(id)
		var removed int
		for _, prefix := range [][]byte{snapSetPrefix(id), dirSetPrefix(id), blobSetPrefix(id), treeSetPrefix(id), pendingSetPrefix(id), chunkSetPrefix(id), mediaSetKey(id)} {
			n, err := deletePrefix(db, prefix)
			if err != nil {
				return err
			}
			removed += n
		}
		if removed == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete media set %s: %w", id, err)
	}
	return nil
}
