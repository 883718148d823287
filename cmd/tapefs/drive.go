package main

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
)

func (e *env) driveCommand() *cli.Command {
	return &cli.Command{
		Name:  "drive",
		Usage: "configure tape drives",
		Subcommands: []*cli.Command{
			{
				Name:   "scan",
				Usage:  "list the tape drives this system can see (SCSI and virtual)",
				Action: func(c *cli.Context) error { return e.runScan(c, false) },
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
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.DriveCreate(config.Drive{Name: name, Path: c.String("path"), Changer: c.String("changer"), ChangerDriveNum: c.Int("changer-drivenum")})
				}),
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
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					u := engine.DriveUpdate{Path: optString(c, "path"), Changer: optString(c, "changer"), Delete: c.StringSlice("delete")}
					if c.IsSet("changer-drivenum") {
						n := c.Int("changer-drivenum")
						u.ChangerDriveNum = &n
					}
					return eng.DriveUpdate(name, u)
				}),
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
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					d, err := eng.DriveConfig(name)
					if err != nil {
						return err
					}
					t := output.KV([2]string{"name", d.Name}, [2]string{"path", d.Path})
					if d.Changer != "" {
						t.Add("changer", d.Changer)
					}
					if d.ChangerDriveNum != 0 {
						t.Add("changer-drivenum", strconv.Itoa(d.ChangerDriveNum))
					}
					return e.print(t, engine.DriveInfo{Name: d.Name, Path: d.Path, Changer: d.Changer, ChangerDriveNum: d.ChangerDriveNum})
				}),
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list configured drives",
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					list, err := eng.DriveList(c.Context)
					if err != nil {
						return err
					}
					t := &output.Table{Columns: []string{"name", "path", "changer", "vendor", "model", "serial"}}
					for _, d := range list {
						t.Add(d.Name, d.Path, d.Changer, d.Vendor, d.Model, d.Serial)
					}
					return e.print(t, list)
				},
			}),
		},
	}
}
