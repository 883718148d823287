package policy

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSetExpireTime(t *testing.T) {
	monA := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 5, 10, 0)} // Monday
	wedB := Set{UUID: id(2), Pool: "daily", Ctime: at(1, 7, 12, 0)} // Wednesday
	tueW := Set{UUID: id(3), Pool: "weekly", Ctime: at(1, 6, 9, 0)} // another pool
	friC := Set{UUID: id(4), Pool: "daily", Ctime: at(1, 9, 19, 0)} // Friday evening
	twinA := Set{UUID: id(5), Pool: "daily", Ctime: monA.Ctime}     // same ctime as monA
	all := []Set{monA, wedB, tueW, friC, twinA}
	day, week := 24*time.Hour, 7*24*time.Hour

	tests := []struct {
		name      string
		alloc     string
		retention string
		set       Set
		sets      []Set
		want      time.Time
		ok        bool
	}{
		{"continue overwrite: newer set", "continue", "overwrite", monA, all, wedB.Ctime, true},
		{"continue overwrite: nearest newer set", "continue", "overwrite", wedB, all, friC.Ctime, true},
		{"continue overwrite: latest set", "continue", "overwrite", friC, all, time.Time{}, false},
		{"continue: other pools and equal ctimes ignored", "", "overwrite", monA, []Set{monA, tueW, twinA}, time.Time{}, false},
		{"continue 7days", "continue", "7days", monA, all, wedB.Ctime.Add(week), true},
		{"continue 2 weeks", "continue", "2 weeks", monA, all, wedB.Ctime.Add(2 * week), true},
		{"continue keep", "continue", "keep", monA, all, time.Time{}, false},
		{"default keep", "", "", monA, all, time.Time{}, false},
		{"always overwrite", "always", "overwrite", monA, all, monA.Ctime, true},
		{"always overwrite: latest set", "always", "overwrite", friC, all, friC.Ctime, true},
		{"always 7days", "always", "7days", wedB, all, wedB.Ctime.Add(week), true},
		{"always keep", "always", "keep", monA, all, time.Time{}, false},
		{"daily overwrite", "daily", "overwrite", monA, all, at(1, 6, 0, 0), true},
		{"daily 7days", "daily", "7days", friC, all, at(1, 10, 0, 0).Add(week), true},
		{"weekly overwrite", "weekly", "overwrite", monA, all, at(1, 12, 0, 0), true},
		{"weekly 2 weeks", "weekly", "2 weeks", wedB, all, at(1, 12, 0, 0).Add(2 * week), true},
		{"mon..fri 18:00 same day", "mon..fri 18:00", "overwrite", monA, all, at(1, 5, 18, 0), true},
		{"mon..fri 18:00 over the weekend", "mon..fri 18:00", "1d", friC, all, at(1, 12, 18, 0).Add(day), true},
		// A newer set started early (say, a tape went offline) does not
		// shorten the protection: retention starts when the event triggers.
		{"weekly ignores earlier newer set", "weekly", "overwrite", monA, []Set{monA, wedB}, at(1, 12, 0, 0), true},
		{"event never again", "2020-01-01", "overwrite", monA, all, time.Time{}, false},
		{"keep with event", "daily", "keep", monA, all, time.Time{}, false},
		{"set of another pool", "always", "overwrite", tueW, all, time.Time{}, false},
		{"nil set", "always", "overwrite", Set{Pool: "daily", Ctime: monA.Ctime}, all, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(t, tc.alloc, tc.retention)
			got, ok := SetExpireTime(p, tc.set, tc.sets)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("SetExpireTime = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestSetExpireTimeLocation: a calendar event without zone is evaluated in
// the location of the set's creation time; Expired moves it to now's
// location, so a set stored in UTC expires at local midnight.
func TestSetExpireTimeLocation(t *testing.T) {
	p := pool(t, "daily", "overwrite")
	s := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 5, 23, 30).UTC()} // 22:30 UTC
	got, ok := SetExpireTime(p, s, nil)
	if want := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("UTC ctime: SetExpireTime = %v, %v; want %v", got, ok, want)
	}
	m := member(tape(1, "T1", at(1, 1, 0, 0), StatusFull), s, 0)
	localMidnight := at(1, 6, 0, 0) // 23:00 UTC on the 5th
	if !Expired(p, m, []Set{s}, localMidnight) {
		t.Errorf("Expired at local midnight %v = false, want true", localMidnight)
	}
	if Expired(p, m, []Set{s}, localMidnight.Add(-time.Second)) {
		t.Errorf("Expired before local midnight = true, want false")
	}
}

