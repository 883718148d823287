package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/devices"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// env is what every command gets: where config and state live, where to
// print, and the engine, created on first use.
type env struct {
	stdin          io.Reader // passwords (key commands)
	stdout, stderr io.Writer
	// console writes log lines and the progress bar to stderr.
	console *console
	cliapp.Settings
	eng *engine.Engine
	// shared: eng belongs to the mount daemon, which runs this command
	// for a forwarded CLI call or a control file; it is not closed after
	// the command.
	shared bool
	// serve: while this process holds its own engine, it serves the
	// read-only commands of other processes (jobserver.go); stopServe
	// ends that.
	serve     bool
	stopServe func()
}

// catalogWait is how long a command run without a daemon waits for the
// catalog while another process holds it.
const catalogWait = 3 * time.Second

var (
	usagef    = cliapp.Usagef
	args      = cliapp.Args
	driveFlag = cliapp.DriveFlag
)

func (e *env) opener() *devices.Opener { return &devices.Opener{StateDir: e.StateDir} }

// engine creates the engine on first use.
func (e *env) engine() (*engine.Engine, error) {
	if e.eng != nil {
		return e.eng, nil
	}
	wait := time.Duration(0)
	if e.serve {
		// Another command may hold the catalog for a moment (a
		// read-only one that runs in its own process); a long job
		// makes this fail after the wait, naming it.
		wait = catalogWait
	}
	eng, err := engine.New(engine.Options{
		ConfigDir:   e.ConfigDir,
		StateDir:    e.StateDir,
		CatalogWait: wait,
		Opener:      e.opener(),
		Logf:        e.console.logf,
	})
	if err != nil {
		return nil, err
	}
	e.eng = eng
	if e.serve {
		e.stopServe = serveReadOnly(e.StateDir, e.ConfigDir, eng, e.stderr)
	}
	return eng, nil
}

func (e *env) close() {
	if e.stopServe != nil {
		e.stopServe()
		e.stopServe = nil
	}
	if e.eng != nil && !e.shared {
		if err := e.eng.Close(); err != nil {
			fmt.Fprintf(e.stderr, "tapefs: closing: %v\n", err)
		}
		e.eng = nil
	}
}

func (e *env) print(t *output.Table, v any) error { return output.Print(e.stdout, e.Format, t, v) }

// newApp returns the tapefs command tree printing to stdout and stderr.
// With a non-nil shared engine (the mount daemon's), commands use it
// instead of creating their own.
func newApp(stdout, stderr io.Writer, shared *engine.Engine) *cli.App {
	return (&env{stdin: os.Stdin, stdout: stdout, stderr: stderr, console: newConsole(stderr), eng: shared, shared: shared != nil}).app()
}

// newCLIApp is the command tree of a tapefs process run from the command
// line without a daemon: while a command holds its engine, the read-only
// commands of other processes run in it (jobserver.go).
func newCLIApp(stdout, stderr io.Writer) *cli.App {
	return (&env{stdin: os.Stdin, stdout: stdout, stderr: stderr, console: newConsole(stderr), serve: true}).app()
}

func (e *env) app() *cli.App {
	app := cliapp.NewApp("tapefs", "tape backup: drives, changers, media pools, labels, backup and restore")
	app.Writer, app.ErrWriter = e.stdout, e.stderr
	app.Commands = []*cli.Command{
		e.changerCommand(),
		e.driveCommand(),
		e.poolCommand(),
		e.mediaCommand(),
		e.vtapeCommand(),
		e.backupCommand(),
		e.commitCommand(),
		e.exportMediaSetCommand(),
		e.restoreCommand(),
		e.catalogCommand(),
		e.mountCommand(),
		e.daemonCommand(),
		e.keyCommand(),
		e.taskCommand(),
		e.backupJobCommand(),
		e.notifyCommand(),
		e.barcodeSheetCommand(),
	}
	app.Commands = append(app.Commands, e.tapeCommands()...)
	e.asTasks(app.Commands, "")
	cliapp.Prepare(app.Commands, func(s cliapp.Settings) error { e.Settings = s; return nil }, e.close)
	cliapp.Document(app, completeValues, tapefsDescription, true, fsPage)
	return app
}

// parseSlots parses a comma separated slot list like "15,16".
func parseSlots(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, usagef("invalid slot list %q: expected positive numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func formatSlots(s []int) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// parseSize parses sizes like "4GiB", "800M", "1T".
func parseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<62 {
		return 0, usagef("invalid size %q: use a number with a unit, like 4GiB or 800MB", s)
	}
	return int64(n), nil
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func optString(c *cli.Context, name string) *string {
	if !c.IsSet(name) {
		return nil
	}
	s := c.String(name)
	return &s
}

// withName is the action of a command that takes one NAME argument and
// works on the engine.
func (e *env) withName(run func(c *cli.Context, eng *engine.Engine, name string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		a, err := args(c, "NAME")
		if err != nil {
			return err
		}
		eng, err := e.engine()
		if err != nil {
			return err
		}
		return run(c, eng, a[0])
	}
}
