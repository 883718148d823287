package sgio

import (
	"context"
	"os"
	"strings"
	"testing"

	"tapefs/engine/device"
	"tapefs/engine/device/devicetest"
)

// Drive and Changer through the Linux SCSI stack: SG_IO on the kernel's
// /dev/sg* nodes, with the st and ch drivers bound to the same devices.
// These tests run inside the SCSI lab's guest (test/scsilab), whose
// kernel reaches tgt's virtual library through virtio-scsi; the guest names
// the nodes in TAPEFS_TEST_SG_CHANGER (the changer), TAPEFS_TEST_SG_DRIVES
// and TAPEFS_TEST_ST_DRIVES (the drives' sg and nst nodes, comma-separated,
// in the changer's drive element order). Elsewhere they skip: the lab's Go
// test (test/scsilab) fails when they do not run in the guest.

// kernelLab returns the lab's device nodes, or skips the test outside it.
func kernelLab(t *testing.T) (changer string, sgDrives, stDrives []string) {
	t.Helper()
	changer = os.Getenv("TAPEFS_TEST_SG_CHANGER")
	if changer == "" {
		t.Skip("not in the SCSI lab's guest (TAPEFS_TEST_SG_CHANGER unset); test/scsilab runs this test there")
	}
	sgDrives = strings.Split(os.Getenv("TAPEFS_TEST_SG_DRIVES"), ",")
	stDrives = strings.Split(os.Getenv("TAPEFS_TEST_ST_DRIVES"), ",")
	if len(sgDrives) != len(stDrives) || sgDrives[0] == "" {
		t.Fatalf("TAPEFS_TEST_SG_DRIVES %q and TAPEFS_TEST_ST_DRIVES %q must name the same drives", sgDrives, stDrives)
	}
	return changer, sgDrives, stDrives
}

// TestKernelChangerConformance runs the changer conformance suite on the
// kernel's sg nodes of tgt's library, skipping what tgt cannot do. The
// library is not made fresh for each subtest; the suite puts cartridges
// back into storage slots after each.
func TestKernelChangerConformance(t *testing.T) {
	changer, drives, _ := kernelLab(t)
	devicetest.RunChangerSuite(t, changerFactory(func(t *testing.T) (device.Changer, func(int) (device.Drive, error), error) {
		c, err := OpenChanger(changer)
		return c, func(n int) (device.Drive, error) { return OpenDrive(drives[n]) }, err
	}), tgtChangerSkips...)
}

// TestKernelDriveRecords writes, reads back and spaces over records and
// filemarks on drive 0, opened by its nst node (which OpenDrive maps to
// the sg node through sysfs), and puts the cartridge back.
func TestKernelDriveRecords(t *testing.T) {
	changer, _, st := kernelLab(t)
	c, err := OpenChanger(changer)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	slot, drive := device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0}
	if err := c.Move(ctx, slot, drive); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDrive(st[0])
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		d.Unload(ctx)
		d.Close()
		if err := c.Move(ctx, drive, slot); err != nil {
			t.Errorf("putting the cartridge back: %v", err)
		}
	}()
	checkDriveRecords(t, d)
}
