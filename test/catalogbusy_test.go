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

// TestRestorePlanOfflineTape: a restore whose set has a tape the library
// no longer holds says so before it starts, and --dry-run shows it.
func TestRestorePlanOfflineTape(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src", "www")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := s.backup(src, "daily", "--eject-media")
	target := filepath.Join(s.root, "restore")
	if dry := s.ok("restore", b.Set, target, "--dry-run").stdout; strings.Contains(dry, "not in the library") {
		t.Fatalf("dry run with the tape in the library warns:\n%s", dry)
	}
	// The operator takes the tape out (slot 1 holds the first one).
	s.ok("vtape", "remove", lib, "--slot", "1")
	dry := s.ok("restore", b.Set, target, "--dry-run").stdout
	if !strings.Contains(dry, "tape "+b.Tapes[0]+" is not in the library") {
		t.Errorf("dry run does not say the tape is out:\n%s", dry)
	}
	var plan struct {
		Plan struct {
			Tapes []struct {
				Label   string `json:"label-text"`
				Offline bool   `json:"offline"`
			} `json:"tapes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(s.ok("restore", b.Set, target, "--dry-run", "--output-format", "json").stdout), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Plan.Tapes) != 1 || !plan.Plan.Tapes[0].Offline {
		t.Errorf("JSON plan %+v: want the tape marked offline", plan.Plan)
	}
	r := s.run(nil, "tapefs", "restore", b.Set, target)
	if r.code == 0 || !strings.Contains(r.stderr, b.Tapes[0]+" is not in the library") {
		t.Errorf("restore with the tape out: exit %d, stderr %q", r.code, r.stderr)
	}
}
