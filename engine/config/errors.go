package config

import (
	"errors"
	"fmt"

	"tapefs/internal/errclass"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: no drive, changer or pool has the given name.
	ErrNotFound = errclass.New(errclass.NotFound, "not found")

	// ErrInvalid: a configuration that fails validation (bad name, path,
	// reference, calendar event, time span, ...).
	ErrInvalid = errclass.New(errclass.Invalid, "invalid configuration")

	// ErrExists: a name is already used (by a section of any kind in the
	// same file).
	ErrExists = errclass.New(errclass.Exists, "already exists")
)

// kindError is an error with its own message that matches a sentinel.
type kindError struct {
	msg string
	err error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.err }

// notFound returns "unknown drive 'x'", matching ErrNotFound.
func notFound(kind, name string) error {
	return &kindError{msg: fmt.Sprintf("unknown %s '%s'", kind, name), err: ErrNotFound}
}

// ValidateName checks a drive, changer or pool name: 2 to 32 characters,
// letters, digits, '_', '.' and '-', not starting with '.' or '-' (the safe
// ids of Proxmox Backup Server). kind names the object in the message:
// "invalid drive name 'x': ...".
func ValidateName(kind, name string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid %s name '%s': %s", kind, name, why)
	}
	if len(name) < 2 || len(name) > 32 {
		return bad("must be 2 to 32 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '.' || c == '-':
			if i == 0 {
				return bad(fmt.Sprintf("must not start with '%c'", c))
			}
		default:
			return bad("only letters, digits, '_', '.' and '-' are allowed")
		}
	}
	return nil
}

// checkValue rejects a value that cannot be written to a line of a
// configuration file and read back unchanged: control characters, or blanks
// at either end.
func checkValue(kind, name, key, value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%s '%s': %s must not contain control characters", kind, name, key)
		}
	}
	if value != trimBlank(value) {
		return fmt.Errorf("%s '%s': %s must not start or end with blanks", kind, name, key)
	}
	return nil
}

// invalid marks a validation error with ErrInvalid, keeping its message.
func invalid(err error) error {
	return &kindError{msg: err.Error(), err: errors.Join(err, ErrInvalid)}
}
