package catalog

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// testSet returns a valid open media set of pool with a UUID derived from
// name and two tapes.
func testSet(name, pool string, ctime time.Time) MediaSet {
	return MediaSet{
		UUID:  uuid.NewSHA1(uuid.NameSpaceURL, []byte("set/"+name)),
		Pool:  pool,
		Ctime: ctime,
		Media: []uuid.UUID{
			uuid.NewSHA1(uuid.NameSpaceURL, []byte("tape/"+name+"/0")),
			uuid.NewSHA1(uuid.NameSpaceURL, []byte("tape/"+name+"/1")),
		},
	}
}

func mustPutSet(t *testing.T, c *Catalog, sets ...MediaSet) {
	t.Helper()
	for _, s := range sets {
		if err := c.PutMediaSet(s); err != nil {
			t.Fatalf("PutMediaSet(%s): %v", s.UUID, err)
		}
	}
}

// digest returns a deterministic SHA-256 digest for chunk i.
func digest(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "chunk %d", i)) }

func TestMediaSetCRUD(t *testing.T) {
	c := NewTestCatalog(t)
	local := time.FixedZone("CET", 3600)
	a := testSet("a", "daily", t0.Add(2*time.Hour).In(local))
	b := testSet("b", "daily", t0)
	w := testSet("w", "weekly", t0.Add(time.Hour))
	w.Closed = true
	w.LastWrite = time.Now()
	w.Media = append(w.Media, uuid.Nil, uuid.NewSHA1(uuid.NameSpaceURL, []byte("w3")))
	mustPutSet(t, c, a, b, w)

	got, err := c.GetMediaSet(w.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if want := w.normalize(); !reflect.DeepEqual(got, want) {
		t.Errorf("GetMediaSet = %+v, want %+v", got, want)
	}
	if got.LastWrite.Location() != time.UTC || got.Ctime.Location() != time.UTC {
		t.Errorf("times not in UTC: %v %v", got.Ctime, got.LastWrite)
	}

	for _, tt := range []struct {
		pool string
		want []uuid.UUID
	}{
		{"", []uuid.UUID{b.UUID, w.UUID, a.UUID}},
		{"daily", []uuid.UUID{b.UUID, a.UUID}},
		{"weekly", []uuid.UUID{w.UUID}},
		{"none", nil},
	} {
		list, err := c.ListMediaSets(tt.pool)
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		for _, s := range list {
			ids = append(ids, s.UUID)
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("ListMediaSets(%q) = %v, want %v", tt.pool, ids, tt.want)
		}
	}

	// Update: append a tape and close.
	extra := uuid.NewSHA1(uuid.NameSpaceURL, []byte("a2"))
	err = c.UpdateMediaSet(a.UUID, func(s *MediaSet) error {
		s.Media = append(s.Media, extra)
		s.Closed = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = c.GetMediaSet(a.UUID)
	if len(got.Media) != 3 || got.Media[2] != extra || !got.Closed {
		t.Errorf("after update: %+v", got)
	}

	// A failing or invalid update writes nothing.
	boom := errors.New("boom")
	if err := c.UpdateMediaSet(a.UUID, func(s *MediaSet) error { s.Closed = false; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateMediaSet with failing fn = %v", err)
	}
	if err := c.UpdateMediaSet(a.UUID, func(s *MediaSet) error { s.UUID = b.UUID; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateMediaSet changing UUID = %v, want ErrInvalid", err)
	}
	if err := c.UpdateMediaSet(a.UUID, func(s *MediaSet) error { s.Media[0] = s.Media[1]; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateMediaSet duplicating a tape = %v, want ErrInvalid", err)
	}
	if again, _ := c.GetMediaSet(a.UUID); !reflect.DeepEqual(again, got) {
		t.Errorf("failed updates changed the set: %+v", again)
	}
	missing := uuid.NewSHA1(uuid.NameSpaceURL, []byte("missing"))
	if err := c.UpdateMediaSet(missing, func(*MediaSet) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateMediaSet(missing) = %v, want ErrNotFound", err)
	}
	if _, err := c.GetMediaSet(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMediaSet(missing) = %v, want ErrNotFound", err)
	}
}

func TestPutMediaSetInvalid(t *testing.T) {
	c := NewTestCatalog(t)
	good := testSet("a", "daily", t0)
	tests := []struct {
		name   string
		modify func(*MediaSet)
		msg    string
	}{
		{"zero uuid", func(s *MediaSet) { s.UUID = uuid.Nil }, "UUID is zero"},
		{"no pool", func(s *MediaSet) { s.Pool = "" }, "pool is empty"},
		{"control char pool", func(s *MediaSet) { s.Pool = "a\nb" }, "control character"},
		{"year 10000", func(s *MediaSet) { s.Ctime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside years"},
		{"duplicate tape", func(s *MediaSet) { s.Media = append(s.Media, s.Media[0]) }, "in the set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			s.Media = append([]uuid.UUID(nil), good.Media...)
			tt.modify(&s)
			err := c.PutMediaSet(s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("PutMediaSet = %v, want ErrInvalid saying %q", err, tt.msg)
			}
		})
	}
	if list, _ := c.ListMediaSets(""); len(list) != 0 {
		t.Errorf("invalid sets were stored: %+v", list)
	}
}

func TestBackupReadOnlyAndClosed(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	s := testSet("a", "daily", t0)
	mustPutSet(t, c, s)
	closeT(t, c)

	writes := func(c *Catalog) map[string]error {
		snap := Snapshot{Set: s.UUID, Name: "g/t", Pool: "daily", Ctime: t0}
		return map[string]error{
			"PutMediaSet":    c.PutMediaSet(s),
			"UpdateMediaSet": c.UpdateMediaSet(s.UUID, func(*MediaSet) error { return nil }),
			"PutChunks":      c.PutChunks(s.UUID, []ChunkEntry{{Digest: digest(1), Loc: ChunkLoc{Media: s.Media[0]}}}),
			"PutSnapshot":    c.PutSnapshot(snap, nil),
			"DeleteMediaSet": c.DeleteMediaSet(s.UUID),
		}
	}
	reads := func(c *Catalog) map[string]error {
		return map[string]error{
			"GetMediaSet":   func() error { _, err := c.GetMediaSet(s.UUID); return err }(),
			"ListMediaSets": func() error { _, err := c.ListMediaSets(""); return err }(),
			"HasChunk":      func() error { _, err := c.HasChunk(s.UUID, digest(1)); return err }(),
			"GetChunk":      func() error { _, err := c.GetChunk(s.UUID, digest(1)); return err }(),
			"ListChunks":    c.ListChunks(s.UUID, func(ChunkEntry) error { return nil }),
			"ChunkCount":    func() error { _, err := c.ChunkCount(s.UUID); return err }(),
			"GetSnapshot":   func() error { _, err := c.GetSnapshot(s.UUID, "g/t"); return err }(),
			"ListSnapshots": func() error { _, err := c.ListSnapshots(SnapshotFilter{}); return err }(),
			"FindSnapshot":  func() error { _, err := c.FindSnapshot("g/t"); return err }(),
			"SnapshotID":    func() error { _, err := c.SnapshotID(s.UUID, "g/t"); return err }(),
			"TreeEntry":     func() error { _, err := c.TreeEntry(s.UUID, "g/t", ""); return err }(),
			"ListTree":      c.ListTree(s.UUID, "g/t", "", func(TreeEntry) error { return nil }),
			"WalkTree":      c.WalkTree(s.UUID, "g/t", func(TreeEntry) error { return nil }),
			"Equal":         func() error { _, _, err := c.Equal(NewTestCatalog(t)); return err }(),
		}
	}

	ro := openT(t, dir, Options{ReadOnly: true})
	for name, err := range writes(ro) {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only catalog = %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := ro.GetMediaSet(s.UUID); err != nil {
		t.Errorf("GetMediaSet read-only: %v", err)
	}
	if has, err := ro.HasChunk(s.UUID, digest(1)); err != nil || has {
		t.Errorf("HasChunk read-only = %v, %v", has, err)
	}
	closeT(t, ro)

	for name, err := range writes(ro) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	for name, err := range reads(ro) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
