package main

import (
	"strconv"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// mediaExtraCommands are the media subcommands that work on media sets.
func (e *env) mediaExtraCommands() []*cli.Command {
	return []*cli.Command{
		e.readOnly(&cli.Command{
			Name:  "content",
			Usage: "list the snapshots on each tape (from the catalog)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "pool", Usage: "only this pool"},
				&cli.StringFlag{Name: "label-text", Usage: "only this tape"},
				&cli.StringFlag{Name: "media-set", Usage: "only this media set (uuid)"},
			},
			Action: func(c *cli.Context) error {
				f := engine.ContentFilter{Pool: c.String("pool"), LabelText: c.String("label-text")}
				if s := c.String("media-set"); s != "" {
					id, err := uuid.Parse(s)
					if err != nil {
						return usagef("invalid media set uuid %q", s)
					}
					f.Set = id
				}
				eng, err := e.engine()
				if err != nil {
					return err
				}
				rows, err := eng.MediaContent(f)
				if err != nil {
					return err
				}
				t := &output.Table{Columns: []string{"label-text", "pool", "media-set-name", "seq-nr", "snapshot", "media-set-uuid"}}
				for _, r := range rows {
					t.Add(r.LabelText, r.Pool, r.MediaSetName, strconv.FormatUint(r.Seq, 10), r.Snapshot, r.MediaSet.String())
				}
				if rows == nil {
					rows = []engine.ContentRow{}
				}
				return e.print(t, rows)
			},
		}),
		{
			Name:      "destroy",
			Usage:     "remove a tape from the inventory",
			ArgsUsage: "LABEL",
			Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "even if it holds data that is not expired"}},
			Action: func(c *cli.Context) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				eng, err := e.engine()
				if err != nil {
					return err
				}
				return eng.MediaDestroy(a[0], c.Bool("force"))
			},
		},
		{
			Name:      "set-status",
			Usage:     "mark a tape full, damaged or retired, or clear the mark",
			ArgsUsage: "LABEL full|damaged|retired|clear",
			Action: func(c *cli.Context) error {
				a, err := args(c, "LABEL", "STATUS")
				if err != nil {
					return err
				}
				eng, err := e.engine()
				if err != nil {
					return err
				}
				return eng.MediaSetStatus(a[0], a[1])
			},
		},
		{
			Name:      "move",
			Usage:     "record where an offline tape is: in a vault, or just offline",
			ArgsUsage: "LABEL",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "vault", Usage: "vault `NAME`"},
				&cli.BoolFlag{Name: "offline", Usage: "not in any vault"},
			},
			Action: func(c *cli.Context) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				if (c.String("vault") == "") == !c.Bool("offline") {
					return usagef("media move: give exactly one of --vault NAME or --offline")
				}
				eng, err := e.engine()
				if err != nil {
					return err
				}
				return eng.MediaMove(a[0], c.String("vault"))
			},
		},
	}
}
