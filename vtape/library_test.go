package vtape

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
)

func TestCreateBarcodes(t *testing.T) {
	tests := []struct {
		name    string
		opts    LibraryOptions
		want    []string
		wantErr string
	}{
		{"lto8 default", LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, Cleaning: 1, BarcodePrefix: "TEST"},
			[]string{"TEST01L8", "TEST02L8", "CLN001CU", ""}, ""},
		{"lto6 short prefix", LibraryOptions{Drives: 1, Slots: 2, Cartridges: 2, BarcodePrefix: "a", Generation: "lto6"},
			[]string{"A00001L6", "A00002L6"}, ""},
		{"no prefix", LibraryOptions{Drives: 1, Slots: 1, Cartridges: 1, Generation: "LTO-9"},
			[]string{"000001L9"}, ""},
		{"prefix too long", LibraryOptions{Drives: 1, Slots: 1, Cartridges: 1, BarcodePrefix: "TOOLONG"}, nil, "0 to 5"},
		{"too many for digits", LibraryOptions{Drives: 1, Slots: 200, Cartridges: 100, BarcodePrefix: "ABCD"}, nil, "too few"},
		{"not enough slots", LibraryOptions{Drives: 1, Slots: 2, Cartridges: 2, Cleaning: 1, BarcodePrefix: "T"}, nil, "do not fit"},
		{"no drives", LibraryOptions{Slots: 2}, nil, "at least one drive"},
		{"bad generation", LibraryOptions{Drives: 1, Generation: "LTO-3"}, nil, "unknown tape generation"},
		{"reserved prefix", LibraryOptions{Drives: 1, Slots: 1, Cartridges: 1, BarcodePrefix: "CLN"}, nil, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Create(dir, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Create error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := Describe(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				if got := st.Slots[i].Barcode; got != want {
					t.Errorf("slot %d = %q, want %q", i+1, got, want)
				}
				if want != "" {
					if _, err := os.Stat(filepath.Join(dir, cartridgesDir, want, indexFile)); err != nil {
						t.Errorf("cartridge files of %s: %v", want, err)
					}
				}
			}
			for n := range tt.opts.Drives {
				if fi, err := os.Stat(DrivePath(dir, n)); err != nil || !fi.IsDir() {
					t.Errorf("drive folder %d: %v", n, err)
				}
			}
		})
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	if !IsLibrary(dir) {
		t.Fatal("IsLibrary false after Create")
	}
	if err := Create(dir, LibraryOptions{Drives: 1, Slots: 1}); err == nil {
		t.Fatal("Create over an existing library succeeded")
	}
	if IsLibrary(t.TempDir()) {
		t.Fatal("IsLibrary true for an empty dir")
	}
}

func TestCleaningCartridgeState(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Cleaning: 2, CleaningUses: 7})
	st, _ := Describe(dir)
	c := st.Cartridges["CLN002CU"]
	if c == nil || !c.Cleaning || c.UsesLeft != 7 || c.Location != "slot 3" {
		t.Fatalf("cleaning cartridge %+v", c)
	}
	if st.Cartridges["TEST01L8"].Capacity != 12*tb {
		t.Fatalf("default capacity %d", st.Cartridges["TEST01L8"].Capacity)
	}
}

func TestInsertRemoveKeepsData(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{Cartridges: 1, ImportExport: 1, Capacity: 64 << 20})
	mustWrite(t, d, record(1, 1000))
	mustFM(t, d, 1)
	wantErr(t, d.Unload(bg), nil)
	d.Close()
	ie := device.Element{Kind: device.ElementImportExport, ID: 4}
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, ie)
	bc, err := Remove(dir, 4)
	if err != nil || bc != "TEST01L8" {
		t.Fatalf("Remove = %q, %v", bc, err)
	}
	st, _ := Describe(dir)
	if st.Cartridges[bc].Location != vaultLocation {
		t.Fatalf("removed cartridge location %q", st.Cartridges[bc].Location)
	}
	_, err = Remove(dir, 4)
	wantErr(t, err, device.ErrSourceEmpty)
	_, err = Remove(dir, 99)
	wantErr(t, err, device.ErrInvalidElement)

	// A new blank cartridge and the old one come back.
	wantErr(t, Insert(dir, 4, "NEW001L8", CartridgeOptions{}), nil)
	wantErr(t, Insert(dir, 4, bc, CartridgeOptions{}), device.ErrDestinationFull)
	wantErr(t, Insert(dir, 2, bc, CartridgeOptions{}), nil)
	if err := Insert(dir, 3, "NEW001L8", CartridgeOptions{}); err == nil {
		t.Fatal("inserting a cartridge that is already in the library succeeded")
	}
	if err := Insert(dir, 3, "bad", CartridgeOptions{}); err == nil {
		t.Fatal("inserting a bad barcode succeeded")
	}
	move(t, dir, device.Element{Kind: device.ElementSlot, ID: 2}, device.Element{Kind: device.ElementDrive, ID: 0})
	d2 := openDrive(t, dir, 0)
	buf := make([]byte, 4096)
	n, err := d2.ReadRecord(bg, buf)
	wantErr(t, err, nil)
	if string(buf[:n]) != string(record(1, 1000)) {
		t.Fatal("re-inserted cartridge lost its data")
	}
}

