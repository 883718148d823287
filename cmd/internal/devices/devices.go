// Package devices opens tape devices by path for the tapefs commands: paths
// inside a virtual tape library go to vtape, everything else to sgio. It is
// the one place that knows both implementations, and gives the engine a
// device.Opener so the engine knows neither.
package devices

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
	"tapefs/sgio"
	"tapefs/vtape"
)

// Opener implements device.Opener. Virtual libraries are found for scans in
// a registry file in the state directory (written by `tapefs vtape create`).
type Opener struct {
	StateDir string
}

var _ device.Opener = (*Opener)(nil)

// registryFile lists the registered virtual libraries, one directory a line.
const registryFile = "vtape-libraries"

func (o *Opener) registry() string { return filepath.Join(o.StateDir, registryFile) }

// Libraries returns the registered virtual library directories that still
// exist.
func (o *Opener) Libraries() ([]string, error) {
	f, err := os.Open(o.registry())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dir := strings.TrimSpace(sc.Text())
		if dir != "" && vtape.IsLibrary(dir) && !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	return out, sc.Err()
}

// Register adds a virtual library directory to the registry.
func (o *Opener) Register(dir string) error {
	libs, err := o.Libraries()
	if err != nil {
		return err
	}
	if slices.Contains(libs, dir) {
		return nil
	}
	libs = append(libs, dir)
	if err := os.MkdirAll(o.StateDir, fileutil.PrivateDir); err != nil {
		return err
	}
	return fileutil.Replace(o.StateDir, registryFile, []byte(strings.Join(libs, "\n")+"\n"), fileutil.PrivateFile)
}

// IsVirtualDrive reports whether path is a drive of a virtual library.
func IsVirtualDrive(path string) bool { return vtape.IsLibrary(filepath.Dir(path)) }

// OpenDrive opens a drive of a virtual library or a SCSI drive.
func (o *Opener) OpenDrive(path string) (device.Drive, error) {
	if IsVirtualDrive(path) {
		d, err := vtape.OpenDrive(path)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	d, err := sgio.OpenDrive(path)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// OpenChanger opens a virtual library's changer or a SCSI changer.
func (o *Opener) OpenChanger(path string) (device.Changer, error) {
	if vtape.IsLibrary(path) {
		c, err := vtape.OpenChanger(path)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := sgio.OpenChanger(path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (o *Opener) scan(hw func() ([]device.ScanEntry, error), virtual func([]device.ScanEntry, []device.ScanEntry) []device.ScanEntry) ([]device.ScanEntry, error) {
	out, err := hw()
	if err != nil {
		return nil, fmt.Errorf("scan SCSI devices: %w", err)
	}
	libs, err := o.Libraries()
	if err != nil {
		return nil, fmt.Errorf("read virtual library registry: %w", err)
	}
	drives, changers, err := vtape.ScanLibraries(libs)
	if err != nil {
		return nil, err
	}
	return append(out, virtual(drives, changers)...), nil
}

// ScanDrives lists SCSI tape drives and the drives of known virtual
// libraries.
func (o *Opener) ScanDrives() ([]device.ScanEntry, error) {
	return o.scan(sgio.ScanDrives, func(d, _ []device.ScanEntry) []device.ScanEntry { return d })
}

// ScanChangers lists SCSI changers and the known virtual libraries.
func (o *Opener) ScanChangers() ([]device.ScanEntry, error) {
	return o.scan(sgio.ScanChangers, func(_, c []device.ScanEntry) []device.ScanEntry { return c })
}
