package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/catalog"
)

// TestCatalogBusy: without a daemon, a command that needs the catalog
// while another process holds it fails with exit 4 (busy), names the
// holder and says how to run commands side by side; nothing is changed.
func TestCatalogBusy(t *testing.T) {
	s := newSandbox(t)
	dir := filepath.Join(s.root, "state", "catalog")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// This test process is the other tapefs process.
	c, err := catalog.Open(dir, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := s.run(nil, "tapefs", "media", "list")
	c.Close()
	if r.code != 4 {
		t.Fatalf("media list while the catalog is held: exit %d, want 4\nstderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("in use by another tapefs process (pid %d: ", os.Getpid()),
		"run one at a time",
		"tapefs mount",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	// Once it is free, the same command runs.
	s.ok("media", "list")
}
