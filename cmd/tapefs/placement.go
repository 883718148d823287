package main

import (
	"github.com/urfave/cli/v2"
)

// Where a command runs while a daemon (or a CLI job, jobserver.go) holds
// the state directory, and which of its arguments name files on the
// caller's side, is declared on the command definitions: a definition is
// wrapped in e.runsHere, e.readOnly or e.forwarded (a subcommand inherits
// its parent's placement), a positional argument that is a caller's file
// name is declared with e.callerPathArgs, and a flag that is one has
// TakesFile set. forward, the job server and forwardArgs read these
// declarations from the command tree (commandInfosOf); TestEveryCommandPlaced
// checks that every command of the tree has a placement.

// placement says where a command runs.
type placement int

const (
	// unplaced: not declared (the parent's placement applies).
	unplaced placement = iota
	// forwarded: sent to a daemon serving the state directory, else run
	// in the calling process.
	forwarded
	// readOnly: changes nothing; forwarded to the daemon, or to the
	// process of a CLI job that holds the state (jobserver.go).
	readOnly
	// runsHere: runs in the calling process even while a daemon runs:
	// the daemon itself, the virtual library tools (they work on library
	// files under a short lock), the key commands that read a password
	// from the caller's terminal (they work on the key store under its
	// own lock; `key restore` asks the daemon for the tape's key config
	// with the forwarded `key tape-config`), and the commands that need
	// neither engine nor state (barcode-sheet, completion, __gendoc;
	// __complete asks the daemon itself for what it needs).
	runsHere
)

// commandInfo is what a command declares about itself.
type commandInfo struct {
	place placement
	// pathArgs are the indexes of the positional arguments that are file
	// names on the caller's side.
	pathArgs []int
}

// commandInfos holds the declarations of one command tree.
type commandInfos map[*cli.Command]commandInfo

// metadataKey is where the app keeps its commandInfos.
const metadataKey = "tapefs.commands"

// place declares c's placement unless its definition declared one
// already (the innermost wrapper wins: app() places the top-level
// commands the definitions did not place).
func (e *env) place(p placement, c *cli.Command) *cli.Command {
	ci := e.cmds[c]
	if ci.place != unplaced {
		return c
	}
	ci.place = p
	e.cmds[c] = ci
	return c
}

// forwarded declares that c and its subcommands (unless they declare
// otherwise) run on the daemon while one runs.
func (e *env) forwarded(c *cli.Command) *cli.Command { return e.place(forwarded, c) }

// readOnly declares that c changes nothing (see placement readOnly).
func (e *env) readOnly(c *cli.Command) *cli.Command { return e.place(readOnly, c) }

// runsHere declares that c always runs in the calling process.
func (e *env) runsHere(c *cli.Command) *cli.Command { return e.place(runsHere, c) }

// callerPathArgs declares that c's positional arguments at the indexes are
// file names on the caller's side.
func (e *env) callerPathArgs(c *cli.Command, indexes ...int) *cli.Command {
	ci := e.cmds[c]
	ci.pathArgs = indexes
	e.cmds[c] = ci
	return c
}

// commandInfosOf returns the declarations of app's command tree.
func commandInfosOf(app *cli.App) commandInfos {
	m, _ := app.Metadata[metadataKey].(commandInfos)
	return m
}

// placementOf is the placement of the last command of path: its own, else
// its nearest ancestor's. An empty path (no command, or `help`) runs here.
func (m commandInfos) placementOf(path []*cli.Command) placement {
	if len(path) == 0 {
		return runsHere
	}
	for i := len(path) - 1; i >= 0; i-- {
		if p := m[path[i]].place; p != unplaced {
			return p
		}
	}
	return unplaced
}

// callerPaths are the file-name arguments of cmd: positional indexes and
// flag names.
func (m commandInfos) callerPaths(cmd *cli.Command) (pos []int, flags []string) {
	for _, f := range cmd.Flags {
		if takesFile(f) {
			flags = append(flags, f.Names()...)
		}
	}
	return m[cmd].pathArgs, flags
}

// takesFile reports whether a flag is declared as a file name (TakesFile).
func takesFile(f cli.Flag) bool {
	switch f := f.(type) {
	case *cli.StringFlag:
		return f.TakesFile
	case *cli.PathFlag:
		return f.TakesFile
	case *cli.StringSliceFlag:
		return f.TakesFile
	}
	return false
}
