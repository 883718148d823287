package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func testSnapshot(s MediaSet, name string) Snapshot {
	return Snapshot{
		Set: s.UUID, Name: name, Pool: s.Pool, Ctime: t0,
		Archives: []ArchiveLoc{{Media: s.Media[0], File: 7, Part: 0}, {Media: s.Media[1], File: 2, Part: 1}},
		Files:    3, Bytes: 12345,
	}
}

// smallTree is a tree with a root, nested directories and values derived
// from the path.
func smallTree() []TreeEntry {
	var tree []TreeEntry
	for _, p := range []string{"", "etc", "etc/passwd", "home", "home/u", "home/u/.profile", "var"} {
		tree = append(tree, TreeEntry{Path: p, Value: []byte("v:" + p)})
	}
	return tree
}

func walkAll(t *testing.T, c *Catalog, set uuid.UUID, snap string) []TreeEntry {
	t.Helper()
	var out []TreeEntry
	if err := c.WalkTree(set, snap, func(e TreeEntry) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("WalkTree(%s): %v", snap, err)
	}
	return out
}

func listDirT(t *testing.T, c *Catalog, set uuid.UUID, snap, dir string) []TreeEntry {
	t.Helper()
	var out []TreeEntry
	if err := c.ListTree(set, snap, dir, func(e TreeEntry) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("ListTree(%s, %q): %v", snap, dir, err)
	}
	return out
}

