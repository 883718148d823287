package main

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/device"
)

func (e *env) changerCommand() *cli.Command {
	return &cli.Command{
		Name:  "changer",
		Usage: "configure and drive tape changers (robots)",
		Subcommands: []*cli.Command{
			{
				Name:   "scan",
				Usage:  "list the changers this system can see (SCSI and virtual)",
				Action: func(c *cli.Context) error { return e.runScan(c, true) },
			},
			{
				Name:      "create",
				Usage:     "configure a changer",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "path", Required: true, TakesFile: true, Usage: "device path (use a stable /dev/tape/by-id/ name, or a virtual library directory)"},
					&cli.StringFlag{Name: "export-slots", Usage: "slots to treat as import/export slots, e.g. 15,16"},
				},
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					slots, err := parseSlots(c.String("export-slots"))
					if err != nil {
						return err
					}
					return eng.ChangerCreate(name, c.String("path"), slots)
				}),
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
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					var slots *[]int
					if c.IsSet("export-slots") {
						s, err := parseSlots(c.String("export-slots"))
						if err != nil {
							return err
						}
						slots = &s
					}
					var eject *bool
					if c.IsSet("eject-before-unload") {
						v := c.Bool("eject-before-unload")
						eject = &v
					}
					for _, d := range c.StringSlice("delete") {
						switch d {
						case "export-slots":
							empty := []int{}
							slots = &empty
						case "eject-before-unload":
							off := false
							eject = &off
						default:
							return usagef("cannot delete %q: deletable properties are export-slots, eject-before-unload", d)
						}
					}
					return eng.ChangerUpdate(name, optString(c, "path"), slots, eject)
				}),
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
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					ch, err := eng.ChangerConfig(name)
					if err != nil {
						return err
					}
					t := output.KV([2]string{"name", ch.Name}, [2]string{"path", ch.Path})
					if len(ch.ExportSlots) > 0 {
						t.Add("export-slots", formatSlots(ch.ExportSlots))
					}
					if ch.EjectBeforeUnload {
						t.Add("eject-before-unload", "true")
					}
					return e.print(t, engine.ChangerInfo{Name: ch.Name, Path: ch.Path, ExportSlots: ch.ExportSlots, EjectBeforeUnload: ch.EjectBeforeUnload})
				}),
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list configured changers",
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					list, err := eng.ChangerList(c.Context)
					if err != nil {
						return err
					}
					t := &output.Table{Columns: []string{"name", "path", "vendor", "model", "serial"}}
					for _, ch := range list {
						t.Add(ch.Name, ch.Path, ch.Vendor, ch.Model, ch.Serial)
					}
					return e.print(t, list)
				},
			}),
			e.readOnly(&cli.Command{
				Name:      "status",
				Usage:     "show the slots and drives of a changer",
				ArgsUsage: "[NAME]",
				Flags:     []cli.Flag{driveFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() > 1 {
						return usagef("changer status: expected at most one changer name")
					}
					eng, err := e.engine()
					if err != nil {
						return err
					}
					_, rows, err := eng.ChangerStatus(c.Context, c.Args().First(), c.String("drive"))
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
					if c.NArg() > 1 {
						return usagef("changer transfer: expected at most one changer name")
					}
					eng, err := e.engine()
					if err != nil {
						return err
					}
					return eng.ChangerTransfer(c.Context, c.Args().First(), c.String("drive"), c.Int("from"), c.Int("to"))
				},
			},
		},
	}
}

func changerStatusTable(rows []engine.ChangerEntry) *output.Table {
	t := &output.Table{Columns: []string{"entry-kind", "entry-id", "changer-id", "loaded-slot"}}
	for _, r := range rows {
		t.Add(r.Kind, strconv.Itoa(r.ID), r.LabelText, itoa0(r.LoadedSlot))
	}
	return t
}

// runScan prints `changer scan` or `drive scan`.
func (e *env) runScan(c *cli.Context, changers bool) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	var list []device.ScanEntry
	if changers {
		list, err = eng.ChangerScan()
	} else {
		list, err = eng.DriveScan()
	}
	if err != nil {
		return err
	}
	if list == nil {
		list = []device.ScanEntry{}
	}
	return e.print(cliapp.ScanTable(list), list)
}
