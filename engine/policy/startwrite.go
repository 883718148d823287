package policy

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Decision is what a backup job must do before it writes.
type Decision struct {
	// NewSet: start a new media set instead of appending to the current
	// one.
	NewSet bool
	// Reason says why a new set starts, for the job log; empty when NewSet
	// is false.
	Reason string
}

// Reasons StartWrite gives without further detail.
const (
	ReasonForced       = "forced"
	ReasonNoCurrentSet = "no current set"
	ReasonAlways       = "allocation always"
	ReasonClosed       = "current set is closed"
)

// StartWrite decides whether a backup job appends to current, the pool's
// current media set (see CurrentSet; nil if it has none), or starts a new
// set. setKey is the encryption key fingerprint recorded in current's
// media-set labels ("" for none); media must hold at least every tape of
// the pool (other tapes are ignored); usesLibrary says whether the pool's
// drive is in a tape library; force requests a new set.
//
// A new set starts, checked in this order, when:
//   - force is set ("forced");
//   - there is no current set, or it is closed;
//   - the inventory is inconsistent: the set belongs to another pool, lists
//     a tape the inventory does not know (or has a gap), lists a tape twice,
//     or lists a tape that claims another set or another sequence number, or
//     a tape claims the set but the set does not list it
//     ("inventory inconsistent: ...");
//   - a member is damaged or retired ("current set has damaged tape X");
//   - the set's encryption key differs from the pool's ("encryption key
//     changed ...");
//   - the tape to continue on, the last member while it is writable, is not
//     online and usesLibrary is set ("tape X of the current set is
//     offline"); a standalone drive gets its tape from the operator;
//   - allocation "always" ("allocation always");
//   - the allocation calendar event elapsed since the set's creation time,
//     evaluated in now's location ("calendar event '...' triggered at ...").
//
// Allocation "continue" appends as long as none of the other triggers
// apply. StartWrite is pure and safe for concurrent use.
func StartWrite(p Pool, current *Set, setKey string, media []Media, usesLibrary bool, force bool, now time.Time) Decision {
	newSet := func(reason string) Decision { return Decision{NewSet: true, Reason: reason} }
	switch {
	case force:
		return newSet(ReasonForced)
	case current == nil:
		return newSet(ReasonNoCurrentSet)
	case current.Closed:
		return newSet(ReasonClosed)
	}
	if msg := inconsistency(p, *current, media); msg != "" {
		return newSet("inventory inconsistent: " + msg)
	}
	for _, id := range current.Media {
		m := findMedia(media, id)
		if !usable(m.Status) {
			return newSet(fmt.Sprintf("current set has %s tape %s", m.Status, m.Label))
		}
	}
	if !sameKey(setKey, p.EncryptKey) {
		return newSet(fmt.Sprintf("encryption key changed: the set uses %s, the pool %s", keyName(setKey), keyName(p.EncryptKey)))
	}
	if n := len(current.Media); n > 0 && usesLibrary {
		last := findMedia(media, current.Media[n-1])
		if appendable(last.Status) && !last.Online {
			return newSet(fmt.Sprintf("tape %s of the current set is offline", last.Label))
		}
	}
	a := p.Allocation
	switch {
	case a.Always:
		return newSet(ReasonAlways)
	case a.Event != nil:
		if t, ok := a.Event.Next(current.Ctime.In(now.Location())); ok && !now.Before(t) {
			return newSet(fmt.Sprintf("calendar event '%s' triggered at %s", a.Event, t.Format(time.RFC3339)))
		}
	}
	return Decision{}
}

// keyName names a key fingerprint for a message.
func keyName(fp string) string {
	if fp == "" {
		return "no key"
	}
	return "key " + fp
}

// inconsistency returns what is wrong between set s and the inventory, or
// "" when they agree.
func inconsistency(p Pool, s Set, media []Media) string {
	if s.Pool != p.Name {
		return fmt.Sprintf("set %s belongs to pool '%s', not '%s'", s.UUID, s.Pool, p.Name)
	}
	listed := make(map[uuid.UUID]bool, len(s.Media))
	for seq, id := range s.Media {
		if id == uuid.Nil {
			return fmt.Sprintf("set %s is incomplete: the inventory has no tape with sequence number %d", s.UUID, seq)
		}
		if listed[id] {
			return fmt.Sprintf("set %s lists tape %s twice", s.UUID, id)
		}
		listed[id] = true
		m := findMedia(media, id)
		switch {
		case m == nil:
			return fmt.Sprintf("set %s lists tape %s, which the inventory does not know", s.UUID, id)
		case m.Set != s.UUID:
			return fmt.Sprintf("set %s lists tape %s, which claims set %s", s.UUID, m.Label, m.Set)
		case m.Seq != uint64(seq):
			return fmt.Sprintf("set %s lists tape %s as number %d, the tape says %d", s.UUID, m.Label, seq, m.Seq)
		case m.Pool != "" && m.Pool != p.Name:
			return fmt.Sprintf("tape %s of set %s is labelled for pool '%s'", m.Label, s.UUID, m.Pool)
		}
	}
	for _, m := range media {
		if m.Set == s.UUID && !listed[m.UUID] {
			return fmt.Sprintf("tape %s claims set %s with number %d, but the set does not list it", m.Label, s.UUID, m.Seq)
		}
	}
	return ""
}
