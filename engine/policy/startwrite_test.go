package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

const key = "14:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0f"

// writeFixture is a pool's current set (created Monday 10:00) with a full
// first tape and a writable second one, plus an empty tape of the pool.
type writeFixture struct {
	set   Set
	media []Media
}

func newWriteFixture() writeFixture {
	s := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 5, 10, 0), Media: []uuid.UUID{id(11), id(12)}}
	return writeFixture{
		set: s,
		media: []Media{
			member(tape(11, "TEST01L8", at(1, 1, 0, 0), StatusFull), s, 0),
			member(tape(12, "TEST02L8", at(1, 1, 0, 0), StatusWritable), s, 1),
			tape(13, "TEST03L8", at(1, 1, 0, 0), StatusWritable),
		},
	}
}

func TestStartWrite(t *testing.T) {
	monday := at(1, 5, 12, 0)
	tests := []struct {
		name      string
		alloc     string
		poolKey   string
		setKey    string
		library   bool
		force     bool
		noCurrent bool
		now       time.Time
		change    func(f *writeFixture)
		newSet    bool
		reason    string // prefix of Decision.Reason
	}{
		{name: "continue appends", alloc: "continue", now: monday},
		{name: "continue appends next year", alloc: "", now: at(12, 31, 23, 0), library: true},
		{name: "continue with empty set", alloc: "continue", now: monday,
			change: func(f *writeFixture) { f.set.Media = nil; f.media = f.media[2:] }},
		{name: "forced", alloc: "continue", force: true, now: monday, newSet: true, reason: "forced"},
		{name: "no current set", alloc: "continue", noCurrent: true, now: monday, newSet: true, reason: "no current set"},
		{name: "closed set", alloc: "continue", now: monday, newSet: true, reason: "current set is closed",
			change: func(f *writeFixture) { f.set.Closed = true }},
		{name: "always", alloc: "always", now: monday, newSet: true, reason: "allocation always"},

		{name: "daily before midnight", alloc: "daily", now: at(1, 5, 23, 59)},
		{name: "daily at midnight", alloc: "daily", now: at(1, 6, 0, 0), newSet: true,
			reason: "calendar event '*-*-* 00:00:00' triggered at 2026-01-06T00:00:00+01:00"},
		{name: "daily days later", alloc: "daily", now: at(1, 9, 8, 0), newSet: true, reason: "calendar event"},
		{name: "weekly on sunday", alloc: "weekly", now: at(1, 11, 23, 59)},
		{name: "weekly next monday", alloc: "weekly", now: at(1, 12, 0, 0), newSet: true,
			reason: "calendar event 'Mon *-*-* 00:00:00' triggered at 2026-01-12T00:00:00+01:00"},
		{name: "mon..fri 18:00 before", alloc: "mon..fri 18:00", now: at(1, 5, 17, 59)},
		{name: "mon..fri 18:00 at", alloc: "mon..fri 18:00", now: at(1, 5, 18, 0), newSet: true,
			reason: "calendar event 'Mon..Fri *-*-* 18:00:00' triggered at 2026-01-05T18:00:00+01:00"},
		{name: "mon..fri 18:00 weekend", alloc: "mon..fri 18:00", now: at(1, 11, 12, 0),
			change: func(f *writeFixture) { f.set.Ctime = at(1, 9, 19, 0) }},
		{name: "mon..fri 18:00 monday after weekend", alloc: "mon..fri 18:00", now: at(1, 12, 18, 0), newSet: true,
			change: func(f *writeFixture) { f.set.Ctime = at(1, 9, 19, 0) }, reason: "calendar event"},
		{name: "calendar in now's location", alloc: "daily", now: at(1, 6, 0, 0), newSet: true, reason: "calendar event",
			change: func(f *writeFixture) { f.set.Ctime = at(1, 5, 23, 30).UTC() }},

		{name: "offline writable tape with library", alloc: "continue", library: true, now: monday, newSet: true,
			reason: "tape TEST02L8 of the current set is offline",
			change: func(f *writeFixture) { f.media[1].Online = false }},
		{name: "offline tape of unknown state with library", alloc: "continue", library: true, now: monday, newSet: true,
			reason: "tape TEST02L8 of the current set is offline",
			change: func(f *writeFixture) { f.media[1].Online = false; f.media[1].Status = StatusUnknown }},
		{name: "offline writable tape without library", alloc: "continue", now: monday,
			change: func(f *writeFixture) { f.media[1].Online = false }},
		{name: "offline full last tape with library", alloc: "continue", library: true, now: monday,
			change: func(f *writeFixture) { f.media[1].Online = false; f.media[1].Status = StatusFull }},
		{name: "offline earlier tape with library", alloc: "continue", library: true, now: monday,
			change: func(f *writeFixture) { f.media[0].Online = false }},

		{name: "damaged tape", alloc: "continue", now: monday, newSet: true, reason: "current set has damaged tape TEST01L8",
			change: func(f *writeFixture) { f.media[0].Status = StatusDamaged }},
		{name: "retired tape", alloc: "continue", now: monday, newSet: true, reason: "current set has retired tape TEST02L8",
			change: func(f *writeFixture) { f.media[1].Status = StatusRetired }},

		{name: "same key", alloc: "continue", poolKey: key, setKey: key, now: monday},
		{name: "same key other case", alloc: "continue", poolKey: key, setKey: strings.ToUpper(key), now: monday},
		{name: "key added", alloc: "continue", poolKey: key, now: monday, newSet: true,
			reason: "encryption key changed: the set uses no key, the pool key 14:f8"},
		{name: "key removed", alloc: "continue", setKey: key, now: monday, newSet: true, reason: "encryption key changed"},
		{name: "key replaced", alloc: "continue", poolKey: key, setKey: strings.Replace(key, "14", "15", 1), now: monday,
			newSet: true, reason: "encryption key changed"},

		{name: "set lists unknown tape", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: set ",
			change: func(f *writeFixture) { f.media = f.media[1:] }},
		{name: "set has a gap", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: set ",
			change: func(f *writeFixture) { f.set.Media[0] = uuid.Nil }},
		{name: "tape claims another set", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: ",
			change: func(f *writeFixture) { f.media[1].Set = id(9) }},
		{name: "tape claims another sequence number", alloc: "continue", now: monday, newSet: true,
			reason: "inventory inconsistent: ", change: func(f *writeFixture) { f.media[1].Seq = 5 }},
		{name: "tape claims set but is not listed", alloc: "continue", now: monday, newSet: true,
			reason: "inventory inconsistent: tape TEST03L8 claims set",
			change: func(f *writeFixture) { f.media[2].Set, f.media[2].Seq = f.set.UUID, 2 }},
		{name: "tape listed twice", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: ",
			change: func(f *writeFixture) { f.set.Media = append(f.set.Media, id(12)) }},
		{name: "tape of another pool", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: ",
			change: func(f *writeFixture) { f.media[0].Pool = "weekly" }},
		{name: "tape labelled for any pool", alloc: "continue", now: monday,
			change: func(f *writeFixture) { f.media[0].Pool = "" }},
		{name: "set of another pool", alloc: "continue", now: monday, newSet: true, reason: "inventory inconsistent: ",
			change: func(f *writeFixture) { f.set.Pool = "weekly" }},

		// Order: the weightier reason wins.
		{name: "force before everything", alloc: "always", force: true, now: monday, newSet: true, reason: "forced",
			change: func(f *writeFixture) { f.media[0].Status = StatusDamaged }},
		{name: "inconsistency before damage", alloc: "always", now: monday, newSet: true, reason: "inventory inconsistent",
			change: func(f *writeFixture) { f.media[0].Status = StatusDamaged; f.media[1].Seq = 7 }},
		{name: "damage before allocation", alloc: "always", now: monday, newSet: true, reason: "current set has damaged",
			change: func(f *writeFixture) { f.media[0].Status = StatusDamaged }},
		{name: "offline before allocation", alloc: "daily", library: true, now: at(1, 6, 0, 0), newSet: true,
			reason: "tape TEST02L8", change: func(f *writeFixture) { f.media[1].Online = false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(t, tc.alloc, "")
			p.EncryptKey = tc.poolKey
			f := newWriteFixture()
			if tc.change != nil {
				tc.change(&f)
			}
			cur := &f.set
			if tc.noCurrent {
				cur = nil
			}
			d := StartWrite(p, cur, tc.setKey, f.media, tc.library, tc.force, tc.now)
			if d.NewSet != tc.newSet || !strings.HasPrefix(d.Reason, tc.reason) || (!d.NewSet && d.Reason != "") {
				t.Errorf("StartWrite = %+v; want NewSet %v, reason starting %q", d, tc.newSet, tc.reason)
			}
		})
	}
}

func TestCurrentSet(t *testing.T) {
	a := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 5, 0, 0)}
	b := Set{UUID: id(2), Pool: "daily", Ctime: at(1, 6, 0, 0)}
	b2 := Set{UUID: id(3), Pool: "daily", Ctime: b.Ctime}
	w := Set{UUID: id(4), Pool: "weekly", Ctime: at(1, 9, 0, 0)}
	closed := b
	closed.Closed = true
	tests := []struct {
		name string
		sets []Set
		want uuid.UUID
	}{
		{"none", nil, uuid.Nil},
		{"other pool only", []Set{w}, uuid.Nil},
		{"latest", []Set{b, a, w}, b.UUID},
		{"tie by uuid", []Set{b2, a, b}, b2.UUID},
		{"latest closed", []Set{a, closed}, uuid.Nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CurrentSet("daily", tc.sets)
			switch {
			case got == nil && tc.want != uuid.Nil:
				t.Errorf("CurrentSet = nil, want %v", tc.want)
			case got != nil && got.UUID != tc.want:
				t.Errorf("CurrentSet = %v, want %v", got.UUID, tc.want)
			}
		})
	}
}