func TestInsertCleaning(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, ImportExport: 1})
	wantErr(t, Insert(dir, 4, "CLN101CU", CartridgeOptions{CleaningUses: 3}), nil)
	st, _ := Describe(dir)
	if c := st.Cartridges["CLN101CU"]; !c.Cleaning || c.UsesLeft != 3 {
		t.Fatalf("inserted cleaning cartridge %+v", c)
	}
}

func TestScanLibraries(t *testing.T) {
	parent := t.TempDir()
	a := filepath.Join(parent, "a")
	b := filepath.Join(parent, "b")
	wantErr(t, Create(a, LibraryOptions{Drives: 2, Slots: 2}), nil)
	wantErr(t, Create(b, LibraryOptions{Drives: 1, Slots: 1, Generation: "LTO-6"}), nil)
	drives, changers, err := ScanLibraries([]string{parent, filepath.Join(parent, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if len(drives) != 3 || len(changers) != 2 {
		t.Fatalf("scan found %d drives, %d changers", len(drives), len(changers))
	}
	if drives[0].Path != DrivePath(a, 0) || drives[0].Vendor != "TAPEFS" || drives[0].Model != "VTAPE-LTO8" {
		t.Fatalf("drive entry %+v", drives[0])
	}
	if drives[2].Model != "VTAPE-LTO6" || changers[1].Model != "VTAPE-LIBRARY" || changers[0].Path != a {
		t.Fatalf("entries %+v %+v", drives[2], changers[1])
	}
	if drives[0].Serial == drives[1].Serial || drives[0].Serial == changers[0].Serial {
		t.Fatal("serials are not unique")
	}
	again, _, _ := ScanLibraries([]string{a})
	if again[0].Serial != drives[0].Serial {
		t.Fatal("serial is not stable")
	}
	d := openDrive(t, a, 1)
	info, err := d.Info(bg)
	if err != nil || info != drives[1].Info {
		t.Fatalf("Info %+v %v, scan %+v", info, err, drives[1].Info)
	}
}

func TestOpenDriveErrors(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	for _, p := range []string{filepath.Join(dir, "drive7"), filepath.Join(dir, "tape0"), filepath.Join(t.TempDir(), "drive0")} {
		if _, err := OpenDrive(p); err == nil {
			t.Errorf("OpenDrive(%s) succeeded", p)
		}
	}
	if _, err := OpenChanger(t.TempDir()); err == nil {
		t.Error("OpenChanger on a non-library succeeded")
	}
}

func TestLocking(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	d := openDrive(t, dir, 0)
	_, err := OpenDrive(DrivePath(dir, 0))
	wantErr(t, err, device.ErrBusy)
	if !strings.Contains(err.Error(), fmt.Sprintf("(pid %d: ", os.Getpid())) {
		t.Errorf("busy error does not name the holder: %v", err)
	}
	d.Close()
	d2, err := OpenDrive(DrivePath(dir, 0))
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	d2.Close()

	c, err := OpenChanger(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenChanger(dir)
	wantErr(t, err, device.ErrBusy)
	c.Close()
	c, err = OpenChanger(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Status(bg); err == nil {
		t.Fatal("closed changer answered")
	}
}

// TestLibraryLockWait: a wait for library.lock ends after its timeout
// with a message naming the holder, for readers and writers; the lock
// files are private (whoever can open one can hold the library up).
func TestLibraryLockWait(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	path := filepath.Join(dir, libraryLock)
	holder, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := fileutil.Lock(holder, time.Second); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("(pid %d: ", os.Getpid())
	for _, exclusive := range []bool{false, true} {
		ran := false
		err := withFileLockWait(path, exclusive, 20*time.Millisecond, func() error { ran = true; return nil })
		if ran || !errors.Is(err, fileutil.ErrLockTimeout) || !strings.Contains(err.Error(), want) {
			t.Errorf("exclusive %v: ran %v, %v; want a timeout naming %s", exclusive, ran, err, want)
		}
	}
	holder.Close()
	if err := withFileLockWait(path, true, time.Second, func() error { return nil }); err != nil {
		t.Errorf("after release: %v", err)
	}
	c, err := OpenChanger(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	openDrive(t, dir, 0).Close()
	for _, name := range []string{libraryLock, changerLock, "drive0/" + driveLockFile} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", name, fi, err)
		}
	}
}

func TestDecodeStateRejects(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 2})
	b, _ := os.ReadFile(filepath.Join(dir, libraryFile))
	if _, err := decodeState(b); err != nil {
		t.Fatalf("valid state rejected: %v", err)
	}
	bad := strings.Replace(string(b), `"barcode": "TEST02L8"`, `"barcode": "TEST01L8"`, 1)
	if _, err := decodeState([]byte(bad)); err == nil {
		t.Fatal("a cartridge in two slots was accepted")
	}
	if _, err := decodeState([]byte(`{"version":2}`)); err == nil {
		t.Fatal("wrong version accepted")
	}
	if _, err := decodeState([]byte(`not json`)); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatal("garbage accepted")
	}
}
