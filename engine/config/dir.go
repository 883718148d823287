package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"tapefs/internal/fileutil"
)

// LockFile is the name of the lock file in a configuration directory. Every
// update of a file in the directory holds an exclusive flock(2) on it.
const LockFile = ".lock"

// lockTimeout bounds the wait for another process's update.
const lockTimeout = 30 * time.Second

// Dir is a configuration directory (default /etc/tapefs). Its methods may
// be called concurrently, from any number of goroutines and processes.
type Dir struct {
	Path string
}

// LoadTape reads and validates tape.cfg. A missing file is an empty
// configuration. Errors name the file, and for syntax errors the line.
func (d Dir) LoadTape() (*TapeConfig, error) {
	return d.loadTape()
}

// LoadPools reads and validates media-pool.cfg. A missing file is an empty
// configuration.
func (d Dir) LoadPools() (*PoolConfig, error) {
	return d.loadPools()
}

// UpdateTape changes tape.cfg: under the directory's lock it loads the file,
// calls fn to change the configuration, validates the result and replaces the
// file atomically. If fn, the validation or the write fails, the file is left
// as it was and the error is returned (fn's own error unchanged). If fn
// changes nothing, the file is not rewritten. fn may
// call LoadPools or LoadTape, but not UpdateTape or UpdatePools (the lock is
// not reentrant).
func (d Dir) UpdateTape(fn func(*TapeConfig) error) error {
	return updateFile(d, TapeFile, parseTape, formatTape, (*TapeConfig).Validate, fn)
}

// UpdatePools changes media-pool.cfg the way UpdateTape changes tape.cfg.
// To check pool drives against tape.cfg, fn can call LoadTape and
// ValidatePoolDrives: drive updates wait for the same lock.
func (d Dir) UpdatePools(fn func(*PoolConfig) error) error {
	return updateFile(d, PoolFile, parsePools, formatPools, (*PoolConfig).Validate, fn)
}

func (d Dir) file(name string) string { return filepath.Join(d.Path, name) }

// read returns the content of a file of the directory, nil if it does not
// exist.
func (d Dir) read(name string) ([]byte, error) {
	data, err := os.ReadFile(d.file(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return data, nil
}

func (d Dir) loadTape() (*TapeConfig, error) {
	return loadFile(d, TapeFile, parseTape, (*TapeConfig).Validate)
}

func (d Dir) loadPools() (*PoolConfig, error) {
	return loadFile(d, PoolFile, parsePools, (*PoolConfig).Validate)
}

// loadFile reads, parses and validates the file name of the directory; a
// missing file is an empty configuration (parse of no data).
func loadFile[T any](d Dir, name string, parse func(string, []byte) (*T, error), validate func(*T) error) (*T, error) {
	data, err := d.read(name)
	if err != nil {
		return nil, err
	}
	c, err := parse(d.file(name), data)
	if err != nil {
		return nil, err
	}
	if err := validate(c); err != nil {
		return nil, fmt.Errorf("%s: %w", d.file(name), err)
	}
	return c, nil
}

// updateFile is UpdateTape for any file of the directory: under the lock,
// load, let fn change, validate and replace (unless nothing changed).
func updateFile[T any](d Dir, name string, parse func(string, []byte) (*T, error), format func(*T) []byte, validate func(*T) error, fn func(*T) error) error {
	return d.update(func() error {
		c, err := loadFile(d, name, parse, validate)
		if err != nil {
			return err
		}
		before := format(c)
		if err := fn(c); err != nil {
			return err
		}
		if err := validate(c); err != nil {
			return fmt.Errorf("%s not changed: %w", d.file(name), invalid(err))
		}
		return d.replace(name, before, format(c))
	})
}

// update runs fn holding the directory's exclusive lock, creating the
// directory if needed.
func (d Dir) update(fn func() error) error {
	if err := fileutil.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("create configuration directory: %w", err)
	}
	lockPath := d.file(LockFile)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open configuration lock: %w", err)
	}
	defer f.Close() // closing the file releases the lock
	if err := fileutil.Lock(f, lockTimeout); err != nil {
		return fmt.Errorf("another update of the configuration holds the lock (%w); try again, or find the process holding it", err)
	}
	return fn()
}

// replace atomically replaces the file name with data, unless data equals
// before (the encoding of the configuration as loaded: the update changed
// nothing, and a hand-written file keeps its comments): write a temporary file in the same directory,
// fsync it, rename it over the file and fsync the directory. On error the
// old file is untouched, unless only the final directory fsync failed.
func (d Dir) replace(name string, before, data []byte) error {
	if bytes.Equal(before, data) {
		return nil
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(d.file(name)); err == nil {
		mode = st.Mode().Perm()
	}
	return fileutil.Replace(d.Path, name, data, mode)
}
