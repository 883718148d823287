package vtape

import "tapefs/engine/device"

var _ device.Estimator = (*Drive)(nil)

// EstimateSeconds is the simulated tape time of work e on this drive's
// generation: each load threads and later unloads a cartridge, each locate
// costs the positioning overhead (restores move forward over short
// distances between archives), and the bytes stream at the native rate.
func (d *Drive) EstimateSeconds(e device.Estimate) float64 {
	t := d.Timing()
	s := float64(e.Loads) * (t.LoadTime + t.UnloadTime)
	s += float64(e.Locates) * t.LocateOverhead
	if t.NativeRate > 0 {
		s += float64(e.Bytes) / t.NativeRate
	}
	return s
}

// MinStreamRate is the generation's slowest speed-matching rate.
func (d *Drive) MinStreamRate() float64 { return d.Timing().MinRate }