func TestExpired(t *testing.T) {
	old := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 5, 10, 0)}
	cur := Set{UUID: id(2), Pool: "daily", Ctime: at(1, 7, 12, 0)}
	other := Set{UUID: id(3), Pool: "weekly", Ctime: at(1, 1, 12, 0)}
	sets := []Set{old, cur, other}
	full := member(tape(1, "T1", at(1, 1, 0, 0), StatusFull), old, 0)
	mod := func(f func(*Media)) Media { m := full; f(&m); return m }
	expiry := cur.Ctime.Add(7 * 24 * time.Hour) // continue, 7days

	tests := []struct {
		name      string
		alloc     string
		retention string
		m         Media
		now       time.Time
		want      bool
	}{
		{"before expiry", "continue", "7days", full, expiry.Add(-time.Second), false},
		{"at expiry", "continue", "7days", full, expiry, true},
		{"after expiry", "continue", "7days", full, expiry.Add(time.Hour), true},
		{"writable member", "continue", "7days", mod(func(m *Media) { m.Status = StatusWritable }), expiry, true},
		{"unknown member", "continue", "7days", mod(func(m *Media) { m.Status = StatusUnknown }), expiry, true},
		{"damaged", "continue", "7days", mod(func(m *Media) { m.Status = StatusDamaged }), expiry, false},
		{"retired", "continue", "7days", mod(func(m *Media) { m.Status = StatusRetired }), expiry, false},
		{"locked by restore", "continue", "7days", mod(func(m *Media) { m.Locked = true }), expiry, false},
		{"in no set", "continue", "overwrite", mod(func(m *Media) { m.Set = uuid.Nil }), expiry, false},
		{"set unknown", "continue", "overwrite", mod(func(m *Media) { m.Set = id(9) }), expiry, false},
		{"set of another pool", "always", "overwrite", mod(func(m *Media) { m.Set = other.UUID }), expiry, false},
		{"latest set under continue", "continue", "overwrite", member(full, cur, 0), at(12, 31, 0, 0), false},
		{"keep", "continue", "keep", full, at(12, 31, 0, 0), false},
		{"overwrite at next set", "continue", "overwrite", full, cur.Ctime, true},
		{"always overwrite at ctime", "always", "overwrite", member(full, cur, 0), cur.Ctime, true},
		{"always 2 weeks early", "always", "2 weeks", full, old.Ctime.Add(14*24*time.Hour - time.Minute), false},
		{"always 2 weeks", "always", "2 weeks", full, old.Ctime.Add(14 * 24 * time.Hour), true},
		{"daily before midnight", "daily", "overwrite", full, at(1, 5, 23, 59), false},
		{"daily at midnight", "daily", "overwrite", full, at(1, 6, 0, 0), true},
		{"weekly 7days early", "weekly", "7days", full, at(1, 18, 23, 59), false},
		{"weekly 7days", "weekly", "7days", full, at(1, 19, 0, 0), true},
		{"mon..fri 18:00 early", "mon..fri 18:00", "overwrite", full, at(1, 5, 17, 59), false},
		{"mon..fri 18:00", "mon..fri 18:00", "overwrite", full, at(1, 5, 18, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(t, tc.alloc, tc.retention)
			if got := Expired(p, tc.m, sets, tc.now); got != tc.want {
				t.Errorf("Expired at %v = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}
