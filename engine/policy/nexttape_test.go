package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNextTape(t *testing.T) {
	jan := func(d int) time.Time { return at(1, d, 0, 0) }
	// Two old sets of the pool (oldest first), the set being written, and a
	// set of another pool. With "continue" and "overwrite", old1 and old2
	// expired when their successors were created.
	old1 := Set{UUID: id(1), Pool: "daily", Ctime: at(1, 2, 10, 0), Media: []uuid.UUID{id(21), id(22)}}
	old2 := Set{UUID: id(2), Pool: "daily", Ctime: at(1, 3, 10, 0), Media: []uuid.UUID{id(23)}}
	cur := Set{UUID: id(3), Pool: "daily", Ctime: at(1, 5, 10, 0), Media: []uuid.UUID{id(31), id(32)}}
	weekly := Set{UUID: id(4), Pool: "weekly", Ctime: at(1, 1, 10, 0), Media: []uuid.UUID{id(41)}}
	newSet := Set{UUID: id(5), Pool: "daily", Ctime: at(1, 6, 10, 0)}
	sets := []Set{old1, old2, cur, weekly}
	now := at(1, 6, 12, 0)

	curFull := member(tape(31, "CUR1", jan(1), StatusFull), cur, 0)
	curLast := member(tape(32, "CUR2", jan(1), StatusWritable), cur, 1)
	// old2's tape sorts before old1's by label, after by set time.
	exp1a := member(tape(21, "OLD1B", jan(1), StatusFull), old1, 0)
	exp1b := member(tape(22, "OLD1A", jan(1), StatusWritable), old1, 1)
	exp2 := member(tape(23, "OLD0", jan(1), StatusFull), old2, 0)
	wk := member(tape(41, "WEEK", jan(1), StatusFull), weekly, 0)
	wk.Pool = "weekly"
	empty := func(n byte, label string, lt time.Time) Media { return tape(n, label, lt, StatusWritable) }
	free := func(n byte, label string, lt time.Time) Media {
		m := tape(n, label, lt, StatusWritable)
		m.Pool = ""
		return m
	}
	with := func(m Media, f func(*Media)) Media { f(&m); return m }
	offline := func(m *Media) { m.Online = false }
	locked := func(m *Media) { m.Locked = true }

	base := []Media{curFull, curLast, exp1a, exp1b, exp2, wk}

	tests := []struct {
		name      string
		retention string
		set       *Set
		media     []Media
		library   bool
		want      string // label; "" for ErrNoWritableMedia
	}{
		{"last member writable", "overwrite", &cur, append(base, empty(51, "E1", jan(1))), true, "CUR2"},
		{"last member unknown state", "overwrite", &cur,
			[]Media{curFull, with(curLast, func(m *Media) { m.Status = StatusUnknown })}, true, "CUR2"},
		{"last member locked is still appended to", "keep", &cur, []Media{curFull, with(curLast, locked)}, true, "CUR2"},
		{"last member offline with library", "overwrite", &cur,
			[]Media{curFull, with(curLast, offline), empty(51, "E1", jan(1))}, true, "E1"},
		{"last member offline without library", "overwrite", &cur,
			[]Media{curFull, with(curLast, offline), empty(51, "E1", jan(1))}, false, "CUR2"},
		{"last member full", "overwrite", &cur,
			[]Media{curFull, with(curLast, func(m *Media) { m.Status = StatusFull }), empty(51, "E1", jan(1))}, true, "E1"},
		{"last member damaged", "keep", &cur,
			[]Media{curFull, with(curLast, func(m *Media) { m.Status = StatusDamaged }), free(61, "F1", jan(1))}, true, "F1"},
		{"last member missing from inventory", "keep", &cur, []Media{curFull, free(61, "F1", jan(1))}, true, "F1"},

		{"empty: oldest label first", "keep", &newSet,
			[]Media{empty(51, "E1", jan(3)), empty(52, "E2", jan(2)), empty(53, "E0", jan(4))}, true, "E2"},
		{"empty: tie by label", "keep", &newSet,
			[]Media{empty(51, "E2", jan(2)), empty(52, "E1", jan(2)), empty(53, "E3", jan(2))}, true, "E1"},
		{"empty: nil set", "keep", nil, []Media{empty(51, "E2", jan(2)), empty(52, "E1", jan(2))}, true, "E1"},
		{"empty: offline skipped with library", "keep", &newSet,
			[]Media{with(empty(51, "E1", jan(1)), offline), empty(52, "E2", jan(2))}, true, "E2"},
		{"empty: offline taken without library", "keep", &newSet,
			[]Media{with(empty(51, "E1", jan(1)), offline), empty(52, "E2", jan(2))}, false, "E1"},
		{"empty: unknown state", "keep", &newSet,
			[]Media{with(empty(51, "E1", jan(1)), func(m *Media) { m.Status = StatusUnknown }), empty(52, "E2", jan(2))}, true, "E1"},
		{"empty: damaged, retired, full skipped", "keep", &newSet, []Media{
			with(empty(51, "E1", jan(1)), func(m *Media) { m.Status = StatusDamaged }),
			with(empty(52, "E2", jan(1)), func(m *Media) { m.Status = StatusRetired }),
			with(empty(53, "E3", jan(1)), func(m *Media) { m.Status = StatusFull }),
			empty(54, "E4", jan(9)),
		}, true, "E4"},
		{"empty: before expired and unassigned", "overwrite", &newSet,
			append([]Media{free(61, "F1", jan(1)), empty(51, "E1", jan(5))}, base...), true, "E1"},
		{"empty of another pool never", "keep", &newSet,
			[]Media{with(empty(51, "E1", jan(1)), func(m *Media) { m.Pool = "weekly" })}, true, ""},

		{"expired: oldest set first", "overwrite", &newSet, base, true, "OLD1A"},
		{"expired: tie in set by label", "overwrite", &newSet, []Media{exp2, exp1a, exp1b}, true, "OLD1A"},
		{"expired: tie across sets by label", "overwrite", &newSet,
			[]Media{exp1a, with(exp2, func(m *Media) { m.Set = old1.UUID; m.Seq = 2 })}, true, "OLD0"},
		{"expired: locked set skipped", "overwrite", &newSet,
			[]Media{with(exp1a, locked), with(exp1b, locked), exp2}, true, "OLD0"},
		{"expired: offline skipped with library", "overwrite", &newSet,
			[]Media{with(exp1a, offline), with(exp1b, offline), exp2}, true, "OLD0"},
		{"expired: damaged skipped", "overwrite", &newSet,
			[]Media{with(exp1b, func(m *Media) { m.Status = StatusDamaged }), exp1a}, true, "OLD1B"},
		{"expired: members of the set written skipped", "overwrite", &old1,
			[]Media{exp1a, with(exp1b, func(m *Media) { m.Status = StatusFull }), exp2}, true, "OLD0"},
		{"expired: not yet with 7days", "7days", &newSet, append(base, free(61, "F1", jan(1))), true, "F1"},
		{"expired: keep never", "keep", &newSet, base, true, ""},
		{"expired: other pool never", "overwrite", &newSet, []Media{wk}, true, ""},
		{"expired: before unassigned", "overwrite", &newSet, append([]Media{free(61, "F1", jan(1))}, base...), true, "OLD1A"},
		// Under "continue" the latest set has no successor, so the set
		// being appended to (cur, once a new set starts) is not expired.
		{"expired: latest set of continue is kept", "overwrite", &newSet, []Media{curFull}, true, ""},

		{"unassigned: oldest label first", "keep", &newSet,
			[]Media{free(61, "F1", jan(3)), free(62, "F2", jan(2))}, true, "F2"},
		{"unassigned: tie by label", "keep", &newSet,
			[]Media{free(61, "F2", jan(2)), free(62, "F1", jan(2))}, true, "F1"},
		{"unassigned: offline and locked skipped", "keep", &newSet,
			[]Media{with(free(61, "F1", jan(1)), offline), with(free(62, "F2", jan(1)), locked), free(63, "F3", jan(5))}, true, "F3"},
		{"unassigned: full skipped", "keep", &newSet,
			[]Media{with(free(61, "F1", jan(1)), func(m *Media) { m.Status = StatusFull })}, true, ""},

		{"nothing at all", "keep", &newSet, nil, true, ""},
		{"only offline tapes", "keep", &newSet, []Media{with(empty(51, "E1", jan(1)), offline)}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(t, "continue", tc.retention)
			got, err := NextTape(p, tc.set, tc.media, sets, tc.library, now)
			if tc.want == "" {
				if !errors.Is(err, ErrNoWritableMedia) {
					t.Fatalf("NextTape = %s, %v; want ErrNoWritableMedia", got.Label, err)
				}
				return
			}
			if err != nil || got.Label != tc.want {
				t.Fatalf("NextTape = %s, %v; want %s", got.Label, err, tc.want)
			}
		})
	}
}

