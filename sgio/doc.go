// Package sgio drives real LTO tape drives and SCSI media changers through
// the Linux SG_IO ioctl on /dev/sg* devices. It implements device.Drive and
// device.Changer and finds devices in sysfs.
//
// Layering: sgio imports only the standard library, golang.org/x/sys and
// tapefs/engine/device; the engine reaches it through device.Opener and
// never imports it directly. vtape is the other implementation of the same
// contract, and both pass the devicetest conformance suite.
//
// Inside the package three layers are kept apart:
//
//   - CDB builders (cdb.go) and response and sense parsers (parse.go,
//     sense.go) are pure functions over byte slices, tested byte by byte
//     against the SPC-4, SSC-4 and SMC-3 layouts;
//   - a Transport executes one command; the Linux implementation (sg_linux.go)
//     is a thin wrapper around the SG_IO ioctl, and tests substitute a
//     scripted fake;
//   - Drive and Changer turn device.Drive and device.Changer calls into
//     command sequences and map sense data to the device sentinel errors.
//
// Sense data is translated in one place (Sense.err): callers test results
// with errors.Is against the device sentinels; *CheckConditionError carries
// the decoded sense for diagnostics.
package sgio
