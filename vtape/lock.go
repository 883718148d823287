package vtape

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"tapefs/engine/device"
)

// deviceLock is an exclusive, non-blocking flock on a lock file, held for the
// lifetime of a drive or changer handle. flock locks belong to the open file
// description, so a second open in the same process conflicts too.
type deviceLock struct {
	f *os.File
}

// acquireDeviceLock takes the lock at path or returns an error wrapping
// device.ErrBusy that names the holder's pid when it is known.
func acquireDeviceLock(path, what string) (*deviceLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock of %s: %w", what, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if holder != "" {
				return nil, fmt.Errorf("%s is in use by process %s: %w", what, holder, device.ErrBusy)
			}
			return nil, fmt.Errorf("%s is in use by another handle: %w", what, device.ErrBusy)
		}
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	// Record the holder so a refused opener can say who has the device.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &deviceLock{f: f}, nil
}

func readHolder(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	return strings.TrimSpace(string(buf[:n]))
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

// withFileLock runs fn while holding a blocking flock (shared or exclusive)
// on path. It guards short read-modify-write sections of library.json.
func withFileLock(path string, exclusive bool, fn func() error) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return fn()
}
