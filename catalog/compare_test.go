package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// fillBackup writes two media sets with media entries, chunks, snapshots
// and trees into c. reverse writes everything in the opposite order, with a
// detour (a set that is deleted again), so that equal content arrives by a
// different history.
func fillBackup(t *testing.T, c *Catalog, reverse bool) (MediaSet, MediaSet) {
	t.Helper()
	a := testSet("a", "daily", t0)
	b := testSet("b", "weekly", t0.Add(time.Hour))
	type step func()
	var steps []step
	for _, s := range []MediaSet{a, b} {
		for i, id := range s.Media {
			m := testMedia(s.Pool + string(rune('A'+i)))
			m.UUID = id
			m.Set = &MediaSetRef{UUID: s.UUID, Seq: uint64(i), Ctime: s.Ctime, Pool: s.Pool}
			steps = append(steps, func() { mustPut(t, c, m) })
		}
		steps = append(steps, func() { mustPutSet(t, c, s) })
		steps = append(steps, func() {
			if err := c.PutChunks(s.UUID, chunkEntries(s, 0, 300)); err != nil {
				t.Fatal(err)
			}
		})
		for _, name := range []string{"g/t1", "h/t2"} {
			steps = append(steps, func() {
				if err := c.PutSnapshot(testSnapshot(s, name), trickyTree()); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	if !reverse {
		for _, f := range steps {
			f()
		}
		return a, b
	}
	tmp := testSet("tmp", "daily", t0)
	mustPutSet(t, c, tmp)
	if err := c.PutChunks(tmp.UUID, chunkEntries(tmp, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := c.PutSnapshot(testSnapshot(tmp, "g/t1"), smallTree()); err != nil {
		t.Fatal(err)
	}
	// Sets must exist before their chunks and snapshots: put them first,
	// then the rest backwards.
	mustPutSet(t, c, b, a)
	for i := len(steps) - 1; i >= 0; i-- {
		steps[i]()
	}
	if err := c.DeleteMediaSet(tmp.UUID); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestDumpDeterministic(t *testing.T) {
	c1, c2 := NewTestCatalog(t), NewTestCatalog(t)
	c1.now, c2.now = fixedClock(), fixedClock()
	fillBackup(t, c1, false)
	fillBackup(t, c2, true)
	d1 := dumpT(t, c1)
	if again := dumpT(t, c1); again != d1 {
		t.Error("two dumps of one catalog differ")
	}
	// Updated stamps differ with the history; everything else must not.
	strip := func(d string) string {
		var out []string
		for _, l := range strings.Split(d, "\n") {
			if i := strings.Index(l, `"updated":`); i >= 0 {
				l = l[:i]
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	if d2 := dumpT(t, c2); strip(d1) != strip(d2) {
		t.Errorf("dumps of equal catalogs differ:\n%s\n---\n%s", d1, d2)
	}
	a := testSet("a", "daily", t0)
	for _, want := range []string{
		`"v1/chunk/` + a.UUID.String() + `/`,
		` loc ` + a.Media[0].String() + ` file 2 offset 0 size 1`,
		`"v1/set/` + a.UUID.String() + `" v1 {"uuid":"` + a.UUID.String() + `","pool":"daily",`,
		`"v1/snap/` + a.UUID.String() + `/g/t1" v1 {"set":`,
		`/page/b" page "b" dir=`,
		` value=763a612f62`,
	} {
		if !strings.Contains(d1, want) {
			t.Errorf("Dump lacks %q", want)
		}
	}
	if strings.Contains(d1, `" hex `) {
		t.Errorf("Dump has values it could not decode:\n%s", d1)
	}
}

func TestRenderTreeValues(t *testing.T) {
	set := testSet("a", "daily", t0).UUID
	head := treeKey(set, "g/t", "d/f")
	tests := []struct {
		key  []byte
		val  []byte
		want string
	}{
		{head, splitTreeValue(0, 0, []byte{1, 2})[0], "tree children=false parts=1 hex 0102"},
		{head, splitTreeValue(0, 2, []byte{1, 2})[0], "tree children=false parts=1 links=2 hex 0102"},
		{treePartKey(head, 1), []byte{valueV1, 0xaa}, "part hex aa"},
		{treePartKey(head, 1), []byte{valueV1}, "hex 01"},
		{head, []byte{valueV1, 0x80, 0}, "hex 018000"},
		{chunkKey(set, digest(1)), []byte{valueV1}, "hex 01"},
	}
	for _, tt := range tests {
		if got := renderValue(tt.key, tt.val); got != tt.want {
			t.Errorf("renderValue(%q, %x) = %q, want %q", tt.key, tt.val, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	c1, c2 := NewTestCatalog(t), NewTestCatalog(t)
	c1.now = fixedClock()
	a, b := fillBackup(t, c1, false)
	fillBackup(t, c2, true) // real clock: every Updated differs
	if eq, diff, err := c1.Equal(c2); err != nil || !eq {
		t.Fatalf("Equal = %v, %q, %v; want equal", eq, diff, err)
	}
	if eq, _, _ := c1.Equal(c1); !eq {
		t.Error("a catalog is not equal to itself")
	}

	tests := []struct {
		name   string
		change func(t *testing.T, c *Catalog)
		ignore []Ignore
		want   string // in the difference; "" = still equal
	}{
		{"media status", func(t *testing.T, c *Catalog) {
			setStatus(t, c, a.Media[0], StatusFull)
		}, nil, `"status":"full"`},
		{"media status ignored", func(t *testing.T, c *Catalog) {
			setStatus(t, c, a.Media[0], StatusFull)
		}, []Ignore{IgnoreMediaStatus}, ""},
		{"set closed ignored", func(t *testing.T, c *Catalog) {
			if err := c.UpdateMediaSet(b.UUID, func(s *MediaSet) error { s.Closed = true; s.LastWrite = t0; return nil }); err != nil {
				t.Fatal(err)
			}
		}, []Ignore{IgnoreSetClosed, IgnoreSetLastWrite}, ""},
		{"set closed", func(t *testing.T, c *Catalog) {
			if err := c.UpdateMediaSet(b.UUID, func(s *MediaSet) error { s.Closed = true; return nil }); err != nil {
				t.Fatal(err)
			}
		}, []Ignore{IgnoreSetLastWrite}, `"closed":true`},
		{"chunk moved", func(t *testing.T, c *Catalog) {
			e := chunkEntries(a, 5, 6)
			e[0].Loc.File = 77
			if err := c.PutChunks(a.UUID, e); err != nil {
				t.Fatal(err)
			}
		}, nil, "file 77"},
		{"extra chunk", func(t *testing.T, c *Catalog) {
			if err := c.PutChunks(a.UUID, chunkEntries(a, 300, 301)); err != nil {
				t.Fatal(err)
			}
		}, nil, "only in"},
		{"tree value", func(t *testing.T, c *Catalog) {
			tree := trickyTree()
			tree[3].Value = []byte("changed")
			if err := c.PutSnapshot(testSnapshot(b, "h/t2"), tree); err != nil {
				t.Fatal(err)
			}
		}, nil, "6368616e676564"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := NewTestCatalog(t)
			x.now = fixedClock()
			fillBackup(t, x, false)
			tt.change(t, x)
			for _, pair := range [][2]*Catalog{{c1, x}, {x, c1}} {
				eq, diff, err := pair[0].Equal(pair[1], tt.ignore...)
				if err != nil {
					t.Fatal(err)
				}
				if tt.want == "" {
					if !eq {
						t.Errorf("Equal = false (%s), want true", diff)
					}
					continue
				}
				if eq || !strings.Contains(diff, tt.want) {
					t.Errorf("Equal = %v, %q; want a difference saying %q", eq, diff, tt.want)
				}
			}
		})
	}
}

func setStatus(t *testing.T, c *Catalog, id uuid.UUID, s MediaStatus) {
	t.Helper()
	if err := c.UpdateMedia(id, func(m *Media) error { m.Status = s; return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteMediaSet removes one set from a catalog holding two and checks
// the result equals a catalog that only ever held the other one (plus the
// media entries, which stay).
func TestDeleteMediaSet(t *testing.T) {
	c := NewTestCatalog(t)
	a, b := fillBackup(t, c, false)
	// A PutSnapshot marker of the set must go too.
	c.beforeSnapshotRecord = func() error { return errors.New("crash") }
	if err := c.PutSnapshot(testSnapshot(a, "g/crashed"), smallTree()); err == nil {
		t.Fatal("crash hook did not fire")
	}
	c.beforeSnapshotRecord = nil
	if has, _ := c.HasChunk(a.UUID, digest(1)); !has {
		t.Fatal("chunk missing before delete")
	}

	if err := c.DeleteMediaSet(a.UUID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMediaSet(a.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteMediaSet = %v, want ErrNotFound", err)
	}
	if _, err := c.GetMediaSet(a.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMediaSet after delete = %v", err)
	}
	if has, err := c.HasChunk(a.UUID, digest(1)); err != nil || has {
		t.Errorf("HasChunk after delete = %v, %v", has, err)
	}
	if n, _ := c.ChunkCount(a.UUID); n != 0 {
		t.Errorf("ChunkCount after delete = %d", n)
	}
	if list, _ := c.ListSnapshots(SnapshotFilter{Set: a.UUID}); len(list) != 0 {
		t.Errorf("snapshots after delete: %+v", list)
	}

	want := NewTestCatalog(t)
	fillBackup(t, want, false)
	// The media entries of a stay in both; only b's set data remains.
	if err := want.DeleteMediaSet(a.UUID); err != nil {
		t.Fatal(err)
	}
	ref := NewTestCatalog(t)
	for _, id := range a.Media {
		m, err := c.GetMedia(id)
		if err != nil {
			t.Fatalf("media entry of the deleted set is gone: %v", err)
		}
		mustPut(t, ref, m)
	}
	mustPutSet(t, ref, b)
	if err := ref.PutChunks(b.UUID, chunkEntries(b, 0, 300)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"g/t1", "h/t2"} {
		if err := ref.PutSnapshot(testSnapshot(b, name), trickyTree()); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range b.Media {
		m, _ := c.GetMedia(id)
		mustPut(t, ref, m)
	}
	if eq, diff, err := c.Equal(ref); err != nil || !eq {
		t.Errorf("after DeleteMediaSet: %v, %s", err, diff)
	}
	if eq, diff, err := c.Equal(want); err != nil || !eq {
		t.Errorf("after DeleteMediaSet, against a twin without the crashed commit: %v, %s", err, diff)
	}

	// The set can be written again from scratch (an overwritten set).
	mustPutSet(t, c, a)
	if has, _ := c.HasChunk(a.UUID, digest(1)); has {
		t.Error("recreated set has old chunks")
	}
	if err := c.PutChunks(a.UUID, chunkEntries(a, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if has, _ := c.HasChunk(a.UUID, digest(1)); !has {
		t.Error("recreated set misses a new chunk")
	}
}

// TestEqualLeavesOutCommitRecords: a commit record (a commit in flight)
// is not content a rebuild from tape could have.
func TestEqualLeavesOutCommitRecords(t *testing.T) {
	c1, c2 := NewTestCatalog(t), NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c1, a)
	mustPutSet(t, c2, a)
	err := c1.update(func(txn *badger.Txn) error {
		return txn.Set([]byte(commitPrefix+a.UUID.String()+"/x/00000000000000000006"), []byte{valueV1})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]*Catalog{{c1, c2}, {c2, c1}} {
		if eq, diff, err := p[0].Equal(p[1]); err != nil || !eq {
			t.Errorf("Equal = %v, %q, %v", eq, diff, err)
		}
	}
}
