package engine

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/keys"
)

// Error classes of the engine. Every error the engine returns that is due to
// the caller's input or to the state of a device matches (errors.Is) one of
// these or one of the device sentinels; KindOf sorts them for exit codes and
// errno translation.
var (
	// ErrNotFound: an unknown drive, changer, pool, tape or slot content.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a malformed or out-of-range argument.
	ErrInvalid = errors.New("invalid argument")
	// ErrExists: the name or label is already in use.
	ErrExists = errors.New("already exists")
	// ErrBusy: the drive is reserved by another job, or a device or the
	// catalog is held by another process.
	ErrBusy = errors.New("busy")
	// ErrRefused: the operation would destroy data or break a rule (a
	// tape with data to label, a drive still used by a pool).
	ErrRefused = errors.New("refused")
	// ErrNoSpace: no free slot or no writable tape.
	ErrNoSpace = errors.New("no space")
	// ErrNoKey: reading an encrypted media set needs a key that is not in
	// the key store (`tapefs key restore` brings it back from a tape).
	ErrNoKey = errors.New("encryption key not in the key store")
)

// Kind is the class of an error, for exit codes and errno translation.
type Kind int

// The error kinds, in the order KindOf tests them.
const (
	KindOther Kind = iota
	KindNotFound
	KindInvalid
	KindExists
	KindBusy
	KindNoMedium
	KindNoSpace
	KindRefused
	KindCanceled
	KindIO
	KindNoKey
)

func (k Kind) String() string {
	return [...]string{"error", "not found", "invalid argument", "exists", "busy", "no medium", "no space", "refused", "canceled", "i/o error", "no key"}[k]
}

// KindOf classifies err.
func KindOf(err error) Kind {
	switch {
	case err == nil:
		return KindOther
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return KindCanceled
	case errors.Is(err, ErrNoKey):
		// Before not found: the key store's own error is one too.
		return KindNoKey
	case errors.Is(err, ErrInvalid), errors.Is(err, config.ErrInvalid), errors.Is(err, device.ErrInvalidElement),
		errors.Is(err, keys.ErrInvalid), errors.Is(err, keys.ErrAmbiguous), errors.Is(err, keys.ErrWrongPassword):
		return KindInvalid
	case errors.Is(err, ErrNotFound), errors.Is(err, config.ErrNotFound), errors.Is(err, catalog.ErrNotFound), errors.Is(err, keys.ErrNotFound):
		return KindNotFound
	case errors.Is(err, ErrExists), errors.Is(err, config.ErrExists), errors.Is(err, keys.ErrExists):
		return KindExists
	case errors.Is(err, ErrBusy), errors.Is(err, device.ErrBusy), errors.Is(err, catalog.ErrLocked):
		return KindBusy
	case errors.Is(err, device.ErrNoMedium), errors.Is(err, device.ErrNotReady):
		return KindNoMedium
	case errors.Is(err, ErrNoSpace), errors.Is(err, device.ErrDestinationFull), errors.Is(err, device.ErrEndOfMedium),
		errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// ENOSPC: a full local filesystem (the state directory's, a
		// restore target's), catalog.ErrNoRoom among them.
		return KindNoSpace
	case errors.Is(err, ErrRefused), errors.Is(err, device.ErrWriteProtected), errors.Is(err, device.ErrSourceEmpty),
		errors.Is(err, device.ErrMediumLocked), errors.Is(err, device.ErrBadCartridge):
		return KindRefused
	case errors.Is(err, device.ErrMediumError), errors.Is(err, device.ErrOffline), errors.Is(err, device.ErrEncrypted):
		return KindIO
	}
	return KindOther
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
