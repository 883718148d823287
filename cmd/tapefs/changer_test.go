package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/vtape"
)

// TestChangerCommands changes a virtual library's changer configuration
// with the changer commands and checks config, status and transfer.
func TestChangerCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{Cartridges: 2, Slots: 4})
	l.ok("changer", "update", "sl3", "--export-slots", "4")
	out := l.ok("changer", "config", "sl3")
	if !strings.Contains(out, "export-slots") || !strings.Contains(out, l.lib) {
		t.Errorf("changer config:\n%s", out)
	}
	var ci engine.ChangerInfo
	if err := json.Unmarshal([]byte(l.ok("changer", "config", "sl3", "--output-format", "json")), &ci); err != nil || len(ci.ExportSlots) != 1 || ci.ExportSlots[0] != 4 {
		t.Errorf("changer config json: %+v, %v", ci, err)
	}

	// The tape of slot 1 to the export slot (4), seen in the status.
	l.ok("changer", "transfer", "--from", "1", "--to", "4")
	e, _, _ := l.env(output.Text)
	rows, err := e.runChangerStatus(context.Background(), changerOpts{Drive: "d0"})
	if err != nil {
		t.Fatal(err)
	}
	var moved bool
	for _, r := range rows {
		if r.Kind == "import-export" && r.ID == 4 && r.LabelText == "TEST01L8" {
			moved = true
		}
		if r.Kind == "slot" && r.ID == 1 && r.LabelText != "" {
			t.Errorf("slot 1 still holds %s", r.LabelText)
		}
	}
	if !moved {
		t.Errorf("transfer 1 → 4: status %+v", rows)
	}
	out = l.ok("changer", "status", "sl3")
	if !strings.Contains(out, "import-export") || !strings.Contains(out, "TEST01L8") || !strings.Contains(out, "entry-kind") {
		t.Errorf("changer status:\n%s", out)
	}
	if err := e.runChangerTransfer(context.Background(), changerOpts{Changer: "sl3"}, 4, 1); err != nil {
		t.Fatal(err)
	}

	if err := e.runChangerUpdate(changerUpdateOpts{Name: "sl3", ExportSlots: &[]int{}}); err != nil {
		t.Fatal(err)
	}
	ci, err = e.runChangerConfig("sl3")
	if err != nil || len(ci.ExportSlots) != 0 {
		t.Errorf("after clearing export slots: %+v, %v", ci, err)
	}
	list, err := e.runChangerList(context.Background())
	if err != nil || len(list) != 1 || list[0].Vendor == "" {
		t.Errorf("changer list: %+v, %v", list, err)
	}
	if out := l.ok("changer", "list"); !strings.Contains(out, "sl3") || !strings.Contains(out, list[0].Vendor) {
		t.Errorf("changer list table:\n%s", out)
	}

	l.wantExits([]exitCase{
		{[]string{"changer", "update", "sl3", "--delete", "path"}, 2},
		{[]string{"changer", "update", "sl3", "--export-slots", "0"}, 2},
		{[]string{"changer", "create", "x", "--path", l.lib, "--export-slots", "a,b"}, 2},
		{[]string{"changer", "status", "a", "b"}, 2},
		{[]string{"changer", "transfer", "a", "b", "--from", "1", "--to", "2"}, 2},
		{[]string{"changer", "config", "nosuch"}, 3},
		{[]string{"changer", "status", "nosuch"}, 3},
	})
	if out := l.ok("changer", "scan"); !strings.Contains(out, l.lib) {
		t.Errorf("changer scan:\n%s", out)
	}
	other := vtape.NewTestLibrary(t, vtape.LibraryOptions{})
	if err := e.runChangerCreate(changerCreateOpts{Name: "other", Path: other, ExportSlots: []int{2}}); err != nil {
		t.Fatal(err)
	}
	l.ok("changer", "remove", "other")
	if _, err := e.runChangerConfig("other"); cliapp.ExitCode(err) != 3 {
		t.Errorf("removed changer: %v", err)
	}
}
