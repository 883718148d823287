package sgio

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"tapefs/engine/device"
)

// fakeSG adds a SCSI generic device to a fake sysfs tree: the device
// attributes, vpd_pg80 when serial is set, and st/nst or sch sibling
// directories.
func fakeSG(t *testing.T, sys, name string, typ, vendor, model, rev, serial string, sibs ...string) {
	t.Helper()
	dir := filepath.Join(sys, "class", "scsi_generic", name, "device")
	files := map[string]string{"type": typ + "\n", "vendor": vendor + "\n", "model": model + "\n", "rev": rev + "\n"}
	if serial != "" {
		files["vpd_pg80"] = string(serialPage(1, serial))
	}
	for f, v := range files {
		writeFile(t, filepath.Join(dir, f), v)
	}
	for _, s := range sibs {
		class := "scsi_tape"
		if s[:3] == "sch" {
			class = "scsi_changer"
		}
		if err := os.MkdirAll(filepath.Join(dir, class, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, dev, name, target string) {
	t.Helper()
	byID := filepath.Join(dev, "tape", "by-id")
	if err := os.MkdirAll(byID, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(byID, name)); err != nil {
		t.Fatal(err)
	}
}

func TestScanRoot(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	for _, n := range []string{"sg0", "sg1", "sg2", "st1", "nst1", "sch0"} {
		writeFile(t, filepath.Join(dev, n), "")
	}
	fakeSG(t, sys, "sg0", "1", "IBM", "ULT3580-TD8", "Q4J0", "10WT000001", "st0", "nst0")
	fakeSG(t, sys, "sg1", "1", "HPE", "Ultrium 9-SCSI", "Q3E1", "DRV0002", "st1", "nst1")
	fakeSG(t, sys, "sg2", "8", "HPE", "MSL G3 Series", "3.20", "CHG0003", "sch0")
	fakeSG(t, sys, "sg3", "1", "QUANTUM", "ULTRIUM-HH7", "M6", "") // no serial, no links
	fakeSG(t, sys, "sg4", "0", "ATA", "SSD", "1.0", "DISK")        // disk: skipped
	fakeSG(t, sys, "sg10", "1", "IBM", "ULT3580-TD9", "N9M0", "10WT000010")
	writeFile(t, filepath.Join(sys, "class", "scsi_generic", "sg5", "device", "type"), "junk\n")

	link(t, dev, "scsi-10WT000001", "../../nst0")   // nst0 has no node: dangling
	link(t, dev, "scsi-10WT000001-sg", "../../sg0") // preferred
	link(t, dev, "scsi-DRV0002", "../../st1")
	link(t, dev, "scsi-DRV0002-nst", "../../nst1") // nst preferred over st
	link(t, dev, "scsi-CHG0003", "../../sg2")      // any link to the sg node
	link(t, dev, "scsi-CHG0003-changer", "../../sch0")
	link(t, dev, "scsi-OTHER", "../../sg9") // dangling

	drives, err := ScanRoot(sys, dev, TypeTape)
	if err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(dev, "tape", "by-id")
	want := []device.ScanEntry{
		{Path: filepath.Join(byID, "scsi-10WT000001-sg"), Info: device.Info{Vendor: "IBM", Model: "ULT3580-TD8", Revision: "Q4J0", Serial: "10WT000001"}},
		{Path: filepath.Join(byID, "scsi-DRV0002-nst"), Info: device.Info{Vendor: "HPE", Model: "Ultrium 9-SCSI", Revision: "Q3E1", Serial: "DRV0002"}},
		{Path: filepath.Join(dev, "sg3"), Info: device.Info{Vendor: "QUANTUM", Model: "ULTRIUM-HH7", Revision: "M6"}},
		{Path: filepath.Join(dev, "sg10"), Info: device.Info{Vendor: "IBM", Model: "ULT3580-TD9", Revision: "N9M0", Serial: "10WT000010"}},
	}
	if !reflect.DeepEqual(drives, want) {
		t.Errorf("drives:\ngot  %+v\nwant %+v", drives, want)
	}

	changers, err := ScanRoot(sys, dev, TypeChanger)
	if err != nil {
		t.Fatal(err)
	}
	wantC := []device.ScanEntry{{Path: filepath.Join(byID, "scsi-CHG0003"),
		Info: device.Info{Vendor: "HPE", Model: "MSL G3 Series", Revision: "3.20", Serial: "CHG0003"}}}
	if !reflect.DeepEqual(changers, wantC) {
		t.Errorf("changers:\ngot  %+v\nwant %+v", changers, wantC)
	}

	// No sg driver loaded: nothing found, no error.
	none, err := ScanRoot(filepath.Join(root, "nosys"), dev, TypeTape)
	if err != nil || len(none) != 0 {
		t.Errorf("missing class: %v, %v", none, err)
	}
}

func TestResolveSG(t *testing.T) {
	root := t.TempDir()
	regular := filepath.Join(root, "file")
	writeFile(t, regular, "")
	if _, err := resolveSG(root, regular); err == nil {
		t.Error("regular file accepted")
	}
	if _, err := resolveSG(root, filepath.Join(root, "missing")); err == nil {
		t.Error("missing path accepted")
	}
	// /dev/null (1:3) stands in for an st node: the fake sysfs maps it to
	// its sg sibling.
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null")
	}
	if _, err := resolveSG(root, "/dev/null"); err == nil {
		t.Error("char device without sg sibling accepted")
	}
	if err := os.MkdirAll(filepath.Join(root, "dev", "char", "1:3", "device", "scsi_generic", "sg7"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := resolveSG(root, "/dev/null")
	if err != nil || got != "/dev/sg7" {
		t.Errorf("resolveSG = %q, %v; want /dev/sg7", got, err)
	}
}

// TestScanHost scans this machine's sysfs; without tape hardware the lists
// are empty, with it every entry must name a path and a vendor.
func TestScanHost(t *testing.T) {
	for name, scan := range map[string]func() ([]device.ScanEntry, error){"drives": ScanDrives, "changers": ScanChangers} {
		list, err := scan()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, e := range list {
			if e.Path == "" || e.Vendor == "" {
				t.Errorf("%s: incomplete entry %+v", name, e)
			}
		}
	}
}
