package test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// engineLibrary creates a virtual library in dir and an engine on it with
// changer sl3, drives d0, d1, ... (one per library drive) and pool pa on
// d0; with a pool given to label, every tape is barcode-labelled for it
// ("" labels them for any pool). opts may set the engine's clock and
// spool; directories are filled in, and the opener is vtapeOpener, or what
// opener makes of the library directory when it is not nil. The engine is
// closed when the test ends.
func engineLibrary(tb testing.TB, dir string, lo vtape.LibraryOptions, opts engine.Options, opener func(lib string) device.Opener, label *string) (*engine.Engine, string) {
	tb.Helper()
	lib := filepath.Join(dir, "vlib")
	if lo.BarcodePrefix == "" {
		lo.BarcodePrefix = "TEST"
	}
	if err := vtape.Create(lib, lo); err != nil {
		tb.Fatal(err)
	}
	opts.ConfigDir, opts.StateDir = filepath.Join(dir, "etc"), filepath.Join(dir, "state")
	opts.Opener = vtapeOpener{lib}
	if opener != nil {
		opts.Opener = opener(lib)
	}
	eng, err := engine.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close() })
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(eng.ChangerCreate("sl3", lib, nil))
	for n := 0; n < max(lo.Drives, 1); n++ {
		must(eng.DriveCreate(config.Drive{Name: "d" + strconv.Itoa(n), Path: vtape.DrivePath(lib, n), Changer: "sl3", ChangerDriveNum: n}))
	}
	must(eng.PoolCreate(config.Pool{Name: "pa", Drive: "d0"}))
	if label != nil {
		_, err := eng.BarcodeLabel(context.Background(), "d0", *label)
		must(err)
	}
	return eng, lib
}

func ptr[T any](v T) *T { return &v }
