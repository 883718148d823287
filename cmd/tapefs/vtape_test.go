package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/cmd/internal/output"
	"tapefs/vtape"
)

// TestVtapeCommands creates, lists and changes a virtual library with the
// vtape commands (they work on library files, without an engine).
func TestVtapeCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	ok := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := l.run(args...)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return out, errOut
	}
	dir := filepath.Join(t.TempDir(), "lib")
	_, msg := ok("vtape", "create", dir, "--slots", "6", "--drives", "2", "--import-export", "1", "--cartridges", "3", "--barcode-prefix", "ABC", "--capacity", "64MiB")
	if !strings.Contains(msg, "created virtual library "+dir+": 2 drive(s), 6 slots, 1 import/export slots") {
		t.Errorf("vtape create said:\n%s", msg)
	}
	st, err := vtape.Describe(dir)
	if err != nil || st.Options.Capacity != 64<<20 || st.Options.BarcodePrefix != "ABC" {
		t.Fatalf("created library: %+v, %v", st.Options, err)
	}

	e, _, _ := l.env(output.Text)
	libs, err := e.runVtapeList()
	if err != nil || len(libs) != 2 || libs[1].Path != dir || libs[1].Drives != 2 || libs[1].Tapes != 4 {
		t.Errorf("vtape list (the test library and the new one): %+v, %v", libs, err)
	}
	out, _ := ok("vtape", "list", "--output-format", "json")
	var js []vtapeLib
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 2 {
		t.Errorf("vtape list json: %v\n%s", err, out)
	}

	_, msg = ok("vtape", "remove", dir, "--slot", "2")
	if !strings.Contains(msg, "removed ABC002L8 from slot 2") {
		t.Errorf("vtape remove said %q", msg)
	}
	ok("vtape", "insert", dir, "ABC002L8", "--slot", "5")
	ok("vtape", "fault", dir, "--drive", "1", "--offline")
	ok("vtape", "fault", dir, "--cartridge", "ABC001L8", "--write-error-at", "3", "--early-warning-at", "1MiB")

	l.wantExits([]exitCase{
		{[]string{"vtape", "create"}, 2},
		{[]string{"vtape", "create", filepath.Join(t.TempDir(), "x"), "--capacity", "lots"}, 2},
		{[]string{"vtape", "fault", dir}, 2},
		{[]string{"vtape", "fault", dir, "--drive", "0", "--cartridge", "ABC001L8"}, 2},
		{[]string{"vtape", "fault", dir, "--drive", "0", "--early-warning-at", "soon"}, 2},
		{[]string{"vtape", "insert", dir, "--slot", "1"}, 2},
	})
}
