package clidoc

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Check generates app's man pages (as `__gendoc` does) and completes
// every command path, and returns what they miss: visible commands or
// options not in the pages, subcommands or options that completion does
// not offer. Each program's test calls it on its real command tree, so
// commands added later are checked without a test of their own.
func Check(app *cli.App, info ManInfo) []string {
	missing := MissingFromPages(app, ManPages(app, info))
	none := func(string, map[string]string) []string { return nil }
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		offered := Complete(app, append(slices.Clip(path), ""), none).Values
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			p := append(slices.Clip(path), c.Name)
			if !slices.Contains(offered, c.Name) {
				missing = append(missing, "completion of "+strings.Join(path, " ")+": "+c.Name)
			}
			if len(c.Subcommands) > 0 {
				walk(p, c.Subcommands)
				continue
			}
			flags := Complete(app, append(slices.Clip(p), "--"), none).Values
			for _, f := range c.Flags {
				if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
					continue
				}
				if n := f.Names()[0]; len(n) > 1 && !slices.Contains(flags, "--"+n) {
					missing = append(missing, "completion of "+strings.Join(p, " ")+": --"+n)
				}
			}
		}
	}
	walk(nil, app.Commands)
	return missing
}
