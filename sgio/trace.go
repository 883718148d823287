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

// opNames names the commands sgio sends as docs/hardware.md does.
var opNames = map[byte]string{
	opTestUnitReady:           "TEST UNIT READY",
	opRewind:                  "REWIND",
	opRequestSense:            "REQUEST SENSE",
	opFormatMedium:            "FORMAT MEDIUM",
	opInitializeElementStatus: "INITIALIZE ELEMENT STATUS",
	opRead6:                   "READ(6)",
	opWrite6:                  "WRITE(6)",
	opWriteFilemarks6:         "WRITE FILEMARKS(6)",
	opSpace6:                  "SPACE(6)",
	opInquiry:                 "INQUIRY",
	opModeSelect6:             "MODE SELECT(6)",
	opErase6:                  "ERASE(6)",
	opModeSense6:              "MODE SENSE(6)",
	opLoadUnload:              "LOAD UNLOAD",
	opPreventAllowRemoval:     "PREVENT ALLOW MEDIUM REMOVAL",
	opReadPosition:            "READ POSITION",
	opLogSense:                "LOG SENSE",
	opReadAttribute:           "READ ATTRIBUTE",
	opSpace16:                 "SPACE(16)",
	opLocate16:                "LOCATE(16)",
	opSecurityProtocolIn:      "SECURITY PROTOCOL IN",
	opMoveMedium:              "MOVE MEDIUM",
	opSecurityProtocolOut:     "SECURITY PROTOCOL OUT",
	opReadElementStatus:       "READ ELEMENT STATUS",
}

// opName names the command of cdb, with the page or variant it asks for.
func opName(cdb []byte) string {
	if len(cdb) == 0 {
		return "(empty CDB)"
	}
	name, ok := opNames[cdb[0]]
	if !ok {
		return fmt.Sprintf("opcode %02Xh", cdb[0])
	}
	at := func(i int) byte {
		if i < len(cdb) {
			return cdb[i]
		}
		return 0
	}
	switch cdb[0] {
	case opInquiry:
		if at(1)&1 != 0 {
			name += fmt.Sprintf(" VPD %02Xh", at(2))
		}
	case opModeSense6, opLogSense:
		name += fmt.Sprintf(" page %02Xh", at(2)&0x3F)
	case opLoadUnload:
		if at(4)&1 != 0 {
			name += " (load)"
		} else {
			name += " (unload)"
		}
	case opSecurityProtocolIn, opSecurityProtocolOut:
		name += fmt.Sprintf(" %02Xh/%04Xh", at(1), uint16(at(2))<<8|uint16(at(3)))
	case opReadElementStatus:
		name += fmt.Sprintf(" type %d", at(1)&0x0F)
	}
	return name
}
