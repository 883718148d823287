package sgio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tapefs/engine/device"
)

// Direction is the data transfer direction of a command.
type Direction int

const (
	// DirNone: the command transfers no data.
	DirNone Direction = iota
	// DirIn: data flows from the device into Command.Data.
	DirIn
	// DirOut: Command.Data is sent to the device.
	DirOut
)

// Command is one SCSI command for a Transport.
type Command struct {
	CDB     []byte
	Dir     Direction
	Data    []byte
	Timeout time.Duration
}

// Result is what a Transport reports for a command that reached the device.
type Result struct {
	// Status is the SCSI status byte (0 GOOD, 02h CHECK CONDITION, 08h
	// BUSY, 18h RESERVATION CONFLICT).
	Status byte
	// HostStatus and DriverStatus are the Linux host adapter and driver
	// status (sg_io_hdr host_status, driver_status).
	HostStatus   uint16
	DriverStatus uint16
	// Resid is the number of bytes of Data that were not transferred.
	Resid int
	// Sense is the sense data returned with CHECK CONDITION.
	Sense []byte
}

// Transport executes SCSI commands on one device. Exec returns an error only
// when the command could not be issued (the ioctl failed); SCSI and host
// level outcomes are in the Result. A Transport is used by one goroutine at
// a time.
type Transport interface {
	Exec(cmd *Command) (Result, error)
	Close() error
}

// SCSI status codes (SAM-5).
const (
	statusGood                = 0x00
	statusCheckCondition      = 0x02
	statusBusy                = 0x08
	statusReservationConflict = 0x18
	statusTaskSetFull         = 0x28
)

// Linux host status codes (include/scsi/scsi.h DID_*).
const (
	didOK         = 0x00
	didNoConnect  = 0x01
	didBusBusy    = 0x02
	didTimeOut    = 0x03
	didBadTarget  = 0x04
	didTransport  = 0x0F
	driverSense   = 0x08
	driverTimeout = 0x06
)

// Command timeouts per class.
const (
	timeoutShort    = 60 * time.Second      // inquiry, mode, log, position, sense
	timeoutIO       = 15 * time.Minute      // read, write, filemarks, space
	timeoutPosition = 30 * time.Minute      // locate, rewind, load, unload, space to EOD
	timeoutFormat   = 3 * time.Hour         // FORMAT MEDIUM (LTO-9 initialization)
	timeoutErase    = 24 * time.Hour        // long erase of a full LTO-9/10 tape
	timeoutMove     = 15 * time.Minute      // MOVE MEDIUM
	timeoutInit     = 2 * time.Hour         // INITIALIZE ELEMENT STATUS on large libraries
	unitAttnRetries = 3                     // a UNIT ATTENTION is reported once per event
	senseAlloc      = 96                    // sense buffer and REQUEST SENSE length
	maxAlloc        = 1<<24 - 1             // 3-byte allocation length fields
	defaultAlloc    = 8192                  // log, security and attribute pages
	inquiryAlloc    = 96                    // standard INQUIRY
	elementDescMax  = 12 + 36 + 36 + 4 + 34 // descriptor with both tags and a device ID
)

// executor runs commands on a transport and turns results into errors. It
// is embedded in Drive and Changer.
type executor struct {
	tr Transport
	// unitAttention is called for every UNIT ATTENTION seen, before the
	// retry; the drive uses it to forget its position knowledge.
	unitAttention func(Sense)
}

