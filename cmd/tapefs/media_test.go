package main

import (
	"encoding/json"
	"strings"
	"testing"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/vtape"
)

// TestMediaCommands lists the inventory and content after a backup and
// marks and removes tapes with the media commands, text and JSON.
func TestMediaCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	_, b := backedUp(t, l)
	out := l.ok("media", "list")
	for _, want := range []string{"TEST01L8", "TEST02L8", b.Set.String(), "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("media list lacks %q:\n%s", want, out)
		}
	}
	var js []mediaJSON
	if err := json.Unmarshal([]byte(l.ok("media", "list", "--output-format", "json")), &js); err != nil || len(js) != 2 {
		t.Fatalf("media list json: %+v, %v", js, err)
	}
	if js[0].LabelText != "TEST01L8" || js[0].MediaSetUUID != b.Set.String() || js[0].SeqNr == nil || *js[0].SeqNr != 0 || js[0].BytesUsed == 0 {
		t.Errorf("media list json: %+v", js[0])
	}
	if js[1].SeqNr != nil || js[1].MediaSetUUID != "" {
		t.Errorf("an unused tape has a media set: %+v", js[1])
	}

	out = l.ok("media", "content", "--media-set", b.Set.String())
	if !strings.Contains(out, b.Snapshot) || !strings.Contains(out, "TEST01L8") {
		t.Errorf("media content:\n%s", out)
	}
	e, _, _ := l.env(output.Text)
	rows, err := e.runMediaContent(engine.ContentFilter{LabelText: "TEST02L8"})
	if err != nil || rows == nil || len(rows) != 0 {
		t.Errorf("content of an empty tape: %+v, %v (want an empty list, not nil)", rows, err)
	}

	l.ok("media", "set-status", "TEST02L8", "damaged")
	list, err := e.runMediaList("pa")
	if err != nil || len(list) != 2 || list[1].Shown != "damaged" {
		t.Errorf("after set-status damaged: %+v, %v", list, err)
	}
	if err := e.runMediaSetStatus("TEST02L8", "clear"); err != nil {
		t.Fatal(err)
	}
	l.ok("media", "destroy", "TEST02L8")
	if list, _ := e.runMediaList(""); len(list) != 1 {
		t.Errorf("after destroy: %+v", list)
	}

	l.wantExits([]exitCase{
		{[]string{"media", "content", "--media-set", "nope"}, 2},
		{[]string{"media", "move", "TEST01L8"}, 2},
		{[]string{"media", "move", "TEST01L8", "--vault", "v", "--offline"}, 2},
		{[]string{"media", "move", "--offline"}, 2},
		{[]string{"media", "set-status", "TEST01L8"}, 2},
		{[]string{"media", "set-status", "TEST01L8", "shiny"}, 2},
		{[]string{"media", "destroy", "NOSUCH"}, 3},
		{[]string{"media", "destroy", "TEST01L8"}, 6}, // it holds a media set
	})
}
