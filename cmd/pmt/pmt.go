package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/devices"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/device"
)

type tool struct {
	stdout io.Writer
	cliapp.Settings
}

// open resolves --device or --drive and opens the drive. Without either
// (nor TAPEFS_DRIVE or PROXMOX_TAPE_DRIVE), the TAPE environment variable
// names the device, as for mt; then the only configured drive is used.
func (t *tool) open(c *cli.Context) (device.Drive, string, error) {
	op := &devices.Opener{StateDir: t.StateDir}
	path := c.String("device")
	if path == "" && c.String("drive") == "" {
		path = os.Getenv("TAPE")
	}
	name := path
	if path == "" {
		eng, err := engine.New(engine.Options{ConfigDir: t.ConfigDir, StateDir: t.StateDir, Opener: op})
		if err != nil {
			return nil, "", err
		}
		d, err := eng.ResolveDrive(c.String("drive"))
		eng.Close()
		if err != nil {
			return nil, "", err
		}
		path, name = d.Path, d.Name
	}
	d, err := op.OpenDrive(path)
	if err != nil {
		return nil, "", fmt.Errorf("open drive %s: %w", name, err)
	}
	return d, name, nil
}

// withDrive runs fn on the selected drive.
func (t *tool) withDrive(fn func(ctx context.Context, d device.Drive, name string, c *cli.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		d, name, err := t.open(c)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := fn(c.Context, d, name, c); err != nil {
			return fmt.Errorf("drive %s: %w", name, err)
		}
		return nil
	}
}

// count reads the optional COUNT argument (default def).
func count(c *cli.Context, def int64) (int64, error) {
	switch c.NArg() {
	case 0:
		return def, nil
	case 1:
		n, err := strconv.ParseInt(c.Args().First(), 10, 64)
		if err != nil || n < 0 {
			return 0, cliapp.Usagef("%s: invalid count %q: expected a number ≥ 0", c.Command.Name, c.Args().First())
		}
		return n, nil
	}
	return 0, cliapp.Usagef("%s: expected at most one argument (COUNT)", c.Command.Name)
}

// space is a positioning command: fsf, bsf, fsr, bsr, fsfm, bsfm, asf.
func (t *tool) space(name, usage string, run func(ctx context.Context, d device.Drive, n int64) error) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "[COUNT]",
		Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
			n, err := count(c, 1)
			if err != nil {
				return err
			}
			return run(ctx, d, n)
		}),
	}
}

func simple(t *tool, name, usage string, run func(ctx context.Context, d device.Drive) error) *cli.Command {
	return simpleAlias(t, name, nil, usage, run)
}

