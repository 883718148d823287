package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// prefetchSource makes 20 directories d00..d19 of 3 files; d03 has
// nested/deeper below it.
func prefetchSource(t *testing.T, dir string) {
	for d := range 20 {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", d))
		if d == 3 {
			sub = filepath.Join(sub, "nested", "deeper")
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", i)), []byte{byte(d), byte(i)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pendingDirs waits until the prefetcher is idle and returns the
// directories it listed that no walk has read yet.
func pendingDirs(t *testing.T, r *Root) []string {
	t.Helper()
	p := &r.prefetch
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		if !p.running {
			var dirs []string
			for k := range p.pending {
				dirs = append(dirs, k.dir)
			}
			p.mu.Unlock()
			slices.Sort(dirs)
			return dirs
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the prefetcher did not go idle")
		}
	}
}

// TestListPrefetchOrder reads directories of a snapshot as a depth-first
// walk does and checks, step by step, which listings the prefetcher has
// ready: the next prefetchListings directories in walk order, the nested
// ones of a directory just read first.
func TestListPrefetchOrder(t *testing.T) {
	f := newSnapFixture(t, prefetchSource)
	read := func(rel string) {
		t.Helper()
		if _, err := os.ReadDir(f.path(rel)); err != nil {
			t.Fatal(err)
		}
	}
	dirs := func(names ...int) []string {
		var out []string
		for _, n := range names {
			out = append(out, fmt.Sprintf("d%02d", n))
		}
		return out
	}
	read("")
	if got, want := pendingDirs(t, f.root), dirs(0, 1, 2, 3, 4, 5, 6, 7); !slices.Equal(got, want) {
		t.Fatalf("after the snapshot root: prefetched %v, want %v", got, want)
	}
	read("d00")
	if got, want := pendingDirs(t, f.root), dirs(1, 2, 3, 4, 5, 6, 7, 8); !slices.Equal(got, want) {
		t.Fatalf("after d00: prefetched %v, want %v", got, want)
	}
	read("d01")
	read("d02")
	read("d03") // pushes d03/nested, which a depth-first walk reads next
	got := pendingDirs(t, f.root)
	if !slices.Contains(got, "d03/nested") || len(got) != prefetchListings {
		t.Fatalf("after d03: prefetched %v, want d03/nested among %d", got, prefetchListings)
	}
	// A directory that was not prefetched: the walk went elsewhere, the
	// count starts again.
	read("d19")
	if got := pendingDirs(t, f.root); len(got) > prefetchListings {
		t.Fatalf("after a jump: %d prefetched, more than %d", len(got), prefetchListings)
	}
	f.root.prefetch.mu.Lock()
	hits := f.root.prefetch.hits
	f.root.prefetch.mu.Unlock()
	if hits != 4 {
		t.Errorf("%d of the directories read were prefetched, want 4 (d00..d03)", hits)
	}
}

// TestFindOverPrefetchedListings: find over the snapshot lists exactly the
// source's names and types, whatever the prefetcher did meanwhile.
func TestFindOverPrefetchedListings(t *testing.T) {
	f := newSnapFixture(t, prefetchSource)
	list := func(root string) []string {
		out, err := exec.Command("find", root, "-printf", "%P %y\n").Output()
		if err != nil {
			t.Fatalf("find %s: %v", root, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		slices.Sort(lines)
		return lines
	}
	if got, want := list(filepath.Join(f.mnt, f.snap)), list(f.src); !slices.Equal(got, want) {
		t.Fatalf("find over the snapshot:\n%s\nsource:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
