package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"tapefs/internal/fileutil"
)

// lockFileName is the file in the catalog directory that tapefs flocks. It is
// separate from Badger's own lock so that tapefs can recognise a held lock by
// its errno: Badger reports its lock failure only as text.
const lockFileName = "tapefs-catalog.lock"

func lockPath(dir string) string { return filepath.Join(dir, lockFileName) }

// dirLock is an flock on lockFileName: exclusive for a writer, shared for
// read-only Catalogs. flock locks belong to the open file description, so a
// second Open in the same process conflicts just as another process does.
type dirLock struct {
	f *os.File
}

// acquireDirLock takes the catalog lock without waiting. When it is held in a
// conflicting mode the error wraps ErrLocked.
func acquireDirLock(dir string, shared bool) (*dirLock, error) {
	flag, how := os.O_RDWR|os.O_CREATE, syscall.LOCK_EX
	if shared {
		flag, how = os.O_RDONLY, syscall.LOCK_SH
	}
	f, err := os.OpenFile(lockPath(dir), flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open catalog lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("catalog %s is in use by another tapefs process%s: %w", dir, fileutil.Holder(f), ErrLocked)
		}
		return nil, fmt.Errorf("lock catalog %s: %w", dir, err)
	}
	if !shared {
		// Who holds it, for the message another process gets (best
		// effort: the lock works without it).
		fileutil.RecordHolder(f)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock. The lock file stays: removing it would let a
// concurrent Open lock a fresh inode while another holds the old one.
func (l *dirLock) release() error {
	return l.f.Close()
}
