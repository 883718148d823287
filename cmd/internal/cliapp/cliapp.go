// Package cliapp holds what the tapefs, pmt and pmtx commands share on the
// command line: the common flags (--output-format, --config-dir,
// --state-dir), usage errors, and the exit code table.
package cliapp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/device"
	"tapefs/internal/version"
)

// UsageError marks bad command-line usage (exit code 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Unwrap makes a usage error match engine.ErrInvalid, so code that only
// knows engine error kinds (the FUSE errno translation) sees it as an
// invalid argument.
func (e UsageError) Unwrap() error { return engine.ErrInvalid }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// ExitCode maps an error to the exit code table documented in each
// command's package comment and in docs/cli.md.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) && coded.ExitCode() > 0 {
		if strings.HasPrefix(err.Error(), "No help topic for") {
			// urfave/cli's `help NOSUCH` exits with 3, the code for an
			// unknown drive or tape: it is bad usage.
			return 2
		}
		return coded.ExitCode()
	}
	switch engine.KindOf(err) {
	case engine.KindInvalid:
		return 2
	case engine.KindNotFound, engine.KindNoKey:
		return 3
	case engine.KindBusy:
		return 4
	case engine.KindNoMedium:
		return 5
	case engine.KindRefused, engine.KindExists:
		return 6
	case engine.KindNoSpace:
		return 7
	}
	return 1
}

// Settings are the values of the common flags.
type Settings struct {
	Format    output.Format
	ConfigDir string
	StateDir  string
}

// CommonFlags returns the flags every command takes.
func CommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output-format", Value: "text", Usage: "output format: text, json or json-pretty"},
		&cli.StringFlag{Name: "config-dir", Value: "/etc/tapefs", EnvVars: []string{"TAPEFS_CONFIG_DIR"}, Usage: "configuration directory (tape.cfg, media-pool.cfg)"},
		&cli.StringFlag{Name: "state-dir", Value: "/var/lib/tapefs", EnvVars: []string{"TAPEFS_STATE_DIR"}, Usage: "state directory (catalog, spool, virtual library registry)"},
	}
}

// DriveFlag is --drive with the TAPEFS_DRIVE / PROXMOX_TAPE_DRIVE defaults.
func DriveFlag() cli.Flag {
	return &cli.StringFlag{Name: "drive", EnvVars: []string{"TAPEFS_DRIVE", "PROXMOX_TAPE_DRIVE"}, Usage: "drive `NAME` (default: TAPEFS_DRIVE, or the only configured drive)"}
}

// lookup returns a common flag's value: given on the command itself, else
// on a parent, else from the environment or default.
func lookup(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.IsSet(name) {
			return cc.String(name)
		}
	}
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

// Read reads the common flags.
func Read(c *cli.Context) (Settings, error) {
	f, err := output.ParseFormat(lookup(c, "output-format"))
	if err != nil {
		return Settings{}, UsageError{err.Error()}
	}
	return Settings{Format: f, ConfigDir: lookup(c, "config-dir"), StateDir: lookup(c, "state-dir")}, nil
}

// Prepare gives every leaf command in cmds the common flags and a before
// step, and makes flag errors UsageErrors. before runs with the settings
// ahead of each action; after runs when the action returns. A command that
// defines a common flag itself keeps its own (`key paperkey
// --output-format text|html`, as in the reference); for such a command
// Settings.Format is Text. A leaf command without ArgsUsage takes no
// arguments: one given is bad usage, and the action does not run.
func Prepare(cmds []*cli.Command, before func(Settings) error, after func()) {
	onUsage := func(c *cli.Context, err error, _ bool) error { return UsageError{err.Error()} }
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsage
		if len(cmd.Subcommands) > 0 {
			if cmd.Action == nil {
				cmd.Action = groupAction
			}
			Prepare(cmd.Subcommands, before, after)
			continue
		}
		required := takeRequired(cmd)
		ownsFormat := false
		for _, f := range CommonFlags() {
			if hasFlag(cmd, f.Names()[0]) {
				ownsFormat = ownsFormat || f.Names()[0] == "output-format"
				continue
			}
			cmd.Flags = append(cmd.Flags, f)
		}
		action := cmd.Action
		noArgs := cmd.ArgsUsage == ""
		cmd.Action = func(c *cli.Context) error {
			if noArgs && c.NArg() > 0 {
				return Usagef("%s: unexpected argument %q: the command takes only options (see --help)", commandPath(c), c.Args().First())
			}
			for _, name := range required {
				if !c.IsSet(name) {
					return Usagef("%s: --%s is required", commandPath(c), name)
				}
			}
			var s Settings
			var err error
			if ownsFormat {
				s = Settings{Format: output.Text, ConfigDir: lookup(c, "config-dir"), StateDir: lookup(c, "state-dir")}
			} else if s, err = Read(c); err != nil {
				return err
			}
			if err := before(s); err != nil {
				return err
			}
			defer after()
			return action(c)
		}
	}
}

