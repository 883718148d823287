package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/device"
)

// `tapefs changer ...`: each subcommand's flags become its options
// (changerCreateOptions, changerUpdateOptions, ...), a runChangerX makes
// the engine call, and a changerXTable is its text output.

func (e *env) changerCommand() *cli.Command {
	return &cli.Command{
		Name:  "changer",
		Usage: "configure and drive tape changers (robots)",
		Subcommands: []*cli.Command{
			{
				Name:   "scan",
				Usage:  "list the changers this system can see (SCSI and virtual)",
				Action: func(c *cli.Context) error { return e.printScan(e.runScan(true)) },
			},
			{
				Name:      "create",
				Usage:     "configure a changer",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Required: true, TakesFile: true, Usage: "device path (use a stable /dev/tape/by-id/ name, or a virtual library directory)"},
					&cli.StringFlag{Name: "export-slots", Usage: "slots to treat as import/export slots, e.g. 15,16"},
				},
				Action: func(c *cli.Context) error {
					opts, err := changerCreateOptions(c)
					if err != nil {
						return err
					}
					return e.runChangerCreate(opts)
				},
			},
			{
				Name:      "update",
				Usage:     "change a changer's configuration",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", TakesFile: true, Usage: "device path"},
					&cli.StringFlag{Name: "export-slots", Usage: "slots to treat as import/export slots, e.g. 15,16"},
					&cli.BoolFlag{Name: "eject-before-unload", Usage: "eject the tape from the drive before the changer moves it (tapefs always does; kept for proxmox-tape compatibility)"},
					&cli.StringSliceFlag{Name: "delete", Usage: "reset a property: export-slots, eject-before-unload"},
				},
				Action: func(c *cli.Context) error {
					opts, err := changerUpdateOptions(c)
					if err != nil {
						return err
					}
					return e.runChangerUpdate(opts)
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a changer from the configuration",
				ArgsUsage: "NAME",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.ChangerRemove(name)
				}),
			},
			e.readOnly(&cli.Command{
				Name:      "config",
				Usage:     "show a changer's configuration",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					a, err := args(c, "NAME")
					if err != nil {
						return err
					}
					ch, err := e.runChangerConfig(a[0])
					if err != nil {
						return err
					}
					return e.print(changerConfigTable(ch), ch)
				},
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list configured changers",
				Action: func(c *cli.Context) error {
					list, err := e.runChangerList(c.Context)
					if err != nil {
						return err
					}
					return e.print(changerListTable(list), list)
				},
			}),
			e.readOnly(&cli.Command{
				Name:      "status",
				Usage:     "show the slots and drives of a changer",
				ArgsUsage: "[NAME]",
				Flags:     []cli.Flag{driveFlag()},
				Action: func(c *cli.Context) error {
					opts, err := changerOptions(c, "changer status")
					if err != nil {
						return err
					}
					rows, err := e.runChangerStatus(c.Context, opts)
					if err != nil {
						return err
					}
					return e.print(changerStatusTable(rows), rows)
				},
			}),
			{
				Name:      "transfer",
				Usage:     "move a tape from one slot to another",
				ArgsUsage: "[NAME]",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "from", Required: true, Usage: "source slot"},
					&cli.IntFlag{Name: "to", Required: true, Usage: "target slot"},
					driveFlag(),
				},
				Action: func(c *cli.Context) error {
					opts, err := changerOptions(c, "changer transfer")
					if err != nil {
						return err
					}
					return e.runChangerTransfer(c.Context, opts, c.Int("from"), c.Int("to"))
				},
			},
		},
	}
}

// changerCreateOpts are the options of `changer create`.
type changerCreateOpts struct {
	Name, Path  string
	ExportSlots []int
}

func changerCreateOptions(c *cli.Context) (changerCreateOpts, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return changerCreateOpts{}, err
	}
	slots, err := parseSlots(c.String("export-slots"))
	if err != nil {
		return changerCreateOpts{}, err
	}
	return changerCreateOpts{Name: a[0], Path: c.String("path"), ExportSlots: slots}, nil
}

func (e *env) runChangerCreate(opts changerCreateOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.ChangerCreate(opts.Name, opts.Path, opts.ExportSlots)
}

// changerUpdateOpts are the options of `changer update`: nil leaves a
// setting as it is.
type changerUpdateOpts struct {
	Name              string
	Path              *string
	ExportSlots       *[]int
	EjectBeforeUnload *bool
}

