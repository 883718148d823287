package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// bigTree is a tree of dirs directories of files files each, two levels
// down ("dNNN/sub/fNNNN"), values of the given size.
func bigTree(dirs, files, size int, tag string) []TreeEntry {
	tree := []TreeEntry{{Path: "", Value: []byte("root")}}
	for d := range dirs {
		dp := fmt.Sprintf("d%03d", d)
		tree = append(tree, TreeEntry{Path: dp, Value: []byte("dir " + dp)}, TreeEntry{Path: dp + "/sub", Value: []byte("sub")})
		for f := range files {
			v := bytes.Repeat([]byte{byte(f)}, size)
			copy(v, fmt.Sprintf("%s %d %d", tag, d, f))
			tree = append(tree, TreeEntry{Path: fmt.Sprintf("%s/sub/f%04d", dp, f), Value: v})
		}
	}
	return tree
}

// keysUnder counts the keys and value bytes under prefix.
func keysUnder(t *testing.T, c *Catalog, prefix string) (n, size int) {
	t.Helper()
	err := c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
			size += len(it.Item().Key()) + int(it.Item().ValueSize())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, size
}

// TestTreeSharing: a second snapshot of an unchanged tree stores nothing
// but its record; one changed file stores only the directories from the
// root down to it; both trees read back whole; deleting the first keeps
// the second intact.
func TestTreeSharing(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	tree := bigTree(20, 300, 90, "v1")
	if err := c.PutSnapshot(testSnapshot(a, "g/t1"), tree); err != nil {
		t.Fatal(err)
	}
	n1, size1 := keysUnder(t, c, dirPrefix)
	if err := c.PutSnapshot(testSnapshot(a, "g/t2"), tree); err != nil {
		t.Fatal(err)
	}
	if n2, size2 := keysUnder(t, c, dirPrefix); n2 != n1 || size2 != size1 {
		t.Errorf("an unchanged tree added %d keys, %d bytes", n2-n1, size2-size1)
	}
	changed := bigTree(20, 300, 90, "v1")
	changed[3+5*302+7].Value = []byte("changed")
	if err := c.PutSnapshot(testSnapshot(a, "g/t3"), changed); err != nil {
		t.Fatal(err)
	}
	n3, size3 := keysUnder(t, c, dirPrefix)
	// New: the top listing, the root, d005, d005/sub (a header and a
	// page or two each).
	if n3-n1 > 10 || size3-size1 > size1/10 {
		t.Errorf("one changed file added %d keys, %d bytes (a tree holds %d keys, %d bytes)", n3-n1, size3-size1, n1, size1)
	}
	for name, want := range map[string][]TreeEntry{"g/t1": tree, "g/t2": tree, "g/t3": changed} {
		if got := walkAll(t, c, a.UUID, name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads back differently", name)
		}
	}
	// Replacing t1 by a tree of its own keeps what t2 and t3 share.
	if err := c.PutSnapshot(testSnapshot(a, "g/t1"), smallTree()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]TreeEntry{"g/t2": tree, "g/t3": changed} {
		if got := walkAll(t, c, a.UUID, name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads back differently after t1 was replaced", name)
		}
	}
}

