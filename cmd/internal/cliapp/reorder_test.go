package cliapp

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReorder(t *testing.T) {
	app := &cli.App{
		Flags: []cli.Flag{&cli.StringFlag{Name: "state-dir"}},
		Commands: []*cli.Command{{
			Name: "changer",
			Subcommands: []*cli.Command{{
				Name:  "create",
				Flags: []cli.Flag{&cli.StringFlag{Name: "path"}, &cli.BoolFlag{Name: "force"}},
			}},
		}},
	}
	cases := []struct{ in, want []string }{
		{[]string{"t", "changer", "create", "sl3", "--path", "/dev/x"}, []string{"t", "changer", "create", "--path", "/dev/x", "sl3"}},
		{[]string{"t", "--state-dir", "/s", "changer", "create", "sl3", "--force", "--path=/p"}, []string{"t", "changer", "create", "--state-dir", "/s", "--force", "--path=/p", "sl3"}},
		{[]string{"t", "--path", "/p", "changer", "--force", "create", "sl3"}, []string{"t", "changer", "create", "--path", "/p", "--force", "sl3"}},
		{[]string{"t", "changer", "create", "--output-format", "json", "a", "--", "-b"}, []string{"t", "changer", "create", "--output-format", "json", "--", "a", "-b"}},
		{[]string{"t", "changer", "create", "a", "b", "--force"}, []string{"t", "changer", "create", "--force", "a", "b"}},
		// A positional that happens to be a command name stays positional.
		{[]string{"t", "changer", "create", "x", "create"}, []string{"t", "changer", "create", "x", "create"}},
		// An unknown command stays in front of the flags, so it is what
		// gets reported (not a flag only the commands define).
		{[]string{"t", "--path", "/p", "eom"}, []string{"t", "eom", "--path", "/p"}},
		{[]string{"t", "--state-dir", "/s", "eom", "3"}, []string{"t", "eom", "3", "--state-dir", "/s"}},
	}
	for _, c := range cases {
		if got := Reorder(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Reorder(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
