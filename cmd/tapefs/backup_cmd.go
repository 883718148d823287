package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

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
			a, err := args(c, "SOURCE", "POOL")
			if err != nil {
				return err
			}
			eng, err := e.engine()
			if err != nil {
				return err
			}
			opts := engine.BackupOptions{
				Source: a[0], Pool: a[1], Group: c.String("group"),
				EjectMedia: c.Bool("eject-media"), ExportMediaSet: c.Bool("export-media-set"), ForceMediaSet: c.Bool("force-media-set"),
				Exclude: c.StringSlice("exclude"), AllFileSystems: c.Bool("all-file-systems"),
			}
			stop := e.progress(&opts)
			res, err := eng.Backup(c.Context, opts)
			stop()
			if err != nil {
				return err
			}
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
			if err := e.print(t, res); err != nil {
				return err
			}
			if len(res.Warnings) > 0 {
				return warningsError{n: len(res.Warnings)}
			}
			return nil
		},
	}
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

func (e *env) restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore snapshots of a media set into a directory",
		ArgsUsage: "MEDIA-SET-UUID TARGET [SNAPSHOT ...]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "path", Usage: "only paths matching this glob (relative to the snapshot root; repeatable)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan: tapes in order, archives, bytes"},
			driveFlag(),
		},
		Action: func(c *cli.Context) error {
			a := c.Args().Slice()
			if len(a) < 2 {
				return usagef("restore: expected MEDIA-SET-UUID TARGET [SNAPSHOT ...]")
			}
			id, err := uuid.Parse(a[0])
			if err != nil {
				return usagef("restore: invalid media set uuid %q", a[0])
			}
			eng, err := e.engine()
			if err != nil {
				return err
			}
			res, err := eng.Restore(c.Context, engine.RestoreOptions{
				Set: id, Target: a[1], Snapshots: a[2:], Paths: c.StringSlice("path"),
				DryRun: c.Bool("dry-run"), Drive: c.String("drive"),
			})
			if res != nil {
				t := &output.Table{Columns: []string{"seq-nr", "label-text", "archives", "chunks", "bytes"}}
				for _, rt := range res.Plan.Tapes {
					t.Add(strconv.FormatUint(rt.Seq, 10), rt.Label, fileNumbers(rt.Archives), strconv.Itoa(rt.Chunks), humanize.IBytes(uint64(rt.Bytes)))
				}
				if e.Format == output.Text {
					fmt.Fprintf(e.stdout, "snapshots: %s\nfiles: %d, %s\n", strings.Join(res.Plan.Snapshots, ", "), res.Plan.Files, humanize.IBytes(uint64(res.Plan.Bytes)))
					if res.Plan.EstimatedSeconds > 0 || res.Plan.EstimatedLoads < len(res.Plan.Tapes) && c.Bool("dry-run") {
						fmt.Fprintf(e.stdout, "estimated tape time: %s (%s)\n", time.Duration(res.Plan.EstimatedSeconds*float64(time.Second)).Round(time.Second), estimateCounts(res.Plan))
					}
				}
				if perr := e.print(t, res); perr != nil && err == nil {
					err = perr
				}
				if e.Format == output.Text {
					for _, rt := range res.Plan.Tapes {
						if rt.Offline {
							fmt.Fprintf(e.stdout, "tape %s is not in the library: bring it back into a storage slot before the restore\n", rt.Label)
						}
					}
				}
				if e.Format == output.Text && !c.Bool("dry-run") {
					fmt.Fprintf(e.stdout, "restored %d files", res.Restored)
					if res.TapeSecond > 0 {
						fmt.Fprintf(e.stdout, ", simulated tape time %s", time.Duration(res.TapeSecond*float64(time.Second)).Round(time.Millisecond))
					}
					fmt.Fprintln(e.stdout)
					for _, f := range res.Failed {
						fmt.Fprintf(e.stdout, "not restored: %s\n", f)
					}
				}
			}
			return err
		},
	}
}

// estimateCounts says what a restore plan's time estimate counts: the
// loads of the tapes in the library, the archives located on them and the
// bytes read; offline tapes are left out.
func estimateCounts(p engine.RestorePlan) string {
	archives, bytes, offline := 0, int64(0), 0
	for _, t := range p.Tapes {
		if t.Offline {
			offline++
			continue
		}
		archives += len(t.Archives)
		bytes += t.Bytes
	}
	s := fmt.Sprintf("%d %s, %d %s located, %s read", p.EstimatedLoads, plural(p.EstimatedLoads, "load", "loads"),
		archives, plural(archives, "archive", "archives"), humanize.IBytes(uint64(bytes)))
	if offline > 0 {
		s += fmt.Sprintf("; %d offline %s not counted", offline, plural(offline, "tape", "tapes"))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
			eng, err := e.engine()
			if err != nil {
				return err
			}
			r, err := eng.RestoreCatalog(c.Context, c.String("drive"), c.Bool("scan"), c.Bool("force"))
			if err != nil {
				return err
			}
			return e.print(catalogTable([]engine.CatalogResult{*r}), r)
		},
	}
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

// fileNumbers lists tape file numbers for a table cell: "2,5,9".
func fileNumbers(files []uint64) string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = strconv.FormatUint(f, 10)
	}
	return strings.Join(s, ",")
}
