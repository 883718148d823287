package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// linkTree is a snapshot tree with a file of three names (a, d/h, d/e/x),
// one of two (d/g, y) and one of one (d/plain).
func linkTree() []catalog.TreeEntry {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tree []catalog.TreeEntry
	add := func(e format.Entry) {
		e.Mtime, e.Atime, e.Ctime = t0, t0, t0
		tree = append(tree, catalog.TreeEntry{Path: e.Path, Value: format.EncodeEntry(nil, &e)})
	}
	add(format.Entry{Type: format.EntryDir, Mode: 0o755})
	add(format.Entry{Path: "d", Type: format.EntryDir, Mode: 0o755})
	add(format.Entry{Path: "d/e", Type: format.EntryDir, Mode: 0o755})
	add(format.Entry{Path: "a", Type: format.EntryFile, Mode: 0o644, Size: 0})
	add(format.Entry{Path: "d/g", Type: format.EntryFile, Mode: 0o600, Size: 0})
	add(format.Entry{Path: "d/plain", Type: format.EntryFile, Mode: 0o644, Size: 0})
	add(format.Entry{Path: "d/h", Type: format.EntryHardLink, Target: "a"})
	add(format.Entry{Path: "d/e/x", Type: format.EntryHardLink, Target: "a"})
	add(format.Entry{Path: "y", Type: format.EntryHardLink, Target: "d/g"})
	return tree
}

// TestListSnapshotDirLinks checks the link counts of listings, for a tree
// the engine's catalog stored (counted at PutSnapshot) and for one a
// catalog without Options.TreeLink stored (counted by a scan).
func TestListSnapshotDirLinks(t *testing.T) {
	state := t.TempDir()
	e, err := New(Options{ConfigDir: t.TempDir(), StateDir: state, Opener: vtapeOpener{}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := e.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	set := catalog.MediaSet{UUID: uuid.New(), Pool: "p0", Ctime: time.Now().UTC()}
	if err := cat.PutMediaSet(set); err != nil {
		t.Fatal(err)
	}
	snap := func(name string) catalog.Snapshot {
		return catalog.Snapshot{Set: set.UUID, Name: name, Pool: "p0", Ctime: set.Ctime, Archives: []catalog.ArchiveLoc{}}
	}
	if err := cat.PutSnapshot(snap("g/counted"), linkTree()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// A catalog written before link counts: no TreeLink.
	old, err := catalog.Open(filepath.Join(state, "catalog"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.PutSnapshot(snap("g/legacy"), linkTree()); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	e, err = New(Options{ConfigDir: t.TempDir(), StateDir: state, Opener: vtapeOpener{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want := map[string]struct {
		path  string
		links uint32
	}{
		"a": {"a", 3}, "d/h": {"a", 3}, "d/e/x": {"a", 3},
		"d/g": {"d/g", 2}, "y": {"d/g", 2}, "d/plain": {"d/plain", 1},
		"d": {"d", 1}, "d/e": {"d/e", 1},
	}
	for _, name := range []string{"g/counted", "g/legacy"} {
		seen := 0
		for _, dir := range []string{"", "d", "d/e"} {
			ents, err := e.ListSnapshotDir(set.UUID, name, dir)
			if err != nil {
				t.Fatalf("%s: ListSnapshotDir(%q): %v", name, dir, err)
			}
			for _, de := range ents {
				p := filepath.Join(dir, de.Name)
				w, ok := want[p]
				if !ok {
					t.Fatalf("%s: unexpected entry %q", name, p)
				}
				seen++
				if de.Path != w.path || de.Links != w.links {
					t.Errorf("%s: %s: path %q links %d, want %q %d", name, p, de.Path, de.Links, w.path, w.links)
				}
				if w.path != p && de.Attr.Type == format.EntryHardLink {
					t.Errorf("%s: %s: hard link not resolved", name, p)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("%s: listed %d entries, want %d", name, seen, len(want))
		}
	}
}
