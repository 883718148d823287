package sgio

import (
	"encoding/binary"
	"errors"
	"fmt"

	"tapefs/engine/device"
)

// Sense keys (SPC-4 4.5.6).
const (
	KeyNoSense        = 0x0
	KeyRecoveredError = 0x1
	KeyNotReady       = 0x2
	KeyMediumError    = 0x3
	KeyHardwareError  = 0x4
	KeyIllegalRequest = 0x5
	KeyUnitAttention  = 0x6
	KeyDataProtect    = 0x7
	KeyBlankCheck     = 0x8
	KeyAbortedCommand = 0xB
	KeyVolumeOverflow = 0xD
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
	"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
	"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
	"RESERVED", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
}

// Sense is decoded sense data, from either the fixed (70h/71h) or the
// descriptor (72h/73h) format.
type Sense struct {
	// ResponseCode is 70h..73h; Deferred is set for 71h and 73h.
	ResponseCode byte
	Deferred     bool
	Key          byte
	ASC, ASCQ    byte
	// Filemark, EOM and ILI are the stream command bits (fixed format byte
	// 2, or the stream commands descriptor).
	Filemark, EOM, ILI bool
	// InfoValid says Info holds the INFORMATION field: for READ and WRITE
	// the residue (requested minus actual length, negative when the record
	// is longer than requested), for SPACE the count not spaced.
	InfoValid bool
	Info      int64
}

// ParseSense decodes sense data. It fails on an unknown response code or
// data too short for its format; it never panics.
func ParseSense(b []byte) (Sense, error) {
	if len(b) < 1 {
		return Sense{}, errors.New("sgio: empty sense data")
	}
	var s Sense
	s.ResponseCode = b[0] & 0x7F
	switch s.ResponseCode {
	case 0x70, 0x71:
		// Fixed format (SPC-4 4.5.3): byte 0 VALID|code, 2 FILEMARK EOM
		// ILI key, 3..6 INFORMATION, 7 additional length, 12 ASC, 13 ASCQ.
		if len(b) < 3 {
			return Sense{}, fmt.Errorf("sgio: fixed sense data too short (%d bytes)", len(b))
		}
		s.Deferred = s.ResponseCode == 0x71
		s.Filemark = b[2]&0x80 != 0
		s.EOM = b[2]&0x40 != 0
		s.ILI = b[2]&0x20 != 0
		s.Key = b[2] & 0x0F
		if len(b) >= 7 {
			s.InfoValid = b[0]&0x80 != 0
			s.Info = int64(int32(binary.BigEndian.Uint32(b[3:7])))
		}
		if len(b) >= 14 {
			s.ASC, s.ASCQ = b[12], b[13]
		}
		return s, nil
	case 0x72, 0x73:
		// Descriptor format (SPC-4 4.5.2): byte 1 key, 2 ASC, 3 ASCQ, 7
		// additional length, descriptors from byte 8.
		if len(b) < 4 {
			return Sense{}, fmt.Errorf("sgio: descriptor sense data too short (%d bytes)", len(b))
		}
		s.Deferred = s.ResponseCode == 0x73
		s.Key = b[1] & 0x0F
		s.ASC, s.ASCQ = b[2], b[3]
		if len(b) < 8 {
			return s, nil
		}
		end := min(8+int(b[7]), len(b))
		for p := 8; p+2 <= end; {
			typ, n := b[p], int(b[p+1])
			d := b[p+2 : min(p+2+n, end)]
			switch typ {
			case 0x00: // information: VALID at d[0] bit 7, INFORMATION d[2:10]
				if len(d) >= 10 {
					s.InfoValid = d[0]&0x80 != 0
					s.Info = int64(binary.BigEndian.Uint64(d[2:10]))
				}
			case 0x04: // stream commands: FILEMARK EOM ILI in d[1]
				if len(d) >= 2 {
					s.Filemark = d[1]&0x80 != 0
					s.EOM = d[1]&0x40 != 0
					s.ILI = d[1]&0x20 != 0
				}
			}
			p += 2 + n
		}
		return s, nil
	}
	return Sense{}, fmt.Errorf("sgio: unknown sense response code %#02x", s.ResponseCode)
}

// String renders the sense key, ASC/ASCQ and flags for error messages.
func (s Sense) String() string {
	str := fmt.Sprintf("%s, ASC/ASCQ %02Xh/%02Xh", senseKeyNames[s.Key&0x0F], s.ASC, s.ASCQ)
	if d := ascDescription(s.ASC, s.ASCQ); d != "" {
		str += " (" + d + ")"
	}
	if s.Filemark {
		str += ", FILEMARK"
	}
	if s.EOM {
		str += ", EOM"
	}
	if s.ILI {
		str += ", ILI"
	}
	if s.InfoValid {
		str += fmt.Sprintf(", information %d", s.Info)
	}
	return str
}

// Additional sense codes this package interprets.
const (
	ascNoAdditional       = 0x00 // with ASCQ 01 filemark, 02 EOP/EOM, 04 BOP/BOM, 05 EOD
	ascNotReady           = 0x04
	ascInvalidElement     = 0x21
	ascWriteProtected     = 0x27
	ascIncompatibleMedium = 0x30
	ascMediumNotPresent   = 0x3A
	ascMediumMoveError    = 0x3B // ASCQ 0D destination full, 0E source empty
	ascRemovalPrevented   = 0x53 // with ASCQ 02
	ascInvalidOpcode      = 0x20
	ascSecurityError      = 0x74
)

