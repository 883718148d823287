package vtape

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
)

// Every file and directory of a library is private to its owner (lock
// files too: whoever can open a lock file can take its flock and hold the
// library up).

// libraryLockTimeout bounds the wait for library.lock, which guards short
// read-modify-write sections of library.json: a holder that keeps it
// longer is stuck, and the waiter says who it is.
const libraryLockTimeout = 30 * time.Second

// deviceLock is an exclusive, non-blocking flock on a lock file, held for the
// lifetime of a drive or changer handle. flock locks belong to the open file
// description, so a second open in the same process conflicts too.
type deviceLock struct {
	f *os.File
}

// acquireDeviceLock takes the lock at path or returns an error wrapping
// device.ErrBusy that names the holder's pid and command when they are
// known.
func acquireDeviceLock(path, what string) (*deviceLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileutil.PrivateFile)
	if err != nil {
		return nil, fmt.Errorf("open lock of %s: %w", what, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := fileutil.Holder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if holder != "" {
				return nil, fmt.Errorf("%s is in use%s: %w", what, holder, device.ErrBusy)
			}
			return nil, fmt.Errorf("%s is in use by another handle: %w", what, device.ErrBusy)
		}
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	// Record the holder so a refused opener can say who has the device.
	fileutil.RecordHolder(f)
	return &deviceLock{f: f}, nil
}

// release drops the lock. It is safe to call more than once.
func (l *deviceLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	f.Truncate(0)
	return f.Close() // closing the description releases the flock
}

// withFileLock runs fn while holding a flock (shared or exclusive) on
// path, waiting at most libraryLockTimeout for it. It guards short
// read-modify-write sections of library.json.
func withFileLock(path string, exclusive bool, fn func() error) error {
	return withFileLockWait(path, exclusive, libraryLockTimeout, fn)
}

// withFileLockWait is withFileLock waiting at most timeout.
func withFileLockWait(path string, exclusive bool, timeout time.Duration, fn func() error) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileutil.PrivateFile)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	lock := fileutil.LockShared
	if exclusive {
		lock = fileutil.Lock
	}
	if err := lock(f, timeout); err != nil {
		return fmt.Errorf("the virtual library is locked by another process: %w", err)
	}
	return fn()
}
