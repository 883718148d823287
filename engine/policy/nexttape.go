package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// NextTape chooses the tape a backup job writes to next for set s of pool p
// (s may be a new, empty set; nil is treated like one). It returns, in this
// order of preference:
//
//  1. the last member of s, if it is writable (or of unknown state) and,
//     with usesLibrary, online;
//  2. an empty tape of the pool: labelled for p, in no set, writable;
//     oldest label time first;
//  3. an expired tape of the pool: a member of another set of p whose data
//     expired at now (see Expired), never a locked one; oldest set first;
//  4. an unassigned tape: labelled without a pool, in no set, writable;
//     oldest label time first.
//
// Damaged and retired tapes are never chosen, full tapes only when their
// set expired, and with usesLibrary only online tapes are. Ties are broken
// by label text, then by UUID, so the choice is deterministic. A locked tape
// is never chosen in steps 2 to 4; in step 1 it is (appending does not
// overwrite, and the engine serialises drive use).
//
// When no tape qualifies, the error wraps ErrNoWritableMedia and says what
// to do: label more tapes, load or import tapes that exist but are
// offline, wait for a restore, or change the retention policy. NextTape is
// pure and safe for concurrent use.
func NextTape(p Pool, s *Set, media []Media, sets []Set, usesLibrary bool, now time.Time) (Media, error) {
	available := func(m Media) bool { return m.Online || !usesLibrary }

	if s != nil && len(s.Media) > 0 {
		if last := findMedia(media, s.Media[len(s.Media)-1]); last != nil &&
			last.Set == s.UUID && appendable(last.Status) && available(*last) {
			return *last, nil
		}
	}
	setID := uuid.Nil
	if s != nil {
		setID = s.UUID
	}

	var empty, expired, unassigned []Media
	// Counts of tapes that would qualify but for their place or a restore,
	// for the error message.
	var offline, locked int
	consider := func(m Media, list *[]Media) {
		switch {
		case m.Locked:
			locked++
		case !available(m):
			offline++
		default:
			*list = append(*list, m)
		}
	}
	for _, m := range media {
		switch {
		case m.UUID == uuid.Nil || !usable(m.Status):
		case m.Set == uuid.Nil && m.Pool == p.Name && appendable(m.Status):
			consider(m, &empty)
		case m.Set == uuid.Nil && m.Pool == "" && appendable(m.Status):
			consider(m, &unassigned)
		case m.Set != uuid.Nil && m.Set != setID:
			// Expired ignores the lock; the lock is counted by consider.
			unlocked := m
			unlocked.Locked = false
			if Expired(p, unlocked, sets, now) {
				consider(m, &expired)
			}
		}
	}

	byLabelTime := func(a, b Media) int {
		if c := a.Ctime.Compare(b.Ctime); c != 0 {
			return c
		}
		return tieBreak(a, b)
	}
	if len(empty) > 0 {
		return slices.MinFunc(empty, byLabelTime), nil
	}
	if len(expired) > 0 {
		setCtime := func(m Media) time.Time { return findSet(sets, m.Set).Ctime }
		return slices.MinFunc(expired, func(a, b Media) int {
			if c := setCtime(a).Compare(setCtime(b)); c != 0 {
				return c
			}
			return tieBreak(a, b)
		}), nil
	}
	if len(unassigned) > 0 {
		return slices.MinFunc(unassigned, byLabelTime), nil
	}
	return Media{}, noMediaError(p, usesLibrary, offline, locked)
}

// tieBreak orders tapes by label text, then UUID.
func tieBreak(a, b Media) int {
	if c := strings.Compare(a.Label, b.Label); c != 0 {
		return c
	}
	return strings.Compare(a.UUID.String(), b.UUID.String())
}

// noMediaError builds NextTape's error: what is missing and what to do.
func noMediaError(p Pool, usesLibrary bool, offline, locked int) error {
	var hint []string
	if offline > 0 {
		hint = append(hint, fmt.Sprintf("load or import the %d usable tape(s) that are not in the library", offline))
	}
	if locked > 0 {
		hint = append(hint, fmt.Sprintf("wait for the restore that holds %d expired tape(s)", locked))
	}
	label := fmt.Sprintf("label new tapes for the pool (`tapefs label --label-text <text> --pool %s`", p.Name)
	if usesLibrary {
		label += " or `tapefs barcode-label --pool " + p.Name + "`"
	}
	hint = append(hint, label+")")
	if !p.Retention.Overwrite {
		hint = append(hint, "or shorten the retention policy")
	}
	return fmt.Errorf("pool '%s': %w: no empty, expired or unassigned tape is available; %s",
		p.Name, ErrNoWritableMedia, strings.Join(hint, ", "))
}
