package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
)

// jobFlags are the flags of backup-job create and update.
func jobFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "source", Usage: "directory to back up (repeatable; each is a snapshot group)"},
		&cli.StringSliceFlag{Name: "group", Usage: "snapshot group of the --source at the same position (default: the directory's name)"},
		&cli.StringFlag{Name: "pool", Usage: "media pool to write to"},
		&cli.StringFlag{Name: "drive", Usage: "drive to use (default: the pool's drive)"},
		&cli.StringFlag{Name: "schedule", Usage: "calendar event of the runs, like 'mon..fri 02:00' or daily (none: only `backup-job run`)"},
		&cli.BoolFlag{Name: "eject-media", Usage: "eject the tape when done"},
		&cli.BoolFlag{Name: "export-media-set", Usage: "move the media set's tapes to import/export slots when done"},
		&cli.StringFlag{Name: "notify", Usage: "mail addresses for the job's result, comma separated"},
		&cli.StringFlag{Name: "notify-mode", Usage: "when to mail: always, error or never (default always)"},
		&cli.StringFlag{Name: "media-timeout", Usage: "how long to wait for a requested tape, a time span like 12h (default: until it comes)"},
		&cli.StringFlag{Name: "comment", Usage: "free text"},
	}
}

// jobSources pairs --source and --group values; relative sources are made
// absolute (the daemon gets them absolute already, see callerPaths).
func jobSources(c *cli.Context) ([]config.JobSource, error) {
	srcs, groups := c.StringSlice("source"), c.StringSlice("group")
	if len(groups) > len(srcs) {
		return nil, usagef("%d --group values for %d --source directories: give at most one --group per --source, in the same order", len(groups), len(srcs))
	}
	out := make([]config.JobSource, len(srcs))
	for i, s := range srcs {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, usagef("source %s: %v", s, err)
		}
		out[i].Path = abs
		if i < len(groups) {
			out[i].Group = groups[i]
		}
	}
	return out, nil
}

func (e *env) backupJobCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup-job",
		Usage: "configure and run scheduled tape backup jobs",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a backup job",
				ArgsUsage: "ID",
				Flags:     jobFlags(),
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, id string) error {
					if !c.IsSet("pool") {
						return usagef("backup-job create: --pool is required")
					}
					srcs, err := jobSources(c)
					if err != nil {
						return err
					}
					if len(srcs) == 0 {
						return usagef("backup-job create: give at least one --source DIR")
					}
					return eng.JobCreate(config.BackupJob{
						ID: id, Sources: srcs, Pool: c.String("pool"), Drive: c.String("drive"), Schedule: c.String("schedule"),
						EjectMedia: c.Bool("eject-media"), ExportMediaSet: c.Bool("export-media-set"),
						Notify: c.String("notify"), NotifyMode: c.String("notify-mode"), MediaTimeout: c.String("media-timeout"),
						Comment: c.String("comment"),
					})
				}),
			},
			{
				Name:      "update",
				Usage:     "change a backup job (--source replaces all sources)",
				ArgsUsage: "ID",
				Flags: append(jobFlags(), &cli.StringSliceFlag{
					Name: "delete", Usage: "reset a property: drive, schedule, notify, notify-mode, media-timeout, comment, eject-media, export-media-set",
				}),
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, id string) error {
					u := engine.JobUpdate{
						Pool: optString(c, "pool"), Drive: optString(c, "drive"), Schedule: optString(c, "schedule"),
						Notify: optString(c, "notify"), NotifyMode: optString(c, "notify-mode"),
						MediaTimeout: optString(c, "media-timeout"), Comment: optString(c, "comment"),
						Delete: c.StringSlice("delete"),
					}
					if c.IsSet("source") {
						srcs, err := jobSources(c)
						if err != nil {
							return err
						}
						u.Sources = &srcs
					} else if c.IsSet("group") {
						return usagef("backup-job update: --group goes with --source (give all sources again)")
					}
					if c.IsSet("eject-media") {
						v := c.Bool("eject-media")
						u.EjectMedia = &v
					}
					if c.IsSet("export-media-set") {
						v := c.Bool("export-media-set")
						u.ExportMediaSet = &v
					}
					return eng.JobUpdate(id, u)
				}),
			},
			{
				Name:      "remove",
				Usage:     "remove a backup job",
				ArgsUsage: "ID",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, id string) error {
					return eng.JobRemove(id)
				}),
			},
			{
				Name:      "show",
				Usage:     "show a backup job's configuration and state",
				ArgsUsage: "ID",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, id string) error {
					j, err := eng.JobShow(id)
					if err != nil {
						return err
					}
					t := output.KV([2]string{"id", j.ID})
					for _, s := range j.Sources {
						t.Add("source", s.Path+" (group "+s.GroupName()+")")
					}
					for _, kv := range [][2]string{
						{"pool", j.Pool}, {"drive", j.Drive}, {"schedule", j.Schedule},
						{"eject-media", yes(j.EjectMedia)}, {"export-media-set", yes(j.ExportMediaSet)},
						{"notify", j.Notify}, {"notify-mode", j.NotifyMode}, {"media-timeout", j.MediaTimeout}, {"comment", j.Comment},
						{"next-run", fmtJobTime(j.NextRun)}, {"last-run", fmtJobTime(j.LastRun)},
						{"last-task", itoa64(j.LastTask)}, {"last-state", j.LastResult}, {"last-duration", fmtDuration(j.LastDuration)},
						{"running-task", itoa64(j.Running)}, {"notify-error", j.NotifyError},
					} {
						if kv[1] != "" {
							t.Add(kv[0], kv[1])
						}
					}
					return e.print(t, j)
				}),
			},
			{
				Name:  "list",
				Usage: "list backup jobs with their next and last runs",
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					jobs, err := eng.JobList()
					if err != nil {
						return err
					}
					t := &output.Table{Columns: []string{"id", "pool", "drive", "schedule", "next-run", "last-run", "last-state", "duration"}}
					for _, j := range jobs {
						t.Add(j.ID, j.Pool, j.Drive, j.Schedule, fmtJobTime(j.NextRun), fmtJobTime(j.LastRun), j.LastResult, fmtDuration(j.LastDuration))
					}
					return e.print(t, jobs)
				},
			},
			{
				Name:      "run",
				Usage:     "run a backup job now, as the scheduler would; returns when it is done",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "background", Usage: "print the task id and return at once"}},
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, id string) error {
					ctx := c.Context
					if c.Bool("background") && !e.shared {
						return usagef("backup-job run --background needs the daemon (tapefs mount): the job would end with this command")
					}
					if c.Bool("background") {
						// The task outlives this command (and its
						// connection to the daemon).
						ctx = engine.WithLog(context.WithoutCancel(ctx), nil)
					}
					taskID, done, err := eng.RunJob(ctx, id, "")
					if err != nil {
						return err
					}
					if c.Bool("background") {
						fmt.Fprintf(e.stdout, "task %d\n", taskID)
						return nil
					}
					select {
					case err = <-done:
					case <-c.Context.Done():
						// Ctrl-C: stop the job, as `task stop` would.
						_ = eng.StopTask(taskID)
						err = <-done
					}
					if err != nil {
						return fmt.Errorf("backup job %s (task %d): %w", id, taskID, err)
					}
					fmt.Fprintf(e.stdout, "backup job %s: task %d ok\n", id, taskID)
					return nil
				}),
			},
		},
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func itoa64(n uint64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

func fmtJobTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04")
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.Round(time.Second).String()
}
