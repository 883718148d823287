package clidoc

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

// ExtraPage is a man page made from a markdown document of the repository
// (docs/fuse.md as tapefs.fs(5)).
type ExtraPage struct {
	Source  string // path below the --docs directory
	Name    string
	Section int
	Summary string
}

// Attach adds to app the `completion SHELL` command, which prints a
// completion script, and two hidden commands: `__complete WORDS...`, which
// the scripts call, and `__gendoc DIR`, which writes the man pages (info
// and extra) into DIR (what `make man` runs). Call it after the app's
// commands are complete.
func Attach(app *cli.App, values Values, info ManInfo, extra ...ExtraPage) {
	app.Commands = append(app.Commands,
		&cli.Command{
			Name:      "completion",
			Usage:     "print the shell completion script (bash, zsh or fish)",
			ArgsUsage: "bash|zsh|fish",
			Description: "Prints a script that completes " + app.Name + "'s commands, options and live values (drive, changer,\n" +
				"pool, key, label-text, media-set and snapshot names from the configuration and catalog).\n" +
				"Load it with `source <(" + app.Name + " completion bash)` (bash) or `source <(" + app.Name + " completion zsh)` (zsh),\n" +
				"or `" + app.Name + " completion fish | source` (fish); `make install` installs it where each shell looks.",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit(fmt.Sprintf("%s completion: expected one shell: bash, zsh or fish", app.Name), 2)
				}
				s, err := Script(c.Args().First(), app.Name)
				if err != nil {
					return cli.Exit(fmt.Sprintf("%s completion: %v", app.Name, err), 2)
				}
				_, err = fmt.Fprint(c.App.Writer, s)
				return err
			},
		},
		&cli.Command{
			Name:            "__complete",
			Hidden:          true,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				words := c.Args().Slice()
				if len(words) > 0 && words[0] == "--" {
					words = words[1:]
				}
				Complete(c.App, words, values).Print(c.App.Writer)
				return nil
			},
		},
		&cli.Command{
			Name:      "__gendoc",
			Hidden:    true,
			ArgsUsage: "DIR",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "date", Usage: "date the pages carry (YYYY-MM-DD)"},
				&cli.StringFlag{Name: "docs", Value: "docs", Usage: "directory of the markdown documents"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("__gendoc: expected DIR", 2)
				}
				in := info
				in.Date = c.String("date")
				pages := ManPages(c.App, in)
				for _, x := range extra {
					doc, err := os.ReadFile(filepath.Join(c.String("docs"), x.Source))
					if err != nil {
						return err
					}
					pages = append(pages, Markdown(doc, x.Name, x.Section, x.Summary, in))
				}
				dir := c.Args().First()
				for _, p := range pages {
					sub := filepath.Join(dir, fmt.Sprintf("man%d", p.Section))
					if err := os.MkdirAll(sub, 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(sub, p.File()), p.Roff, 0o644); err != nil {
						return err
					}
				}
				return nil
			},
		},
	)
}
