package policy

import (
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
)

// MediaStatus is the state of a tape: the catalog's type, so that the
// inventory and the rules share one set of states.
type MediaStatus = catalog.MediaStatus

// The media states, as the rules see them. StatusUnknown (no reliable
// state recorded, for example after a catalog rebuild) is treated like
// writable: its data is protected by its set's retention, and the tape is
// used by position (the last member of a set may be appended to).
const (
	StatusWritable = catalog.StatusWritable
	StatusFull     = catalog.StatusFull
	StatusDamaged  = catalog.StatusDamaged
	StatusRetired  = catalog.StatusRetired
	StatusUnknown  = catalog.StatusUnknown
)

// usable reports whether a tape in state s may receive data at all.
func usable(s MediaStatus) bool {
	return s != StatusDamaged && s != StatusRetired
}

// appendable reports whether data may be appended to a tape in state s.
func appendable(s MediaStatus) bool {
	return s == StatusWritable || s == StatusUnknown
}

// Media is what the rules need to know about one tape. The engine builds it
// from the catalog's inventory entry and the changer's state.
type Media struct {
	UUID  uuid.UUID
	Label string
	// Pool is the pool the tape was labelled for; "" means any pool (an
	// unassigned tape). A member of a set belongs to the set's pool.
	Pool string
	// Ctime is the label time.
	Ctime time.Time
	// Set is the media set the tape belongs to; uuid.Nil means none (an
	// empty tape).
	Set uuid.UUID
	// Seq is the tape's sequence number in Set, from 0.
	Seq    uint64
	Status MediaStatus
	// Online: the tape is in a storage slot of the library of the pool's
	// drive, or in the drive itself.
	Online bool
	// Locked: a restore job is reading the tape's set; the tape is never
	// overwritten while it is locked.
	Locked bool
}

// Set is one media set of a pool: the catalog's record (the rules read
// UUID, Pool, Ctime, Media, Closed and LastWrite).
type Set = catalog.MediaSet

// Pool is a media pool's configuration in parsed form.
type Pool struct {
	Name       string
	Allocation config.Allocation
	Retention  config.Retention
	// EncryptKey is the fingerprint of the pool's encryption key, "" for
	// none.
	EncryptKey string
}

// PoolFromConfig parses the allocation and retention policies of c. Errors
// are the config package's: they name the pool and the bad value.
func PoolFromConfig(c config.Pool) (Pool, error) {
	a, err := c.AllocationPolicy()
	if err != nil {
		return Pool{}, err
	}
	r, err := c.RetentionPolicy()
	if err != nil {
		return Pool{}, err
	}
	return Pool{Name: c.Name, Allocation: a, Retention: r, EncryptKey: c.Encrypt}, nil
}

// Now is the clock the engine injects; the rules never read the system
// clock themselves but take the time as an argument.
type Now func() time.Time

// ErrNoWritableMedia is wrapped by NextTape when no tape may be written.
var ErrNoWritableMedia = errors.New("no writable media")

// sameKey compares two key fingerprints; hex digits in either case match.
func sameKey(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// findSet returns the set with UUID id in sets, or nil.
func findSet(sets []Set, id uuid.UUID) *Set {
	for i := range sets {
		if sets[i].UUID == id {
			return &sets[i]
		}
	}
	return nil
}

// findMedia returns the tape with UUID id in media, or nil.
func findMedia(media []Media, id uuid.UUID) *Media {
	for i := range media {
		if media[i].UUID == id {
			return &media[i]
		}
	}
	return nil
}

// CurrentSet returns the pool's current media set: its latest set by
// creation time (ties broken by the larger UUID, so the answer is
// deterministic), or nil when the pool has no set or the latest set is
// closed. The result points into sets.
func CurrentSet(pool string, sets []Set) *Set {
	var cur *Set
	for i := range sets {
		s := &sets[i]
		if s.Pool != pool || s.UUID == uuid.Nil {
			continue
		}
		if cur == nil || s.Ctime.After(cur.Ctime) ||
			s.Ctime.Equal(cur.Ctime) && strings.Compare(s.UUID.String(), cur.UUID.String()) > 0 {
			cur = s
		}
	}
	if cur == nil || cur.Closed {
		return nil
	}
	return cur
}
