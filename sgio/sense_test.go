package sgio

import (
	"encoding/binary"
	"errors"
	"testing"

	"tapefs/engine/device"
)

// Stream command bits of fixed sense byte 2 and the stream commands
// descriptor.
const (
	bitFilemark = 0x80
	bitEOM      = 0x40
	bitILI      = 0x20
)

// fixedSense builds 18 bytes of fixed format sense data (SPC-4 4.5.3):
// byte 0 VALID(7)|70h, 2 FILEMARK EOM ILI|key, 3..6 INFORMATION, 7
// additional length 10, 12 ASC, 13 ASCQ.
func fixedSense(key, asc, ascq, flags byte, info int32, valid bool) []byte {
	b := make([]byte, 18)
	b[0] = 0x70
	if valid {
		b[0] |= 0x80
	}
	b[2] = flags | key
	binary.BigEndian.PutUint32(b[3:7], uint32(info))
	b[7] = 10
	b[12], b[13] = asc, ascq
	return b
}

// descSense builds descriptor format sense data (SPC-4 4.5.2): byte 0 72h,
// 1 key, 2 ASC, 3 ASCQ, 7 additional length; an information descriptor
// (type 00h, length 0Ah, VALID, 8-byte INFORMATION) when valid, and a
// stream commands descriptor (type 04h, length 02h) when flags are set.
func descSense(key, asc, ascq, flags byte, info int64, valid bool) []byte {
	b := []byte{0x72, key, asc, ascq, 0, 0, 0, 0}
	if valid {
		d := make([]byte, 12)
		d[0], d[1], d[2] = 0x00, 0x0A, 0x80
		binary.BigEndian.PutUint64(d[4:12], uint64(info))
		b = append(b, d...)
	}
	if flags != 0 {
		b = append(b, 0x04, 0x02, 0x00, flags)
	}
	b[7] = byte(len(b) - 8)
	return b
}

