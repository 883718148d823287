package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// exportMediaSetCommand is `tapefs export-media-set POOL`: move every tape
// of the pool's current media set to import/export slots (what the
// pools/<pool>/export control file runs, and what backup and commit do
// with --export-media-set). The export is runExportMediaSet, its table
// exportTable.
func (e *env) exportMediaSetCommand() *cli.Command {
	return &cli.Command{
		Name:      "export-media-set",
		Usage:     "move every tape of a pool's current media set to import/export slots",
		ArgsUsage: "POOL",
		Description: "Exports the pool's current media set (the one backups append to) with the pool's drive: each tape of the set\n" +
			"goes to a free import/export slot of the library, a tape in the drive is unloaded first, and the set is closed,\n" +
			"so the next backup starts a new media set. The operator can then take the tapes to a vault.",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("export-media-set: expected POOL")
			}
			res, err := e.runExportMediaSet(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			return e.print(exportTable(res), res)
		},
	}
}

// runExportMediaSet exports the pool's current media set.
func (e *env) runExportMediaSet(ctx context.Context, pool string) (engine.ExportResult, error) {
	eng, err := e.engine()
	if err != nil {
		return engine.ExportResult{}, err
	}
	return eng.ExportMediaSet(ctx, pool)
}

func exportTable(res engine.ExportResult) *output.Table {
	t := &output.Table{Columns: []string{"media-set-uuid", "media"}}
	t.Add(res.Set.String(), strings.Join(res.Labels, " "))
	return t
}
