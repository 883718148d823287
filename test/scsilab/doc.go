// Package scsilab runs tapefs, pmt, pmtx and sgio's tests through the Linux
// SCSI stack: a QEMU guest (TCG, no KVM needed) boots Debian's kernel from
// its .deb with a busybox initramfs, and its sg, st and ch drivers reach
// tgt's virtual tape library over virtio-scsi and iSCSI. lab.sh builds and
// runs the lab; init and guest.sh run inside the guest and print every
// result on the serial console; TestSCSILab builds the static binaries,
// runs lab.sh and turns the console's results into test results.
//
// docs/hardware.md ("The SCSI lab") says how to run it by hand.
package scsilab
