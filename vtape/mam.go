package vtape

import (
	"strconv"

	"tapefs/engine/device"
)

// MAM attribute identifiers (SPC-4 medium auxiliary memory).
const (
	mamRemainingCapacity = 0x0000
	mamMaximumCapacity   = 0x0001
	mamLoadCount         = 0x0003
	mamTotalWritten      = 0x0220
	mamTotalRead         = 0x0221
	mamLastLoadWritten   = 0x0222
	mamLastLoadRead      = 0x0223
	mamManufacturer      = 0x0400
	mamSerial            = 0x0401
	mamLength            = 0x0402
	mamDensityCode       = 0x0405
	mamManufactureDate   = 0x0406
	mamMediumType        = 0x0408
	mamMediumTypeInfo    = 0x0409
	mamBarcode           = 0x0806
)

const mib = 1 << 20

// mamAttributes lists the cartridge memory of cs. used is the number of
// bytes on the tape (-1 if unknown).
func mamAttributes(cs *CartridgeState, m *cartridgeMeta, used int64) []device.MAMAttribute {
	t, _ := TimingFor(cs.Generation)
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	mediumType := "0" // data
	if cs.Cleaning {
		mediumType = "1"
	}
	attrs := []device.MAMAttribute{}
	if used >= 0 {
		attrs = append(attrs, device.MAMAttribute{ID: mamRemainingCapacity, Name: "Remaining capacity in partition (MiB)", Value: u(uint64(max(cs.Capacity-used, 0)) / mib)})
	}
	attrs = append(attrs,
		device.MAMAttribute{ID: mamMaximumCapacity, Name: "Maximum capacity in partition (MiB)", Value: u(uint64(cs.Capacity) / mib)},
		device.MAMAttribute{ID: mamLoadCount, Name: "Load count", Value: u(m.LoadCount)},
		device.MAMAttribute{ID: mamTotalWritten, Name: "Total MiB written in medium life", Value: u(m.LifetimeWritten / mib)},
		device.MAMAttribute{ID: mamTotalRead, Name: "Total MiB read in medium life", Value: u(m.LifetimeRead / mib)},
		device.MAMAttribute{ID: mamLastLoadWritten, Name: "Total MiB written in current/last load", Value: u(m.LastWritten / mib)},
		device.MAMAttribute{ID: mamLastLoadRead, Name: "Total MiB read in current/last load", Value: u(m.LastRead / mib)},
		device.MAMAttribute{ID: mamManufacturer, Name: "Medium manufacturer", Value: Vendor},
		device.MAMAttribute{ID: mamSerial, Name: "Medium serial number", Value: cs.Serial},
		device.MAMAttribute{ID: mamLength, Name: "Medium length (m)", Value: strconv.Itoa(int(t.TapeLength))},
		device.MAMAttribute{ID: mamDensityCode, Name: "Medium density code", Value: "0x" + strconv.FormatUint(uint64(t.DensityCode), 16) + " (" + cs.Generation + ")"},
		device.MAMAttribute{ID: mamManufactureDate, Name: "Medium manufacture date", Value: cs.Manufactured.Format("20060102")},
		device.MAMAttribute{ID: mamMediumType, Name: "Medium type", Value: mediumType},
	)
	if cs.Cleaning {
		attrs = append(attrs, device.MAMAttribute{ID: mamMediumTypeInfo, Name: "Cleaning cycles remaining", Value: strconv.Itoa(cs.UsesLeft)})
	}
	attrs = append(attrs, device.MAMAttribute{ID: mamBarcode, Name: "Barcode", Value: cs.Barcode})
	return attrs
}

// volumeStatistics derives the volume statistics log page from the
// cartridge memory counters.
func volumeStatistics(cs *CartridgeState, m *cartridgeMeta, t *Timing) device.VolumeStatistics {
	ds := func(b uint64) uint64 {
		if t.DatasetBytes <= 0 {
			return 0
		}
		return (b + uint64(t.DatasetBytes) - 1) / uint64(t.DatasetBytes)
	}
	return device.VolumeStatistics{
		VolumeMounts:                     m.LoadCount,
		VolumeDatasetsWritten:            ds(m.LifetimeWritten),
		VolumeUnrecoveredWriteDataErrors: m.WriteErrors,
		VolumeDatasetsRead:               ds(m.LifetimeRead),
		VolumeUnrecoveredReadErrors:      m.ReadErrors,
		LastMountBytesWritten:            m.LastWritten,
		LastMountBytesRead:               m.LastRead,
		LifetimeBytesWritten:             m.LifetimeWritten,
		LifetimeBytesRead:                m.LifetimeRead,
		BeginningOfMediumPasses:          m.BOMPasses,
		MiddleOfTapePasses:               m.MOTPasses,
		Serial:                           cs.Serial,
		WriteProtect:                     cs.WriteProtected,
	}
}
