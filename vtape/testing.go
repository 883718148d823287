package vtape

import "testing"

// NewTestLibrary creates a library with opts in a fresh t.TempDir() and
// returns its directory. Zero Drives and Slots default to one drive and
// enough slots for the cartridges plus two; an empty BarcodePrefix is
// "TEST". It fails the test if the library cannot be created.
func NewTestLibrary(t testing.TB, opts LibraryOptions) string {
	t.Helper()
	if opts.Drives == 0 {
		opts.Drives = 1
	}
	if opts.Slots == 0 {
		opts.Slots = opts.Cartridges + opts.Cleaning + 2
	}
	if opts.BarcodePrefix == "" {
		opts.BarcodePrefix = "TEST"
	}
	dir := t.TempDir()
	if err := Create(dir, opts); err != nil {
		t.Fatalf("create test library: %v", err)
	}
	return dir
}
