package sgio

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// TraceEnv names the environment variable that makes every sg device tapefs,
// pmt and pmtx open log its commands: TAPEFS_SG_TRACE=FILE appends one line
// per command to FILE (see traceTransport). For reports from hardware this
// project has not seen, and for the SCSI lab's list of commands sent.
const TraceEnv = "TAPEFS_SG_TRACE"

// traceFile is the one open trace file of the process, shared by every
// traced device; mu orders the lines.
var traceFile struct {
	mu   sync.Mutex
	path string
	w    io.WriteCloser
	refs int
}

// traced wraps tr in a traceTransport writing to the file TraceEnv names;
// tr unchanged when it is unset. When the file cannot be opened, tr is
// closed and the error returned, so a trace that was asked for is never
// silently missing.
func traced(tr Transport, path string) (Transport, error) {
	file := os.Getenv(TraceEnv)
	if file == "" {
		return tr, nil
	}
	traceFile.mu.Lock()
	defer traceFile.mu.Unlock()
	if traceFile.w == nil || traceFile.path != file {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			tr.Close()
			return nil, fmt.Errorf("%s=%s: %w", TraceEnv, file, err)
		}
		traceFile.path, traceFile.w = file, f
	}
	traceFile.refs++
	return &traceTransport{Transport: tr, dev: path}, nil
}

// traceTransport logs each command of one device as one line:
//
//	2026-12-06T08:00:00.123Z /dev/sg2 READ POSITION 34 06 00 ... -> GOOD resid 0
//	... /dev/sg2 ERASE(6) 19 00 00 00 00 00 -> CHECK CONDITION ILLEGAL REQUEST 20h/00h
//
// (the command name, the CDB, then the status, with sense key, ASC and ASCQ
// after CHECK CONDITION, or the transport's error). Data is not logged.
type traceTransport struct {
	Transport
	dev string
}

func (t *traceTransport) Exec(cmd *Command) (Result, error) {
	res, err := t.Transport.Exec(cmd)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s % X -> ", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), t.dev, opName(cmd.CDB), cmd.CDB)
	switch {
	case err != nil:
		fmt.Fprintf(&b, "error %v", err)
	case res.Status == statusCheckCondition:
		if s, perr := ParseSense(res.Sense); perr == nil {
			fmt.Fprintf(&b, "CHECK CONDITION %s %02Xh/%02Xh", senseKeyNames[s.Key&0x0F], s.ASC, s.ASCQ)
		} else {
			fmt.Fprintf(&b, "CHECK CONDITION sense % X", res.Sense)
		}
	case res.Status == statusGood:
		fmt.Fprintf(&b, "GOOD resid %d", res.Resid)
	default:
		fmt.Fprintf(&b, "status %#02x host %#x driver %#x", res.Status, res.HostStatus, res.DriverStatus)
	}
	b.WriteByte('\n')
	traceFile.mu.Lock()
	io.WriteString(traceFile.w, b.String())
	traceFile.mu.Unlock()
	return res, err
}

func (t *traceTransport) Close() error {
	err := t.Transport.Close()
	traceFile.mu.Lock()
	defer traceFile.mu.Unlock()
	if traceFile.refs--; traceFile.refs == 0 && traceFile.w != nil {
		traceFile.w.Close()
		traceFile.w = nil
	}
	return err
}

// opName names the command of cdb as docs/hardware.md does.
func opName(cdb []byte) string {
	if len(cdb) == 0 {
		return "(empty CDB)"
	}
	switch cdb[0] {
	case opTestUnitReady:
		return "TEST UNIT READY"
	case opRewind:
		return "REWIND"
	case opRequestSense:
		return "REQUEST SENSE"
	case opFormatMedium:
		return "FORMAT MEDIUM"
	case opInitializeElementStatus:
		return "INITIALIZE ELEMENT STATUS"
	case opRead6:
		return "READ(6)"
	case opWrite6:
		return "WRITE(6)"
	case opWriteFilemarks6:
		return "WRITE FILEMARKS(6)"
	case opSpace6:
		return "SPACE(6)"
	case opInquiry:
		if len(cdb) > 2 && cdb[1]&1 != 0 {
			return fmt.Sprintf("INQUIRY VPD %02Xh", cdb[2])
		}
		return "INQUIRY"
	case opModeSelect6:
		return "MODE SELECT(6)"
	case opErase6:
		return "ERASE(6)"
	case opModeSense6:
		if len(cdb) > 2 {
			return fmt.Sprintf("MODE SENSE(6) page %02Xh", cdb[2]&0x3F)
		}
		return "MODE SENSE(6)"
	case opLoadUnload:
		if len(cdb) > 4 && cdb[4]&1 != 0 {
			return "LOAD UNLOAD (load)"
		}
		return "LOAD UNLOAD (unload)"
	case opPreventAllowRemoval:
		return "PREVENT ALLOW MEDIUM REMOVAL"
	case opReadPosition:
		return "READ POSITION"
	case opLogSense:
		if len(cdb) > 2 {
			return fmt.Sprintf("LOG SENSE page %02Xh", cdb[2]&0x3F)
		}
		return "LOG SENSE"
	case opReadAttribute:
		return "READ ATTRIBUTE"
	case opSpace16:
		return "SPACE(16)"
	case opLocate16:
		return "LOCATE(16)"
	case opSecurityProtocolIn:
		if len(cdb) > 3 {
			return fmt.Sprintf("SECURITY PROTOCOL IN %02Xh/%04Xh", cdb[1], uint16(cdb[2])<<8|uint16(cdb[3]))
		}
		return "SECURITY PROTOCOL IN"
	case opMoveMedium:
		return "MOVE MEDIUM"
	case opSecurityProtocolOut:
		if len(cdb) > 3 {
			return fmt.Sprintf("SECURITY PROTOCOL OUT %02Xh/%04Xh", cdb[1], uint16(cdb[2])<<8|uint16(cdb[3]))
		}
		return "SECURITY PROTOCOL OUT"
	case opReadElementStatus:
		if len(cdb) > 1 {
			return fmt.Sprintf("READ ELEMENT STATUS type %d", cdb[1]&0x0F)
		}
		return "READ ELEMENT STATUS"
	}
	return fmt.Sprintf("opcode %02Xh", cdb[0])
}