func ascDescription(asc, ascq byte) string {
	switch {
	case asc == 0 && ascq == 1:
		return "filemark detected"
	case asc == 0 && ascq == 2:
		return "end of partition/medium detected"
	case asc == 0 && ascq == 4:
		return "beginning of partition/medium detected"
	case asc == 0 && ascq == 5:
		return "end of data detected"
	case asc == ascNotReady && ascq == 1:
		return "becoming ready"
	case asc == ascNotReady && ascq == 2:
		return "initializing command required"
	case asc == ascNotReady && ascq == 3:
		return "manual intervention required"
	case asc == ascInvalidOpcode:
		return "invalid command operation code"
	case asc == ascInvalidElement && ascq == 1:
		return "invalid element address"
	case asc == 0x24:
		return "invalid field in CDB"
	case asc == 0x26:
		return "invalid field in parameter list"
	case asc == ascWriteProtected:
		return "write protected"
	case asc == 0x28:
		return "not ready to ready change, medium may have changed"
	case asc == 0x29:
		return "power on or reset"
	case asc == ascIncompatibleMedium && ascq == 3:
		return "cleaning cartridge installed"
	case asc == ascIncompatibleMedium:
		return "incompatible medium installed"
	case asc == ascMediumNotPresent:
		return "medium not present"
	case asc == ascMediumMoveError && ascq == 0x0D:
		return "medium destination element full"
	case asc == ascMediumMoveError && ascq == 0x0E:
		return "medium source element empty"
	case asc == ascRemovalPrevented && ascq == 2:
		return "medium removal prevented"
	case asc == ascSecurityError:
		return "security error (encryption)"
	}
	return ""
}

// err maps the sense data to a device sentinel error, or nil when the sense
// reports no condition the caller must see (NO SENSE or RECOVERED ERROR
// without flags, or a short-record ILI that ReadRecord handles). write says
// the command was WRITE or WRITE FILEMARKS, where the EOM bit with NO SENSE
// means early warning.
func (s Sense) err(write bool) error {
	switch s.Key {
	case KeyNoSense, KeyRecoveredError:
		switch {
		case s.Filemark:
			return device.ErrFilemark
		case s.ASC == 0 && s.ASCQ == 5:
			return device.ErrEndOfData
		case s.ASC == 0 && s.ASCQ == 4:
			return device.ErrBeginningOfMedium
		case s.EOM && write:
			return device.ErrEarlyWarning
		case s.EOM:
			// Outside a write, EOM means the command stopped at the end
			// of the partition.
			return device.ErrEndOfMedium
		case s.ILI && s.InfoValid && s.Info < 0:
			return device.ErrRecordTooLong
		}
		return nil
	case KeyNotReady:
		switch {
		case s.ASC == ascMediumNotPresent:
			return device.ErrNoMedium
		case s.ASC == ascIncompatibleMedium:
			return device.ErrBadCartridge
		case s.ASC == ascRemovalPrevented && s.ASCQ == 2:
			return device.ErrMediumLocked
		}
		return device.ErrNotReady
	case KeyMediumError:
		switch {
		case s.EOM && s.ASC == 0 && s.ASCQ == 2:
			return device.ErrEndOfMedium
		case s.ASC == ascIncompatibleMedium:
			return device.ErrBadCartridge
		case s.ASC == ascMediumNotPresent:
			return device.ErrNoMedium
		}
		return device.ErrMediumError
	case KeyIllegalRequest:
		switch {
		case s.ASC == ascInvalidElement && s.ASCQ == 1:
			return device.ErrInvalidElement
		case s.ASC == ascMediumMoveError && s.ASCQ == 0x0E:
			return device.ErrSourceEmpty
		case s.ASC == ascMediumMoveError && s.ASCQ == 0x0D:
			return device.ErrDestinationFull
		case s.ASC == ascRemovalPrevented && s.ASCQ == 2:
			return device.ErrMediumLocked
		case s.ASC == ascMediumNotPresent:
			return device.ErrNoMedium
		case s.ASC == ascInvalidOpcode:
			return device.ErrUnsupported
		case s.ASC == ascIncompatibleMedium:
			return device.ErrBadCartridge
		}
		return nil
	case KeyUnitAttention:
		if s.ASC == ascMediumNotPresent {
			return device.ErrNoMedium
		}
		return nil
	case KeyDataProtect:
		switch {
		case s.ASC == ascSecurityError:
			return device.ErrEncrypted
		case s.ASC == ascWriteProtected:
			return device.ErrWriteProtected
		case s.ASC == ascIncompatibleMedium:
			return device.ErrBadCartridge
		}
		return nil
	case KeyBlankCheck:
		return device.ErrEndOfData
	case KeyVolumeOverflow:
		return device.ErrEndOfMedium
	}
	return nil
}

// CheckConditionError is a command that ended with CHECK CONDITION. It
// unwraps to the device sentinel its sense data maps to, if any.
type CheckConditionError struct {
	// Op names the command ("READ(6)", "MOVE MEDIUM").
	Op    string
	Sense Sense
	// Sentinel is the device error the sense maps to, or nil.
	Sentinel error
}

func (e *CheckConditionError) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Op, e.Sense)
	if e.Sentinel != nil {
		msg = fmt.Sprintf("%s: %v", msg, e.Sentinel)
	}
	return msg
}

func (e *CheckConditionError) Unwrap() error { return e.Sentinel }

// senseOf returns the sense data carried by err, if it is a CHECK CONDITION.
func senseOf(err error) (Sense, bool) {
	var cc *CheckConditionError
	if errors.As(err, &cc) {
		return cc.Sense, true
	}
	return Sense{}, false
}
