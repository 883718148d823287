package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// ctimeLayout is how proxmox-tape prints times in tables.
const ctimeLayout = "Mon Jan 2 15:04:05 2006"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(ctimeLayout)
}

// driveAction is a command that works on the default or --drive drive.
func (e *env) driveAction(name, usage, argsUsage string, flags []cli.Flag, run func(c *cli.Context, eng *engine.Engine, drive string) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: argsUsage,
		Flags:     append([]cli.Flag{driveFlag()}, flags...),
		Action: func(c *cli.Context) error {
			eng, err := e.engine()
			if err != nil {
				return err
			}
			return run(c, eng, c.String("drive"))
		},
	}
}

func (e *env) tapeCommands() []*cli.Command {
	return []*cli.Command{
		e.readOnly(e.driveAction("status", "show drive status", "", nil, e.runStatus)),
		e.driveAction("label", "write a label to the tape in the drive", "", []cli.Flag{
			&cli.StringFlag{Name: "label-text", Aliases: []string{"changer-id"}, Required: true, Usage: "label text (for a library: the barcode)"},
			&cli.StringFlag{Name: "pool", Usage: "media pool the tape is for (default: any pool)"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			li, err := eng.Label(c.Context, drive, c.String("label-text"), c.String("pool"))
			if err != nil {
				return err
			}
			if e.Format != output.Text {
				return e.print(nil, li)
			}
			return nil
		}),
		e.driveAction("barcode-label", "label every unlabelled tape of the library with its barcode", "", []cli.Flag{
			&cli.StringFlag{Name: "pool", Usage: "media pool the tapes are for (default: any pool)"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			res, err := eng.BarcodeLabel(c.Context, drive, c.String("pool"))
			if len(res) > 0 || err == nil {
				t := &output.Table{Columns: []string{"label-text", "slot", "uuid", "pool", "result"}}
				for _, r := range res {
					t.Add(r.LabelText, itoa0(r.Slot), uuidOrEmpty(r.UUID), r.Pool, r.Result)
				}
				if res == nil {
					res = []engine.BarcodeResult{}
				}
				if perr := e.print(t, res); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		}),
		e.driveAction("read-label", "read the label of the tape in the drive", "", []cli.Flag{
			&cli.BoolFlag{Name: "inventorize", Usage: "add the tape to the inventory"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			li, err := eng.ReadLabel(c.Context, drive, c.Bool("inventorize"))
			if err != nil {
				return err
			}
			t := output.KV(
				[2]string{"changer-id", li.LabelText},
				[2]string{"uuid", li.UUID.String()},
				[2]string{"ctime", fmtTime(li.Ctime)},
				[2]string{"pool", li.Pool},
				[2]string{"media-set-uuid", li.MediaSetUUID.String()},
				[2]string{"media-set-ctime", fmtTime(li.MediaSetTime)},
			)
			if li.MediaSetUUID != uuid.Nil {
				t.Add("seq-nr", strconv.FormatUint(li.MediaSetSeq, 10))
			}
			if li.EncryptionKeyFingerprint != "" {
				t.Add("encryption-key-fingerprint", li.EncryptionKeyFingerprint)
			}
			return e.print(t, li)
		}),
		e.driveAction("format", "erase the tape in the drive (all data is lost)", "", []cli.Flag{
			&cli.BoolFlag{Name: "fast", Value: true, Usage: "only write end of data at the start of the tape (as proxmox-tape, the default; --fast=false erases the whole tape)"},
			&cli.StringFlag{Name: "label-text", Usage: "only erase if the tape carries this label or barcode (loads it from the library)"},
			&cli.BoolFlag{Name: "force", Usage: "erase a tape that holds data of a media set that is not expired (the catalog forgets what it held)"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			return eng.Format(c.Context, drive, c.String("label-text"), c.Bool("fast"), c.Bool("force"))
		}),
		e.driveAction("load-media", "load the tape with the given label from the library", "LABEL", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				return eng.LoadMedia(c.Context, drive, a[0])
			}),
		e.driveAction("load-media-from-slot", "load the tape in a slot", "SLOT", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error {
				a, err := args(c, "SLOT")
				if err != nil {
					return err
				}
				n, err := strconv.Atoi(a[0])
				if err != nil || n <= 0 {
					return usagef("invalid slot %q: expected a positive number", a[0])
				}
				return eng.LoadFromSlot(c.Context, drive, n)
			}),
		e.driveAction("unload", "unload the tape into a slot", "", []cli.Flag{
			&cli.IntFlag{Name: "target-slot", Usage: "slot to put the tape into (default: where it came from)"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			if c.IsSet("target-slot") && c.Int("target-slot") <= 0 {
				return usagef("invalid --target-slot %d: expected a positive number", c.Int("target-slot"))
			}
			return eng.Unload(c.Context, drive, c.Int("target-slot"))
		}),
		e.driveAction("eject", "eject the tape (back to its slot in a library)", "", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error { return eng.Eject(c.Context, drive) }),
		e.driveAction("export-media", "move a tape to an import/export slot", "LABEL", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				return eng.ExportMedia(c.Context, drive, a[0])
			}),
		e.driveAction("rewind", "rewind the tape", "", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error { return eng.Rewind(c.Context, drive) }),
		e.driveAction("clean", "clean the drive with the library's cleaning cartridge", "", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error { return eng.Clean(c.Context, drive) }),
		e.driveAction("inventory", "update the inventory from the library's tapes", "", []cli.Flag{
			&cli.BoolFlag{Name: "read-labels", Usage: "load tapes that are not in the inventory to read their labels"},
			&cli.BoolFlag{Name: "read-all-labels", Usage: "load every tape to read its label"},
			&cli.BoolFlag{Name: "catalog", Usage: "also read the catalog of every tape of a media set (restore the catalog)"},
			&cli.BoolFlag{Name: "scan", Usage: "with --catalog: read every archive instead of each tape's catalog archive"},
			&cli.BoolFlag{Name: "force", Usage: "with --catalog: read tapes the catalog already has"},
		}, func(c *cli.Context, eng *engine.Engine, drive string) error {
			if c.Bool("catalog") {
				rs, err := eng.InventoryCatalog(c.Context, drive, c.Bool("scan"), c.Bool("force"))
				if rs == nil {
					rs = []engine.CatalogResult{}
				}
				if perr := e.print(catalogTable(rs), rs); perr != nil && err == nil {
					err = perr
				}
				return err
			}
			list, err := eng.Inventory(c.Context, drive, engine.InventoryOptions{ReadLabels: c.Bool("read-labels"), ReadAllLabels: c.Bool("read-all-labels")})
			if err != nil {
				return err
			}
			t := &output.Table{Columns: []string{"label-text", "uuid", "pool", "location", "note"}}
			for _, r := range list {
				t.Add(r.LabelText, uuidOrEmpty(r.UUID), r.Pool, r.Location, r.Note)
			}
			if list == nil {
				list = []engine.InventoryEntry{}
			}
			return e.print(t, list)
		}),
		e.driveAction("cartridge-memory", "read the cartridge memory (MAM) of the tape in the drive", "", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error {
				attrs, err := eng.CartridgeMemory(c.Context, drive)
				if err != nil {
					return err
				}
				t := &output.Table{Columns: []string{"id", "name", "value"}}
				for _, a := range attrs {
					t.Add(fmt.Sprintf("0x%04x", a.ID), a.Name, a.Value)
				}
				return e.print(t, attrs)
			}),
		e.driveAction("volume-statistics", "read the volume statistics of the tape in the drive", "", nil,
			func(c *cli.Context, eng *engine.Engine, drive string) error {
				vs, err := eng.VolumeStatistics(c.Context, drive)
				if err != nil {
					return err
				}
				return e.print(output.StructKV(*vs), vs)
			}),
	}
}

func uuidOrEmpty(u uuid.UUID) string {
	if u == uuid.Nil {
		return ""
	}
	return u.String()
}

// runStatus prints the drive's status; the JSON form has the table's rows
// as keys (engine.DriveStatusInfo.Fields).
func (e *env) runStatus(c *cli.Context, eng *engine.Engine, drive string) error {
	s, err := eng.Status(c.Context, drive)
	if err != nil {
		return err
	}
	t := &output.Table{Columns: []string{"Name", "Value"}}
	for _, f := range s.Fields("run `tapefs clean`") {
		t.Add(f.Name, f.Text)
	}
	return e.print(t, s)
}