// exec runs one command. It returns the number of bytes transferred and the
// sense of a NO SENSE/RECOVERED ERROR condition that maps to no error (for
// example the ILI of a short record), or an error: ctx.Err() before the
// command was sent, device.ErrOffline or device.ErrBusy, a
// *CheckConditionError unwrapping to a device sentinel, or a plain error.
func (e *executor) exec(ctx context.Context, op string, cmd *Command) (int, *Sense, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	for attempt := 0; ; attempt++ {
		res, err := e.tr.Exec(cmd)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", op, err)
		}
		n := len(cmd.Data) - res.Resid
		if n < 0 || cmd.Dir == DirNone {
			n = 0
		}
		if n > len(cmd.Data) {
			n = len(cmd.Data)
		}
		switch res.HostStatus {
		case didOK:
		case didNoConnect, didBadTarget:
			return 0, nil, fmt.Errorf("%s: host status %#02x: %w", op, res.HostStatus, device.ErrOffline)
		case didBusBusy:
			return 0, nil, fmt.Errorf("%s: bus busy: %w", op, device.ErrBusy)
		case didTimeOut:
			return 0, nil, fmt.Errorf("%s: command timed out after %v; check the drive and cabling", op, cmd.Timeout)
		default:
			return 0, nil, fmt.Errorf("%s: host adapter error (host status %#02x)", op, res.HostStatus)
		}
		if res.DriverStatus&0x0F == driverTimeout {
			return 0, nil, fmt.Errorf("%s: command timed out after %v; check the drive and cabling", op, cmd.Timeout)
		}
		switch res.Status {
		case statusGood:
			// Some HBAs report sense with GOOD status and DRIVER_SENSE
			// set; treat that as CHECK CONDITION.
			if len(res.Sense) == 0 || res.DriverStatus&driverSense == 0 {
				return n, nil, nil
			}
		case statusCheckCondition:
		case statusBusy, statusReservationConflict, statusTaskSetFull:
			return 0, nil, fmt.Errorf("%s: SCSI status %#02x: %w", op, res.Status, device.ErrBusy)
		default:
			return 0, nil, fmt.Errorf("%s: unexpected SCSI status %#02x", op, res.Status)
		}
		raw := res.Sense
		if len(raw) == 0 {
			// No autosense: fetch it.
			buf := make([]byte, senseAlloc)
			rs := &Command{CDB: requestSenseCDB(senseAlloc), Dir: DirIn, Data: buf, Timeout: timeoutShort}
			r2, err := e.tr.Exec(rs)
			if err != nil || r2.Status != statusGood {
				return 0, nil, fmt.Errorf("%s: CHECK CONDITION without sense data", op)
			}
			raw = buf[:max(0, min(len(buf), len(buf)-r2.Resid))]
		}
		s, err := ParseSense(raw)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: CHECK CONDITION: %w", op, err)
		}
		if s.Key == KeyUnitAttention && s.ASC != ascMediumNotPresent && attempt < unitAttnRetries {
			if e.unitAttention != nil {
				e.unitAttention(s)
			}
			continue
		}
		sentinel := s.err(cmd.Dir == DirOut || cmd.CDB[0] == opWriteFilemarks6)
		if sentinel == nil && (s.Key == KeyNoSense || s.Key == KeyRecoveredError) {
			return n, &s, nil
		}
		return n, &s, &CheckConditionError{Op: op, Sense: s, Sentinel: sentinel}
	}
}

// run is exec for commands whose transferred length and sense do not
// matter.
func (e *executor) run(ctx context.Context, op string, cdb []byte, timeout time.Duration) error {
	_, _, err := e.exec(ctx, op, &Command{CDB: cdb, Dir: DirNone, Timeout: timeout})
	return err
}

// in runs a data-in command with an alloc-byte buffer and returns the bytes
// received.
func (e *executor) in(ctx context.Context, op string, cdb []byte, alloc int, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, alloc)
	n, _, err := e.exec(ctx, op, &Command{CDB: cdb, Dir: DirIn, Data: buf, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// out runs a data-out command.
func (e *executor) out(ctx context.Context, op string, cdb, data []byte, timeout time.Duration) error {
	_, _, err := e.exec(ctx, op, &Command{CDB: cdb, Dir: DirOut, Data: data, Timeout: timeout})
	return err
}

// inquiry reads standard INQUIRY data and the unit serial number.
func (e *executor) inquiry(ctx context.Context) (Inquiry, string, error) {
	b, err := e.in(ctx, "INQUIRY", inquiryCDB(false, 0, inquiryAlloc), inquiryAlloc, timeoutShort)
	if err != nil {
		return Inquiry{}, "", err
	}
	inq, err := ParseInquiry(b)
	if err != nil {
		return Inquiry{}, "", err
	}
	b, err = e.in(ctx, "INQUIRY VPD 80h", inquiryCDB(true, 0x80, 255), 255, timeoutShort)
	if err != nil {
		// The serial page is optional (SPC-4); report what we have.
		var cc *CheckConditionError
		if errors.As(err, &cc) && cc.Sense.Key == KeyIllegalRequest {
			return inq, "", nil
		}
		return Inquiry{}, "", err
	}
	serial, err := ParseUnitSerial(b)
	if err != nil {
		return Inquiry{}, "", err
	}
	return inq, serial, nil
}
