package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// `tapefs restore MEDIA-SET-UUID TARGET [SNAPSHOT ...]`: flags →
// engine.RestoreOptions (restoreOptions), the restore (runRestore), its
// output (printRestore).

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
			opts, err := restoreOptions(c)
			if err != nil {
				return err
			}
			res, err := e.runRestore(c.Context, opts)
			if res != nil {
				if perr := printRestore(e.stdout, e.Format, opts, res); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
}

// restoreOptions are the options of a restore command line.
func restoreOptions(c *cli.Context) (engine.RestoreOptions, error) {
	a := c.Args().Slice()
	if len(a) < 2 {
		return engine.RestoreOptions{}, usagef("restore: expected MEDIA-SET-UUID TARGET [SNAPSHOT ...]")
	}
	id, err := uuid.Parse(a[0])
	if err != nil {
		return engine.RestoreOptions{}, usagef("restore: invalid media set uuid %q", a[0])
	}
	return engine.RestoreOptions{
		Set: id, Target: a[1], Snapshots: a[2:], Paths: c.StringSlice("path"),
		DryRun: c.Bool("dry-run"), Drive: c.String("drive"),
	}, nil
}

// runRestore runs the restore (or its plan, with DryRun). A failed restore
// may still return its result: the plan and what was restored.
func (e *env) runRestore(ctx context.Context, opts engine.RestoreOptions) (*engine.RestoreResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.Restore(ctx, opts)
}

// printRestore writes a restore's plan and outcome: the tapes table (or
// the result as JSON) and, as text, the summary lines around it.
func printRestore(w io.Writer, format output.Format, opts engine.RestoreOptions, res *engine.RestoreResult) error {
	t := &output.Table{Columns: []string{"seq-nr", "label-text", "archives", "chunks", "bytes"}}
	for _, rt := range res.Plan.Tapes {
		t.Add(strconv.FormatUint(rt.Seq, 10), rt.Label, fileNumbers(rt.Archives), strconv.Itoa(rt.Chunks), humanize.IBytes(uint64(rt.Bytes)))
	}
	text := format == output.Text
	if text {
		fmt.Fprintf(w, "snapshots: %s\nfiles: %d, %s\n", strings.Join(res.Plan.Snapshots, ", "), res.Plan.Files, humanize.IBytes(uint64(res.Plan.Bytes)))
		if res.Plan.EstimatedSeconds > 0 || res.Plan.EstimatedLoads < len(res.Plan.Tapes) && opts.DryRun {
			fmt.Fprintf(w, "estimated tape time: %s (%s)\n", time.Duration(res.Plan.EstimatedSeconds*float64(time.Second)).Round(time.Second), estimateCounts(res.Plan))
		}
	}
	err := output.Print(w, format, t, res)
	if !text {
		return err
	}
	for _, rt := range res.Plan.Tapes {
		if rt.Offline {
			fmt.Fprintf(w, "tape %s is not in the library: bring it back into a storage slot before the restore\n", rt.Label)
		}
	}
	if !opts.DryRun {
		fmt.Fprintf(w, "restored %d files", res.Restored)
		if res.TapeSecond > 0 {
			fmt.Fprintf(w, ", simulated tape time %s", time.Duration(res.TapeSecond*float64(time.Second)).Round(time.Millisecond))
		}
		fmt.Fprintln(w)
		for _, f := range res.Failed {
			fmt.Fprintf(w, "not restored: %s\n", f)
		}
	}
	return err
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

// fileNumbers lists tape file numbers for a table cell: "2,5,9".
func fileNumbers(files []uint64) string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = strconv.FormatUint(f, 10)
	}
	return strings.Join(s, ",")
}
