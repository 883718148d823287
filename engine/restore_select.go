// Restore selection: which snapshots and which paths of them a restore
// takes.

package engine

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/format"
)

// cleanPatterns checks the --path globs and puts them in the form
// selected compares: relative, without "./" or a trailing slash. A
// pattern naming the snapshot root selects everything (nil).
func cleanPatterns(pats []string) ([]string, error) {
	var out []string
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return nil, invalidf("--path %q: %v", p, err)
		}
		c := strings.Trim(path.Clean("/"+p), "/")
		if c == "" {
			return nil, nil
		}
		out = append(out, c)
	}
	return out, nil
}

// selectSnapshots picks the snapshots of set named by sel (names or groups).
func (e *Engine) selectSnapshots(cat *catalog.Catalog, set catalog.MediaSet, sel []string) ([]catalog.Snapshot, error) {
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: set.UUID})
	if err != nil {
		return nil, err
	}
	if len(sel) == 0 {
		return snaps, nil
	}
	var out []catalog.Snapshot
	for _, want := range sel {
		found := false
		for _, s := range snaps {
			if s.Name == want || strings.HasPrefix(s.Name, strings.TrimSuffix(want, "/")+"/") {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, notFoundf("media set %s has no snapshot %s", set.UUID, want)
		}
	}
	return out, nil
}

// noSnapshots is the error of a restore of a media set that has no
// snapshots in the catalog: a backup into it that failed after writing
// archives leaves its chunks (and perhaps a snapshot archive) on tape, and
// reading the tapes with --scan finds what they hold.
func (e *Engine) noSnapshots(cat *catalog.Catalog, set catalog.MediaSet) error {
	var labels []string
	for _, id := range set.Media {
		if m, err := cat.GetMedia(id); err == nil {
			labels = append(labels, m.LabelText)
		}
	}
	return notFoundf("media set %s has no snapshots in the catalog, so nothing would be restored (a backup into it may have failed after writing to tape); "+
		"read what its tapes (%s) hold into the catalog with `tapefs catalog --scan --force` (each tape loaded in turn) or `tapefs inventory --catalog --scan --force`, then restore again",
		set.UUID, strings.Join(labels, ", "))
}

// selected reports whether p (or one of its parents) matches a pattern.
func selected(p string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		pat = strings.Trim(pat, "/")
		for q := p; ; q = path.Dir(q) {
			if ok, _ := path.Match(pat, q); ok {
				return true
			}
			if q == "." || q == "" || !strings.Contains(q, "/") {
				if q != p {
					if ok, _ := path.Match(pat, q); ok {
						return true
					}
				}
				break
			}
		}
		// A pattern that names a directory above p selects p's parents
		// too, so the tree down to a selected file exists.
		if strings.HasPrefix(pat+"/", p+"/") || p == "" {
			return true
		}
	}
	return false
}

// readSelection reads the entries of snapshot name that patterns can
// select, in walk order. Without patterns, or when one starts with a glob,
// that is the whole tree; otherwise it is the subtree below each
// pattern's literal directory (its elements before the first glob) and the
// directories above it, and the first names of hard links in it that lie
// outside: a restore of one file reads a few listings, not the snapshot.
func readSelection(cat *catalog.Catalog, set uuid.UUID, name string, patterns []string) ([]*format.Entry, error) {
	var out []*format.Entry
	seen := map[string]bool{}
	add := func(te catalog.TreeEntry) error {
		if seen[te.Path] {
			return nil
		}
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", name, te.Path, err)
		}
		seen[te.Path] = true
		out = append(out, &ent)
		return nil
	}
	roots := literalRoots(patterns)
	if roots == nil {
		return out, cat.WalkTree(set, name, add)
	}
	get := func(p string) error {
		te, err := cat.GetTreeEntry(set, name, p)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil // a root that was not stored, or a pattern that matches nothing
		}
		if err != nil {
			return err
		}
		return add(te)
	}
	for _, root := range roots {
		for a := ""; ; {
			if err := get(a); err != nil {
				return nil, err
			}
			rest := strings.TrimPrefix(root, a)
			rest = strings.TrimPrefix(rest, "/")
			if rest == "" {
				break
			}
			first, _, _ := strings.Cut(rest, "/")
			a = path.Join(a, first)
			if a == root {
				break
			}
		}
		err := cat.WalkSubtree(set, name, root, add)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
	}
	// Hard links name their node's first name, which may lie outside
	// what was read: the restore gives the node to a link then.
	for i := 0; i < len(out); i++ {
		if e := out[i]; e.Type == format.EntryHardLink && !seen[e.Target] {
			if err := get(e.Target); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return walkBefore(out[i].Path, out[j].Path) })
	return out, nil
}

// literalRoots returns, for each pattern, its leading elements that hold
// no glob character, joined: the directory everything it can select lies
// in (or above). nil when there are no patterns or one starts with a glob.
func literalRoots(patterns []string) []string {
	if len(patterns) == 0 {
		return nil
	}
	var roots []string
	for _, p := range patterns {
		var lit []string
		for e := range strings.SplitSeq(p, "/") {
			if strings.ContainsAny(e, `*?[\`) {
				break
			}
			lit = append(lit, e)
		}
		if len(lit) == 0 {
			return nil
		}
		roots = append(roots, strings.Join(lit, "/"))
	}
	return roots
}

// walkBefore orders snapshot paths as a tree walk visits them: a
// directory right before its subtree (a slash sorts below every byte).
func walkBefore(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		if a[i] == '/' {
			return true
		}
		if b[i] == '/' {
			return false
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}