func paths(es []TreeEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

func TestSnapshotCRUD(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	b := testSet("b", "daily", t0.Add(time.Hour))
	w := testSet("w", "weekly", t0)
	mustPutSet(t, c, a, b, w)

	snaps := []Snapshot{
		testSnapshot(a, "host1/2026-11-25T17:00:00Z"),
		testSnapshot(a, "host2/2026-11-25T17:00:00Z"),
		testSnapshot(b, "host1/2026-11-26T17:00:00Z"),
		testSnapshot(b, "host1/2026-11-25T17:00:00Z"), // same name in another set
		testSnapshot(w, "vm/100/2026-11-25T17:00:00Z"),
	}
	snaps[3].Ctime = t0.Add(-time.Hour)
	for _, s := range snaps {
		if err := c.PutSnapshot(s, smallTree()); err != nil {
			t.Fatalf("PutSnapshot(%s): %v", s.Name, err)
		}
	}

	got, err := c.GetSnapshot(a.UUID, snaps[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, snaps[0]) {
		t.Errorf("GetSnapshot = %+v, want %+v", got, snaps[0])
	}
	if got.Group() != "host1" || snaps[4].Group() != "vm/100" {
		t.Errorf("Group() = %q, %q", got.Group(), snaps[4].Group())
	}
	if _, err := c.GetSnapshot(a.UUID, "host1/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSnapshot(missing) = %v, want ErrNotFound", err)
	}

	key := func(s Snapshot) string { return s.Set.String()[:1] + ":" + s.Name }
	var want []string
	for _, s := range snaps {
		want = append(want, key(s))
	}
	for _, tt := range []struct {
		filter SnapshotFilter
		want   []int
	}{
		{SnapshotFilter{}, []int{0, 3, 2, 1, 4}},
		{SnapshotFilter{Pool: "daily"}, []int{0, 3, 2, 1}},
		{SnapshotFilter{Set: b.UUID}, []int{3, 2}},
		{SnapshotFilter{Group: "host1"}, []int{0, 3, 2}},
		{SnapshotFilter{Group: "host1", Set: a.UUID}, []int{0}},
		{SnapshotFilter{Group: "vm/100"}, []int{4}},
		{SnapshotFilter{Group: "vm"}, nil},
		{SnapshotFilter{Pool: "weekly", Group: "host1"}, nil},
	} {
		list, err := c.ListSnapshots(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		var gotKeys, wantKeys []string
		for _, s := range list {
			gotKeys = append(gotKeys, key(s))
		}
		for _, i := range tt.want {
			wantKeys = append(wantKeys, want[i])
		}
		if !sameSnapshotOrder(list, tt.want, snaps) {
			t.Errorf("ListSnapshots(%+v) = %v, want %v", tt.filter, gotKeys, wantKeys)
		}
	}

	found, err := c.FindSnapshot("host1/2026-11-25T17:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Set != b.UUID || found[1].Set != a.UUID {
		t.Errorf("FindSnapshot = %+v, want set b (older) then a", found)
	}
	if _, err := c.FindSnapshot("host9/x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindSnapshot(missing) = %v, want ErrNotFound", err)
	}

	// IDs: stable, distinct, derived from set and name only.
	ids := map[uint64]string{}
	for _, s := range snaps {
		id, err := c.SnapshotID(s.Set, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if id == 0 || ids[id] != "" {
			t.Errorf("SnapshotID(%s) = %d, taken by %q", key(s), id, ids[id])
		}
		ids[id] = key(s)
		other := NewTestCatalog(t)
		mustPutSet(t, other, a, b, w)
		if err := other.PutSnapshot(s, nil); err != nil {
			t.Fatal(err)
		}
		if id2, _ := other.SnapshotID(s.Set, s.Name); id2 != id {
			t.Errorf("SnapshotID differs between catalogs: %d, %d", id, id2)
		}
	}
	if _, err := c.SnapshotID(a.UUID, "host9/x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SnapshotID(missing) = %v, want ErrNotFound", err)
	}

	// Replacing a snapshot replaces its record and its whole tree.
	repl := snaps[0]
	repl.Files = 1
	if err := c.PutSnapshot(repl, []TreeEntry{{Path: "only", Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetSnapshot(a.UUID, repl.Name); got.Files != 1 {
		t.Errorf("replaced snapshot has Files %d", got.Files)
	}
	if got := paths(walkAll(t, c, a.UUID, repl.Name)); !reflect.DeepEqual(got, []string{"only"}) {
		t.Errorf("replaced tree = %v", got)
	}
	if got := paths(walkAll(t, c, a.UUID, snaps[1].Name)); len(got) != len(smallTree()) {
		t.Errorf("a neighbour's tree changed: %v", got)
	}
}

// sameSnapshotOrder checks list against snaps[want...] sorted by name and set
// UUID bytes.
func sameSnapshotOrder(list []Snapshot, want []int, snaps []Snapshot) bool {
	var exp []Snapshot
	for _, i := range want {
		exp = append(exp, snaps[i])
	}
	sort.Slice(exp, func(i, j int) bool {
		if exp[i].Name != exp[j].Name {
			return exp[i].Name < exp[j].Name
		}
		return bytes.Compare(exp[i].Set[:], exp[j].Set[:]) < 0
	})
	return reflect.DeepEqual(list, exp) || (len(list) == 0 && len(exp) == 0)
}

func TestPutSnapshotInvalid(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	good := testSnapshot(a, "g/2026-11-25T17:00:00Z")
	tests := []struct {
		name   string
		modify func(*Snapshot)
		tree   []TreeEntry
		want   error
		msg    string
	}{
		{"no set", func(s *Snapshot) { s.Set = uuid.NewSHA1(uuid.NameSpaceURL, []byte("x")) }, nil, ErrNotFound, "media set"},
		{"zero set", func(s *Snapshot) { s.Set = uuid.Nil }, nil, ErrInvalid, "UUID is zero"},
		{"pool mismatch", func(s *Snapshot) { s.Pool = "weekly" }, nil, ErrInvalid, "is not the pool"},
		{"name without group", func(s *Snapshot) { s.Name = "x" }, nil, ErrInvalid, "not <group>/<time>"},
		{"name with empty element", func(s *Snapshot) { s.Name = "g//t" }, nil, ErrInvalid, "empty"},
		{"name with dotdot", func(s *Snapshot) { s.Name = "../t" }, nil, ErrInvalid, "empty"},
		{"name with newline", func(s *Snapshot) { s.Name = "g/t\n" }, nil, ErrInvalid, "control"},
		{"negative files", func(s *Snapshot) { s.Files = -1 }, nil, ErrInvalid, "negative"},
		{"archive without media", func(s *Snapshot) { s.Archives[1].Media = uuid.Nil }, nil, ErrInvalid, "zero media"},
		{"duplicate path", nil, []TreeEntry{{Path: "a"}, {Path: "a"}}, ErrInvalid, "twice"},
		{"missing parent", nil, []TreeEntry{{Path: "a"}, {Path: "b/c"}}, ErrInvalid, "no entry for its directory"},
		{"absolute path", nil, []TreeEntry{{Path: "/a"}}, ErrInvalid, "empty"},
		{"trailing slash", nil, []TreeEntry{{Path: "a/"}}, ErrInvalid, "empty"},
		{"dot", nil, []TreeEntry{{Path: "."}}, ErrInvalid, "\".\""},
		{"nul", nil, []TreeEntry{{Path: "a\x00b"}}, ErrInvalid, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			s.Archives = append([]ArchiveLoc(nil), good.Archives...)
			if tt.modify != nil {
				tt.modify(&s)
			}
			err := c.PutSnapshot(s, tt.tree)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("PutSnapshot = %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
	if d := dumpT(t, c); strings.Contains(d, "v1/snap/") || strings.Contains(d, "v1/tree/") {
		t.Errorf("refused snapshots left entries:\n%s", d)
	}
}

// trickyTree has sibling names that sort around '/' and NUL, and non-UTF-8
// and unicode names.
func trickyTree() []TreeEntry {
	ps := []string{
		"a", "a b", "a-b", "a.b", "a/b", "a/b/c", "a/b c", "a/b/c/d", "a b/x", "a.b/y",
		"a0", "ä", "ä/日本", "ä/日本/語", "\xff", "\xff/\xfe", "\x01", "\x01/\x01",
		"zz", "zz/a", "zz/a.", "zz/a-", "zz/a/", // last is invalid; filtered below
	}
	var tree []TreeEntry
	for _, p := range ps {
		if checkTreePath(p) != nil {
			continue
		}
		tree = append(tree, TreeEntry{Path: p, Value: []byte("v:" + p)})
	}
	return tree
}

// refWalk orders tree like filepath.WalkDir: children by name bytes, each
// followed by its subtree.
func refWalk(tree []TreeEntry) []string {
	children := map[string][]string{}
	for _, e := range tree {
		if e.Path == "" {
			continue
		}
		dir, name := splitLast(e.Path)
		children[dir] = append(children[dir], name)
	}
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		names := children[dir]
		sort.Strings(names)
		for _, n := range names {
			p := joinPath(dir, n)
			out = append(out, p)
			walk(p)
		}
	}
	walk("")
	return out
}

func TestListTreeTricky(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	tree := trickyTree()
	// A neighbour snapshot whose name extends this one's must not leak in.
	names := []string{"g/t", "g/t2", "g/t/x"}
	for _, n := range names {
		if err := c.PutSnapshot(testSnapshot(a, n), tree); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutSnapshot(testSnapshot(a, "g/t "), []TreeEntry{{Path: "a"}, {Path: "a/b"}, {Path: "a/zzz"}}); err != nil {
		t.Fatal(err)
	}

	want := refWalk(tree)
	if got := paths(walkAll(t, c, a.UUID, "g/t")); !reflect.DeepEqual(got, want) {
		t.Errorf("WalkTree =\n%q\nwant\n%q", got, want)
	}
	dirs := map[string]bool{"": true}
	for _, e := range tree {
		dirs[e.Path] = true
	}
	for dir := range dirs {
		var wantKids []string
		for _, p := range want {
			if d, _ := splitLast(p); d == dir && p != "" {
				wantKids = append(wantKids, p)
			}
		}
		if wantKids == nil {
			wantKids = []string{}
		}
		got := listDirT(t, c, a.UUID, "g/t", dir)
		if !reflect.DeepEqual(paths(got), wantKids) {
			t.Errorf("ListTree(%q) = %q, want %q", dir, paths(got), wantKids)
		}
		for _, e := range got {
			if string(e.Value) != "v:"+e.Path {
				t.Errorf("ListTree(%q): %q has value %q", dir, e.Path, e.Value)
			}
			v, err := c.TreeEntry(a.UUID, "g/t", e.Path)
			if err != nil || string(v) != "v:"+e.Path {
				t.Errorf("TreeEntry(%q) = %q, %v", e.Path, v, err)
			}
		}
	}
	if got := paths(listDirT(t, c, a.UUID, "g/t ", "a")); !reflect.DeepEqual(got, []string{"a/b", "a/zzz"}) {
		t.Errorf("ListTree in the neighbour snapshot = %q", got)
	}

	for _, tt := range []struct {
		snap, dir string
		want      error
	}{
		{"g/none", "", ErrNotFound},
		{"g/t", "nope", ErrNotFound},
		{"g/t", "a/", ErrInvalid},
		{"g/t", "/a", ErrInvalid},
	} {
		err := c.ListTree(a.UUID, tt.snap, tt.dir, func(TreeEntry) error { return nil })
		if !errors.Is(err, tt.want) {
			t.Errorf("ListTree(%q, %q) = %v, want %v", tt.snap, tt.dir, err, tt.want)
		}
	}
	if _, err := c.TreeEntry(a.UUID, "g/t", "a/nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TreeEntry(missing) = %v, want ErrNotFound", err)
	}
	if _, err := c.TreeEntry(a.UUID, "g/t", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("TreeEntry(root) of a tree without root = %v, want ErrNotFound", err)
	}
	if err := c.WalkTree(a.UUID, "g/none", func(TreeEntry) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("WalkTree(missing) = %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	n := 0
	if err := c.WalkTree(a.UUID, "g/t", func(TreeEntry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("WalkTree with failing fn = %v after %d calls", err, n)
	}
}

// TestTreeLongValues stores values around the split size and checks every
// read path reassembles them.
func TestTreeLongValues(t *testing.T) {
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	sizes := map[string]int{
		"":          treePartSize + 1,
		"d":         3*treePartSize + 17,
		"d/empty":   0,
		"d/one":     1,
		"d/exact":   treePartSize,
		"d/exact+1": treePartSize + 1,
		"d/two":     2 * treePartSize,
		"d/sub":     5 * treePartSize,
		"d/sub/x":   treePartSize - 1,
		"e":         10,
	}
	var tree []TreeEntry
	val := func(p string, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + len(p))
		}
		return b
	}
	for p, n := range sizes {
		tree = append(tree, TreeEntry{Path: p, Value: val(p, n)})
	}
	if err := c.PutSnapshot(testSnapshot(a, "g/t"), tree); err != nil {
		t.Fatal(err)
	}
	for p, n := range sizes {
		v, err := c.TreeEntry(a.UUID, "g/t", p)
		if err != nil || !bytes.Equal(v, val(p, n)) {
			t.Errorf("TreeEntry(%q): %d bytes, %v; want %d", p, len(v), err, n)
		}
	}
	walked := walkAll(t, c, a.UUID, "g/t")
	wantOrder := append([]string{""}, refWalk(tree)...)
	if !reflect.DeepEqual(paths(walked), wantOrder) {
		t.Errorf("WalkTree = %q, want %q", paths(walked), wantOrder)
	}
	for _, e := range walked {
		if !bytes.Equal(e.Value, val(e.Path, sizes[e.Path])) {
			t.Errorf("WalkTree value of %q: %d bytes, want %d", e.Path, len(e.Value), sizes[e.Path])
		}
	}
	if got := paths(listDirT(t, c, a.UUID, "g/t", "d")); !reflect.DeepEqual(got, []string{"d/empty", "d/exact", "d/exact+1", "d/one", "d/sub", "d/two"}) {
		t.Errorf("ListTree(d) = %q", got)
	}
}

func TestSplitTreeValue(t *testing.T) {
	for _, n := range []int{0, 1, treePartSize - 1, treePartSize, treePartSize + 1, 2 * treePartSize, 2*treePartSize + 1} {
		for _, links := range []uint32{0, 2, 1 << 20} {
			testSplitTreeValue(t, n, links)
		}
	}
}

func testSplitTreeValue(t *testing.T, n int, links uint32) {
	t.Helper()
	{
		v := bytes.Repeat([]byte{0xab}, n)
		parts := splitTreeValue(treeHasChildren, links, v)
		wantFlags := treeHasChildren
		if links > 1 {
			wantFlags |= treeHasLinks
		}
		flags, more, gotLinks, first, err := decodeTreeHead(parts[0])
		if err != nil || flags != wantFlags || int(more) != len(parts)-1 || gotLinks != links {
			t.Fatalf("n=%d links=%d: head = %d, %d, %d, %v with %d parts", n, links, flags, more, gotLinks, err, len(parts))
		}
		got := append([]byte(nil), first...)
		for i, p := range parts[1:] {
			d, err := decodeTreePart(p, i == len(parts)-2)
			if err != nil {
				t.Fatalf("n=%d: part %d: %v", n, i+1, err)
			}
			got = append(got, d...)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("n=%d: reassembled %d bytes", n, len(got))
		}
		if wantParts := max(1, (n+treePartSize-1)/treePartSize); len(parts) != wantParts {
			t.Errorf("n=%d: %d parts, want %d", n, len(parts), wantParts)
		}
	}
}

func TestTreeKeys(t *testing.T) {
	set := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	for _, p := range []string{"", "a", "a/b", "a b/c", "\xff/\x01", "ä/日本"} {
		for _, snap := range []string{"g/t", "vm/100/t"} {
			head := treeKey(set, snap, p)
			for _, part := range []uint32{0, 1, 1<<32 - 1} {
				k := head
				if part > 0 {
					k = treePartKey(head, part)
				}
				gs, gn, gp, gpart, ok := parseTreeKey(k)
				if !ok || gs != set || gn != snap || gp != p || gpart != part {
					t.Errorf("parseTreeKey(treeKey(%q, %q) part %d) = %s %q %q %d %v", snap, p, part, gs, gn, gp, gpart, ok)
				}
			}
		}
	}
	// Siblings sort by name, continuations right after their head.
	names := []string{"a", "a\x00\x00\x00\x00\x01", "a b", "a-b", "a.b", "a0", "ab"}
	var keys [][]byte
	for i, n := range names {
		if i == 1 {
			keys = append(keys, treePartKey(treeKey(set, "g/t", "d/a"), 1))
			continue
		}
		keys = append(keys, treeKey(set, "g/t", "d/"+n))
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Errorf("key %q does not sort before %q", keys[i-1], keys[i])
		}
		if !bytes.HasPrefix(keys[i], treeDirPrefix(set, "g/t", "d")) {
			t.Errorf("key %q is not under its directory prefix", keys[i])
		}
	}
	if bytes.HasPrefix(treeKey(set, "g/t", "d/b/c"), treeDirPrefix(set, "g/t", "d")) {
		t.Error("a grandchild has its grandparent's children prefix")
	}
}

// TestPutSnapshotCrash stops PutSnapshot after the tree is synced and before
// the snapshot record, copies the catalog directory as a power cut would
// leave it, and checks the copy: the new snapshot is not there, the one a
// crashed replacement was replacing is as it was, and Open leaves exactly
// what a catalog that never crashed holds.
func TestPutSnapshotCrash(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	old := testSnapshot(a, "g/old")
	if err := c.PutSnapshot(old, smallTree()); err != nil {
		t.Fatal(err)
	}
	want := walkAll(t, c, a.UUID, "g/old")
	crash := errors.New("crash")
	c.beforeSnapshotRecord = func() error { return crash }
	snap := testSnapshot(a, "g/new")
	if err := c.PutSnapshot(snap, trickyTree()); !errors.Is(err, crash) {
		t.Fatalf("PutSnapshot with crash hook = %v", err)
	}
	// A replacement of g/old that crashes leaves g/old as it was.
	if err := c.PutSnapshot(old, []TreeEntry{{Path: "new-only"}}); !errors.Is(err, crash) {
		t.Fatalf("PutSnapshot with crash hook = %v", err)
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if d := dumpT(t, c); strings.Count(d, pendingPrefix) != 2 {
		t.Fatalf("no markers for the unfinished commits:\n%s", d)
	}
	c.beforeSnapshotRecord = nil
	closeT(t, c)

	r := openT(t, crashed, Options{})
	defer closeT(t, r)
	if d := dumpT(t, r); strings.Contains(d, pendingPrefix) {
		t.Errorf("Open left markers:\n%s", d)
	}
	if _, err := r.GetSnapshot(a.UUID, "g/new"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSnapshot(g/new) after crash = %v, want ErrNotFound", err)
	}
	if err := r.ListTree(a.UUID, "g/new", "", func(TreeEntry) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListTree(g/new) after crash = %v, want ErrNotFound", err)
	}
	if got := walkAll(t, r, a.UUID, "g/old"); !reflect.DeepEqual(got, want) {
		t.Errorf("g/old after a crashed replacement = %q, want %q", paths(got), paths(want))
	}
	// Repeating the commit with a smaller tree leaves nothing of the
	// orphaned one behind: the catalog equals one where nothing crashed.
	if err := r.PutSnapshot(snap, []TreeEntry{{Path: "etc"}}); err != nil {
		t.Fatal(err)
	}
	if got := paths(walkAll(t, r, a.UUID, "g/new")); !reflect.DeepEqual(got, []string{"etc"}) {
		t.Errorf("tree after the repeated commit = %q", got)
	}
	clean := openT(t, t.TempDir(), Options{})
	defer closeT(t, clean)
	mustPutSet(t, clean, a)
	for _, p := range []struct {
		s    Snapshot
		tree []TreeEntry
	}{{old, smallTree()}, {snap, []TreeEntry{{Path: "etc"}}}} {
		if err := clean.PutSnapshot(p.s, p.tree); err != nil {
			t.Fatal(err)
		}
	}
	if eq, diff, err := r.Equal(clean); err != nil || !eq {
		t.Errorf("after recovery the catalog differs from one that never crashed: %s %v\n%s", diff, err, dumpT(t, r))
	}
}

// TestPutSnapshotLargeTree writes a tree bigger than a Badger transaction
// holds and reads it back.
func TestPutSnapshotLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("large tree")
	}
	c := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	var tree []TreeEntry
	tree = append(tree, TreeEntry{Path: "", Value: []byte("root")})
	for d := range 250 {
		dir := fmt.Sprintf("dir%03d", d)
		tree = append(tree, TreeEntry{Path: dir, Value: []byte(dir)})
		for f := range 240 {
			p := fmt.Sprintf("%s/file %05d.dat", dir, f)
			tree = append(tree, TreeEntry{Path: p, Value: bytes.Repeat([]byte{byte(f)}, 40)})
		}
	}
	if len(tree) < 50_000 {
		t.Fatalf("tree has %d entries", len(tree))
	}
	// Entries arrive in reverse order; the catalog does not care.
	for i, j := 0, len(tree)-1; i < j; i, j = i+1, j-1 {
		tree[i], tree[j] = tree[j], tree[i]
	}
	if err := c.PutSnapshot(testSnapshot(a, "g/t"), tree); err != nil {
		t.Fatal(err)
	}
	walked := walkAll(t, c, a.UUID, "g/t")
	want := append([]string{""}, refWalk(tree)...)
	if !reflect.DeepEqual(paths(walked), want) {
		t.Fatalf("WalkTree: %d entries, want %d in order", len(walked), len(want))
	}
	if got := listDirT(t, c, a.UUID, "g/t", "dir123"); len(got) != 240 || got[7].Path != "dir123/file 00007.dat" {
		t.Errorf("ListTree(dir123) = %d entries", len(got))
	}
	if got := listDirT(t, c, a.UUID, "g/t", ""); len(got) != 250 {
		t.Errorf("ListTree(root) = %d entries", len(got))
	}
}

// treeLinkForTest reads values "link:<target>" as hard links to <target>.
func treeLinkForTest(v []byte) (string, error) {
	if t, ok := bytes.CutPrefix(v, []byte("link:")); ok {
		return string(t), nil
	}
	if bytes.HasPrefix(v, []byte("bad")) {
		return "", errors.New("unreadable value")
	}
	return "", nil
}

func TestTreeLinkCounts(t *testing.T) {
	c, err := Open(t.TempDir(), Options{TreeLink: treeLinkForTest})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	plain := NewTestCatalog(t)
	a := testSet("a", "daily", t0)
	mustPutSet(t, c, a)
	mustPutSet(t, plain, a)
	tree := []TreeEntry{
		{Path: ""}, {Path: "d"}, {Path: "d/f", Value: []byte("file")}, {Path: "d/g", Value: []byte("file")},
		{Path: "d/h", Value: []byte("link:d/f")}, {Path: "e"}, {Path: "e/x", Value: []byte("link:d/f")},
		{Path: "e/y", Value: []byte("link:d/g")},
		{Path: "big", Value: bytes.Repeat([]byte{1}, treePartSize+5)}, {Path: "big2", Value: []byte("link:big")},
		{Path: "d/z", Value: []byte("file"), Links: 7}, // ignored on input
	}
	want := map[string]uint32{"d/f": 3, "d/g": 2, "big": 2}
	s := testSnapshot(a, "g/t")
	for _, cat := range []*Catalog{c, plain} {
		if err := cat.PutSnapshot(s, tree); err != nil {
			t.Fatal(err)
		}
		counted := cat == c
		got, err := cat.GetSnapshot(a.UUID, s.Name)
		if err != nil || got.LinksCounted != counted {
			t.Fatalf("GetSnapshot: LinksCounted %v, %v; want %v", got.LinksCounted, err, counted)
		}
		check := func(how string, e TreeEntry) {
			t.Helper()
			w := want[e.Path]
			if !counted {
				w = 0
			}
			if e.Links != w {
				t.Errorf("%s %q: Links %d, want %d", how, e.Path, e.Links, w)
			}
		}
		for _, e := range walkAll(t, cat, a.UUID, s.Name) {
			check("WalkTree", e)
			g, err := cat.GetTreeEntry(a.UUID, s.Name, e.Path)
			if err != nil || !bytes.Equal(g.Value, e.Value) || g.Path != e.Path {
				t.Fatalf("GetTreeEntry(%q) = %q, %v", e.Path, g.Path, err)
			}
			check("GetTreeEntry", g)
		}
		for _, d := range []string{"", "d", "e"} {
			for _, e := range listDirT(t, cat, a.UUID, s.Name, d) {
				check("ListTree", e)
			}
		}
	}

	for _, tt := range []struct {
		name string
		tree []TreeEntry
	}{
		{"missing target", []TreeEntry{{Path: "a", Value: []byte("link:b")}}},
		{"link to itself", []TreeEntry{{Path: "a", Value: []byte("link:a")}}},
		{"unreadable", []TreeEntry{{Path: "a", Value: []byte("bad")}}},
	} {
		if err := c.PutSnapshot(testSnapshot(a, "g/bad"), tt.tree); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PutSnapshot = %v, want ErrInvalid", tt.name, err)
		}
	}
}
