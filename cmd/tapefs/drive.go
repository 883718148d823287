package main

import (
	"context"
	"strconv"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
)

// `tapefs drive ...`: each subcommand's flags become its options
// (driveCreateOptions, driveUpdateOptions), a runDriveX makes the engine
// call, and a driveXTable is its text output.

func (e *env) driveCommand() *cli.Command {
	return &cli.Command{
		Name:  "drive",
		Usage: "configure tape drives",
		Subcommands: []*cli.Command{
			{
				Name:   "scan",
				Usage:  "list the tape drives this system can see (SCSI and virtual)",
				Action: func(c *cli.Context) error { return e.printScan(e.runScan(false)) },
			},
			{
				Name:      "create",
				Usage:     "configure a drive",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Required: true, TakesFile: true, Usage: "device path (from `tapefs drive scan`)"},
					&cli.StringFlag{Name: "changer", Usage: "the changer this drive belongs to"},
					&cli.IntFlag{Name: "changer-drivenum", Usage: "the drive's number in its changer (default 0)"},
				},
				Action: func(c *cli.Context) error {
					d, err := driveCreateOptions(c)
					if err != nil {
						return err
					}
					return e.runDriveCreate(d)
				},
			},
			{
				Name:      "update",
				Usage:     "change a drive's configuration",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", TakesFile: true, Usage: "device path"},
					&cli.StringFlag{Name: "changer", Usage: "the changer this drive belongs to"},
					&cli.IntFlag{Name: "changer-drivenum", Usage: "the drive's number in its changer"},
					&cli.StringSliceFlag{Name: "delete", Usage: "reset a property: changer, changer-drivenum"},
				},
				Action: func(c *cli.Context) error {
					opts, err := driveUpdateOptions(c)
					if err != nil {
						return err
					}
					return e.runDriveUpdate(opts)
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a drive from the configuration",
				ArgsUsage: "NAME",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.DriveRemove(name)
				}),
			},
			e.readOnly(&cli.Command{
				Name:      "config",
				Usage:     "show a drive's configuration",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					a, err := args(c, "NAME")
					if err != nil {
						return err
					}
					d, err := e.runDriveConfig(a[0])
					if err != nil {
						return err
					}
					return e.print(driveConfigTable(d), d)
				},
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list configured drives",
				Action: func(c *cli.Context) error {
					list, err := e.runDriveList(c.Context)
					if err != nil {
						return err
					}
					return e.print(driveListTable(list), list)
				},
			}),
		},
	}
}

// driveCreateOptions is the drive a `drive create` command line
// configures.
func driveCreateOptions(c *cli.Context) (config.Drive, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return config.Drive{}, err
	}
	return config.Drive{Name: a[0], Path: c.String("path"), Changer: c.String("changer"), ChangerDriveNum: c.Int("changer-drivenum")}, nil
}

func (e *env) runDriveCreate(d config.Drive) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.DriveCreate(d)
}

// driveUpdateOpts are the options of `drive update`.
type driveUpdateOpts struct {
	Name string
	engine.DriveUpdate
}

// driveUpdateOptions are the options of a `drive update` command line:
// only the flags given change the drive.
func driveUpdateOptions(c *cli.Context) (driveUpdateOpts, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return driveUpdateOpts{}, err
	}
	u := engine.DriveUpdate{Path: optString(c, "path"), Changer: optString(c, "changer"), Delete: c.StringSlice("delete")}
	if c.IsSet("changer-drivenum") {
		n := c.Int("changer-drivenum")
		u.ChangerDriveNum = &n
	}
	return driveUpdateOpts{Name: a[0], DriveUpdate: u}, nil
}

func (e *env) runDriveUpdate(opts driveUpdateOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.DriveUpdate(opts.Name, opts.DriveUpdate)
}

// runDriveConfig is a drive's configuration.
func (e *env) runDriveConfig(name string) (engine.DriveInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return engine.DriveInfo{}, err
	}
	d, err := eng.DriveConfig(name)
	if err != nil {
		return engine.DriveInfo{}, err
	}
	return engine.DriveInfo{Name: d.Name, Path: d.Path, Changer: d.Changer, ChangerDriveNum: d.ChangerDriveNum}, nil
}

func driveConfigTable(d engine.DriveInfo) *output.Table {
	t := output.KV([2]string{"name", d.Name}, [2]string{"path", d.Path})
	if d.Changer != "" {
		t.Add("changer", d.Changer)
	}
	if d.ChangerDriveNum != 0 {
		t.Add("changer-drivenum", strconv.Itoa(d.ChangerDriveNum))
	}
	return t
}

// runDriveList lists the configured drives with what they report of
// themselves.
func (e *env) runDriveList(ctx context.Context) ([]engine.DriveInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.DriveList(ctx)
}

func driveListTable(list []engine.DriveInfo) *output.Table {
	t := &output.Table{Columns: []string{"name", "path", "changer", "vendor", "model", "serial"}}
	for _, d := range list {
		t.Add(d.Name, d.Path, d.Changer, d.Vendor, d.Model, d.Serial)
	}
	return t
}
