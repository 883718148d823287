package staging

import (
	"errors"
	"syscall"
	"testing"
)

// TestRenameBelowItself: a directory cannot move below itself, neither by
// a rename nor by an exchange that would put the other directory below
// itself; moves beside it still work.
func TestRenameBelowItself(t *testing.T) {
	s, g := groupStore(t)
	mkdir := func(parent ID, name string) ID {
		t.Helper()
		return mustT(s.Make(parent, name, syscall.S_IFDIR|0o755, 0, 0, 0, "", false)).ID
	}
	a := mkdir(g, "a")
	b := mkdir(a, "b")
	c := mkdir(b, "c")
	if err := s.Rename(g, "a", c, "a", 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("rename a into a/b/c: %v, want EINVAL", err)
	}
	if err := s.Rename(a, "b", b, "x", 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("rename a/b into itself: %v, want EINVAL", err)
	}
	// Exchanging a/b/c with a: a would land below itself.
	if err := s.Rename(b, "c", g, "a", RenameExchange); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("exchange a/b/c with a: %v, want EINVAL", err)
	}
	must(t, s.Rename(b, "c", g, "c", 0))
	if got := mustT(s.Lookup(g, "c")).ID; got != c {
		t.Errorf("g/c is %d, want %d", got, c)
	}
}

// TestInsideBrokenChain: the ancestor walk of Rename stops where a
// parent is missing instead of reading through a nil node.
func TestInsideBrokenChain(t *testing.T) {
	s, g := groupStore(t)
	a := mustT(s.Make(g, "a", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)).ID
	b := mustT(s.Make(a, "b", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)).ID
	s.mu.Lock()
	defer s.mu.Unlock()
	nb := s.nodes[b]
	if !s.inside(nb, g) || !s.inside(nb, b) || s.inside(s.nodes[g], b) {
		t.Fatal("inside is wrong on an intact chain")
	}
	saved := s.nodes[a]
	delete(s.nodes, a)
	defer func() { s.nodes[a] = saved }()
	if s.inside(nb, g) {
		t.Error("inside found g above b across a missing parent")
	}
}
