package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/device"
)

// The commands that work on the tape in a drive (the default drive, or
// --drive): `tapefs status`, `label`, `load-media`, `inventory`, ... Each
// one's flags become its options (labelOpts, inventoryOpts, ...), a runX
// makes the engine call, and an xTable is its text output.

// ctimeLayout is how proxmox-tape prints times in tables.
const ctimeLayout = "Mon Jan 2 15:04:05 2006"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(ctimeLayout)
}

// driveAction is a command that works on the default or --drive drive:
// action gets the drive's name ("" for the default drive).
func (e *env) driveAction(name, usage, argsUsage string, flags []cli.Flag, action func(c *cli.Context, drive string) error) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: argsUsage,
		Flags:     append([]cli.Flag{driveFlag()}, flags...),
		Action:    func(c *cli.Context) error { return action(c, c.String("drive")) },
	}
}

// driveOp is a command without options or output but the drive: the
// engine operation op on it.
func (e *env) driveOp(name, usage string, op func(eng *engine.Engine, ctx context.Context, drive string) error) *cli.Command {
	return e.driveAction(name, usage, "", nil, func(c *cli.Context, drive string) error {
		return e.runDriveOp(c.Context, drive, op)
	})
}

// runDriveOp runs op on the drive.
func (e *env) runDriveOp(ctx context.Context, drive string, op func(eng *engine.Engine, ctx context.Context, drive string) error) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return op(eng, ctx, drive)
}

