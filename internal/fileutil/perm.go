package fileutil

import (
	"errors"
	"fmt"
	"os"
)

// Modes of what tapefs creates for itself (state directory, catalog,
// spool, virtual libraries, locks, logs, keys): readable by their owner
// only. Requested at creation, they hold under any umask, since a umask
// only removes bits.
const (
	PrivateFile os.FileMode = 0o600
	PrivateDir  os.FileMode = 0o700
)

// MkdirAll creates dir and its missing parents as os.MkdirAll does, and
// gives dir exactly mode perm when it creates it, whatever the umask (so a
// shared configuration directory is 0755 even under umask 077). An
// existing dir keeps its mode; missing parents get perm less the umask.
func MkdirAll(dir string, perm os.FileMode) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}