// simpleAlias is simple with other names for the command (mt's names).
func simpleAlias(t *tool, name string, aliases []string, usage string, run func(ctx context.Context, d device.Drive) error) *cli.Command {
	return &cli.Command{
		Name: name, Aliases: aliases, Usage: usage,
		Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
			return run(ctx, d)
		}),
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	t := &tool{stdout: stdout}
	app := cliapp.NewApp("pmt", "control a tape drive (an mt replacement)")
	app.Writer, app.ErrWriter = stdout, stderr
	sp := func(kind device.SpaceKind, sign int64) func(ctx context.Context, d device.Drive, n int64) error {
		return func(ctx context.Context, d device.Drive, n int64) error { return d.Space(ctx, kind, sign*n) }
	}
	app.Commands = []*cli.Command{
		simple(t, "rewind", "rewind to the beginning of the tape", func(ctx context.Context, d device.Drive) error { return d.Rewind(ctx) }),
		t.space("fsf", "forward space COUNT files: positioned at the first record of the next file", sp(device.SpaceFilemarks, 1)),
		t.space("bsf", "backward space COUNT files: positioned on the beginning-of-tape side of the filemark", sp(device.SpaceFilemarks, -1)),
		t.space("fsr", "forward space COUNT records", sp(device.SpaceRecords, 1)),
		t.space("bsr", "backward space COUNT records", sp(device.SpaceRecords, -1)),
		t.space("fsfm", "forward space COUNT filemarks, then back over the last one: positioned before it", func(ctx context.Context, d device.Drive, n int64) error {
			if err := d.Space(ctx, device.SpaceFilemarks, n); err != nil {
				return err
			}
			return d.Space(ctx, device.SpaceFilemarks, -1)
		}),
		t.space("bsfm", "backward space COUNT filemarks, then forward over the last one: positioned after it", func(ctx context.Context, d device.Drive, n int64) error {
			if err := d.Space(ctx, device.SpaceFilemarks, -n); err != nil {
				return err
			}
			return d.Space(ctx, device.SpaceFilemarks, 1)
		}),
		t.space("asf", "position at the start of file COUNT (rewind, then forward space COUNT files)", func(ctx context.Context, d device.Drive, n int64) error {
			if err := d.Rewind(ctx); err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			return d.Space(ctx, device.SpaceFilemarks, n)
		}),
		simpleAlias(t, "eod", []string{"eom", "seod"}, "space to end of data", func(ctx context.Context, d device.Drive) error { return d.Space(ctx, device.SpaceEndOfData, 0) }),
		{
			Name: "weof", Aliases: []string{"eof"}, Usage: "write COUNT filemarks (default 1)", ArgsUsage: "[COUNT]",
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				n, err := count(c, 1)
				if err != nil {
					return err
				}
				err = d.WriteFilemarks(ctx, int(n))
				if errors.Is(err, device.ErrEarlyWarning) {
					fmt.Fprintln(stderr, "pmt: warning: tape is past early warning")
					return nil
				}
				return err
			}),
		},
		{
			Name: "erase", Usage: "erase the tape from the current position (long erase; --fast writes end of data only)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "fast", Usage: "short erase"}},
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				return d.Erase(ctx, !c.Bool("fast"))
			}),
		},
		{
			Name: "format", Usage: "format the tape (everything on it is lost; --fast erases at the start only)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "fast", Usage: "rewind and write end of data at the start"}},
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				if c.Bool("fast") {
					if err := d.Rewind(ctx); err != nil {
						return err
					}
					return d.Erase(ctx, false)
				}
				return d.Format(ctx)
			}),
		},
		simple(t, "load", "load (thread) the tape in the drive", func(ctx context.Context, d device.Drive) error { return d.Load(ctx) }),
		simpleAlias(t, "eject", []string{"offline", "rewoffl"}, "rewind and unload the tape", func(ctx context.Context, d device.Drive) error { return d.Unload(ctx) }),
		simple(t, "lock", "prevent removal of the tape", func(ctx context.Context, d device.Drive) error { return d.SetLock(ctx, true) }),
		simple(t, "unlock", "allow removal of the tape", func(ctx context.Context, d device.Drive) error { return d.SetLock(ctx, false) }),
		{
			Name: "options", Usage: "set drive options",
			Flags: []cli.Flag{
				&cli.UintFlag{Name: "blocksize", Usage: "fixed block size in bytes (0 = variable, the default tapefs uses)"},
				&cli.BoolFlag{Name: "compression", Usage: "hardware compression (--compression=false to disable)"},
				&cli.BoolFlag{Name: "buffer-mode", Usage: "buffered writes (--buffer-mode=false to disable)"},
				&cli.BoolFlag{Name: "defaults", Usage: "variable block size, compression off, buffer mode on"},
			},
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				var o device.DriveOptions
				if c.Bool("defaults") {
					bs, comp, buf := uint32(0), false, true
					o = device.DriveOptions{BlockSize: &bs, Compression: &comp, BufferMode: &buf}
				}
				if c.IsSet("blocksize") {
					bs := uint32(c.Uint("blocksize"))
					o.BlockSize = &bs
				}
				if c.IsSet("compression") {
					v := c.Bool("compression")
					o.Compression = &v
				}
				if c.IsSet("buffer-mode") {
					v := c.Bool("buffer-mode")
					o.BufferMode = &v
				}
				if o == (device.DriveOptions{}) {
					return cliapp.Usagef("options: nothing to set (use --blocksize, --compression, --buffer-mode or --defaults)")
				}
				return d.SetOptions(ctx, o)
			}),
		},
		{
			Name: "status", Usage: "show drive and tape status",
			Action: t.withDrive(func(ctx context.Context, d device.Drive, name string, c *cli.Context) error {
				info, err := d.Info(ctx)
				if err != nil {
					return err
				}
				st, err := d.Status(ctx)
				if err != nil {
					return err
				}
				if t.Format != output.Text {
					return output.Print(stdout, t.Format, nil, struct {
						Drive string      `json:"drive"`
						Info  device.Info `json:"info"`
						device.DriveStatus
					}{name, info, st})
				}
				printStatus(stdout, name, info, st)
				return nil
			}),
		},
		{
			Name: "tape-alert-flags", Usage: "read the TapeAlert flags",
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				f, err := d.TapeAlerts(ctx)
				if err != nil {
					return err
				}
				tb := &output.Table{Columns: []string{"flag", "name"}}
				type flag struct {
					Flag int    `json:"flag"`
					Name string `json:"name"`
				}
				js := []flag{}
				for _, n := range f.Flags() {
					tb.Add(strconv.Itoa(n), device.TapeAlertName(n))
					js = append(js, flag{n, device.TapeAlertName(n)})
				}
				return output.Print(stdout, t.Format, tb, js)
			}),
		},
		{
			Name: "volume-statistics", Usage: "read the volume statistics of the tape",
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				vs, err := d.VolumeStatistics(ctx)
				if err != nil {
					return err
				}
				return output.Print(stdout, t.Format, output.StructKV(vs), vs)
			}),
		},
		{
			Name: "cartridge-memory", Usage: "read the cartridge memory (MAM) attributes",
			Action: t.withDrive(func(ctx context.Context, d device.Drive, _ string, c *cli.Context) error {
				attrs, err := d.CartridgeMemory(ctx)
				if err != nil {
					return err
				}
				tb := &output.Table{Columns: []string{"id", "name", "value"}}
				for _, a := range attrs {
					tb.Add(fmt.Sprintf("0x%04x", a.ID), a.Name, a.Value)
				}
				return output.Print(stdout, t.Format, tb, attrs)
			}),
		},
		{
			Name: "scan", Usage: "list the tape drives this system can see",
			Action: func(c *cli.Context) error {
				list, err := (&devices.Opener{StateDir: t.StateDir}).ScanDrives()
				if err != nil {
					return err
				}
				return output.Print(stdout, t.Format, cliapp.ScanTable(list), list)
			},
		},
	}
	for _, cmd := range app.Commands {
		if cmd.Name != "scan" {
			cmd.Flags = append(cmd.Flags, cliapp.DriveFlag(), &cli.StringFlag{Name: "device", Aliases: []string{"f"}, Usage: "device `PATH` instead of a configured drive (default: TAPE)"})
		}
	}
	cliapp.Prepare(app.Commands, func(s cliapp.Settings) error { t.Settings = s; return nil }, func() {})
	cliapp.Document(app, nil, pmtDescription, false)
	return app
}

