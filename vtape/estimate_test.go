package vtape

import (
	"testing"

	"tapefs/engine/device"
)

func TestEstimateSeconds(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	d, err := OpenDrive(DrivePath(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tm := d.Timing()
	if got, want := d.EstimateSeconds(device.Estimate{Bytes: int64(tm.NativeRate) * 10}), 10.0; got < want*0.999 || got > want*1.001 {
		t.Errorf("streaming 10 s of data estimated at %v s", got)
	}
	one := d.EstimateSeconds(device.Estimate{Loads: 1})
	if one < tm.LoadTime+tm.UnloadTime || d.EstimateSeconds(device.Estimate{Loads: 2}) != 2*one {
		t.Errorf("load estimate %v, timing %+v", one, tm)
	}
	if got := d.EstimateSeconds(device.Estimate{Locates: 3}); got != 3*tm.LocateOverhead {
		t.Errorf("3 locates estimated at %v s, overhead %v s each", got, tm.LocateOverhead)
	}
}
