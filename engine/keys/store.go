package keys

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"tapefs/internal/fileutil"
)

// StoreFile is the name of the key store in a configuration directory. It
// holds the keys in clear, so it is created with mode 0600.
const StoreFile = "tape-encryption-keys.json"

// lockFile serializes updates of the store between processes. It is not
// the configuration directory's own lock, so a pool update may look at
// the keys.
const lockFile = ".tape-encryption-keys.lock"

// lockTimeout bounds the wait for another process's update.
const lockTimeout = 30 * time.Second

// Store is the key store of a configuration directory: StoreFile maps each
// fingerprint to the key (hex) and its KeyConfig. Methods that take a
// fingerprint accept it in full or abbreviated as Abbrev prints it (a
// prefix and a suffix around "..."). Updates take an flock(2) on a lock
// file in Dir and replace the file atomically (temporary file, fsync,
// rename, fsync of the directory): a failed update leaves the file as it
// was. Reads need no lock. Methods may be called concurrently from any
// number of goroutines and processes.
type Store struct {
	Dir string
}

// storeEntry is one key in StoreFile.
type storeEntry struct {
	Key    string    `json:"key"`
	Config KeyConfig `json:"config"`
}

func (s Store) path() string { return filepath.Join(s.Dir, StoreFile) }

// load reads and checks the store; a missing file is an empty store.
// Errors of a damaged file wrap ErrCorrupt.
func (s Store) load() (map[string]storeEntry, error) {
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]storeEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tape encryption keys: %w", err)
	}
	m := map[string]storeEntry{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errorf(ErrCorrupt, "%s is damaged: %v; restore it from a backup or restore the keys from tape with `tapefs key restore`", s.path(), err)
	}
	for fp, e := range m {
		key, err := hex.DecodeString(e.Key)
		if err != nil || len(key) != KeySize || Fingerprint(key) != fp || e.Config.Fingerprint != fp {
			return nil, errorf(ErrCorrupt, "%s is damaged: the entry for %s does not hold the key with that fingerprint; restore the file from a backup or restore the key from tape with `tapefs key restore`", s.path(), fp)
		}
	}
	return m, nil
}

func fingerprints(m map[string]storeEntry) []string {
	fps := make([]string, 0, len(m))
	for fp := range m {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	return fps
}

// Add stores key with its config. The config must be valid and belong to
// the key (errors wrap ErrInvalid); a known fingerprint is refused with an
// error wrapping ErrExists.
func (s Store) Add(key []byte, kc KeyConfig) error {
	if len(key) != KeySize {
		return errorf(ErrInvalid, "a tape encryption key is %d bytes, not %d", KeySize, len(key))
	}
	if err := kc.Validate(); err != nil {
		return err
	}
	if fp := Fingerprint(key); fp != kc.Fingerprint {
		return errorf(ErrInvalid, "the key has fingerprint %s but its config says %s", fp, kc.Fingerprint)
	}
	return s.update(func(m map[string]storeEntry) error {
		if _, ok := m[kc.Fingerprint]; ok {
			return errorf(ErrExists, "tape encryption key %s is already in the key store", kc.Fingerprint)
		}
		m[kc.Fingerprint] = storeEntry{Key: hex.EncodeToString(key), Config: kc}
		return nil
	})
}

// Get returns the key and config named by fp. An unknown fingerprint gives
// an error wrapping ErrNotFound that says to run `tapefs key restore`; an
// abbreviation matching several keys wraps ErrAmbiguous; a malformed one
// ErrInvalid.
func (s Store) Get(fp string) ([]byte, KeyConfig, error) {
	m, err := s.load()
	if err != nil {
		return nil, KeyConfig{}, err
	}
	full, err := resolve(fp, fingerprints(m))
	if err != nil {
		return nil, KeyConfig{}, err
	}
	e := m[full]
	key, _ := hex.DecodeString(e.Key) // checked by load
	return key, e.Config, nil
}

// Resolve returns the full fingerprint of the stored key that fp names,
// with the errors of Get.
func (s Store) Resolve(fp string) (string, error) {
	_, kc, err := s.Get(fp)
	return kc.Fingerprint, err
}

// List returns the configs of all keys, oldest first (by Created, then
// fingerprint).
func (s Store) List() ([]KeyConfig, error) {
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	out := make([]KeyConfig, 0, len(m))
	for _, fp := range fingerprints(m) {
		out = append(out, m[fp].Config)
	}
	slices.SortStableFunc(out, func(a, b KeyConfig) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Update changes the config of the key fp names: fn gets a copy, and the
// result is stored if fn returns nil and it is still a valid config of the
// same key (its fingerprint cannot change). Otherwise nothing changes and
// the error is returned (fn's own error unchanged). Lookup errors are
// those of Get.
func (s Store) Update(fp string, fn func(*KeyConfig) error) error {
	return s.update(func(m map[string]storeEntry) error {
		full, err := resolve(fp, fingerprints(m))
		if err != nil {
			return err
		}
		e := m[full]
		kc := e.Config
		kc.Salt, kc.Nonce, kc.Data = slices.Clone(kc.Salt), slices.Clone(kc.Nonce), slices.Clone(kc.Data)
		if err := fn(&kc); err != nil {
			return err
		}
		if kc.Fingerprint != full {
			return errorf(ErrInvalid, "the fingerprint of key %s cannot change", full)
		}
		if err := kc.Validate(); err != nil {
			return err
		}
		e.Config = kc
		m[full] = e
		return nil
	})
}

// Remove deletes the key fp names, with the lookup errors of Get.
func (s Store) Remove(fp string) error {
	return s.update(func(m map[string]storeEntry) error {
		full, err := resolve(fp, fingerprints(m))
		if err != nil {
			return err
		}
		delete(m, full)
		return nil
	})
}

// update runs fn on the loaded store under the lock and writes the result
// if fn succeeds.
func (s Store) update(fn func(map[string]storeEntry) error) error {
	if err := fileutil.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create configuration directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(s.Dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open key store lock: %w", err)
	}
	defer lf.Close() // releases the lock
	if err := fileutil.Lock(lf, lockTimeout); err != nil {
		return fmt.Errorf("lock the key store: %w", err)
	}
	m, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(m); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fileutil.Replace(s.Dir, StoreFile, append(b, '\n'), 0o600)
}
