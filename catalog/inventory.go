package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// PutMedia inserts or replaces the inventory entry with m.UUID and returns
// once the change is synced to disk.
//
// Label text is unique: an entry with the same label text and another UUID is
// removed in the same transaction (a relabelled tape replaces its old entry).
// If the entry existed under another label text, that label is freed.
// m.Updated is set from the catalog clock. Errors: ErrInvalid when m breaks
// the rules in Media's documentation (nothing is written), ErrCorrupt when an
// entry it has to replace cannot be decoded, ErrReadOnly, ErrClosed.
func (c *Catalog) PutMedia(m Media) error {
	m.Updated = c.now()
	m = m.normalize()
	if err := m.validate(); err != nil {
		return fmt.Errorf("put media %s: %w", m.UUID, err)
	}
	err := c.update(func(txn *badger.Txn) error {
		return putMediaTxn(txn, m)
	})
	if err != nil {
		return fmt.Errorf("put media %s (%s): %w", m.LabelText, m.UUID, err)
	}
	return nil
}

// GetMedia returns the inventory entry of the tape with media UUID id.
// Errors: ErrNotFound, ErrCorrupt, ErrClosed.
func (c *Catalog) GetMedia(id uuid.UUID) (Media, error) {
	var m Media
	err := c.view(func(txn *badger.Txn) error {
		var found bool
		var err error
		m, found, err = getMediaTxn(txn, id)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Media{}, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// FindLabel returns the inventory entry of the tape labelled label.
// Errors: ErrNotFound, ErrCorrupt (the label index and the entry disagree),
// ErrClosed.
func (c *Catalog) FindLabel(label string) (Media, error) {
	var m Media
	err := c.view(func(txn *badger.Txn) error {
		id, found, err := getLabelRefTxn(txn, label)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		m, found, err = getMediaTxn(txn, id)
		if err != nil {
			return err
		}
		if !found || m.LabelText != label {
			return fmt.Errorf("label index points at media %s, which does not carry this label: %w", id, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return Media{}, fmt.Errorf("media labelled %q: %w", label, err)
	}
	return m, nil
}

// ListMedia returns the inventory entries that match filter, sorted by label
// text (byte order). A zero filter returns every entry. Errors: ErrCorrupt,
// ErrClosed.
func (c *Catalog) ListMedia(filter MediaFilter) ([]Media, error) {
	var list []Media
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			PrefetchValues: true,
			PrefetchSize:   100,
			Prefix:         []byte(mediaPrefix),
		})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var m Media
			err := item.Value(func(v []byte) error {
				var err error
				m, err = decodeMedia(v)
				return err
			})
			if err == nil && !bytes.Equal(item.Key(), mediaKey(m.UUID)) {
				err = fmt.Errorf("entry holds media %s: %w", m.UUID, ErrCorrupt)
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", item.Key(), err)
			}
			if filter.match(m) {
				list = append(list, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].LabelText < list[j].LabelText })
	return list, nil
}

// UpdateMedia reads the entry of media id, lets fn change it, and writes it
// back, all in one write transaction: no other write to the catalog happens
// in between. fn is called exactly once, with a private copy; it must not
// change UUID and must not call methods of c (the write lock is held). If
// fn returns an error, nothing is written and UpdateMedia returns it
// wrapped. The result is stored as by PutMedia: Updated is stamped, and a
// changed label text follows the same uniqueness rule.
// Errors: ErrNotFound, ErrInvalid, ErrCorrupt, ErrReadOnly, ErrClosed, or
// fn's error.
func (c *Catalog) UpdateMedia(id uuid.UUID, fn func(*Media) error) error {
	err := c.update(func(txn *badger.Txn) error {
		m, found, err := getMediaTxn(txn, id)
		if err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		if err := fn(&m); err != nil {
			return err
		}
		if m.UUID != id {
			return fmt.Errorf("update changed the media UUID to %s: %w", m.UUID, ErrInvalid)
		}
		m.Updated = c.now()
		m = m.normalize()
		if err := m.validate(); err != nil {
			return err
		}
		return putMediaTxn(txn, m)
	})
	if err != nil {
		return fmt.Errorf("update media %s: %w", id, err)
	}
	return nil
}

// DeleteMedia removes the entry of media id and frees its label text. It
// also removes an entry whose value cannot be decoded (then by scanning the
// label index for references to id). Errors: ErrNotFound, ErrReadOnly,
// ErrClosed.
func (c *Catalog) DeleteMedia(id uuid.UUID) error {
	err := c.update(func(txn *badger.Txn) error {
		found, err := deleteMediaTxn(txn, id)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	return nil
}

// getMediaTxn reads and decodes the entry of id; found is false when there is
// none.
func getMediaTxn(txn *badger.Txn, id uuid.UUID) (m Media, found bool, err error) {
	item, err := txn.Get(mediaKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Media{}, false, nil
	}
	if err != nil {
		return Media{}, false, err
	}
	err = item.Value(func(v []byte) error {
		m, err = decodeMedia(v)
		return err
	})
	if err == nil && m.UUID != id {
		err = fmt.Errorf("entry holds media %s: %w", m.UUID, ErrCorrupt)
	}
	if err != nil {
		return Media{}, false, fmt.Errorf("key %q: %w", item.Key(), err)
	}
	return m, true, nil
}

// getLabelRefTxn returns the media UUID that label text points at.
func getLabelRefTxn(txn *badger.Txn, label string) (id uuid.UUID, found bool, err error) {
	item, err := txn.Get(labelKey(label))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, err
	}
	err = item.Value(func(v []byte) error {
		id, err = decodeLabelRef(v)
		return err
	})
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("key %q: %w", item.Key(), err)
	}
	return id, true, nil
}

// putMediaTxn writes the normalized, validated entry m and its label index
// key, removing whatever the new entry replaces.
func putMediaTxn(txn *badger.Txn, m Media) error {
	val, err := encodeMedia(m)
	if err != nil {
		return err
	}
	old, found, err := getMediaTxn(txn, m.UUID)
	if err != nil {
		return err
	}
	if found && old.LabelText != m.LabelText {
		if err := txn.Delete(labelKey(old.LabelText)); err != nil {
			return err
		}
	}
	holder, found, err := getLabelRefTxn(txn, m.LabelText)
	if err != nil {
		return err
	}
	if found && holder != m.UUID {
		// The label moved to another tape (relabel): the old entry goes.
		// Its label key is overwritten below.
		if err := txn.Delete(mediaKey(holder)); err != nil {
			return err
		}
	}
	if err := txn.Set(mediaKey(m.UUID), val); err != nil {
		return err
	}
	return txn.Set(labelKey(m.LabelText), encodeLabelRef(m.UUID))
}

// deleteMediaTxn removes the entry of id and every label key that points at
// it. found is false when there is no entry.
func deleteMediaTxn(txn *badger.Txn, id uuid.UUID) (found bool, err error) {
	m, found, err := getMediaTxn(txn, id)
	if err == nil && !found {
		return false, nil
	}
	var labels [][]byte
	if err == nil {
		labels = append(labels, labelKey(m.LabelText))
	} else if errors.Is(err, ErrCorrupt) {
		// The label is unknown: find the references by value.
		if labels, err = labelKeysOf(txn, id); err != nil {
			return false, err
		}
	} else {
		return false, err
	}
	for _, k := range labels {
		ref, found, err := getLabelRefTxn(txn, string(k[len(labelPrefix):]))
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return false, err
		}
		if found && ref != id {
			continue // the label belongs to another tape
		}
		if err := txn.Delete(k); err != nil {
			return false, err
		}
	}
	return true, txn.Delete(mediaKey(id))
}

// labelKeysOf returns every label key whose reference is id.
func labelKeysOf(txn *badger.Txn, id uuid.UUID) ([][]byte, error) {
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte(labelPrefix)})
	defer it.Close()
	var keys [][]byte
	want := encodeLabelRef(id)
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error {
			if bytes.Equal(v, want) {
				keys = append(keys, item.KeyCopy(nil))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
}
