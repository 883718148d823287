// Package vtape is the virtual tape library of tapefs: an emulator of an LTO
// tape library (drives, storage and import/export slots, barcoded data and
// cleaning cartridges) kept in a directory, so that every part of tapefs runs
// without tape hardware.
//
// It sits beside package sgio under the device contract: vtape implements
// device.Drive and device.Changer and imports only engine/device, never the
// engine, the catalog or the on-tape format. The engine cannot tell a vtape
// drive from a real one except by its vendor ("TAPEFS") and by the simulated
// timing counters in DriveStatus.Sim.
//
// A library directory holds library.json (configuration and element state:
// which cartridge is in which slot or drive, faults, alerts), one folder per
// cartridge under cartridges/ and one folder per drive (drive0, drive1, ...)
// that holds the drive's own state (position, options, key, timing
// counters). Drives and the changer are separate handles, usually in separate
// processes (a CLI command is a new process); they share library.json under a
// short file lock and replace it atomically.
//
// Each cartridge stores its objects (records and filemarks) in an append-only
// data file and an index of fixed-size, checksummed entries, so any object is
// found in O(1) and a process killed in the middle of a write leaves the
// last complete record readable and nothing half-written visible.
//
// A timing model of the configured LTO generation charges simulated tape
// seconds for loads, positioning along the serpentine track layout, data
// transfer and back-hitches; nothing sleeps. See docs/vtape.md.
package vtape