// TestNextTapeTieByUUID: tapes with the same label time and label text are
// ordered by UUID, whatever their order in the input.
func TestNextTapeTieByUUID(t *testing.T) {
	p := pool(t, "continue", "keep")
	a := tape(2, "SAME", at(1, 1, 0, 0), StatusWritable)
	b := tape(1, "SAME", at(1, 1, 0, 0), StatusWritable)
	for _, media := range [][]Media{{a, b}, {b, a}} {
		got, err := NextTape(p, nil, media, nil, true, at(1, 2, 0, 0))
		if err != nil || got.UUID != id(1) {
			t.Errorf("NextTape = %v, %v; want %v", got.UUID, err, id(1))
		}
	}
}

// TestNextTapeAlwaysOverwrite: with "always" and "overwrite" two tapes
// alternate: each new set reuses the tape of the previous one.
func TestNextTapeAlwaysOverwrite(t *testing.T) {
	p := pool(t, "always", "overwrite")
	media := []Media{tape(1, "A", at(1, 1, 0, 0), StatusWritable), tape(2, "B", at(1, 1, 0, 0), StatusWritable)}
	var sets []Set
	var got []string
	for day := 5; day < 9; day++ {
		now := at(1, day, 22, 0)
		var cur *Set
		if len(sets) > 0 {
			cur = &sets[len(sets)-1]
		}
		if d := StartWrite(p, cur, "", media, true, false, now); !d.NewSet {
			t.Fatalf("day %d: StartWrite = %+v, want a new set", day, d)
		}
		s := Set{UUID: id(byte(100 + day)), Pool: "daily", Ctime: now}
		m, err := NextTape(p, &s, media, sets, true, now)
		if err != nil {
			t.Fatalf("day %d: NextTape: %v", day, err)
		}
		for i := range media {
			if media[i].UUID == m.UUID {
				media[i].Set, media[i].Seq, media[i].Status = s.UUID, 0, StatusFull
			}
		}
		s.Media = []uuid.UUID{m.UUID}
		sets = append(sets, s)
		got = append(got, m.Label)
	}
	if strings.Join(got, ",") != "A,B,A,B" {
		t.Errorf("tapes written = %v, want A,B,A,B", got)
	}
}

