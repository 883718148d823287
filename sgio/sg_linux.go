//go:build linux

package sgio

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"tapefs/engine/device"
)

// sgIO is the SG_IO ioctl request (include/scsi/sg.h).
const sgIO = 0x2285

// sg_io_hdr dxfer_direction values.
const (
	sgDxferNone    = -1
	sgDxferToDev   = -2
	sgDxferFromDev = -3
)

// sgIoHdr mirrors struct sg_io_hdr of include/scsi/sg.h; Go's alignment of
// these fields matches the C layout on every Linux architecture.
type sgIoHdr struct {
	interfaceID    int32
	dxferDirection int32
	cmdLen         uint8
	mxSbLen        uint8
	iovecCount     uint16
	dxferLen       uint32
	dxferp         unsafe.Pointer
	cmdp           unsafe.Pointer
	sbp            unsafe.Pointer
	timeout        uint32
	flags          uint32
	packID         int32
	usrPtr         unsafe.Pointer
	status         uint8
	maskedStatus   uint8
	msgStatus      uint8
	sbLenWr        uint8
	hostStatus     uint16
	driverStatus   uint16
	resid          int32
	duration       uint32
	info           uint32
}

// sgTransport executes commands with SG_IO on an open /dev/sg* descriptor.
type sgTransport struct {
	fd int
}

// openSG opens an sg device for exclusive use. O_EXCL makes the sg driver
// refuse a second opener; O_NONBLOCK turns its wait into EBUSY. SG_IO
// itself is synchronous regardless of O_NONBLOCK.
func openSG(path string) (Transport, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_EXCL|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.EBUSY):
		return nil, fmt.Errorf("open %s: in use by another process: %w", path, device.ErrBusy)
	case errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		return nil, fmt.Errorf("open %s: %w", path, device.ErrOffline)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return nil, fmt.Errorf("open %s: permission denied; add the user to the group owning the device (usually tape or disk): %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sgTransport{fd: fd}, nil
}

// Exec issues cmd with the SG_IO ioctl.
func (t *sgTransport) Exec(cmd *Command) (Result, error) {
	if len(cmd.CDB) == 0 || len(cmd.CDB) > 16 {
		return Result{}, fmt.Errorf("sgio: CDB length %d", len(cmd.CDB))
	}
	sense := make([]byte, senseAlloc)
	cdb := append([]byte(nil), cmd.CDB...)
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = timeoutShort
	}
	hdr := sgIoHdr{
		interfaceID:    'S',
		dxferDirection: sgDxferNone,
		cmdLen:         uint8(len(cdb)),
		mxSbLen:        uint8(len(sense)),
		cmdp:           unsafe.Pointer(&cdb[0]),
		sbp:            unsafe.Pointer(&sense[0]),
		timeout:        uint32(min(timeout/time.Millisecond, 1<<32-2)),
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&cdb[0])
	pin.Pin(&sense[0])
	if cmd.Dir != DirNone && len(cmd.Data) > 0 {
		hdr.dxferLen = uint32(len(cmd.Data))
		hdr.dxferp = unsafe.Pointer(&cmd.Data[0])
		pin.Pin(&cmd.Data[0])
		if cmd.Dir == DirIn {
			hdr.dxferDirection = sgDxferFromDev
		} else {
			hdr.dxferDirection = sgDxferToDev
		}
	}
	errno := ioctlNoSignals(t.fd, &hdr)
	runtime.KeepAlive(cmd.Data)
	switch {
	case errno == unix.ENODEV || errno == unix.ENXIO:
		return Result{}, fmt.Errorf("SG_IO: %w: %w", errno, device.ErrOffline)
	case errno != 0:
		return Result{}, fmt.Errorf("SG_IO: %w", errno)
	}
	return Result{
		Status:       hdr.status,
		HostStatus:   hdr.hostStatus,
		DriverStatus: hdr.driverStatus,
		Resid:        int(hdr.resid),
		Sense:        sense[:min(int(hdr.sbLenWr), len(sense))],
	}, nil
}

// Close closes the descriptor.
func (t *sgTransport) Close() error {
	if t.fd < 0 {
		return nil
	}
	err := unix.Close(t.fd)
	t.fd = -1
	return err
}

// ioctlNoSignals issues SG_IO with every signal blocked on the calling
// thread. The sg driver waits interruptibly: a signal that arrives during
// the wait orphans the command, and the automatic restart of the ioctl
// (Go installs its handlers with SA_RESTART) would send the same command a
// second time, writing a record twice or spacing twice. With the signals
// blocked they are delivered to other threads or after the command ends.
func ioctlNoSignals(fd int, hdr *sgIoHdr) unix.Errno {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old); err != nil {
		return unix.EINVAL
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), sgIO, uintptr(unsafe.Pointer(hdr)))
	return errno
}

// openSGShared opens an sg device without O_EXCL, for the INQUIRY of a
// device scan that must not disturb a running job.
func openSGShared(path string) (Transport, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sgTransport{fd: fd}, nil
}

// charDevice returns the major and minor number of the character device at
// path (following links); ok is false for anything else.
func charDevice(path string) (major, minor uint32, ok bool, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, false, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return 0, 0, false, nil
	}
	return unix.Major(st.Rdev), unix.Minor(st.Rdev), true, nil
}
