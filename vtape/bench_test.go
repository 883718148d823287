package vtape

import (
	"testing"

	"tapefs/engine/device"
)

// BenchmarkWriteRecord measures the emulator's own cost per 256 KiB record
// (host CPU and page cache, not simulated tape time).
func BenchmarkWriteRecord(b *testing.B) {
	dir := NewTestLibrary(b, LibraryOptions{Cartridges: 1, Capacity: 1 << 40})
	c, err := OpenChanger(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Move(bg, device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0}); err != nil {
		b.Fatal(err)
	}
	c.Close()
	d, err := OpenDrive(DrivePath(dir, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	rec := make([]byte, 256<<10)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := d.WriteRecord(bg, rec); err != nil {
			b.Fatal(err)
		}
	}
}