func TestNextTapeError(t *testing.T) {
	tests := []struct {
		name      string
		retention string
		media     []Media
		library   bool
		want      []string
	}{
		{"empty inventory with library", "keep", nil, true,
			[]string{"pool 'daily'", "no writable media", "--pool daily`", "barcode-label --pool daily", "retention"}},
		{"standalone", "overwrite", nil, false, []string{"--pool daily`"}},
		{"offline tapes", "keep", []Media{{UUID: id(1), Label: "E1", Pool: "daily", Status: StatusWritable}}, true,
			[]string{"import the 1 usable tape(s)"}},
		{"locked expired tapes", "overwrite", []Media{{UUID: id(1), Label: "X", Pool: "daily", Status: StatusFull,
			Set: id(7), Online: true, Locked: true}}, true, []string{"wait for the restore"}},
	}
	sets := []Set{{UUID: id(7), Pool: "daily", Ctime: at(1, 1, 0, 0)}, {UUID: id(8), Pool: "daily", Ctime: at(1, 2, 0, 0)}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NextTape(pool(t, "continue", tc.retention), nil, tc.media, sets, tc.library, at(1, 3, 0, 0))
			if !errors.Is(err, ErrNoWritableMedia) {
				t.Fatalf("NextTape error = %v, want ErrNoWritableMedia", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}
