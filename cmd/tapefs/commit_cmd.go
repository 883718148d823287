package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// commitCommand is `tapefs commit POOL [GROUP ...]`: back up groups of the
// pool's incoming/ tree (what the pools/<pool>/commit control file runs).
// Flags → engine.CommitOptions (commitOptions), the commit (runCommit),
// its table (commitTable).
func (e *env) commitCommand() *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "back up groups of a pool's incoming/ tree as snapshots, then empty them",
		ArgsUsage: "POOL [GROUP ...]",
		Description: "Each top-level directory of pools/POOL/incoming/ is a group; without GROUP arguments every group is committed.\n" +
			"Each group becomes snapshot GROUP/TIME; the command returns when the snapshots are on tape and in the catalog,\n" +
			"and then removes the committed files from incoming/.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "eject-media", Usage: "eject the tape when done"},
			&cli.BoolFlag{Name: "export-media-set", Usage: "move every tape of the media set to import/export slots when done"},
			&cli.BoolFlag{Name: "force-media-set", Usage: "start a new media set"},
		},
		Action: func(c *cli.Context) error {
			opts, err := commitOptions(c)
			if err != nil {
				return err
			}
			res, err := e.runCommit(c.Context, opts)
			if len(res) > 0 {
				if perr := e.print(commitTable(res), res); err == nil {
					err = perr
				}
			}
			return err
		},
	}
}

// commitOptions are the options of a commit command line.
func commitOptions(c *cli.Context) (engine.CommitOptions, error) {
	if c.NArg() < 1 {
		return engine.CommitOptions{}, usagef("commit: expected POOL [GROUP ...]")
	}
	return engine.CommitOptions{
		Pool: c.Args().First(), Groups: c.Args().Tail(),
		EjectMedia: c.Bool("eject-media"), ExportMediaSet: c.Bool("export-media-set"), ForceMediaSet: c.Bool("force-media-set"),
	}, nil
}

// runCommit commits the groups. The snapshots written before a failure
// are returned with it.
func (e *env) runCommit(ctx context.Context, opts engine.CommitOptions) ([]*engine.BackupResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.Commit(ctx, opts)
}

// commitTable is one row per snapshot written.
func commitTable(res []*engine.BackupResult) *output.Table {
	t := &output.Table{Columns: []string{"snapshot", "media-set-uuid", "files", "bytes", "new-bytes", "tapes", "duration"}}
	for _, r := range res {
		t.Add(r.Snapshot, r.Set.String(), strconv.FormatInt(r.Files, 10), humanize.IBytes(uint64(r.Bytes)),
			humanize.IBytes(uint64(r.NewBytes)), strings.Join(r.Tapes, ", "), time.Duration(r.ElapsedNanos).Round(time.Millisecond).String())
	}
	return t
}