// TestTreePagesAndLookup: a directory wider than a page lists in order,
// every entry (those that start a page included) is found by path, a
// lookup reads one page per path element, and names between or beyond
// the entries are not found.
func TestTreePagesAndLookup(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	tree := bigTree(2, 3000, 40, "x")
	if err := c.PutSnapshot(testSnapshot(a, "g/t"), tree); err != nil {
		t.Fatal(err)
	}
	if n, _ := keysUnder(t, c, dirPrefix); n < 10 {
		t.Fatalf("3,000 entries of 40 bytes fit in %d keys: pages are not split", n)
	}
	var listed []string
	err := c.ListTree(a.UUID, "g/t", "d001/sub", func(e TreeEntry) error {
		listed = append(listed, e.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 3000 || listed[0] != "d001/sub/f0000" || listed[2999] != "d001/sub/f2999" {
		t.Fatalf("listed %d entries, first %q", len(listed), listed[:1])
	}
	for _, e := range tree {
		before := pageReads.Load()
		got, err := c.GetTreeEntry(a.UUID, "g/t", e.Path)
		if err != nil {
			t.Fatalf("%q: %v", e.Path, err)
		}
		if !bytes.Equal(got.Value, e.Value) {
			t.Fatalf("%q = %q, want %q", e.Path, got.Value, e.Value)
		}
		// The top listing, then one page per element.
		if reads, want := pageReads.Load()-before, int64(1+len(strings.Split(e.Path, "/"))); e.Path != "" && reads != want {
			t.Fatalf("lookup of %q read %d pages, want %d", e.Path, reads, want)
		}
	}
	for _, p := range []string{"d001/sub/f00005", "d001/sub/e", "d001/sub/g", "d001/sub/f0000/x", "d002", "d001/nope/f0000"} {
		if _, err := c.GetTreeEntry(a.UUID, "g/t", p); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q: %v, want ErrNotFound", p, err)
		}
	}
}

// TestTreeBlobs: values longer than a listing keeps inline go to
// blobs, read back exactly, and are shared like directories.
func TestTreeBlobs(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	long := bytes.Repeat([]byte("0123456789abcdef"), 3*blobPart/16+5)
	tree := []TreeEntry{{Path: "d", Value: []byte("d")}, {Path: "d/big", Value: long}, {Path: "d/edge", Value: long[:inlineMax+1]}, {Path: "d/fits", Value: long[:inlineMax]}}
	for _, name := range []string{"g/t1", "g/t2"} {
		if err := c.PutSnapshot(testSnapshot(a, name), tree); err != nil {
			t.Fatal(err)
		}
		if n, _ := keysUnder(t, c, blobPrefix); n != 4+1 {
			t.Fatalf("after %s: %d blob keys, want 5", name, n)
		}
	}
	got := walkAll(t, c, a.UUID, "g/t2")
	if !reflect.DeepEqual(got, tree) {
		t.Fatalf("long values read back differently")
	}
}

// TestPutSnapshotFuncOrder: a tree out of walk order, with an entry twice
// or an entry before its directory, is refused and nothing is written.
func TestPutSnapshotFuncOrder(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	before := dumpT(t, c)
	for name, tree := range map[string][]TreeEntry{
		"siblings reversed":     {{Path: "b"}, {Path: "a"}},
		"twice":                 {{Path: "a"}, {Path: "a"}},
		"child before its dir":  {{Path: "a/x"}, {Path: "a"}},
		"subtree interrupted":   {{Path: "a"}, {Path: "b"}, {Path: "a/x"}},
		"root after an entry":   {{Path: "a"}, {Path: ""}},
		"grandchild, no parent": {{Path: "a"}, {Path: "a/b/c"}},
	} {
		err := c.PutSnapshotFunc(testSnapshot(a, "g/t"), func(yield func(TreeEntry) error) error {
			for _, e := range tree {
				if err := yield(e); err != nil {
					return err
				}
			}
			return nil
		})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PutSnapshotFunc = %v, want ErrInvalid", name, err)
		}
	}
	if after := dumpT(t, c); after != before {
		t.Errorf("refused trees changed the catalog:\n%s", after)
	}
}

// TestMigrateSchema1 writes a catalog the way schema 1 did (every entry
// under its own keys, link counts in the heads, a long value in parts)
// and opens it: the trees read back the same, the old keys are gone, and
// the catalog equals one written by this schema.
func TestMigrateSchema1(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	long := bytes.Repeat([]byte("x"), treePartSize+100)
	tree := append(trickyTree(), TreeEntry{Path: "zz/long", Value: long})
	links := map[string]uint32{"a/b": 3}
	snaps := []Snapshot{testSnapshot(a, "g/t1"), testSnapshot(a, "g/t2")}
	err := c.bulk(func(db *badger.DB) error {
		wb := db.NewWriteBatch()
		defer wb.Cancel()
		for _, s := range snaps {
			parents := map[string]bool{}
			for _, e := range tree {
				if e.Path != "" {
					d, _ := splitLast(e.Path)
					parents[d] = true
				}
			}
			for _, e := range tree {
				var flags byte
				if parents[e.Path] {
					flags = treeHasChildren
				}
				head := treeKey(s.Set, s.Name, e.Path)
				parts := splitTreeValue(flags, links[e.Path], e.Value)
				if err := wb.Set(head, parts[0]); err != nil {
					return err
				}
				for i, v := range parts[1:] {
					if err := wb.Set(treePartKey(head, uint32(i+1)), v); err != nil {
						return err
					}
				}
			}
			val, err := encodeSnapshot(s, dirHash{})
			if err != nil {
				return err
			}
			if err := wb.Set(snapKey(s.Set, s.Name), val); err != nil {
				return err
			}
		}
		if err := wb.Set([]byte(schemaKey), encodeSchemaVersion(1)); err != nil {
			return err
		}
		return wb.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	closeT(t, c)
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsRecovery) {
		t.Errorf("read-only Open of schema 1 = %v, want ErrNeedsRecovery", err)
	}
	m := openT(t, dir, Options{})
	defer closeT(t, m)
	d := dumpT(t, m)
	if strings.Contains(d, treePrefix) || !strings.Contains(d, fmt.Sprintf("%q %q", schemaKey, "2")) {
		t.Fatalf("after the upgrade:\n%s", d)
	}
	want := append([]TreeEntry(nil), tree...)
	for i := range want {
		want[i].Links = links[want[i].Path]
	}
	sortWalk(want)
	for _, s := range snaps {
		if got := walkAll(t, m, a.UUID, s.Name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after the upgrade:\n%q\nwant\n%q", s.Name, paths(got), paths(want))
		}
	}
	// Both snapshots share one stored tree.
	n, _ := keysUnder(t, m, dirPrefix)
	again := NewTestCatalog(t)
	mustPutSet(t, again, a)
	err = again.PutSnapshotFunc(snaps[0], func(yield func(TreeEntry) error) error {
		for _, e := range want {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n1, _ := keysUnder(t, again, dirPrefix); n1 != n {
		t.Errorf("two upgraded snapshots of one tree hold %d directory keys, one holds %d", n, n1)
	}
}

func sortWalk(tree []TreeEntry) {
	for i := 1; i < len(tree); i++ {
		for j := i; j > 0 && walkLess(tree[j].Path, tree[j-1].Path); j-- {
			tree[j], tree[j-1] = tree[j-1], tree[j]
		}
	}
}

// TestWalkLess: the walk order puts a directory right before its subtree.
func TestWalkLess(t *testing.T) {
	in := []string{"a!", "a/b", "", "a", "a/b/c", "a b", "b", "a/a", "\xff", "a/b!"}
	sorted := []TreeEntry{}
	for _, p := range in {
		sorted = append(sorted, TreeEntry{Path: p})
	}
	sortWalk(sorted)
	want := []string{"", "a", "a/a", "a/b", "a/b/c", "a/b!", "a b", "a!", "b", "\xff"}
	if got := paths(sorted); !reflect.DeepEqual(got, want) {
		t.Errorf("walk order %q, want %q", got, want)
	}
}

// FuzzDecodeDirPage: arbitrary bytes never panic; a page that decodes
// re-encodes to the same bytes.
func FuzzDecodeDirPage(f *testing.F) {
	h := hashDir([]byte("x"))
	ents := []dirEntry{
		{name: "", flags: dirChildren | dirNoValue, child: h},
		{name: "a", flags: dirLinks, links: 3, value: []byte("v")},
		{name: "b", flags: dirBlob | dirChildren, child: h, blob: h, blobSize: inlineMax + 1},
	}
	for i := range ents {
		f.Add(append([]byte{valueV1}, appendDirEntry(nil, &ents[i])...))
	}
	f.Add([]byte{valueV1, 1, 'a', 0, 0, 1, 'b', 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeDirPage(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc := []byte{valueV1}
		for i := range got {
			enc = appendDirEntry(enc, &got[i])
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, got, enc)
		}
	})
}

// FuzzDecodeDirHeader: arbitrary bytes never panic; a header that decodes
// re-encodes to the same bytes.
func FuzzDecodeDirHeader(f *testing.F) {
	f.Add(encodeDirHeader(1, 1))
	f.Add(encodeDirHeader(3, 5000))
	f.Add([]byte{valueV1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := decodeDirHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if enc := encodeDirHeader(int(p), int(n)); !bytes.Equal(enc, b) {
			t.Fatalf("%x decodes to %d, %d, which encodes to %x", b, p, n, enc)
		}
	})
}

// FuzzParseDirKey: a directory key parses back into what builds it.
func FuzzParseDirKey(f *testing.F) {
	set := uuid.MustParse("0439a451-b0d7-5a56-a64d-8dfe8c66f870")
	h := hashDir(nil)
	f.Add(dirKey(set, h))
	f.Add(append(pagesPrefix(set, h), "name"...))
	f.Add(pagesPrefix(set, h))
	f.Fuzz(func(t *testing.T, k []byte) {
		s, hh, page, first, ok := parseDirKey(k)
		if !ok {
			return
		}
		want := dirKey(s, hh)
		if page {
			want = append(pagesPrefix(s, hh), first...)
		}
		if !bytes.Equal(want, k) {
			t.Fatalf("parseDirKey(%q) builds %q", k, want)
		}
	})
}
