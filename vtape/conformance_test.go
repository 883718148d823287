package vtape

import (
	"testing"

	"tapefs/engine/device"
	"tapefs/engine/device/devicetest"
)

const conformanceCapacity = 64 << 20

func TestConformanceDrive(t *testing.T) {
	devicetest.RunDriveSuite(t, func(t *testing.T) (device.Drive, int64) {
		dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Capacity: conformanceCapacity})
		moveSlotToDrive(t, dir, 1, 0)
		return openDrive(t, dir, 0), conformanceCapacity
	})
}

func TestConformanceChanger(t *testing.T) {
	devicetest.RunChangerSuite(t, func(t *testing.T) (device.Changer, func(int) device.Drive) {
		dir := NewTestLibrary(t, LibraryOptions{Drives: 2, Slots: 6, ImportExport: 2, Cartridges: 3, Cleaning: 1, Capacity: conformanceCapacity})
		c, err := OpenChanger(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, func(n int) device.Drive { return openDrive(t, dir, n) }
	})
}
