package catalog

import (
	"errors"
	"testing"
)

func TestDeleteSnapshot(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	keep, drop := testSnapshot(a, "host1/2026-11-25T17:00:00Z"), testSnapshot(a, "host2/2026-11-25T17:00:00Z")
	if err := c.PutSnapshot(keep, smallTree()); err != nil {
		t.Fatal(err)
	}
	// The dropped snapshot shares part of its tree with the kept one.
	if err := c.PutSnapshot(drop, append(smallTree(), trickyTree()...)); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSnapshot(a.UUID, drop.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSnapshot(a.UUID, drop.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSnapshot after DeleteSnapshot = %v, want ErrNotFound", err)
	}
	// Nothing of the deleted tree is left that the kept one does not
	// use: the catalog equals one that only ever held the kept snapshot.
	only := NewTestCatalog(t)
	mustPutSet(t, only, a)
	if err := only.PutSnapshot(keep, smallTree()); err != nil {
		t.Fatal(err)
	}
	if eq, diff, err := c.Equal(only); err != nil || !eq {
		t.Errorf("after DeleteSnapshot: %s %v", diff, err)
	}
	if got := walkAll(t, c, a.UUID, keep.Name); len(got) != len(smallTree()) {
		t.Errorf("the other snapshot's tree: %v", paths(got))
	}
	if err := c.DeleteSnapshot(a.UUID, drop.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteSnapshot = %v, want ErrNotFound", err)
	}
}

func TestDeleteChunks(t *testing.T) {
	c := NewTestCatalog(t)
	s := testSet("a", "daily", t0)
	mustPutSet(t, c, s)
	entries := chunkEntries(s, 0, 100)
	if err := c.PutChunks(s.UUID, entries); err != nil {
		t.Fatal(err)
	}
	var gone [][32]byte
	for _, e := range entries {
		if e.Loc.Media == s.Media[0] {
			gone = append(gone, e.Digest)
		}
	}
	if err := c.DeleteChunks(s.UUID, gone); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		has, err := c.HasChunk(s.UUID, e.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if onTape := e.Loc.Media == s.Media[0]; has == onTape {
			t.Errorf("chunk on %s: HasChunk %v after deleting the chunks of %s", e.Loc.Media, has, s.Media[0])
		}
	}
}
