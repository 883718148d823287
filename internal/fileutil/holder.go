package fileutil

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockShared takes a shared flock on f, waiting up to timeout for an
// exclusive holder; after that it returns an error wrapping
// ErrLockTimeout that names the holder when it is known (see Holder).
func LockShared(f *os.File, timeout time.Duration) error {
	return lockWait(f, unix.LOCK_SH, timeout)
}

// lockWait polls a non-blocking flock of kind how until it succeeds or
// timeout has passed. An exclusive lock, once taken, records its holder
// in f (RecordHolder) for the message of the next one who waits.
func lockWait(f *os.File, how int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			if how == unix.LOCK_EX {
				RecordHolder(f)
			}
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w%s for %v", f.Name(), ErrLockTimeout, Holder(f), timeout)
		}
		time.Sleep(wait)
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// RecordHolder writes this process's pid and command line into the lock
// file f, which the caller holds exclusively, so that a process refused
// the lock can name the holder. It is best effort: the lock works without
// it (f may be read-only).
func RecordHolder(f *os.File) {
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(fmt.Sprintf("pid %d\ncommand %s\n", os.Getpid(), Cmdline(os.Getpid()))), 0)
	}
}

// Holder describes the holder RecordHolder recorded in lock file f,
// " (pid N: COMMAND)", if that process still runs that command; ""
// otherwise (shared holders record nothing, or the record is stale).
func Holder(f *os.File) string {
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	var pid int
	var cmd string
	for _, line := range strings.Split(string(b[:n]), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "command":
			cmd = v
		}
	}
	if pid <= 0 || cmd == "" || Cmdline(pid) != cmd {
		return ""
	}
	return fmt.Sprintf(" (pid %d: %s)", pid, cmd)
}

// Cmdline is the command line of process pid with its arguments separated
// by spaces ("" if there is no such process), at most 200 bytes.
func Cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
