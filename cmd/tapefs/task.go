package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// taskCommands are the commands (by command path) that run as tasks: they
// get a record in the task history with their log and result (see
// engine.RunTask). They are the ones that use a drive or take time.
var taskCommands = []string{
	"backup", "restore", "commit", "catalog", "export-media-set",
	"label", "barcode-label", "read-label", "format", "load-media", "load-media-from-slot",
	"unload", "eject", "export-media", "rewind", "clean", "inventory", "key restore",
}

// asTasks makes the actions of taskCommands in cmds run as tasks.
func (e *env) asTasks(cmds []*cli.Command, prefix string) {
	for _, c := range cmds {
		path := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) > 0 {
			e.asTasks(c.Subcommands, path)
			continue
		}
		if !slices.Contains(taskCommands, path) || c.Action == nil {
			continue
		}
		action := c.Action
		c.Action = func(cc *cli.Context) error {
			eng, err := e.engine()
			if err != nil {
				return err
			}
			name := strings.Join(append(append([]string{path}, setFlags(cc)...), cc.Args().Slice()...), " ")
			return eng.RunTask(cc.Context, engine.TaskSpec{Kind: path, Name: name}, func(ctx context.Context) error {
				cc.Context = ctx
				return action(cc)
			})
		}
	}
}

// setFlags are the flags given to a command, as "--name" or "--name
// value" words in the command's order (the common directory flags left
// out), for a task's name.
func setFlags(c *cli.Context) []string {
	var out []string
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) || name == "config-dir" || name == "state-dir" || name == "output-format" {
			continue
		}
		switch c.Value(name).(type) {
		case bool:
			out = append(out, "--"+name)
		case cli.StringSlice, *cli.StringSlice:
			for _, s := range c.StringSlice(name) {
				out = append(out, "--"+name, s)
			}
		default:
			out = append(out, "--"+name, fmt.Sprint(c.Value(name)))
		}
	}
	return out
}

// cliOrigin is how a task started from a command line names its origin.
func cliOrigin(pid, uid int) string { return fmt.Sprintf("cli (pid %d, uid %d)", pid, uid) }

func (e *env) taskCommand() *cli.Command {
	idArg := func(c *cli.Context) (uint64, *engine.Engine, error) {
		a, err := args(c, "TASK-ID")
		if err != nil {
			return 0, nil, err
		}
		id, err := strconv.ParseUint(a[0], 10, 64)
		if err != nil || id == 0 {
			return 0, nil, usagef("invalid task id %q: expected a number, as `tapefs task list` shows", a[0])
		}
		eng, err := e.engine()
		return id, eng, err
	}
	return &cli.Command{
		Name:  "task",
		Usage: "show and stop tasks: backups, restores, label and other drive jobs, backup job runs",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the task history, newest last",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "every task the history keeps"},
					&cli.IntFlag{Name: "limit", Value: 50, Usage: "show the newest N tasks"},
				},
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					limit := c.Int("limit")
					if c.Bool("all") {
						limit = 0
					} else if limit <= 0 {
						return usagef("task list: --limit must be positive")
					}
					tasks, err := eng.TaskList(limit)
					if err != nil {
						return err
					}
					now := time.Now()
					t := &output.Table{Columns: []string{"id", "task", "started-by", "start", "duration", "status"}}
					for _, ti := range tasks {
						t.Add(strconv.FormatUint(ti.ID, 10), ti.Name, ti.Origin, ti.Start.Local().Format(time.DateTime),
							ti.Duration(now).Round(time.Second).String(), ti.Result())
					}
					if tasks == nil {
						tasks = []engine.TaskInfo{}
					}
					return e.print(t, tasks)
				},
			},
			{
				Name:      "log",
				Usage:     "print a task's log",
				ArgsUsage: "TASK-ID",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing until the task ends"}},
				Action: func(c *cli.Context) error {
					id, eng, err := idArg(c)
					if err != nil {
						return err
					}
					return eng.TaskLog(c.Context, id, e.stdout, c.Bool("follow"))
				},
			},
			{
				Name:      "status",
				Usage:     "show a task's state, result and progress",
				ArgsUsage: "TASK-ID",
				Action: func(c *cli.Context) error {
					id, eng, err := idArg(c)
					if err != nil {
						return err
					}
					ti, err := eng.Task(id)
					if err != nil {
						return err
					}
					return e.print(output.KV(ti.Fields(time.Now())...), ti)
				},
			},
			{
				Name:      "stop",
				Usage:     "stop a running task (the tape is left consistent, as after a crash)",
				ArgsUsage: "TASK-ID",
				Action: func(c *cli.Context) error {
					id, eng, err := idArg(c)
					if err != nil {
						return err
					}
					return eng.StopTask(id)
				},
			},
		},
	}
}
