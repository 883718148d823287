package cliapp

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestPrepareArguments checks that a command without ArgsUsage refuses
// arguments as bad usage before its action runs (`tapefs clean junk` ran
// a cleaning cycle), and that one with ArgsUsage gets them.
func TestPrepareArguments(t *testing.T) {
	tests := []struct {
		argv    []string
		ran     string
		wantErr string
	}{
		{[]string{"clean"}, "clean", ""},
		{[]string{"clean", "junk"}, "", `clean: unexpected argument "junk"`},
		{[]string{"media", "list", "--state-dir", "/x", "extra"}, "", `media list: unexpected argument "extra"`},
		{[]string{"media", "list", "--state-dir", "/x"}, "media list", ""},
		{[]string{"load-media", "TEST01L8"}, "load-media", ""},
	}
	for _, tt := range tests {
		ran := ""
		act := func(name string) cli.ActionFunc {
			return func(c *cli.Context) error { ran = name; return nil }
		}
		app := &cli.App{
			Name: "tapefs",
			Commands: []*cli.Command{
				{Name: "clean", Action: act("clean")},
				{Name: "load-media", ArgsUsage: "LABEL", Action: act("load-media")},
				{Name: "media", Subcommands: []*cli.Command{{Name: "list", Action: act("media list")}}},
			},
		}
		Prepare(app.Commands, func(Settings) error { return nil }, func() {})
		err := app.Run(append([]string{"tapefs"}, tt.argv...))
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.argv, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ExitCode(err) != 2 {
			t.Errorf("%q: error %v (exit %d), want %q with exit 2", tt.argv, err, ExitCode(err), tt.wantErr)
		}
		if ran != tt.ran {
			t.Errorf("%q ran %q, want %q", tt.argv, ran, tt.ran)
		}
	}
}
