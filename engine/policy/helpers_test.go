package policy

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/config"
)

// cet is a fixed zone east of UTC, so tests notice when calendar events are
// evaluated in the wrong location.
var cet = time.FixedZone("CET", 3600)

// at returns a time in cet. 2026-01-05 is a Monday.
func at(month time.Month, day, hour, min int) time.Time {
	return time.Date(2026, month, day, hour, min, 0, 0, cet)
}

// id returns a fixed UUID numbered n.
func id(n byte) uuid.UUID {
	return uuid.UUID{0x10, n, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, n}
}

// pool parses a pool named "daily" with the given policies.
func pool(t *testing.T, allocation, retention string) Pool {
	t.Helper()
	p, err := PoolFromConfig(config.Pool{Name: "daily", Allocation: allocation, Retention: retention})
	if err != nil {
		t.Fatalf("pool allocation %q retention %q: %v", allocation, retention, err)
	}
	return p
}

// tape builds a tape of pool "daily" labelled at label time lt.
func tape(n byte, label string, lt time.Time, st MediaStatus) Media {
	return Media{UUID: id(n), Label: label, Pool: "daily", Ctime: lt, Status: st, Online: true}
}

// member puts m into set s at sequence number seq.
func member(m Media, s Set, seq uint64) Media {
	m.Set, m.Seq = s.UUID, seq
	return m
}
