//go:build !linux

package sgio

import (
	"fmt"

	"tapefs/engine/device"
)

// openSG fails outside Linux: SG_IO is a Linux interface.
func openSG(path string) (Transport, error) {
	return nil, fmt.Errorf("open %s: SCSI generic devices need Linux: %w", path, device.ErrUnsupported)
}

// openSGShared fails outside Linux.
func openSGShared(path string) (Transport, error) { return openSG(path) }

// charDevice fails outside Linux.
func charDevice(path string) (major, minor uint32, ok bool, err error) {
	return 0, 0, false, fmt.Errorf("%s: device numbers need Linux: %w", path, device.ErrUnsupported)
}
