package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/vtape"
)

// TestCatalogCommand reads the catalog of a written tape back with
// `tapefs catalog --force` (the catalog has it), runCatalog and as JSON.
func TestCatalogCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	_, b := backedUp(t, l)
	out, _, err := l.run("catalog", "--force", "--drive", "d0")
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	for _, want := range []string{"label-text", "TEST01L8", b.Set.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog table lacks %q:\n%s", want, out)
		}
	}
	e, _, _ := l.env(output.JSON)
	r, err := e.runCatalog(context.Background(), catalogOpts{Drive: "d0", Scan: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.LabelText != "TEST01L8" || r.Set != b.Set || len(r.Snapshots) != 1 || r.Chunks == 0 {
		t.Errorf("catalog --scan: %+v", r)
	}
	out, _, err = l.run("catalog", "--force", "--output-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var back engine.CatalogResult
	if err := json.Unmarshal([]byte(out), &back); err != nil || back.LabelText != "TEST01L8" {
		t.Errorf("catalog json %q: %v", out, err)
	}
}
