package sgio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"tapefs/engine/device"
)

// sgMajor is the character major number of the SCSI generic driver.
const sgMajor = 21

// ScanDrives lists the tape drives (peripheral type 1) of this host from
// sysfs. See ScanRoot for the path chosen for each.
func ScanDrives() ([]device.ScanEntry, error) { return ScanRoot("/sys", "/dev", TypeTape) }

// ScanChangers lists the medium changers (peripheral type 8) of this host.
func ScanChangers() ([]device.ScanEntry, error) { return ScanRoot("/sys", "/dev", TypeChanger) }

// ScanRoot scans sysfs (class/scsi_generic/sg*/device) under the root sysfs
// for devices of peripheral type typ and names them by the device tree under
// dev. Vendor, model and revision come from the sysfs files; the serial from
// vpd_pg80, or from INQUIRY on the sg node when sysfs lacks the page. The
// path of each entry is, in this order of preference:
//
//   - dev/tape/by-id/scsi-<serial>-sg when it resolves to the sg node;
//   - another dev/tape/by-id link that resolves to the sg node;
//   - a dev/tape/by-id link to the device's st/nst (or sch) node, the
//     non-rewinding nst link first; OpenDrive maps it back to the sg node;
//   - dev/sgN.
//
// Entries are sorted by sg number. A missing scsi_generic class (no sg
// driver loaded) yields an empty list.
func ScanRoot(sysfs, dev string, typ byte) ([]device.ScanEntry, error) {
	classDir := filepath.Join(sysfs, "class", "scsi_generic")
	ents, err := os.ReadDir(classDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan SCSI devices: %w", err)
	}
	type found struct {
		num   int
		entry device.ScanEntry
	}
	var list []found
	for _, e := range ents {
		name := e.Name()
		num, err := strconv.Atoi(strings.TrimPrefix(name, "sg"))
		if !strings.HasPrefix(name, "sg") || err != nil {
			continue
		}
		devDir := filepath.Join(classDir, name, "device")
		t, err := readSysfs(devDir, "type")
		if err != nil {
			continue
		}
		if tv, err := strconv.Atoi(t); err != nil || tv != int(typ) {
			continue
		}
		info := device.Info{}
		info.Vendor, _ = readSysfs(devDir, "vendor")
		info.Model, _ = readSysfs(devDir, "model")
		info.Revision, _ = readSysfs(devDir, "rev")
		if b, err := os.ReadFile(filepath.Join(devDir, "vpd_pg80")); err == nil {
			info.Serial, _ = ParseUnitSerial(b)
		}
		if info.Serial == "" {
			info.Serial = serialFromDevice(filepath.Join(dev, name))
		}
		path := stablePath(dev, name, siblings(devDir), info.Serial)
		list = append(list, found{num, device.ScanEntry{Path: path, Info: info}})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].num < list[j].num })
	out := make([]device.ScanEntry, len(list))
	for i, f := range list {
		out[i] = f.entry
	}
	return out, nil
}

// readSysfs reads a one-line sysfs attribute, trimmed.
func readSysfs(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// siblings lists the other character nodes of the SCSI device: st/nst
// tape nodes and the sch changer node.
func siblings(devDir string) []string {
	var out []string
	for _, class := range []string{"scsi_tape", "scsi_changer"} {
		ents, err := os.ReadDir(filepath.Join(devDir, class))
		if err != nil {
			continue
		}
		for _, e := range ents {
			out = append(out, e.Name())
		}
	}
	return out
}

// serialFromDevice reads the unit serial number page with INQUIRY on the sg
// node; it returns "" when the node cannot be opened or does not answer.
func serialFromDevice(path string) string {
	tr, err := openSGShared(path)
	if err != nil {
		return ""
	}
	tr, err = traced(tr, path)
	if err != nil {
		return ""
	}
	defer tr.Close()
	e := executor{tr: tr}
	_, serial, err := e.inquiry(context.Background())
	if err != nil {
		return ""
	}
	return serial
}

// stablePath picks the path to report for sg node sgName (see ScanRoot).
func stablePath(dev, sgName string, sibs []string, serial string) string {
	byID := filepath.Join(dev, "tape", "by-id")
	devReal, err := filepath.EvalSymlinks(dev)
	if err != nil {
		devReal = dev
	}
	target := func(link string) string {
		t, err := filepath.EvalSymlinks(link)
		if err != nil || filepath.Dir(t) != devReal {
			return ""
		}
		return filepath.Base(t)
	}
	if serial != "" {
		p := filepath.Join(byID, "scsi-"+serial+"-sg")
		if target(p) == sgName {
			return p
		}
	}
	ents, err := os.ReadDir(byID)
	if err != nil {
		return filepath.Join(dev, sgName)
	}
	isSib := map[string]bool{}
	for _, s := range sibs {
		isSib[s] = true
	}
	var toSG, toNST, toOther []string
	for _, e := range ents {
		p := filepath.Join(byID, e.Name())
		switch t := target(p); {
		case t == "":
		case t == sgName:
			toSG = append(toSG, p)
		case isSib[t] && strings.HasPrefix(t, "nst"):
			toNST = append(toNST, p)
		case isSib[t]:
			toOther = append(toOther, p)
		}
	}
	for _, l := range [][]string{toSG, toNST, toOther} {
		if len(l) > 0 {
			return l[0] // ReadDir sorts by name
		}
	}
	return filepath.Join(dev, sgName)
}

// resolveSG maps path to the sg node of the same SCSI device: an sg node
// (or a link to one) is returned as given; an st, nst or sch node is mapped
// through sysfs/dev/char/MAJ:MIN/device/scsi_generic.
func resolveSG(sysfs, path string) (string, error) {
	major, minor, ok, err := charDevice(path)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s is not a character device; use a /dev/sg* node or a /dev/tape/by-id link", path)
	}
	if major == sgMajor {
		return path, nil
	}
	dir := filepath.Join(sysfs, "dev", "char", fmt.Sprintf("%d:%d", major, minor), "device", "scsi_generic")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return "", fmt.Errorf("%s has no SCSI generic node (is the sg module loaded? try modprobe sg)", path)
	}
	return filepath.Join("/dev", ents[0].Name()), nil
}
