package fusefs

import (
	"errors"
	"syscall"

	"tapefs/engine"
)

// Errno is the one translation of engine errors into errnos at the FUSE
// boundary:
//
//	invalid argument, bad usage      EINVAL
//	not found                        ENOENT
//	encryption key not in the store  ENOKEY
//	busy (drive reserved, locked)    EBUSY
//	no medium                        ENOMEDIUM
//	no space (slot, writable tape)   ENOSPC
//	exists (label or name in use)    EEXIST
//	refused (would destroy data,
//	  write protected, rule broken)  EPERM
//	canceled                         EINTR
//	anything else                    EIO
//
// A nil error is 0. An error that already is a syscall.Errno is returned
// as it is. Callers log EIO errors (the errno alone says nothing); the
// full message of every control-file error is kept for reading the file.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if en, ok := err.(syscall.Errno); ok {
		// No engine sentinel is an Errno: skip KindOf's comparisons
		// (ENOENT of a lookup, ENODATA of a getxattr are per-file
		// answers in incoming/).
		return en
	}
	var en syscall.Errno
	if errors.As(err, &en) && engine.KindOf(err) == engine.KindOther {
		return en
	}
	switch engine.KindOf(err) {
	case engine.KindInvalid:
		return syscall.EINVAL
	case engine.KindNotFound:
		return syscall.ENOENT
	case engine.KindNoKey:
		return syscall.ENOKEY
	case engine.KindBusy:
		return syscall.EBUSY
	case engine.KindNoMedium:
		return syscall.ENOMEDIUM
	case engine.KindNoSpace:
		return syscall.ENOSPC
	case engine.KindExists:
		return syscall.EEXIST
	case engine.KindRefused:
		return syscall.EPERM
	case engine.KindCanceled:
		return syscall.EINTR
	}
	return syscall.EIO
}