// printStatus prints the drive status the way mt does.
func printStatus(w io.Writer, name string, info device.Info, st device.DriveStatus) {
	fmt.Fprintf(w, "drive %s: %s %s (serial %s)\n", name, info.Vendor, info.Model, info.Serial)
	if !st.Online {
		fmt.Fprintln(w, "drive is offline")
		return
	}
	switch {
	case st.Loaded && st.PositionUnknown:
		fmt.Fprintln(w, "file number=-1, block number=-1 (the drive does not report its position)")
	case st.Loaded:
		p := st.Position
		fmt.Fprintf(w, "file number=%d, block number=%d, logical object=%d\n", p.File, p.Record, p.Object)
	default:
		fmt.Fprintln(w, "file number=-1, block number=-1")
	}
	density := st.Density
	if density == "" {
		density = "none"
	}
	fmt.Fprintf(w, "Tape block size %d bytes. Density %s.\n", st.BlockSize, density)
	fmt.Fprintf(w, "General status bits on: %s\n", engine.MTFlags(st))
	if st.Alerts != 0 {
		fmt.Fprintf(w, "TapeAlert flags: %s\n", st.Alerts)
	}
	if st.Sim != nil {
		fmt.Fprintf(w, "Simulated tape time %s, back-hitches %d, loads %d, locates %d\n",
			time.Duration(st.Sim.TapeSeconds*float64(time.Second)).Round(time.Millisecond), st.Sim.BackHitches, st.Sim.Loads, st.Sim.Locates)
	}
}
