package keys

import (
	"errors"
	"fmt"

	"tapefs/internal/errclass"
)

// Errors of the package. Every error returned matches (errors.Is) at most
// one of them; its message says what happened and what to do.
var (
	// ErrNotFound: no key in the store has the fingerprint.
	ErrNotFound = errclass.New(errclass.NotFound, "tape encryption key not found")
	// ErrExists: the store already holds a key with the fingerprint.
	ErrExists = errclass.New(errclass.Exists, "tape encryption key already exists")
	// ErrAmbiguous: an abbreviated fingerprint matches more than one key.
	ErrAmbiguous = errclass.New(errclass.Invalid, "ambiguous key fingerprint")
	// ErrInvalid: a malformed fingerprint, hint, password or key config.
	ErrInvalid = errclass.New(errclass.Invalid, "invalid key argument")
	// ErrWrongPassword: the password does not open the key config (or the
	// sealed key was altered: AES-GCM cannot tell the two apart).
	ErrWrongPassword = errclass.New(errclass.Invalid, "wrong password for the tape encryption key")
	// ErrCorrupt: the key store file or a decrypted key is damaged (the
	// key does not match its fingerprint).
	ErrCorrupt = errors.New("tape encryption key data is damaged")
)

// kindError is an error with its own message that matches a sentinel.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