func changerUpdateOptions(c *cli.Context) (changerUpdateOpts, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return changerUpdateOpts{}, err
	}
	opts := changerUpdateOpts{Name: a[0], Path: optString(c, "path")}
	if c.IsSet("export-slots") {
		s, err := parseSlots(c.String("export-slots"))
		if err != nil {
			return changerUpdateOpts{}, err
		}
		opts.ExportSlots = &s
	}
	if c.IsSet("eject-before-unload") {
		v := c.Bool("eject-before-unload")
		opts.EjectBeforeUnload = &v
	}
	for _, d := range c.StringSlice("delete") {
		switch d {
		case "export-slots":
			empty := []int{}
			opts.ExportSlots = &empty
		case "eject-before-unload":
			off := false
			opts.EjectBeforeUnload = &off
		default:
			return changerUpdateOpts{}, usagef("cannot delete %q: deletable properties are export-slots, eject-before-unload", d)
		}
	}
	return opts, nil
}

func (e *env) runChangerUpdate(opts changerUpdateOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.ChangerUpdate(opts.Name, opts.Path, opts.ExportSlots, opts.EjectBeforeUnload)
}

// runChangerConfig is a changer's configuration.
func (e *env) runChangerConfig(name string) (engine.ChangerInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return engine.ChangerInfo{}, err
	}
	ch, err := eng.ChangerConfig(name)
	if err != nil {
		return engine.ChangerInfo{}, err
	}
	return engine.ChangerInfo{Name: ch.Name, Path: ch.Path, ExportSlots: ch.ExportSlots, EjectBeforeUnload: ch.EjectBeforeUnload}, nil
}

func changerConfigTable(ch engine.ChangerInfo) *output.Table {
	t := output.KV([2]string{"name", ch.Name}, [2]string{"path", ch.Path})
	if len(ch.ExportSlots) > 0 {
		t.Add("export-slots", formatSlots(ch.ExportSlots))
	}
	if ch.EjectBeforeUnload {
		t.Add("eject-before-unload", "true")
	}
	return t
}

// runChangerList lists the configured changers with what they report of
// themselves.
func (e *env) runChangerList(ctx context.Context) ([]engine.ChangerInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.ChangerList(ctx)
}

func changerListTable(list []engine.ChangerInfo) *output.Table {
	t := &output.Table{Columns: []string{"name", "path", "vendor", "model", "serial"}}
	for _, ch := range list {
		t.Add(ch.Name, ch.Path, ch.Vendor, ch.Model, ch.Serial)
	}
	return t
}

// changerOpts name the changer a command works on: by name, else the
// changer of Drive (or of the default drive).
type changerOpts struct {
	Changer, Drive string
}

// changerOptions reads [NAME] and --drive of the command line of cmd.
func changerOptions(c *cli.Context, cmd string) (changerOpts, error) {
	if c.NArg() > 1 {
		return changerOpts{}, usagef("%s: expected at most one changer name", cmd)
	}
	return changerOpts{Changer: c.Args().First(), Drive: c.String("drive")}, nil
}

// runChangerStatus reads the changer's elements.
func (e *env) runChangerStatus(ctx context.Context, opts changerOpts) ([]engine.ChangerEntry, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	_, rows, err := eng.ChangerStatus(ctx, opts.Changer, opts.Drive)
	return rows, err
}

// changerStatusTable has the rows of the changer's status file in the
// mount (engine.ChangerEntry.Cells).
func changerStatusTable(rows []engine.ChangerEntry) *output.Table {
	t := &output.Table{Columns: engine.ChangerStatusColumns}
	for _, r := range rows {
		t.Add(r.Cells()...)
	}
	return t
}

// runChangerTransfer moves a tape between two slots of the changer.
func (e *env) runChangerTransfer(ctx context.Context, opts changerOpts, from, to int) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.ChangerTransfer(ctx, opts.Changer, opts.Drive, from, to)
}

// runScan lists the changers (or drives) the system can see, SCSI and
// virtual.
func (e *env) runScan(changers bool) ([]device.ScanEntry, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	var list []device.ScanEntry
	if changers {
		list, err = eng.ChangerScan()
	} else {
		list, err = eng.DriveScan()
	}
	if list == nil {
		list = []device.ScanEntry{}
	}
	return list, err
}

// printScan prints the output of `changer scan` or `drive scan`.
func (e *env) printScan(list []device.ScanEntry, err error) error {
	if err != nil {
		return err
	}
	return e.print(cliapp.ScanTable(list), list)
}
