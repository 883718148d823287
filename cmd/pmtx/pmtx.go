package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/devices"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
)

type tool struct {
	stdout io.Writer
	cliapp.Settings
}

// target is the changer a command works on.
type target struct {
	path string
	name string
	cfg  *config.Changer // nil with --device
	eng  *engine.Engine
	op   *devices.Opener
}

// resolve finds the changer: --device, else --changer or the changer of
// --drive (or of the default drive), else the CHANGER environment
// variable, as for mtx.
func (t *tool) resolve(c *cli.Context) (*target, error) {
	op := &devices.Opener{StateDir: t.StateDir}
	tg := &target{op: op, path: c.String("device"), name: c.String("device")}
	if env := os.Getenv("CHANGER"); tg.path == "" && env != "" && c.String("changer") == "" && c.String("drive") == "" {
		tg.path, tg.name = env, env
	}
	eng, err := engine.New(engine.Options{ConfigDir: t.ConfigDir, StateDir: t.StateDir, Opener: op})
	if err != nil {
		return nil, err
	}
	tg.eng = eng
	if tg.path == "" {
		ch, err := eng.ResolveChanger(c.String("changer"), c.String("drive"))
		if err != nil {
			eng.Close()
			return nil, err
		}
		tg.path, tg.name, tg.cfg = ch.Path, ch.Name, &ch
	}
	return tg, nil
}

// withChanger runs fn on the selected changer.
func (t *tool) withChanger(fn func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		tg, err := t.resolve(c)
		if err != nil {
			return err
		}
		defer tg.eng.Close()
		ch, err := tg.op.OpenChanger(tg.path)
		if err != nil {
			return fmt.Errorf("open changer %s: %w", tg.name, err)
		}
		defer ch.Close()
		if err := fn(c.Context, ch, tg, c); err != nil {
			prefix := "changer " + tg.name + ": "
			if strings.HasPrefix(err.Error(), prefix) {
				return err // the device named itself by the same path
			}
			return fmt.Errorf("%s%w", prefix, err)
		}
		return nil
	}
}

// element maps a slot number (mtx numbering: storage slots, then
// import/export slots) to its element.
func element(st device.ChangerStatus, n int) (device.ElementStatus, error) {
	for _, list := range [][]device.ElementStatus{st.Slots, st.ImportExport} {
		for _, el := range list {
			if el.ID == n {
				return el, nil
			}
		}
	}
	return device.ElementStatus{}, cliapp.Usagef("slot %d does not exist (the changer has %d slots)", n, len(st.Slots)+len(st.ImportExport))
}

func driveElement(st device.ChangerStatus, n int) (device.ElementStatus, error) {
	for _, el := range st.Drives {
		if el.ID == n {
			return el, nil
		}
	}
	return device.ElementStatus{}, cliapp.Usagef("drive number %d does not exist (the changer has %d drives)", n, len(st.Drives))
}

func slotArg(c *cli.Context, i int) (int, error) {
	n, err := strconv.Atoi(c.Args().Get(i))
	if err != nil || n <= 0 {
		return 0, cliapp.Usagef("invalid slot %q: expected a positive number", c.Args().Get(i))
	}
	return n, nil
}

// driveArg returns the drive number: positional argument i (mtx's
// syntax) if given, else --drivenum (default 0). Both given must agree.
func driveArg(c *cli.Context, i int) (int, error) {
	n := c.Int("drivenum")
	if c.NArg() <= i {
		return n, nil
	}
	v, err := strconv.Atoi(c.Args().Get(i))
	if err != nil || v < 0 {
		return 0, cliapp.Usagef("invalid drive number %q: expected a number ≥ 0", c.Args().Get(i))
	}
	if c.IsSet("drivenum") && v != n {
		return 0, cliapp.Usagef("drive %d and --drivenum %d disagree: give one of them", v, n)
	}
	return v, nil
}

