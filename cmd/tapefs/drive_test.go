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

// TestDriveCommands configures a second drive of a virtual library with
// the drive commands and reads it back as text and JSON.
func TestDriveCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{Drives: 2})
	l.ok("drive", "remove", "d1")
	l.ok("drive", "create", "second", "--path", vtape.DrivePath(l.lib, 1), "--changer", "sl3", "--changer-drivenum", "1")
	out := l.ok("drive", "config", "second")
	for _, want := range []string{"name", "second", vtape.DrivePath(l.lib, 1), "changer-drivenum", "sl3"} {
		if !strings.Contains(out, want) {
			t.Errorf("drive config lacks %q:\n%s", want, out)
		}
	}
	var d engine.DriveInfo
	if err := json.Unmarshal([]byte(l.ok("drive", "config", "second", "--output-format", "json")), &d); err != nil || d.ChangerDriveNum != 1 || d.Changer != "sl3" {
		t.Errorf("drive config json: %+v, %v", d, err)
	}

	l.ok("drive", "update", "second", "--delete", "changer", "--delete", "changer-drivenum")
	e, _, _ := l.env(output.Text)
	d, err := e.runDriveConfig("second")
	if err != nil || d.Changer != "" || d.ChangerDriveNum != 0 {
		t.Errorf("after update --delete: %+v, %v", d, err)
	}
	n := 1
	if err := e.runDriveUpdate(driveUpdateOpts{Name: "second", DriveUpdate: engine.DriveUpdate{Changer: ptr("sl3"), ChangerDriveNum: &n}}); err != nil {
		t.Fatal(err)
	}

	list, err := e.runDriveList(context.Background())
	if err != nil || len(list) != 2 || list[1].Name != "second" || list[1].Vendor == "" {
		t.Errorf("drive list: %+v, %v", list, err)
	}
	out = l.ok("drive", "list")
	if !strings.Contains(out, "second") || !strings.Contains(out, list[1].Vendor) {
		t.Errorf("drive list table:\n%s", out)
	}
	if out := l.ok("drive", "scan"); !strings.Contains(out, vtape.DrivePath(l.lib, 1)) {
		t.Errorf("drive scan:\n%s", out)
	}

	l.ok("drive", "remove", "second")
	l.wantExits([]exitCase{
		{[]string{"drive", "config", "second"}, 3},
		{[]string{"drive", "config"}, 2},
		{[]string{"drive", "create", "x"}, 2}, // --path is required
		{[]string{"drive", "create", "d0", "--path", vtape.DrivePath(l.lib, 1)}, 6},
		{[]string{"drive", "update", "d0", "--delete", "path"}, 2},
	})
}

func ptr[T any](v T) *T { return &v }
