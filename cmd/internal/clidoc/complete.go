// Package clidoc derives what a shell user expects around a command from
// its urfave/cli command tree, so none of it can drift from the commands:
// shell completion (bash, zsh, fish scripts that ask the program itself,
// through a hidden `__complete` command, what fits the word being typed)
// and man pages (markdown rendered to roff with go-md2man). tapefs, pmt
// and pmtx each attach its commands with Attach.
package clidoc

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Values returns the live values of a kind of argument: "drive",
// "changer", "pool", "key", "label-text", "media-set", "snapshot", or the
// name of a flag whose values the program knows ("layout"). flags holds
// the values of the flags already typed on the line (by their first name),
// so a --config-dir given there is honoured. Unknown kinds return nil.
type Values func(kind string, flags map[string]string) []string

// FilesDirective is the one line __complete prints when the shell should
// complete file names itself.
const FilesDirective = ":files"

// Completion is the answer for the word being typed.
type Completion struct {
	Files  bool     // complete file names
	Values []string // candidates that start with the typed word
}

// Complete completes the last of words (the command line after the
// program name; the last word is the one being typed, "" after a space)
// against app's command tree.
func Complete(app *cli.App, words []string, values Values) Completion {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var path []*cli.Command
	flagsOf := func() []cli.Flag {
		if len(path) == 0 {
			return app.Flags
		}
		return path[len(path)-1].Flags
	}
	subs := func() []*cli.Command {
		if len(path) == 0 {
			return app.Commands
		}
		return path[len(path)-1].Subcommands
	}
	typed := map[string]string{}
	var positional []string
	var pending cli.Flag // a flag whose value is the next word
	dash := false
	for _, w := range words[:len(words)-1] {
		switch {
		case pending != nil:
			typed[pending.Names()[0]] = w
			pending = nil
		case dash || !strings.HasPrefix(w, "-") || w == "-":
			if len(positional) == 0 {
				if c := findCommand(subs(), w); c != nil {
					path = append(path, c)
					continue
				}
			}
			positional = append(positional, w)
		case w == "--":
			dash = true
		default:
			name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := findFlag(flagsOf(), name)
			if f == nil {
				continue
			}
			switch {
			case hasVal:
				typed[f.Names()[0]] = val
			case takesValue(f):
				pending = f
			default:
				typed[f.Names()[0]] = "true"
			}
		}
	}
	complete := func(kind, prefix string, choices []string) Completion {
		if kind == "file" {
			return Completion{Files: true}
		}
		if choices == nil {
			choices = values(kind, typed)
		}
		var out []string
		for _, v := range choices {
			if strings.HasPrefix(prefix+v, cur) {
				out = append(out, prefix+v)
			}
		}
		return Completion{Values: out}
	}
	if pending != nil {
		kind, choices := flagKind(pending)
		return complete(kind, "", choices)
	}
	if !dash && strings.HasPrefix(cur, "-") {
		if name, _, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			if f := findFlag(flagsOf(), name); f != nil {
				kind, choices := flagKind(f)
				return complete(kind, cur[:strings.Index(cur, "=")+1], choices)
			}
			return Completion{}
		}
		var names []string
		for _, f := range flagsOf() {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, "--"+n)
				}
			}
		}
		names = append(names, "--help")
		if len(path) == 0 && !app.HideVersion {
			names = append(names, "--version")
		}
		return complete("", "", names)
	}
	if cmds := subs(); len(cmds) > 0 && len(positional) == 0 {
		var names []string
		for _, c := range cmds {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		return complete("", "", names)
	}
	if len(path) == 0 {
		return Completion{}
	}
	kind, choices := argKind(path, len(positional))
	if kind == "" && choices == nil {
		return Completion{}
	}
	return complete(kind, "", choices)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	df, ok := f.(cli.DocGenerationFlag)
	return ok && df.TakesValue()
}

// kinds maps the name of a flag or of an argument (as ArgsUsage spells it,
// lower-cased) to the kind of value it takes. Names not here are passed to
// Values as they are.
var kinds = map[string]string{
	"label": "label-text", "label-text": "label-text",
	"fingerprint": "key", "encrypt": "key", "key": "key",
	"media-set": "media-set", "media-set-uuid": "media-set",
	"snapshot": "snapshot",
	"dir":      "file", "target": "file", "source": "file", "mountpoint": "file",
	"path": "file", "file": "file", "output": "file", "key-file": "file", "device": "file",
	"config-dir": "file", "state-dir": "file",
}

// groups are the command groups whose NAME argument names one of the
// group's objects.
var groups = []string{"drive", "changer", "pool", "key"}

func flagKind(f cli.Flag) (string, []string) {
	name := f.Names()[0]
	if name == "output-format" {
		return "", []string{"text", "json", "json-pretty"}
	}
	if k, ok := kinds[name]; ok {
		return k, nil
	}
	return name, nil
}

// argKind returns the kind of the n-th positional argument of the command
// at the end of path, from its ArgsUsage ("LABEL full|damaged|retired|clear":
// a label, then one of four words).
func argKind(path []*cli.Command, n int) (string, []string) {
	cmd := path[len(path)-1]
	tokens := strings.Fields(strings.NewReplacer("[", " ", "]", " ", "...", " ").Replace(cmd.ArgsUsage))
	if len(tokens) == 0 {
		return "", nil
	}
	if n >= len(tokens) {
		// a repeated last argument ("[SNAPSHOT ...]")
		if !strings.Contains(cmd.ArgsUsage, "...") {
			return "", nil
		}
		n = len(tokens) - 1
	}
	tok := tokens[n]
	if strings.Contains(tok, "|") {
		return "", strings.Split(tok, "|")
	}
	name := strings.ToLower(tok)
	if name == "name" {
		for i := len(path) - 2; i >= 0; i-- {
			if slices.Contains(groups, path[i].Name) {
				return path[i].Name, nil
			}
		}
		return "", nil
	}
	if k, ok := kinds[name]; ok {
		return k, nil
	}
	return name, nil
}

// Print writes c as __complete answers: one candidate a line, or the
// files directive.
func (c Completion) Print(w io.Writer) {
	if c.Files {
		fmt.Fprintln(w, FilesDirective)
		return
	}
	for _, v := range c.Values {
		fmt.Fprintln(w, v)
	}
}