// unloadDrive unthreads the tape of the configured drive with number n of
// this changer, so the robot can take it. Without a configured drive the
// move is tried as is (libraries that eject on move accept it).
func (tg *target) unloadDrive(ctx context.Context, n int) error {
	if tg.cfg == nil {
		return nil
	}
	tc, err := tg.eng.Config().LoadTape()
	if err != nil {
		return err
	}
	for _, d := range tc.Drives {
		if d.Changer != tg.cfg.Name || d.ChangerDriveNum != n {
			continue
		}
		dev, err := tg.op.OpenDrive(d.Path)
		if err != nil {
			return fmt.Errorf("open drive %s to unload it: %w", d.Name, err)
		}
		defer dev.Close()
		if err := dev.Unload(ctx); err != nil && !errors.Is(err, device.ErrNoMedium) {
			return fmt.Errorf("unload drive %s: %w", d.Name, err)
		}
	}
	return nil
}

func newApp(stdout, stderr io.Writer) *cli.App {
	t := &tool{stdout: stdout}
	app := cliapp.NewApp("pmtx", "control a tape changer (an mtx replacement)")
	app.Writer, app.ErrWriter = stdout, stderr
	drivenum := &cli.IntFlag{Name: "drivenum", Usage: "drive number in the changer"}
	app.Commands = []*cli.Command{
		{
			Name: "status", Usage: "show drives and slots with barcodes",
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				st, err := ch.Status(ctx)
				if err != nil {
					return err
				}
				if t.Format != output.Text {
					return output.Print(stdout, t.Format, nil, st)
				}
				printStatus(stdout, tg.path, st)
				return nil
			}),
		},
		{
			Name: "load", Usage: "move the tape in SLOT into a drive (mtx's `load SLOT [DRIVE]` works too)", ArgsUsage: "SLOT [DRIVE]", Flags: []cli.Flag{drivenum},
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				if c.NArg() < 1 || c.NArg() > 2 {
					return cliapp.Usagef("load: expected SLOT [DRIVE], got %d argument(s)", c.NArg())
				}
				slot, err := slotArg(c, 0)
				if err != nil {
					return err
				}
				dn, err := driveArg(c, 1)
				if err != nil {
					return err
				}
				st, err := ch.Status(ctx)
				if err != nil {
					return err
				}
				from, err := element(st, slot)
				if err != nil {
					return err
				}
				to, err := driveElement(st, dn)
				if err != nil {
					return err
				}
				return ch.Move(ctx, from.Element, to.Element)
			}),
		},
		{
			Name: "unload", Usage: "move the tape of a drive into a slot (its source slot by default; mtx's `unload [SLOT] [DRIVE]` works too)",
			ArgsUsage: "[SLOT [DRIVE]]",
			Flags:     []cli.Flag{drivenum, &cli.IntFlag{Name: "slot", Usage: "target slot"}},
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				if c.NArg() > 2 {
					return cliapp.Usagef("unload: expected [SLOT [DRIVE]], got %d arguments", c.NArg())
				}
				slot := c.Int("slot")
				if c.NArg() > 0 {
					n, err := slotArg(c, 0)
					if err != nil {
						return err
					}
					if c.IsSet("slot") && slot != n {
						return cliapp.Usagef("unload: slot %d and --slot %d disagree: give one of them", n, slot)
					}
					slot = n
				}
				dn, err := driveArg(c, 1)
				if err != nil {
					return err
				}
				st, err := ch.Status(ctx)
				if err != nil {
					return err
				}
				from, err := driveElement(st, dn)
				if err != nil {
					return err
				}
				if !from.Full {
					return fmt.Errorf("drive number %d: %w", from.ID, device.ErrNoMedium)
				}
				if slot == 0 {
					slot = from.SourceSlot
				}
				if slot == 0 {
					for _, el := range st.Slots {
						if !el.Full {
							slot = el.ID
							break
						}
					}
				}
				to, err := element(st, slot)
				if err != nil {
					return err
				}
				if err := tg.unloadDrive(ctx, from.ID); err != nil {
					return err
				}
				return ch.Move(ctx, from.Element, to.Element)
			}),
		},
		{
			Name: "transfer", Usage: "move a tape from one slot to another", ArgsUsage: "FROM TO",
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				if _, err := cliapp.Args(c, "FROM", "TO"); err != nil {
					return err
				}
				a, err := slotArg(c, 0)
				if err != nil {
					return err
				}
				b, err := slotArg(c, 1)
				if err != nil {
					return err
				}
				st, err := ch.Status(ctx)
				if err != nil {
					return err
				}
				from, err := element(st, a)
				if err != nil {
					return err
				}
				to, err := element(st, b)
				if err != nil {
					return err
				}
				return ch.Move(ctx, from.Element, to.Element)
			}),
		},
		{
			Name: "inventory", Usage: "make the changer re-read all barcodes",
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				return ch.Inventory(ctx)
			}),
		},
		{
			Name: "inquiry", Usage: "show vendor, model, serial and revision",
			Action: t.withChanger(func(ctx context.Context, ch device.Changer, tg *target, c *cli.Context) error {
				info, err := ch.Info(ctx)
				if err != nil {
					return err
				}
				return output.Print(stdout, t.Format, output.StructKV(info), info)
			}),
		},
		{
			Name: "scan", Usage: "list the changers this system can see",
			Action: func(c *cli.Context) error {
				list, err := (&devices.Opener{StateDir: t.StateDir}).ScanChangers()
				if err != nil {
					return err
				}
				return output.Print(stdout, t.Format, cliapp.ScanTable(list), list)
			},
		},
	}
	for _, cmd := range app.Commands {
		if cmd.Name != "scan" {
			cmd.Flags = append(cmd.Flags,
				&cli.StringFlag{Name: "changer", Usage: "changer `NAME` (default: the changer of the default drive)"},
				cliapp.DriveFlag(),
				&cli.StringFlag{Name: "device", Aliases: []string{"f"}, Usage: "device `PATH` instead of a configured changer (default: CHANGER)"})
		}
	}
	cliapp.Prepare(app.Commands, func(s cliapp.Settings) error { t.Settings = s; return nil }, func() {})
	cliapp.Document(app, nil, pmtxDescription, false)
	return app
}

