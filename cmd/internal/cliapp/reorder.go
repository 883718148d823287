package cliapp

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"
)

// Run runs app with args after moving each command's flags in front of its
// positional arguments. urfave/cli v2 stops reading flags at the first
// positional argument, but the reference's syntax puts them after
// (`tapefs changer create sl3 --path /dev/...`).
func Run(ctx context.Context, app *cli.App, args []string) error {
	return app.RunContext(ctx, Reorder(app, args))
}

// Reorder returns args as urfave/cli v2 wants them: the command path first,
// then every flag (wherever it was given: before the command, between
// command names, or after positional arguments), then the positional
// arguments. A "--" ends flag processing; what follows stays positional.
// When the first positional argument names no command, args keep their
// order after it, so the app reports the unknown command.
func Reorder(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	valued := valuedFlags(app)
	path := []string{args[0]}
	var flags, pos []string
	cmds := app.Commands
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && valued[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
			continue
		}
		if len(pos) == 0 {
			if sub := findCommand(cmds, a); sub != nil {
				path = append(path, a)
				cmds = sub.Subcommands
				continue
			}
		}
		pos = append(pos, a)
	}
	if len(path) == 1 && len(pos) > 0 && len(app.Commands) > 0 {
		// The first positional names no command: keep it first, so the
		// app reports the unknown command rather than a flag that only
		// the commands define (`pmt --device X eom`).
		out := append(append(path, pos...), flags...)
		return append(out, args[min(i, len(args)):]...)
	}
	out := append(path, flags...)
	if i < len(args) {
		// "--" was given: keep it so dash arguments stay positional.
		out = append(out, "--")
		out = append(out, pos...)
		return append(out, args[i+1:]...)
	}
	return append(out, pos...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// valuedFlags returns the names of all flags in the command tree that take
// a value (every kind but boolean flags).
func valuedFlags(app *cli.App) map[string]bool {
	out := map[string]bool{}
	add := func(flags []cli.Flag) {
		for _, f := range flags {
			_, isBool := f.(*cli.BoolFlag)
			for _, n := range f.Names() {
				out[n] = out[n] || !isBool
			}
		}
	}
	add(app.Flags)
	add(CommonFlags())
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			add(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	return out
}
