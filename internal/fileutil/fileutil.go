// Package fileutil holds the file primitives tapefs's state and
// configuration share: replacing a file atomically and durably, taking an
// flock with a deadline that names its holder, and the modes of private
// files (perm.go). It is a leaf package.
package fileutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLockTimeout: another process held the lock for the whole timeout.
var ErrLockTimeout = errors.New("lock held by another process")

// Replace atomically replaces dir/name with data in mode perm: a temporary
// file in dir is written, fsynced and renamed over the file, then dir is
// fsynced. On error the old file is untouched, unless only the final
// directory fsync failed; no temporary file is left behind.
func Replace(dir, name string, data []byte, perm os.FileMode) error {
	target := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	for _, step := range []func() error{
		func() error { return tmp.Chmod(perm) },
		func() error { _, err := tmp.Write(data); return err },
		tmp.Sync,
		tmp.Close,
		func() error { return os.Rename(tmp.Name(), target) },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
	}
	done = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Lock takes an exclusive flock on f, waiting up to timeout for other
// holders; after that it returns an error wrapping ErrLockTimeout that
// names the holder when it is known. Once taken, the lock records this
// process as its holder in f (see RecordHolder).
func Lock(f *os.File, timeout time.Duration) error {
	return lockWait(f, unix.LOCK_EX, timeout)
}
