// Package errclass gives sentinel errors a class (not found, invalid,
// exists, busy, ...) where they are defined, so that one function sorts
// any error for exit codes and errno translation: a package that adds a
// sentinel with New needs no entry in a list elsewhere.
//
// The engine's KindOf is the classification the CLI (exit codes) and the
// FUSE mount (errno) use; it adds the classes of engine/device's
// sentinels, which that leaf package cannot take from here.
package errclass

import "context"

// Class is the class of an error.
type Class int

// The classes. Other: no class.
const (
	Other Class = iota
	NotFound
	Invalid
	Exists
	Busy
	NoMedium
	NoSpace
	Refused
	Canceled
	IO
	NoKey
)

func (c Class) String() string {
	return [...]string{"error", "not found", "invalid argument", "exists", "busy", "no medium", "no space", "refused", "canceled", "i/o error", "no key"}[c]
}

// precedence is the order in which an error that has several classes (a
// wrapped sentinel of one class in an error of another) is sorted: the
// first class it has wins. NoKey comes before NotFound because a missing
// key is both.
var precedence = [...]Class{Canceled, NoKey, Invalid, NotFound, Exists, Busy, NoMedium, NoSpace, Refused, IO}

// Set is a set of classes.
type Set uint32

// Add returns s with c.
func (s Set) Add(c Class) Set { return s | 1<<c }

// Has reports whether s holds c.
func (s Set) Has(c Class) bool { return s&(1<<c) != 0 }

// Top is the class of an error with the classes s: the first of s in
// precedence order, Other when s is empty.
func (s Set) Top() Class {
	for _, c := range precedence {
		if s.Has(c) {
			return c
		}
	}
	return Other
}

// classed is an error that states its class.
type classed interface{ ErrClass() Class }

// sentinel is an error made by New.
type sentinel struct {
	msg   string
	class Class
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) ErrClass() Class { return e.class }

// New returns a new sentinel error of class c with message msg. Like
// errors.New, each call returns a distinct error, which errors.Is finds
// in a wrapped error as it finds any other.
func New(c Class, msg string) error { return &sentinel{msg: msg, class: c} }

// Classes returns the classes of every error in err's tree (through
// Unwrap() error and Unwrap() []error): those that state one (New, or
// any error with an ErrClass method) and context.Canceled and
// context.DeadlineExceeded (Canceled).
func Classes(err error) Set {
	var s Set
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if c, ok := err.(classed); ok {
				s = s.Add(c.ErrClass())
			}
			if err == context.Canceled || err == context.DeadlineExceeded {
				s = s.Add(Canceled)
			}
			switch u := err.(type) {
			case interface{ Unwrap() []error }:
				for _, e := range u.Unwrap() {
					walk(e)
				}
				return
			case interface{ Unwrap() error }:
				err = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return s
}

// Of is the class of err: Classes(err).Top().
func Of(err error) Class { return Classes(err).Top() }