func TestParseSense(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Sense
	}{
		{"fixed ILI negative residue", fixedSense(KeyNoSense, 0, 0, bitILI, -4096, true),
			Sense{ResponseCode: 0x70, Key: KeyNoSense, ILI: true, InfoValid: true, Info: -4096}},
		{"fixed filemark", fixedSense(KeyNoSense, 0, 1, bitFilemark, 0, false),
			Sense{ResponseCode: 0x70, Key: KeyNoSense, ASCQ: 1, Filemark: true}},
		{"fixed deferred medium error", append([]byte{0x71}, fixedSense(KeyMediumError, 0x0C, 0, 0, 0, false)[1:]...),
			Sense{ResponseCode: 0x71, Deferred: true, Key: KeyMediumError, ASC: 0x0C}},
		{"fixed short (8 bytes, no ASC)", fixedSense(KeyBlankCheck, 0, 5, 0, 0, false)[:8],
			Sense{ResponseCode: 0x70, Key: KeyBlankCheck}},
		{"descriptor EOM and info", descSense(KeyNoSense, 0, 2, bitEOM, 7, true),
			Sense{ResponseCode: 0x72, Key: KeyNoSense, ASCQ: 2, EOM: true, InfoValid: true, Info: 7}},
		{"descriptor no descriptors", descSense(KeyNotReady, 0x3A, 0, 0, 0, false),
			Sense{ResponseCode: 0x72, Key: KeyNotReady, ASC: 0x3A}},
		{"descriptor 4 bytes", []byte{0x73, 0x07, 0x27, 0x00},
			Sense{ResponseCode: 0x73, Deferred: true, Key: KeyDataProtect, ASC: 0x27}},
	}
	for _, tt := range tests {
		got, err := ParseSense(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	for _, bad := range [][]byte{nil, {0x70, 0}, {0x72, 0, 0}, {0x7F, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := ParseSense(bad); err == nil {
			t.Errorf("ParseSense(% X): no error", bad)
		}
	}
}

func TestSenseErrorMapping(t *testing.T) {
	tests := []struct {
		name  string
		sense []byte
		write bool
		want  error // nil: no condition for the caller
	}{
		{"not ready, medium not present", fixedSense(KeyNotReady, 0x3A, 0x00, 0, 0, false), false, device.ErrNoMedium},
		{"not ready, tray open", fixedSense(KeyNotReady, 0x3A, 0x02, 0, 0, false), false, device.ErrNoMedium},
		{"not ready, becoming ready", fixedSense(KeyNotReady, 0x04, 0x01, 0, 0, false), false, device.ErrNotReady},
		{"not ready, load required", fixedSense(KeyNotReady, 0x04, 0x02, 0, 0, false), false, device.ErrNotReady},
		{"not ready, cleaning cartridge", fixedSense(KeyNotReady, 0x30, 0x03, 0, 0, false), false, device.ErrBadCartridge},
		{"not ready, removal prevented", fixedSense(KeyNotReady, 0x53, 0x02, 0, 0, false), false, device.ErrMediumLocked},
		{"unit attention, no medium", fixedSense(KeyUnitAttention, 0x3A, 0x00, 0, 0, false), false, device.ErrNoMedium},
		{"unit attention, reset", fixedSense(KeyUnitAttention, 0x29, 0x00, 0, 0, false), false, nil},
		{"blank check, EOD", fixedSense(KeyBlankCheck, 0x00, 0x05, 0, 0, false), false, device.ErrEndOfData},
		{"blank check with EOM", fixedSense(KeyBlankCheck, 0x00, 0x05, bitEOM, 0, false), false, device.ErrEndOfData},
		{"no sense, filemark", fixedSense(KeyNoSense, 0x00, 0x01, bitFilemark, 1, true), false, device.ErrFilemark},
		{"no sense, EOD", fixedSense(KeyNoSense, 0x00, 0x05, 0, 0, false), false, device.ErrEndOfData},
		{"no sense, BOM", fixedSense(KeyNoSense, 0x00, 0x04, bitEOM, 1, true), false, device.ErrBeginningOfMedium},
		{"write, early warning", fixedSense(KeyNoSense, 0x00, 0x02, bitEOM, 0, false), true, device.ErrEarlyWarning},
		{"write, early warning, recovered", fixedSense(KeyRecoveredError, 0x00, 0x07, bitEOM, 0, false), true, device.ErrEarlyWarning},
		{"read, end of partition", fixedSense(KeyNoSense, 0x00, 0x02, bitEOM, 0, false), false, device.ErrEndOfMedium},
		{"volume overflow", fixedSense(KeyVolumeOverflow, 0x00, 0x02, bitEOM, 0, false), true, device.ErrEndOfMedium},
		{"medium error with EOM at EOP", fixedSense(KeyMediumError, 0x00, 0x02, bitEOM, 0, false), true, device.ErrEndOfMedium},
		{"ILI, record longer", fixedSense(KeyNoSense, 0, 0, bitILI, -100, true), false, device.ErrRecordTooLong},
		{"ILI, record shorter", fixedSense(KeyNoSense, 0, 0, bitILI, 100, true), false, nil},
		{"descriptor ILI longer", descSense(KeyNoSense, 0, 0, bitILI, -1, true), false, device.ErrRecordTooLong},
		{"medium error", fixedSense(KeyMediumError, 0x11, 0x00, 0, 0, false), false, device.ErrMediumError},
		{"medium error, write", fixedSense(KeyMediumError, 0x0C, 0x00, 0, 0, false), true, device.ErrMediumError},
		{"medium error, incompatible", fixedSense(KeyMediumError, 0x30, 0x00, 0, 0, false), false, device.ErrBadCartridge},
		{"data protect, write protected", fixedSense(KeyDataProtect, 0x27, 0x00, 0, 0, false), true, device.ErrWriteProtected},
		{"data protect, WORM overwrite", fixedSense(KeyDataProtect, 0x27, 0x01, 0, 0, false), true, device.ErrWriteProtected},
		{"data protect, unable to decrypt", fixedSense(KeyDataProtect, 0x74, 0x01, 0, 0, false), false, device.ErrEncrypted},
		{"data protect, wrong key", fixedSense(KeyDataProtect, 0x74, 0x03, 0, 0, false), false, device.ErrEncrypted},
		{"data protect, integrity", fixedSense(KeyDataProtect, 0x74, 0x04, 0, 0, false), false, device.ErrEncrypted},
		{"illegal request, invalid element", fixedSense(KeyIllegalRequest, 0x21, 0x01, 0, 0, false), false, device.ErrInvalidElement},
		{"illegal request, source empty", fixedSense(KeyIllegalRequest, 0x3B, 0x0E, 0, 0, false), false, device.ErrSourceEmpty},
		{"illegal request, destination full", fixedSense(KeyIllegalRequest, 0x3B, 0x0D, 0, 0, false), false, device.ErrDestinationFull},
		{"illegal request, removal prevented", fixedSense(KeyIllegalRequest, 0x53, 0x02, 0, 0, false), false, device.ErrMediumLocked},
		{"illegal request, invalid opcode", fixedSense(KeyIllegalRequest, 0x20, 0x00, 0, 0, false), false, device.ErrUnsupported},
		{"illegal request, invalid field", fixedSense(KeyIllegalRequest, 0x24, 0x00, 0, 0, false), false, nil},
		{"hardware error", fixedSense(KeyHardwareError, 0x44, 0x00, 0, 0, false), false, nil},
		{"recovered, nothing", fixedSense(KeyRecoveredError, 0x17, 0x01, 0, 0, false), false, nil},
	}
	for _, tt := range tests {
		s, err := ParseSense(tt.sense)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := s.err(tt.write)
		if got != tt.want {
			t.Errorf("%s: %s maps to %v, want %v", tt.name, s, got, tt.want)
		}
	}
}

func TestCheckConditionErrorUnwraps(t *testing.T) {
	s, _ := ParseSense(fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false))
	err := error(&CheckConditionError{Op: "TEST UNIT READY", Sense: s, Sentinel: s.err(false)})
	if !errors.Is(err, device.ErrNoMedium) {
		t.Errorf("%v does not unwrap to ErrNoMedium", err)
	}
	want := "TEST UNIT READY: NOT READY, ASC/ASCQ 3Ah/00h (medium not present): no medium in drive"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}
