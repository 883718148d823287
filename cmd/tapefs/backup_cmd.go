package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// `tapefs backup SOURCE POOL`: flags → engine.BackupOptions
// (backupOptions), the backup with the progress bar (runBackup), its
// table (backupTable).

func (e *env) backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "back up a directory into a media pool",
		ArgsUsage: "SOURCE POOL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "group", Usage: "snapshot group (default: the source directory's name)"},
			&cli.BoolFlag{Name: "eject-media", Usage: "eject the tape when done"},
			&cli.BoolFlag{Name: "export-media-set", Usage: "move every tape of the media set to import/export slots when done"},
			&cli.BoolFlag{Name: "force-media-set", Usage: "start a new media set"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "leave out paths matching `PATTERN` (a name at any depth, or a path from the source's root when it has a slash; repeatable)"},
			&cli.BoolFlag{Name: "all-file-systems", Usage: "also back up filesystems mounted below SOURCE (default: stay on SOURCE's filesystem)"},
		},
		Action: func(c *cli.Context) error {
			opts, err := backupOptions(c)
			if err != nil {
				return err
			}
			res, err := e.runBackup(c.Context, opts)
			if err != nil {
				return err
			}
			if err := e.print(backupTable(res), res); err != nil {
				return err
			}
			if len(res.Warnings) > 0 {
				return warningsError{n: len(res.Warnings)}
			}
			return nil
		},
	}
}

// backupOptions are the options of a backup command line.
func backupOptions(c *cli.Context) (engine.BackupOptions, error) {
	a, err := args(c, "SOURCE", "POOL")
	if err != nil {
		return engine.BackupOptions{}, err
	}
	return engine.BackupOptions{
		Source: a[0], Pool: a[1], Group: c.String("group"),
		EjectMedia: c.Bool("eject-media"), ExportMediaSet: c.Bool("export-media-set"), ForceMediaSet: c.Bool("force-media-set"),
		Exclude: c.StringSlice("exclude"), AllFileSystems: c.Bool("all-file-systems"),
	}, nil
}

// runBackup runs the backup, showing its progress on the console.
func (e *env) runBackup(ctx context.Context, opts engine.BackupOptions) (*engine.BackupResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	stop := e.progress(&opts)
	defer stop()
	return eng.Backup(ctx, opts)
}

// backupTable is the text output of a backup.
func backupTable(res *engine.BackupResult) *output.Table {
	t := output.KV(
		[2]string{"snapshot", res.Snapshot},
		[2]string{"media-set-uuid", res.Set.String()},
		[2]string{"files", strconv.FormatInt(res.Files, 10)},
		[2]string{"bytes", humanize.IBytes(uint64(res.Bytes))},
		[2]string{"chunks", fmt.Sprintf("%d (%d new)", res.Chunks, res.NewChunks)},
		[2]string{"new-bytes", humanize.IBytes(uint64(res.NewBytes))},
		[2]string{"tapes", strings.Join(res.Tapes, ", ")},
		[2]string{"duration", time.Duration(res.ElapsedNanos).Round(time.Millisecond).String()},
	)
	if len(res.Warnings) > 0 {
		t.Add("warnings", fmt.Sprintf("%d (files changed while they were read; see the log)", len(res.Warnings)))
	}
	return t
}

// warningsError ends a backup that finished "ok with warnings": its
// snapshot is on tape, but files changed while they were read (exit code
// 8, see the package comment).
type warningsError struct{ n int }

func (w warningsError) Error() string {
	return fmt.Sprintf("backup finished with warnings: %d %s changed while %s read (stored as read)", w.n, plural(w.n, "file", "files"), plural(w.n, "it was", "they were"))
}

// ExitCode is used by cliapp.ExitCode.
func (w warningsError) ExitCode() int { return 8 }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
