package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/vtape"
)

// `tapefs vtape ...`: each subcommand's flags become its options
// (vtapeCreateOptions, vtapeFaultOptions), a runVtapeX works on the
// library files, and vtapeListTable is the text output of list.

func (e *env) vtapeCommand() *cli.Command {
	return &cli.Command{
		Name:  "vtape",
		Usage: "create and operate virtual tape libraries",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a virtual tape library in a directory",
				ArgsUsage: "DIR",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "slots", Value: 16, Usage: "storage slots"},
					&cli.IntFlag{Name: "drives", Value: 1, Usage: "drives"},
					&cli.IntFlag{Name: "import-export", Value: 0, Usage: "import/export (mail) slots"},
					&cli.IntFlag{Name: "cartridges", Value: 8, Usage: "data cartridges, placed in slots 1.."},
					&cli.StringFlag{Name: "barcode-prefix", Value: "TEST", Usage: "barcode prefix: cartridges are PREFIX01L8, PREFIX02L8, ..."},
					&cli.IntFlag{Name: "cleaning", Value: 1, Usage: "cleaning cartridges (CLN001CU, ...)"},
					&cli.StringFlag{Name: "generation", Value: "LTO-8", Usage: "LTO generation: LTO-5 .. LTO-9"},
					&cli.StringFlag{Name: "capacity", Usage: "cartridge capacity, e.g. 4GiB (default: the generation's native capacity)"},
				},
				Action: func(c *cli.Context) error {
					opts, err := vtapeCreateOptions(c)
					if err != nil {
						return err
					}
					return e.runVtapeCreate(opts)
				},
			},
			{
				Name:  "list",
				Usage: "list the known virtual libraries",
				Action: func(c *cli.Context) error {
					libs, err := e.runVtapeList()
					if err != nil {
						return err
					}
					return e.print(vtapeListTable(libs), libs)
				},
			},
			{
				Name:      "insert",
				Usage:     "put a cartridge into an empty slot (new and blank, or one removed earlier)",
				ArgsUsage: "DIR BARCODE",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "slot", Required: true, Usage: "slot number"}},
				Action: func(c *cli.Context) error {
					a, err := args(c, "DIR", "BARCODE")
					if err != nil {
						return err
					}
					return vtape.Insert(a[0], c.Int("slot"), a[1], vtape.CartridgeOptions{})
				},
			},
			{
				Name:      "remove",
				Usage:     "take the cartridge out of a slot (it is kept and can be inserted again)",
				ArgsUsage: "DIR",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "slot", Required: true, Usage: "slot number"}},
				Action: func(c *cli.Context) error {
					a, err := args(c, "DIR")
					if err != nil {
						return err
					}
					return e.runVtapeRemove(a[0], c.Int("slot"))
				},
			},
			{
				Name:      "fault",
				Usage:     "inject faults into a drive or a cartridge (for tests and drills)",
				ArgsUsage: "DIR",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "drive", Value: -1, Usage: "drive number (drive faults: offline, cleaning-required)"},
					&cli.StringFlag{Name: "cartridge", Usage: "cartridge barcode (cartridge faults)"},
					&cli.Int64Flag{Name: "write-error-at", Value: -1, Usage: "fail writing object N"},
					&cli.Int64Flag{Name: "read-error-at", Value: -1, Usage: "fail reading object N"},
					&cli.StringFlag{Name: "early-warning-at", Usage: "report early warning after this many bytes"},
					&cli.BoolFlag{Name: "offline", Usage: "the drive does not answer"},
					&cli.BoolFlag{Name: "cleaning-required", Usage: "the drive asks for cleaning"},
				},
				Action: func(c *cli.Context) error {
					opts, err := vtapeFaultOptions(c)
					if err != nil {
						return err
					}
					return runVtapeFault(opts)
				},
			},
		},
	}
}

// vtapeCreateOpts are the options of `vtape create`.
type vtapeCreateOpts struct {
	Dir string // absolute
	vtape.LibraryOptions
}

func vtapeCreateOptions(c *cli.Context) (vtapeCreateOpts, error) {
	a, err := args(c, "DIR")
	if err != nil {
		return vtapeCreateOpts{}, err
	}
	dir, err := filepath.Abs(a[0])
	if err != nil {
		return vtapeCreateOpts{}, err
	}
	opts := vtape.LibraryOptions{
		Drives: c.Int("drives"), Slots: c.Int("slots"), ImportExport: c.Int("import-export"),
		Cartridges: c.Int("cartridges"), BarcodePrefix: c.String("barcode-prefix"),
		Cleaning: c.Int("cleaning"), Generation: c.String("generation"),
	}
	if c.IsSet("capacity") {
		if opts.Capacity, err = parseSize(c.String("capacity")); err != nil {
			return vtapeCreateOpts{}, err
		}
	}
	return vtapeCreateOpts{Dir: dir, LibraryOptions: opts}, nil
}

