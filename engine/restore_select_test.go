package engine

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// TestReadSelection: a --path pattern reads the directories above its
// literal part, the subtree below it, and the first names of hard links
// that lie outside, and nothing else; a pattern that starts with a glob
// reads the whole tree.
func TestReadSelection(t *testing.T) {
	cat := catalog.NewTestCatalog(t)
	set := catalog.MediaSet{UUID: uuid.New(), Pool: "p", Ctime: time.Unix(1700000000, 0)}
	if err := cat.PutMediaSet(set); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	ent := func(p string, typ format.EntryType) format.Entry {
		return format.Entry{Path: p, Type: typ, Mode: 0o644, Mtime: now, Atime: now, Ctime: now}
	}
	ents := []format.Entry{ent("", format.EntryDir)}
	for d := range 20 {
		ents = append(ents, ent(fmt.Sprintf("d%02d", d), format.EntryDir))
		for f := range 100 {
			ents = append(ents, ent(fmt.Sprintf("d%02d/f%04d", d, f), format.EntryFile))
		}
	}
	link := ent("d07/zlink", format.EntryHardLink)
	link.Target = "d02/f0001"
	ents = append(ents, link)
	var tree []catalog.TreeEntry
	for i := range ents {
		tree = append(tree, catalog.TreeEntry{Path: ents[i].Path, Value: format.EncodeEntry(nil, &ents[i])})
	}
	snap := catalog.Snapshot{Set: set.UUID, Name: "g/2026-11-25T17:00:00Z", Pool: "p", Ctime: now}
	if err := cat.PutSnapshot(snap, tree); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		patterns []string
		want     []string // nil: the whole tree
		count    int
	}{
		{[]string{"d07/f0003"}, []string{"", "d07", "d07/f0003"}, 3},
		{[]string{"d07/f000?"}, nil, 2 + 100 + 1 + 1},
		{[]string{"d07/zlink"}, []string{"", "d02/f0001", "d07", "d07/zlink"}, 4},
		{[]string{"d03", "d03/f0001"}, nil, 2 + 100},
		{[]string{"*/f0003"}, nil, len(ents)},
		{nil, nil, len(ents)},
		{[]string{"nosuch/x"}, []string{""}, 1},
	} {
		got, err := readSelection(cat, set.UUID, snap.Name, tt.patterns)
		if err != nil {
			t.Fatalf("%q: %v", tt.patterns, err)
		}
		var paths []string
		for _, e := range got {
			paths = append(paths, e.Path)
		}
		if len(paths) != tt.count || (tt.want != nil && !reflect.DeepEqual(paths, tt.want)) {
			t.Errorf("%q read %d entries %.6q, want %d %q", tt.patterns, len(paths), paths, tt.count, tt.want)
		}
		for i := 1; i < len(paths); i++ {
			if !walkBefore(paths[i-1], paths[i]) {
				t.Errorf("%q: %q before %q: not in walk order", tt.patterns, paths[i-1], paths[i])
			}
		}
	}
}
