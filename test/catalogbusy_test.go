package test

import (
	"encoding/json"
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

// TestVtapeList: vtape list counts storage slots and import/export slots
// apart, as vtape create takes them.
func TestVtapeList(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "6", "--import-export", "2", "--drives", "1", "--cartridges", "3", "--cleaning", "0")
	var got []struct {
		Path         string `json:"path"`
		Drives       int    `json:"drives"`
		Slots        int    `json:"slots"`
		ImportExport int    `json:"import-export"`
		Cartridges   int    `json:"cartridges"`
	}
	if err := json.Unmarshal([]byte(s.ok("vtape", "list", "--output-format", "json").stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Path != lib || got[0].Drives != 1 || got[0].Slots != 6 || got[0].ImportExport != 2 || got[0].Cartridges != 3 {
		t.Errorf("vtape list = %+v, want %s with 1 drive, 6 slots, 2 import/export, 3 cartridges", got, lib)
	}
	if text := s.ok("vtape", "list").stdout; !lineHas(text, lib, "6", "2", "3") {
		t.Errorf("vtape list:\n%s", text)
	}
}
