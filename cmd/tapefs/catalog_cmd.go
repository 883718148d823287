package main

import (
	"context"
	"strconv"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// `tapefs catalog`: read the catalog of the tape in the drive back into
// the catalog (runCatalog); catalogTable is also the output of
// `tapefs inventory --catalog`, which reads several tapes.

// catalogOpts are the options of `tapefs catalog`.
type catalogOpts struct {
	Drive string
	// Scan reads every archive instead of the tape's catalog archive.
	Scan bool
	// Force reads the tape even if the catalog already has it.
	Force bool
}

func (e *env) catalogCommand() *cli.Command {
	return &cli.Command{
		Name:  "catalog",
		Usage: "read the catalog of the tape in the drive back into the catalog",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "scan", Usage: "read every archive instead of the tape's catalog archive"},
			&cli.BoolFlag{Name: "force", Usage: "read it even if the catalog already has this tape"},
			driveFlag(),
		},
		Action: func(c *cli.Context) error {
			r, err := e.runCatalog(c.Context, catalogOpts{Drive: c.String("drive"), Scan: c.Bool("scan"), Force: c.Bool("force")})
			if err != nil {
				return err
			}
			return e.print(catalogTable([]engine.CatalogResult{*r}), r)
		},
	}
}

// runCatalog reads the tape in opts.Drive into the catalog.
func (e *env) runCatalog(ctx context.Context, opts catalogOpts) (*engine.CatalogResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.RestoreCatalog(ctx, opts.Drive, opts.Scan, opts.Force)
}

func catalogTable(rs []engine.CatalogResult) *output.Table {
	t := &output.Table{Columns: []string{"label-text", "media-set-uuid", "seq-nr", "chunks", "snapshots", "mode"}}
	for _, r := range rs {
		set := ""
		if r.Set != uuid.Nil {
			set = r.Set.String()
		}
		t.Add(r.LabelText, set, strconv.FormatUint(r.Seq, 10), strconv.Itoa(r.Chunks), strconv.Itoa(len(r.Snapshots)), r.Mode)
	}
	return t
}
