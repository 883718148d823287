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

// TestTapeCommands loads, reads, labels, formats and unloads tapes with
// the drive commands on a virtual library, text and JSON.
func TestTapeCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{Cartridges: 3})
	ctx := context.Background()
	l.ok("load-media", "TEST02L8")
	out := l.ok("read-label")
	for _, want := range []string{"changer-id", "TEST02L8", "pool", "pa"} {
		if !strings.Contains(out, want) {
			t.Errorf("read-label lacks %q:\n%s", want, out)
		}
	}
	var li engine.LabelInfo
	if err := json.Unmarshal([]byte(l.ok("read-label", "--output-format", "json", "--drive", "d0")), &li); err != nil || li.LabelText != "TEST02L8" || li.Pool != "pa" {
		t.Errorf("read-label json: %+v, %v", li, err)
	}
	out = l.ok("status")
	for _, want := range []string{"Name", "blocksize", "file-number", "cleaning-required"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	e, _, _ := l.env(output.Text)
	s, err := e.runStatus(ctx, "d0")
	if err != nil || !s.Status.Loaded {
		t.Errorf("runStatus: %+v, %v", s, err)
	}
	if vs, err := e.runVolumeStatistics(ctx, ""); err != nil || vs == nil {
		t.Errorf("volume statistics: %v", err)
	}
	if out := l.ok("cartridge-memory"); !strings.Contains(out, "0x") {
		t.Errorf("cartridge-memory:\n%s", out)
	}

	// Format and relabel the loaded tape for no pool.
	l.ok("format", "--label-text", "TEST02L8")
	if _, err := e.runReadLabel(ctx, "d0", false); err == nil {
		t.Error("the formatted tape still has a label")
	}
	li2, err := e.runLabel(ctx, labelOpts{Drive: "d0", LabelText: "TEST02L8"})
	if err != nil || li2.LabelText != "TEST02L8" || li2.Pool != "" {
		t.Errorf("label: %+v, %v", li2, err)
	}
	l.ok("unload")
	l.ok("load-media-from-slot", "3")
	if li, err := e.runReadLabel(ctx, "d0", false); err != nil || li.LabelText != "TEST03L8" {
		t.Errorf("after load-media-from-slot 3: %+v, %v", li, err)
	}
	l.ok("eject")

	list, err := e.runInventory(ctx, "", engine.InventoryOptions{})
	if err != nil || len(list) != 3 {
		t.Errorf("inventory: %+v, %v", list, err)
	}
	if out := l.ok("inventory"); !strings.Contains(out, "TEST01L8") || !strings.Contains(out, "location") {
		t.Errorf("inventory table:\n%s", out)
	}
	res, err := e.runBarcodeLabel(ctx, labelOpts{Drive: "d0", Pool: "pa"})
	if err != nil || res == nil {
		t.Errorf("barcode-label with everything labelled: %+v, %v", res, err)
	}

	l.wantExits([]exitCase{
		{[]string{"load-media"}, 2},
		{[]string{"load-media-from-slot", "0"}, 2},
		{[]string{"load-media-from-slot", "x"}, 2},
		{[]string{"unload", "--target-slot", "-1"}, 2},
		{[]string{"label"}, 2}, // --label-text is required
		{[]string{"status", "--drive", "nosuch"}, 3},
		{[]string{"load-media", "NOSUCH"}, 3},
		{[]string{"read-label"}, 5}, // no tape in the drive
	})
}