// printStatus prints the element status the way mtx does.
func printStatus(w io.Writer, path string, st device.ChangerStatus) {
	fmt.Fprintf(w, "  Storage Changer %s:%d Drives, %d Slots ( %d Import/Export )\n",
		path, len(st.Drives), len(st.Slots)+len(st.ImportExport), len(st.ImportExport))
	tag := func(el device.ElementStatus, sep string) string {
		if el.VolumeTag == "" {
			return ""
		}
		return sep + el.VolumeTag
	}
	for _, el := range st.Drives {
		if !el.Full {
			fmt.Fprintf(w, "Data Transfer Element %d:Empty\n", el.ID)
			continue
		}
		fmt.Fprintf(w, "Data Transfer Element %d:Full (Storage Element %d Loaded)%s\n", el.ID, el.SourceSlot, tag(el, ":VolumeTag = "))
	}
	for _, el := range st.Slots {
		if el.Full {
			fmt.Fprintf(w, "      Storage Element %d:Full %s\n", el.ID, tag(el, ":VolumeTag="))
		} else {
			fmt.Fprintf(w, "      Storage Element %d:Empty\n", el.ID)
		}
	}
	for _, el := range st.ImportExport {
		if el.Full {
			fmt.Fprintf(w, "      Storage Element %d IMPORT/EXPORT:Full %s\n", el.ID, tag(el, ":VolumeTag="))
		} else {
			fmt.Fprintf(w, "      Storage Element %d IMPORT/EXPORT:Empty\n", el.ID)
		}
	}
}
