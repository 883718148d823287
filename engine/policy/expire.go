package policy

import (
	"time"

	"github.com/google/uuid"
)

// SetExpireTime returns when the data of set s may be overwritten under the
// rules of pool p, and true; or false when it never may (retention "keep",
// a set of another pool, or a retention period that has not started and
// never will on the known facts).
//
// The retention period starts, by allocation policy:
//   - continue: with the existence of a newer media set, i.e. at the
//     creation time of the next set of the pool (the set with the smallest
//     creation time after s.Ctime among sets, s excluded); without a newer
//     set the period has not started and ok is false;
//   - always: with the creation time of the set, s.Ctime;
//   - calendar event: when the event triggers, i.e. its first elapse after
//     s.Ctime (in s.Ctime's location, unless the event names a zone); if it
//     never elapses again, ok is false.
//
// Retention "overwrite" expires the set at that start, a time span at start
// plus the span, "keep" never. sets may contain sets of other pools; they
// are ignored.
func SetExpireTime(p Pool, s Set, sets []Set) (t time.Time, ok bool) {
	if s.Pool != p.Name || s.UUID == uuid.Nil {
		return time.Time{}, false
	}
	r := p.Retention
	if !r.Overwrite && r.Span <= 0 {
		return time.Time{}, false // keep
	}
	start, ok := retentionStart(p, s, sets)
	if !ok {
		return time.Time{}, false
	}
	if r.Overwrite {
		return start, true
	}
	return start.Add(r.Span), true
}

// retentionStart returns when the retention period of s starts, per the
// pool's allocation policy.
func retentionStart(p Pool, s Set, sets []Set) (time.Time, bool) {
	a := p.Allocation
	switch {
	case a.Always:
		return s.Ctime, true
	case a.Event != nil:
		return a.Event.Next(s.Ctime)
	}
	return nextSetCtime(s, sets)
}

// nextSetCtime returns the creation time of the oldest set of s's pool that
// was created after s.
func nextSetCtime(s Set, sets []Set) (time.Time, bool) {
	var next time.Time
	found := false
	for _, o := range sets {
		if o.UUID == s.UUID || o.UUID == uuid.Nil || o.Pool != s.Pool || !o.Ctime.After(s.Ctime) {
			continue
		}
		if !found || o.Ctime.Before(next) {
			next, found = o.Ctime, true
		}
	}
	return next, found
}

// Expired reports whether tape m may be overwritten at now because its
// data expired: m is a member of a set of pool p (found in sets), the set's
// expire time (SetExpireTime, with calendar events evaluated in now's
// location) is not after now, m is neither damaged nor retired, and m is not
// locked by a restore. A tape in no set holds no data and is never
// "expired"; NextTape uses it as an empty or unassigned tape instead. A tape
// whose set is missing from sets is not expired: without the set the rules
// cannot show that its data may go.
func Expired(p Pool, m Media, sets []Set, now time.Time) bool {
	if m.Locked || !usable(m.Status) || m.Set == uuid.Nil {
		return false
	}
	s := findSet(sets, m.Set)
	if s == nil {
		return false
	}
	local := *s
	local.Ctime = s.Ctime.In(now.Location())
	t, ok := SetExpireTime(p, local, sets)
	return ok && !now.Before(t)
}