// runVtapeCreate creates the library and registers it for scans; it says
// on stderr what to do next.
func (e *env) runVtapeCreate(opts vtapeCreateOpts) error {
	dir := opts.Dir
	if err := vtape.Create(dir, opts.LibraryOptions); err != nil {
		return err
	}
	if err := e.opener().Register(dir); err != nil {
		return fmt.Errorf("library created, but not registered for scans: %w", err)
	}
	fmt.Fprintf(e.stderr, "created virtual library %s: %d drive(s), %d slots, %d import/export slots\n", dir, opts.Drives, opts.Slots, opts.ImportExport)
	fmt.Fprintf(e.stderr, "next: tapefs changer create NAME --path %s; tapefs drive create NAME --path %s\n", dir, vtape.DrivePath(dir, 0))
	return nil
}

// vtapeLib is one `vtape list` entry.
type vtapeLib struct {
	Path         string `json:"path"`
	Drives       int    `json:"drives"`
	Slots        int    `json:"slots"`
	ImportExport int    `json:"import-export"`
	Tapes        int    `json:"cartridges"`
}

// runVtapeList describes the registered libraries.
func (e *env) runVtapeList() ([]vtapeLib, error) {
	libs, err := e.opener().Libraries()
	if err != nil {
		return nil, err
	}
	out := []vtapeLib{}
	for _, dir := range libs {
		st, err := vtape.Describe(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, vtapeLib{Path: dir, Drives: st.Options.Drives, Slots: st.Options.Slots, ImportExport: st.Options.ImportExport, Tapes: len(st.Cartridges)})
	}
	return out, nil
}

func vtapeListTable(libs []vtapeLib) *output.Table {
	t := &output.Table{Columns: []string{"path", "drives", "slots", "import-export", "cartridges"}}
	for _, l := range libs {
		t.Add(l.Path, strconv.Itoa(l.Drives), strconv.Itoa(l.Slots), strconv.Itoa(l.ImportExport), strconv.Itoa(l.Tapes))
	}
	return t
}

// runVtapeRemove takes the cartridge out of the slot and says which.
func (e *env) runVtapeRemove(dir string, slot int) error {
	bc, err := vtape.Remove(dir, slot)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "removed %s from slot %d\n", bc, slot)
	return nil
}

// vtapeFaultOpts are the options of `vtape fault`: the faults of a drive
// (Drive ≥ 0) or of a cartridge.
type vtapeFaultOpts struct {
	Dir       string
	Drive     int
	Cartridge string
	vtape.Fault
}

func vtapeFaultOptions(c *cli.Context) (vtapeFaultOpts, error) {
	a, err := args(c, "DIR")
	if err != nil {
		return vtapeFaultOpts{}, err
	}
	f := vtape.Fault{
		WriteErrorAt: c.Int64("write-error-at"), ReadErrorAt: c.Int64("read-error-at"), EarlyWarningAt: -1,
		Offline: c.Bool("offline"), CleaningRequired: c.Bool("cleaning-required"),
	}
	if s := c.String("early-warning-at"); s != "" {
		if f.EarlyWarningAt, err = parseSize(s); err != nil {
			return vtapeFaultOpts{}, err
		}
	}
	opts := vtapeFaultOpts{Dir: a[0], Drive: c.Int("drive"), Cartridge: c.String("cartridge"), Fault: f}
	switch {
	case opts.Cartridge != "" && opts.Drive >= 0:
		return vtapeFaultOpts{}, usagef("vtape fault: give --drive or --cartridge, not both")
	case opts.Cartridge == "" && opts.Drive < 0:
		return vtapeFaultOpts{}, usagef("vtape fault: give --drive N or --cartridge BARCODE")
	}
	return opts, nil
}

func runVtapeFault(opts vtapeFaultOpts) error {
	if opts.Cartridge != "" {
		return vtape.SetCartridgeFault(opts.Dir, opts.Cartridge, opts.Fault)
	}
	return vtape.SetDriveFault(opts.Dir, opts.Drive, opts.Fault)
}
