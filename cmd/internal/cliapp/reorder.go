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
	path, flags, pos, dash := Split(app, args)
	if len(path) == 1 && len(pos) > 0 && len(app.Commands) > 0 {
		// The first positional names no command: keep it first, so the
		// app reports the unknown command rather than a flag that only
		// the commands define (`pmt --device X eom`).
		return append(append(path, pos...), flags...)
	}
	out := append(path, flags...)
	if dash {
		// "--" was given: keep it so dash arguments stay positional.
		out = append(out, "--")
	}
	return append(out, pos...)
}

// Split parts args (program name first) into the command path (the
// program name and the command names), the flags with their values, and
// the positional arguments. dash reports a "--" in args: the positional
// arguments then include everything after it, and must follow a "--" to
// stay positional. args must not be empty.
func Split(app *cli.App, args []string) (path, flags, pos []string, dash bool) {
	valued := valuedFlags(app)
	path = []string{args[0]}
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
	if i < len(args) {
		return path, flags, append(pos, args[i+1:]...), true
	}
	return path, flags, pos, false
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
