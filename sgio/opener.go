package sgio

import "tapefs/engine/device"

// Opener implements device.Opener for real hardware: it opens sg devices and
// scans this host's sysfs. The zero value is ready to use.
type Opener struct{}

var _ device.Opener = Opener{}

// OpenDrive opens a tape drive; see the package function OpenDrive.
func (Opener) OpenDrive(path string) (device.Drive, error) {
	d, err := OpenDrive(path)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// OpenChanger opens a media changer; see the package function OpenChanger.
func (Opener) OpenChanger(path string) (device.Changer, error) {
	c, err := OpenChanger(path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ScanDrives lists the tape drives of this host.
func (Opener) ScanDrives() ([]device.ScanEntry, error) { return ScanDrives() }

// ScanChangers lists the media changers of this host.
func (Opener) ScanChangers() ([]device.ScanEntry, error) { return ScanChangers() }