// groupAction is the action of the app and of every command that only
// groups subcommands: without arguments it shows the help, with one it
// reports an unknown command as bad usage (urfave/cli's own "No help
// topic" would exit with 3, the code for an unknown drive or tape).
func groupAction(c *cli.Context) error {
	path := commandPath(c)
	if !c.Args().Present() {
		if path == "" {
			return cli.ShowAppHelp(c)
		}
		return cli.ShowSubcommandHelp(c)
	}
	return Usagef("unknown command %q: see `%s --help`", c.Args().First(), strings.TrimSpace(c.App.Name+" "+path))
}

// commandPath returns the names of the commands c runs under, without the
// program's name ("changer create"; "" for the program itself).
func commandPath(c *cli.Context) string {
	var names []string
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" {
			names = append([]string{cc.Command.Name}, names...)
		}
	}
	if len(names) > 0 && names[0] == c.App.Name {
		names = names[1:]
	}
	return strings.Join(names, " ")
}

// takeRequired clears the Required mark of cmd's flags and returns their
// names, so the action can report a missing one as bad usage (urfave/cli
// reports it with exit code 1 after printing the help on stdout).
func takeRequired(cmd *cli.Command) []string {
	var names []string
	for _, f := range cmd.Flags {
		// Every urfave/cli flag type is a pointer to a struct with a
		// Required field.
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		req := v.Elem().FieldByName("Required")
		if req.IsValid() && req.Kind() == reflect.Bool && req.Bool() {
			req.SetBool(false)
			names = append(names, f.Names()[0])
		}
	}
	return names
}

func hasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// NewApp returns an app with the shared settings: errors are returned, not
// printed (main prints one line and maps the exit code), usage errors are
// UsageErrors, and --version prints the build (internal/version).
func NewApp(name, usage string) *cli.App {
	return &cli.App{
		Name:           name,
		Usage:          usage,
		Version:        version.Get().String(),
		Flags:          CommonFlags(),
		Action:         groupAction,
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   func(c *cli.Context, err error, _ bool) error { return UsageError{err.Error()} },
	}
}

// Args checks the number of positional arguments.
func Args(c *cli.Context, names ...string) ([]string, error) {
	a := c.Args().Slice()
	if len(a) != len(names) {
		return nil, Usagef("%s: expected %d argument(s) (%s), got %d", commandPath(c), len(names), strings.Join(names, " "), len(a))
	}
	return a, nil
}

// ScanTable is the table of `changer scan`, `drive scan`, `pmt scan` and
// `pmtx scan`.
func ScanTable(list []device.ScanEntry) *output.Table {
	t := &output.Table{Columns: []string{"path", "vendor", "model", "serial"}}
	for _, s := range list {
		t.Add(s.Path, s.Vendor, s.Model, s.Serial)
	}
	return t
}

// Main runs app with the process's arguments, cancels it on SIGINT and
// SIGTERM, prints an error as one line prefixed with the command's name,
// and exits with ExitCode. It is the whole main of each command, so
// deferred cleanup inside the app runs before the process exits.
func Main(app *cli.App) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := StartProfile(app.Name)
	err := Run(ctx, app, os.Args)
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
	}
	os.Exit(ExitCode(err))
}

// StartProfile writes a CPU profile of the whole command to the file that
// TAPEFS_CPUPROFILE names, for `go tool pprof`; without it, it does
// nothing. A profile that cannot be started is reported and skipped.
func StartProfile(name string) (stop func()) {
	p := os.Getenv("TAPEFS_CPUPROFILE")
	if p == "" {
		return func() {}
	}
	f, err := os.Create(p)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cpu profile: %v\n", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
