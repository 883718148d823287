package main

import (
	"encoding/json"
	"strings"
	"testing"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/vtape"
)

// TestPoolCommands creates, updates and lists pools with the pool
// commands, text and JSON.
func TestPoolCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	l.ok("pool", "create", "weekly", "--drive", "d0", "--allocation", config.AllocAlways, "--retention", "7days", "--comment", "the weekly set")
	out := l.ok("pool", "config", "weekly")
	for _, want := range []string{"weekly", "d0", config.AllocAlways, "7days", "the weekly set"} {
		if !strings.Contains(out, want) {
			t.Errorf("pool config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "template") {
		t.Errorf("pool config shows an unset template:\n%s", out)
	}
	var js map[string]string
	if err := json.Unmarshal([]byte(l.ok("pool", "config", "weekly", "--output-format", "json")), &js); err != nil || js["retention"] != "7days" || js["allocation"] != config.AllocAlways {
		t.Errorf("pool config json: %v, %v", js, err)
	}

	l.ok("pool", "update", "weekly", "--delete", "comment", "--retention", config.RetainOverwrite)
	e, _, _ := l.env(output.Text)
	p, err := e.runPoolConfig("weekly")
	if err != nil || p.Comment != "" || p.Retention != config.RetainOverwrite || p.Allocation != config.AllocAlways {
		t.Errorf("after update: %+v, %v", p, err)
	}
	if err := e.runPoolUpdate(poolUpdateOpts{Name: "weekly", PoolUpdate: engine.PoolUpdate{Delete: []string{"allocation"}}}); err != nil {
		t.Fatal(err)
	}
	pools, err := e.runPoolList()
	if err != nil || len(pools) != 2 || pools[1].Name != "weekly" || pools[1].Allocation != "" {
		t.Errorf("pool list: %+v, %v", pools, err)
	}
	var list []map[string]string
	if err := json.Unmarshal([]byte(l.ok("pool", "list", "--output-format", "json")), &list); err != nil || len(list) != 2 {
		t.Errorf("pool list json: %v, %v", list, err)
	}
	if out := l.ok("pool", "list"); !strings.Contains(out, "weekly") || !strings.Contains(out, "pa") {
		t.Errorf("pool list:\n%s", out)
	}

	l.ok("pool", "remove", "weekly")
	l.wantExits([]exitCase{
		{[]string{"pool", "config", "weekly"}, 3},
		{[]string{"pool", "create"}, 2},
		{[]string{"pool", "create", "x", "--allocation", "sometimes"}, 2},
		{[]string{"pool", "create", "x", "--drive", "nosuch"}, 3},
		{[]string{"pool", "update", "pa", "--delete", "name"}, 2},
		{[]string{"pool", "remove", "pa"}, 6}, // it has tapes
	})
}
