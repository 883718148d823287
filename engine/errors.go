package engine

import (
	"errors"
	"fmt"
	"syscall"

	"tapefs/engine/device"
	"tapefs/engine/keys"
	"tapefs/internal/errclass"
)

// Error classes of the engine. Every error the engine returns that is due to
// the caller's input or to the state of a device matches (errors.Is) one of
// these or one of the device sentinels; KindOf sorts them for exit codes and
// errno translation. A package's sentinel is classed where it is defined
// (errclass.New), so KindOf needs no list of them.
var (
	// ErrNotFound: an unknown drive, changer, pool, tape or slot content.
	ErrNotFound = errclass.New(errclass.NotFound, "not found")
	// ErrInvalid: a malformed or out-of-range argument.
	ErrInvalid = errclass.New(errclass.Invalid, "invalid argument")
	// ErrExists: the name or label is already in use.
	ErrExists = errclass.New(errclass.Exists, "already exists")
	// ErrBusy: the drive is reserved by another job, or a device or the
	// catalog is held by another process.
	ErrBusy = errclass.New(errclass.Busy, "busy")
	// ErrRefused: the operation would destroy data or break a rule (a
	// tape with data to label, a drive still used by a pool).
	ErrRefused = errclass.New(errclass.Refused, "refused")
	// ErrNoSpace: no free slot or no writable tape.
	ErrNoSpace = errclass.New(errclass.NoSpace, "no space")
	// ErrNoKey: reading an encrypted media set needs a key that is not in
	// the key store (`tapefs key restore` brings it back from a tape).
	ErrNoKey = errclass.New(errclass.NoKey, "encryption key not in the key store")
)

// Kind is the class of an error, for exit codes and errno translation.
type Kind = errclass.Class

// The error kinds.
const (
	KindOther    = errclass.Other
	KindNotFound = errclass.NotFound
	KindInvalid  = errclass.Invalid
	KindExists   = errclass.Exists
	KindBusy     = errclass.Busy
	KindNoMedium = errclass.NoMedium
	KindNoSpace  = errclass.NoSpace
	KindRefused  = errclass.Refused
	KindCanceled = errclass.Canceled
	KindIO       = errclass.IO
	KindNoKey    = errclass.NoKey
)

// foreignKinds classes the errors of packages that cannot class their own
// with errclass: the device contract (engine/device, a leaf that imports
// nothing of tapefs) and the system's errnos that have a kind.
var foreignKinds = []struct {
	err  error
	kind Kind
}{
	{device.ErrInvalidElement, KindInvalid},
	{device.ErrBusy, KindBusy},
	{device.ErrNoMedium, KindNoMedium}, {device.ErrNotReady, KindNoMedium},
	{device.ErrDestinationFull, KindNoSpace}, {device.ErrEndOfMedium, KindNoSpace},
	{device.ErrWriteProtected, KindRefused}, {device.ErrSourceEmpty, KindRefused},
	{device.ErrMediumLocked, KindRefused}, {device.ErrBadCartridge, KindRefused},
	{device.ErrMediumError, KindIO}, {device.ErrOffline, KindIO}, {device.ErrEncrypted, KindIO},
	// A full local filesystem (the state directory's, a restore
	// target's), catalog.ErrNoRoom among them.
	{syscall.ENOSPC, KindNoSpace}, {syscall.EDQUOT, KindNoSpace},
}

// KindOf classifies err by the sentinels it wraps: those made with
// errclass.New (the engine's, config's, keys', catalog's), those in
// foreignKinds (the device contract's) and context cancellation. An error
// with several classes takes the first in errclass's precedence (a
// missing key is no key, not not found).
func KindOf(err error) Kind {
	if err == nil {
		return KindOther
	}
	s := errclass.Classes(err)
	for _, d := range foreignKinds {
		if errors.Is(err, d.err) {
			s = s.Add(d.kind)
		}
	}
	return s.Top()
}

// classed is an error with a class: its message is the message of err, and
// it matches both err and the class sentinel.
type classed struct {
	class error
	err   error
}

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.err, e.class} }

func classify(class error, format string, args ...any) error {
	return &classed{class: class, err: fmt.Errorf(format, args...)}
}

func invalidf(format string, args ...any) error  { return classify(ErrInvalid, format, args...) }
func notFoundf(format string, args ...any) error { return classify(ErrNotFound, format, args...) }
func refusedf(format string, args ...any) error  { return classify(ErrRefused, format, args...) }

// keyErr is the error of getting key fp of encrypted media set set from
// the key store: a key that is not there is ErrNoKey.
func keyErr(set fmt.Stringer, err error) error {
	if errors.Is(err, keys.ErrNotFound) {
		return classify(ErrNoKey, "media set %s is encrypted: %w", set, err)
	}
	return fmt.Errorf("media set %s is encrypted: %w", set, err)
}
