package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
)

// walkCommands calls fn with the path of every command of the tree.
func walkCommands(cmds []*cli.Command, parent []*cli.Command, fn func(path []*cli.Command)) {
	for _, c := range cmds {
		path := append(slices.Clone(parent), c)
		fn(path)
		walkCommands(c.Subcommands, path, fn)
	}
}

func pathName(path []*cli.Command) string {
	names := make([]string, len(path))
	for i, c := range path {
		names[i] = c.Name
	}
	return strings.Join(names, " ")
}

// TestEveryCommandPlaced checks that every command of the tree declares
// (itself or through a parent) where it runs, and that what it declares
// about caller paths fits its definition.
func TestEveryCommandPlaced(t *testing.T) {
	app := newApp(io.Discard, io.Discard, nil)
	infos := commandInfosOf(app)
	if infos == nil {
		t.Fatal("the app carries no command declarations")
	}
	n := 0
	walkCommands(app.Commands, nil, func(path []*cli.Command) {
		n++
		name := pathName(path)
		if infos.placementOf(path) == unplaced {
			t.Errorf("%s: no placement: wrap its definition in e.forwarded, e.readOnly or e.runsHere", name)
		}
		c := path[len(path)-1]
		pos, _ := infos.callerPaths(c)
		words := strings.Fields(c.ArgsUsage)
		for _, i := range pos {
			if i >= len(words) {
				t.Errorf("%s: caller path argument %d, but ArgsUsage %q has %d", name, i, c.ArgsUsage, len(words))
			}
		}
		if len(pos) > 0 && infos.placementOf(path) == runsHere {
			t.Errorf("%s: runs here but declares caller paths", name)
		}
	})
	if n < 40 {
		t.Fatalf("walked %d commands: the tree is not the app's", n)
	}
	// What the hand-kept lists said before the declarations.
	for name, want := range map[string]placement{
		"mount": runsHere, "vtape create": runsHere, "key create": runsHere, "key change-passphrase": runsHere,
		"key restore": runsHere, "barcode-sheet": runsHere, "completion": runsHere, "__complete": runsHere, "__gendoc": runsHere,
		"media list": readOnly, "media content": readOnly, "changer status": readOnly, "changer list": readOnly,
		"changer config": readOnly, "drive list": readOnly, "drive config": readOnly, "pool list": readOnly,
		"pool config": readOnly, "status": readOnly, "key list": readOnly, "key show": readOnly,
		"backup": forwarded, "restore": forwarded, "key tape-config": forwarded, "key remove": forwarded,
		"media destroy": forwarded, "changer transfer": forwarded, "label": forwarded, "catalog": forwarded,
		"daemon": runsHere, "task list": forwarded, "backup-job run": forwarded, "notify update": forwarded,
	} {
		path := commandPath(app, append([]string{"tapefs"}, strings.Fields(name)...))
		if pathName(path) != name {
			t.Errorf("%s: not in the tree (found %q)", name, pathName(path))
			continue
		}
		if got := infos.placementOf(path); got != want {
			t.Errorf("%s: placement %d, want %d", name, got, want)
		}
	}
	for _, args := range [][]string{{"tapefs"}, {"tapefs", "help"}, {"tapefs", "h", "drive"}} {
		if got := infos.placementOf(commandPath(app, args)); got != runsHere {
			t.Errorf("%q: placement %d, want runsHere", args, got)
		}
	}
}

// TestForwardArgsCallerPaths checks that the file names declared on the
// definitions (positional arguments, TakesFile flags) are made absolute
// and nothing else is.
func TestForwardArgsCallerPaths(t *testing.T) {
	t.Setenv("TAPEFS_DRIVE", "")
	t.Setenv("PROXMOX_TAPE_DRIVE", "")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(wd, p) }
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"backup", "src", "pool1"}, []string{"backup", abs("src"), "pool1"}},
		{[]string{"backup", "--group", "g", "/abs/src", "pool1"}, []string{"backup", "--group", "g", "/abs/src", "pool1"}},
		{[]string{"restore", "0e4e9a5c-7d5e-4f37-9d35-3c6c8b1f0a11", "out", "snap"}, []string{"restore", "0e4e9a5c-7d5e-4f37-9d35-3c6c8b1f0a11", abs("out"), "snap"}},
		{[]string{"restore", "--path", "rel/glob", "0e4e9a5c-7d5e-4f37-9d35-3c6c8b1f0a11", "/t"}, []string{"restore", "--path", "rel/glob", "0e4e9a5c-7d5e-4f37-9d35-3c6c8b1f0a11", "/t"}},
		{[]string{"drive", "create", "d0", "--path", "lib"}, []string{"drive", "create", "--path", abs("lib"), "d0"}},
		{[]string{"changer", "update", "c0", "--path=lib"}, []string{"changer", "update", "--path=" + abs("lib"), "c0"}},
		{[]string{"pool", "create", "p", "--drive", "rel"}, []string{"pool", "create", "--drive", "rel", "p"}},
		{[]string{"backup-job", "create", "j", "--source", "a", "--source=/b", "--pool", "pa"}, []string{"backup-job", "create", "--source", abs("a"), "--source=/b", "--pool", "pa", "j"}},
		{[]string{"notify", "update", "--sendmail", "bin/sm", "--command=hook", "--mail-to", "x"}, []string{"notify", "update", "--sendmail", abs("bin/sm"), "--command=" + abs("hook"), "--mail-to", "x"}},
	}
	for _, tt := range tests {
		app := newApp(io.Discard, io.Discard, nil)
		argv := append([]string{"tapefs"}, tt.args...)
		path := commandPath(app, cliapp.Reorder(app, argv))
		got, err := forwardArgs(app, path, argv)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: forwarded %q, want %q", tt.args, got, tt.want)
		}
	}
}
