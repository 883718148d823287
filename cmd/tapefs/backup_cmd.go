package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
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
			return e.print(t, res)
		},
	}
}

// progress shows a progress bar on a terminal and one log line every few
// seconds otherwise. The returned function ends it. In the daemon it does
// nothing: the task's own progress lines reach the caller (engine.WithLog).
func (e *env) progress(opts *engine.BackupOptions) func() {
	if e.shared {
		return func() {}
	}
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	var mu sync.Mutex
	var bar *progressbar.ProgressBar
	var last time.Time
	start := time.Now()
	opts.Progress = func(p engine.BackupProgress) {
		mu.Lock()
		defer mu.Unlock()
		if tty {
			if bar == nil && p.Counted && p.TotalBytes > 0 {
				bar = progressbar.NewOptions64(p.TotalBytes,
					progressbar.OptionSetWriter(e.stderr),
					progressbar.OptionShowBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionFullWidth(),
				)
			}
			if bar != nil {
				bar.Describe(fmt.Sprintf("%d/%d files, tape %s", p.Files, p.TotalFiles, p.Tape))
				_ = bar.Set64(p.Bytes)
			}
			return
		}
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		rate := float64(p.Bytes) / time.Since(start).Seconds()
		if p.Tape == "" {
			p.Tape = "-"
		}
		totalBytes, totalFiles := "?", "?"
		if p.Counted {
			totalBytes, totalFiles = humanize.IBytes(uint64(p.TotalBytes)), strconv.FormatInt(p.TotalFiles, 10)
		}
		fmt.Fprintf(e.stderr, "progress: %s of %s, %d of %s files, %s/s, new on tape %s, tape %s\n",
			humanize.IBytes(uint64(p.Bytes)), totalBytes, p.Files, totalFiles,
			humanize.IBytes(uint64(rate)), humanize.IBytes(uint64(p.NewBytes)), p.Tape)
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(e.stderr)
		}
	}
}

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
					if res.Plan.EstimatedSeconds > 0 {
						loads := "loads"
						if len(res.Plan.Tapes) == 1 {
							loads = "load"
						}
						fmt.Fprintf(e.stdout, "estimated tape time: %s (%d %s)\n", time.Duration(res.Plan.EstimatedSeconds*float64(time.Second)).Round(time.Second), len(res.Plan.Tapes), loads)
					}
				}
				if perr := e.print(t, res); perr != nil && err == nil {
					err = perr
				}
				if e.Format == output.Text {
					for _, rt := range res.Plan.Tapes {
						if rt.Offline {
							fmt.Fprintf(e.stdout, "tape %s is not in the library: bring it back, or the files on it are not restored\n", rt.Label)
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
