//go:build linux

package sgio

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"testing"
	"unsafe"
)

// TestSgIoHdrLayout checks the struct against the C layout of struct
// sg_io_hdr on 64-bit Linux (pahole: 88 bytes, pointers at 16, 24, 32, 56).
func TestSgIoHdrLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("layout table is for 64-bit architectures")
	}
	var h sgIoHdr
	offsets := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"dxfer_direction", unsafe.Offsetof(h.dxferDirection), 4},
		{"cmd_len", unsafe.Offsetof(h.cmdLen), 8},
		{"mx_sb_len", unsafe.Offsetof(h.mxSbLen), 9},
		{"iovec_count", unsafe.Offsetof(h.iovecCount), 10},
		{"dxfer_len", unsafe.Offsetof(h.dxferLen), 12},
		{"dxferp", unsafe.Offsetof(h.dxferp), 16},
		{"cmdp", unsafe.Offsetof(h.cmdp), 24},
		{"sbp", unsafe.Offsetof(h.sbp), 32},
		{"timeout", unsafe.Offsetof(h.timeout), 40},
		{"flags", unsafe.Offsetof(h.flags), 44},
		{"pack_id", unsafe.Offsetof(h.packID), 48},
		{"usr_ptr", unsafe.Offsetof(h.usrPtr), 56},
		{"status", unsafe.Offsetof(h.status), 64},
		{"sb_len_wr", unsafe.Offsetof(h.sbLenWr), 67},
		{"host_status", unsafe.Offsetof(h.hostStatus), 68},
		{"driver_status", unsafe.Offsetof(h.driverStatus), 70},
		{"resid", unsafe.Offsetof(h.resid), 72},
		{"duration", unsafe.Offsetof(h.duration), 76},
		{"info", unsafe.Offsetof(h.info), 80},
		{"sizeof", unsafe.Sizeof(h), 88},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("%s at %d, want %d", o.name, o.got, o.want)
		}
	}
}

// TestOpenSGErrors exercises the open path without hardware: a missing node
// and a node that is not an sg device.
func TestOpenSGErrors(t *testing.T) {
	if _, err := OpenDrive("/nonexistent/sg0"); err == nil {
		t.Error("missing node opened")
	}
	if _, err := OpenChanger(t.TempDir()); err == nil {
		t.Error("directory opened as changer")
	}
	// /dev/null is a character device with no SCSI generic sibling.
	if _, err := OpenDrive("/dev/null"); err == nil {
		t.Error("/dev/null opened as a drive")
	}
}

// TestSGTransportOnNonSG runs the SG_IO path (pinning, signal mask, ioctl)
// against /dev/null, which rejects the ioctl with ENOTTY.
func TestSGTransportOnNonSG(t *testing.T) {
	tr, err := openSG("/dev/null")
	if err != nil {
		t.Skipf("open /dev/null: %v", err)
	}
	defer tr.Close()
	for _, c := range []*Command{
		{CDB: testUnitReadyCDB(), Dir: DirNone, Timeout: time.Second},
		{CDB: inquiryCDB(false, 0, 96), Dir: DirIn, Data: make([]byte, 96)},
		{CDB: must6(write6CDB(4)), Dir: DirOut, Data: []byte{1, 2, 3, 4}, Timeout: time.Second},
	} {
		_, err := tr.Exec(c)
		if !errors.Is(err, unix.ENOTTY) {
			t.Errorf("% X: error %v, want ENOTTY", c.CDB, err)
		}
	}
	if _, err := tr.Exec(&Command{CDB: make([]byte, 17)}); err == nil {
		t.Error("17-byte CDB accepted")
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
}

// TestOpenerReturnsNilInterfaces checks that a failed open yields a nil
// interface, not a typed nil pointer.
func TestOpenerReturnsNilInterfaces(t *testing.T) {
	d, err := Opener{}.OpenDrive("/nonexistent/sg0")
	if err == nil || d != nil {
		t.Errorf("OpenDrive = %v, %v; want nil interface and an error", d, err)
	}
	c, err := Opener{}.OpenChanger("/nonexistent/sg1")
	if err == nil || c != nil {
		t.Errorf("OpenChanger = %v, %v; want nil interface and an error", c, err)
	}
}