func (e *env) tapeCommands() []*cli.Command {
	return []*cli.Command{
		e.readOnly(e.driveAction("status", "show drive status", "", nil, func(c *cli.Context, drive string) error {
			s, err := e.runStatus(c.Context, drive)
			if err != nil {
				return err
			}
			return e.print(statusTable(s), s)
		})),
		e.driveAction("label", "write a label to the tape in the drive", "", []cli.Flag{
			&cli.StringFlag{Name: "label-text", Aliases: []string{"changer-id"}, Required: true, Usage: "label text (for a library: the barcode)"},
			&cli.StringFlag{Name: "pool", Usage: "media pool the tape is for (default: any pool)"},
		}, func(c *cli.Context, drive string) error {
			li, err := e.runLabel(c.Context, labelOpts{Drive: drive, LabelText: c.String("label-text"), Pool: c.String("pool")})
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
		}, func(c *cli.Context, drive string) error {
			res, err := e.runBarcodeLabel(c.Context, labelOpts{Drive: drive, Pool: c.String("pool")})
			if len(res) > 0 || err == nil {
				if perr := e.print(barcodeLabelTable(res), res); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		}),
		e.driveAction("read-label", "read the label of the tape in the drive", "", []cli.Flag{
			&cli.BoolFlag{Name: "inventorize", Usage: "add the tape to the inventory"},
		}, func(c *cli.Context, drive string) error {
			li, err := e.runReadLabel(c.Context, drive, c.Bool("inventorize"))
			if err != nil {
				return err
			}
			return e.print(readLabelTable(li), li)
		}),
		e.driveAction("format", "erase the tape in the drive (all data is lost)", "", []cli.Flag{
			&cli.BoolFlag{Name: "fast", Value: true, Usage: "only write end of data at the start of the tape (as proxmox-tape, the default; --fast=false erases the whole tape)"},
			&cli.StringFlag{Name: "label-text", Usage: "only erase if the tape carries this label or barcode (loads it from the library)"},
			&cli.BoolFlag{Name: "force", Usage: "erase a tape that holds data of a media set that is not expired (the catalog forgets what it held)"},
		}, func(c *cli.Context, drive string) error {
			return e.runFormat(c.Context, formatOpts{Drive: drive, LabelText: c.String("label-text"), Fast: c.Bool("fast"), Force: c.Bool("force")})
		}),
		e.driveAction("load-media", "load the tape with the given label from the library", "LABEL", nil,
			func(c *cli.Context, drive string) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				return e.runDriveOp(c.Context, drive, func(eng *engine.Engine, ctx context.Context, drive string) error {
					return eng.LoadMedia(ctx, drive, a[0])
				})
			}),
		e.driveAction("load-media-from-slot", "load the tape in a slot", "SLOT", nil,
			func(c *cli.Context, drive string) error {
				slot, err := slotOption(c)
				if err != nil {
					return err
				}
				return e.runDriveOp(c.Context, drive, func(eng *engine.Engine, ctx context.Context, drive string) error {
					return eng.LoadFromSlot(ctx, drive, slot)
				})
			}),
		e.driveAction("unload", "unload the tape into a slot", "", []cli.Flag{
			&cli.IntFlag{Name: "target-slot", Usage: "slot to put the tape into (default: where it came from)"},
		}, func(c *cli.Context, drive string) error {
			if c.IsSet("target-slot") && c.Int("target-slot") <= 0 {
				return usagef("invalid --target-slot %d: expected a positive number", c.Int("target-slot"))
			}
			target := c.Int("target-slot")
			return e.runDriveOp(c.Context, drive, func(eng *engine.Engine, ctx context.Context, drive string) error {
				return eng.Unload(ctx, drive, target)
			})
		}),
		e.driveOp("eject", "eject the tape (back to its slot in a library)", (*engine.Engine).Eject),
		e.driveAction("export-media", "move a tape to an import/export slot", "LABEL", nil,
			func(c *cli.Context, drive string) error {
				a, err := args(c, "LABEL")
				if err != nil {
					return err
				}
				return e.runDriveOp(c.Context, drive, func(eng *engine.Engine, ctx context.Context, drive string) error {
					return eng.ExportMedia(ctx, drive, a[0])
				})
			}),
		e.driveOp("rewind", "rewind the tape", (*engine.Engine).Rewind),
		e.driveOp("clean", "clean the drive with the library's cleaning cartridge", (*engine.Engine).Clean),
		e.driveAction("inventory", "update the inventory from the library's tapes", "", []cli.Flag{
			&cli.BoolFlag{Name: "read-labels", Usage: "load tapes that are not in the inventory to read their labels"},
			&cli.BoolFlag{Name: "read-all-labels", Usage: "load every tape to read its label"},
			&cli.BoolFlag{Name: "catalog", Usage: "also read the catalog of every tape of a media set (restore the catalog)"},
			&cli.BoolFlag{Name: "scan", Usage: "with --catalog: read every archive instead of each tape's catalog archive"},
			&cli.BoolFlag{Name: "force", Usage: "with --catalog: read tapes the catalog already has"},
		}, func(c *cli.Context, drive string) error {
			if c.Bool("catalog") {
				rs, err := e.runInventoryCatalog(c.Context, catalogOpts{Drive: drive, Scan: c.Bool("scan"), Force: c.Bool("force")})
				if rs != nil {
					if perr := e.print(catalogTable(rs), rs); perr != nil && err == nil {
						err = perr
					}
				}
				return err
			}
			list, err := e.runInventory(c.Context, drive, engine.InventoryOptions{ReadLabels: c.Bool("read-labels"), ReadAllLabels: c.Bool("read-all-labels")})
			if err != nil {
				return err
			}
			return e.print(inventoryTable(list), list)
		}),
		e.driveAction("cartridge-memory", "read the cartridge memory (MAM) of the tape in the drive", "", nil,
			func(c *cli.Context, drive string) error {
				attrs, err := e.runCartridgeMemory(c.Context, drive)
				if err != nil {
					return err
				}
				return e.print(cartridgeMemoryTable(attrs), attrs)
			}),
		e.driveAction("volume-statistics", "read the volume statistics of the tape in the drive", "", nil,
			func(c *cli.Context, drive string) error {
				vs, err := e.runVolumeStatistics(c.Context, drive)
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

// runStatus reads the drive's status.
func (e *env) runStatus(ctx context.Context, drive string) (*engine.DriveStatusInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.Status(ctx, drive)
}

// statusTable shows the drive's status; the JSON form has the table's
// rows as keys (engine.DriveStatusInfo.Fields).
func statusTable(s *engine.DriveStatusInfo) *output.Table {
	t := &output.Table{Columns: []string{"Name", "Value"}}
	for _, f := range s.Fields("run `tapefs clean`") {
		t.Add(f.Name, f.Text)
	}
	return t
}

// labelOpts are the options of `label` and `barcode-label`.
type labelOpts struct {
	Drive     string
	LabelText string // label only
	Pool      string
}

// runLabel labels the tape in the drive.
func (e *env) runLabel(ctx context.Context, opts labelOpts) (*engine.LabelInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.Label(ctx, opts.Drive, opts.LabelText, opts.Pool)
}

// runBarcodeLabel labels the library's unlabelled tapes. The tapes done
// before a failure are returned with it.
func (e *env) runBarcodeLabel(ctx context.Context, opts labelOpts) ([]engine.BarcodeResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	res, err := eng.BarcodeLabel(ctx, opts.Drive, opts.Pool)
	if res == nil {
		res = []engine.BarcodeResult{}
	}
	return res, err
}

func barcodeLabelTable(res []engine.BarcodeResult) *output.Table {
	t := &output.Table{Columns: []string{"label-text", "slot", "uuid", "pool", "result"}}
	for _, r := range res {
		t.Add(r.LabelText, itoa0(r.Slot), uuidOrEmpty(r.UUID), r.Pool, r.Result)
	}
	return t
}

// runReadLabel reads the label of the tape in the drive.
func (e *env) runReadLabel(ctx context.Context, drive string, inventorize bool) (*engine.LabelInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.ReadLabel(ctx, drive, inventorize)
}

func readLabelTable(li *engine.LabelInfo) *output.Table {
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
	return t
}

// formatOpts are the options of `format`.
type formatOpts struct {
	Drive     string
	LabelText string // only a tape with this label or barcode
	Fast      bool
	Force     bool
}

func (e *env) runFormat(ctx context.Context, opts formatOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.Format(ctx, opts.Drive, opts.LabelText, opts.Fast, opts.Force)
}

// slotOption reads the SLOT argument.
func slotOption(c *cli.Context) (int, error) {
	a, err := args(c, "SLOT")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n <= 0 {
		return 0, usagef("invalid slot %q: expected a positive number", a[0])
	}
	return n, nil
}

// runInventory updates the inventory from the library's tapes.
func (e *env) runInventory(ctx context.Context, drive string, opts engine.InventoryOptions) ([]engine.InventoryEntry, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	list, err := eng.Inventory(ctx, drive, opts)
	if list == nil {
		list = []engine.InventoryEntry{}
	}
	return list, err
}

func inventoryTable(list []engine.InventoryEntry) *output.Table {
	t := &output.Table{Columns: []string{"label-text", "uuid", "pool", "location", "note"}}
	for _, r := range list {
		t.Add(r.LabelText, uuidOrEmpty(r.UUID), r.Pool, r.Location, r.Note)
	}
	return t
}

// runInventoryCatalog reads the catalog of every tape of a media set in
// the library. The tapes read before a failure are returned with it (an
// empty list if none); nil if the engine did not start.
func (e *env) runInventoryCatalog(ctx context.Context, opts catalogOpts) ([]engine.CatalogResult, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	rs, err := eng.InventoryCatalog(ctx, opts.Drive, opts.Scan, opts.Force)
	if rs == nil {
		rs = []engine.CatalogResult{}
	}
	return rs, err
}

// runCartridgeMemory reads the MAM attributes of the tape in the drive.
func (e *env) runCartridgeMemory(ctx context.Context, drive string) ([]device.MAMAttribute, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.CartridgeMemory(ctx, drive)
}

func cartridgeMemoryTable(attrs []device.MAMAttribute) *output.Table {
	t := &output.Table{Columns: []string{"id", "name", "value"}}
	for _, a := range attrs {
		t.Add(fmt.Sprintf("0x%04x", a.ID), a.Name, a.Value)
	}
	return t
}

// runVolumeStatistics reads the volume statistics of the tape in the
// drive.
func (e *env) runVolumeStatistics(ctx context.Context, drive string) (*device.VolumeStatistics, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.VolumeStatistics(ctx, drive)
}
