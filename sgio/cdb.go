package sgio

import (
	"encoding/binary"
	"fmt"
)

// SCSI operation codes used by this package (SPC-4, SSC-4, SMC-3).
const (
	opTestUnitReady           = 0x00
	opRewind                  = 0x01
	opRequestSense            = 0x03
	opFormatMedium            = 0x04
	opInitializeElementStatus = 0x07
	opRead6                   = 0x08
	opWrite6                  = 0x0A
	opWriteFilemarks6         = 0x10
	opSpace6                  = 0x11
	opInquiry                 = 0x12
	opModeSelect6             = 0x15
	opErase6                  = 0x19
	opModeSense6              = 0x1A
	opLoadUnload              = 0x1B
	opPreventAllowRemoval     = 0x1E
	opReadPosition            = 0x34
	opLogSense                = 0x4D
	opReadAttribute           = 0x8C
	opSpace16                 = 0x91
	opLocate16                = 0x92
	opSecurityProtocolIn      = 0xA2
	opMoveMedium              = 0xA5
	opSecurityProtocolOut     = 0xB5
	opReadElementStatus       = 0xB8
)

// maxTransfer6 is the largest transfer length a 6-byte CDB can carry.
const maxTransfer6 = 1<<24 - 1

// put24 stores the low 24 bits of v big-endian in b[0:3].
func put24(b []byte, v uint32) {
	b[0] = byte(v >> 16)
	b[1] = byte(v >> 8)
	b[2] = byte(v)
}

// testUnitReadyCDB builds TEST UNIT READY (SPC-4 6.33).
func testUnitReadyCDB() []byte { return []byte{opTestUnitReady, 0, 0, 0, 0, 0} }

// requestSenseCDB builds REQUEST SENSE (SPC-4 6.29) with fixed format sense
// (DESC=0) and the given allocation length.
func requestSenseCDB(alloc uint8) []byte {
	return []byte{opRequestSense, 0, 0, 0, alloc, 0}
}

// inquiryCDB builds INQUIRY (SPC-4 6.6). With evpd set it asks for the vital
// product data page page.
func inquiryCDB(evpd bool, page uint8, alloc uint16) []byte {
	cdb := []byte{opInquiry, 0, 0, 0, 0, 0}
	if evpd {
		cdb[1] = 0x01 // EVPD
		cdb[2] = page
	}
	binary.BigEndian.PutUint16(cdb[3:5], alloc)
	return cdb
}

// rewindCDB builds REWIND (SSC-4 7.6) with IMMED=0.
func rewindCDB() []byte { return []byte{opRewind, 0, 0, 0, 0, 0} }

// loadUnloadCDB builds LOAD UNLOAD (SSC-4 7.2) with IMMED=0, HOLD=0, EOT=0,
// RETEN=0 and LOAD set for load.
func loadUnloadCDB(load bool) []byte {
	cdb := []byte{opLoadUnload, 0, 0, 0, 0, 0}
	if load {
		cdb[4] = 0x01 // LOAD
	}
	return cdb
}

// read6CDB builds READ(6) (SSC-4 6.4) in variable block mode (FIXED=0,
// SILI=0) for a transfer of n bytes.
func read6CDB(n int) ([]byte, error) {
	if n <= 0 || n > maxTransfer6 {
		return nil, fmt.Errorf("sgio: read length %d out of range 1..%d", n, maxTransfer6)
	}
	cdb := []byte{opRead6, 0, 0, 0, 0, 0}
	put24(cdb[2:5], uint32(n))
	return cdb, nil
}

// write6CDB builds WRITE(6) (SSC-4 6.9) in variable block mode (FIXED=0) for
// a record of n bytes.
func write6CDB(n int) ([]byte, error) {
	if n <= 0 || n > maxTransfer6 {
		return nil, fmt.Errorf("sgio: record length %d out of range 1..%d", n, maxTransfer6)
	}
	cdb := []byte{opWrite6, 0, 0, 0, 0, 0}
	put24(cdb[2:5], uint32(n))
	return cdb, nil
}

// writeFilemarks6CDB builds WRITE FILEMARKS(6) (SSC-4 6.10) with IMMED=0 and
// WSMK=0, so the command returns after the buffered data reached the medium.
func writeFilemarks6CDB(n int) ([]byte, error) {
	if n < 0 || n > maxTransfer6 {
		return nil, fmt.Errorf("sgio: filemark count %d out of range 0..%d", n, maxTransfer6)
	}
	cdb := []byte{opWriteFilemarks6, 0, 0, 0, 0, 0}
	put24(cdb[2:5], uint32(n))
	return cdb, nil
}

// SPACE codes (SSC-4 7.7, table "Code field definition").
const (
	spaceCodeBlocks    = 0x0
	spaceCodeFilemarks = 0x1
	spaceCodeEOD       = 0x3
)

// spaceCDB builds SPACE(6) (SSC-4 7.7) when count fits the 24-bit two's
// complement field and SPACE(16) (SSC-4 7.8) otherwise.
func spaceCDB(code uint8, count int64) []byte {
	if count >= -(1<<23) && count < 1<<23 {
		cdb := []byte{opSpace6, code & 0x0F, 0, 0, 0, 0}
		put24(cdb[2:5], uint32(count))
		return cdb
	}
	cdb := make([]byte, 16)
	cdb[0] = opSpace16
	cdb[1] = code & 0x0F
	binary.BigEndian.PutUint64(cdb[4:12], uint64(count))
	return cdb
}

// locate16CDB builds LOCATE(16) (SSC-4 7.4) to a logical object identifier
// in partition 0: DEST_TYPE=000b (logical object), CP=0, IMMED=0.
func locate16CDB(object uint64) []byte {
	cdb := make([]byte, 16)
	cdb[0] = opLocate16
	binary.BigEndian.PutUint64(cdb[4:12], object)
	return cdb
}

// readPositionLongLen is the size of the READ POSITION long form data.
const readPositionLongLen = 32

// readPositionLongCDB builds READ POSITION (SSC-4 7.5) with service action
// 06h (long form). The allocation length field is zero for this form.
func readPositionLongCDB() []byte {
	return []byte{opReadPosition, 0x06, 0, 0, 0, 0, 0, 0, 0, 0}
}

// erase6CDB builds ERASE(6) (SSC-4 6.2) with IMMED=0; long erases to the end
// of the partition.
func erase6CDB(long bool) []byte {
	cdb := []byte{opErase6, 0, 0, 0, 0, 0}
	if long {
		cdb[1] = 0x01 // LONG
	}
	return cdb
}

// formatMediumCDB builds FORMAT MEDIUM (SSC-4 7.1) with VERIFY=0, IMMED=0,
// FORMAT=0 (default format, one partition) and no parameter data.
func formatMediumCDB() []byte { return []byte{opFormatMedium, 0, 0, 0, 0, 0} }

// preventAllowCDB builds PREVENT ALLOW MEDIUM REMOVAL (SSC-4 7.3 / SPC-4
// 6.13): PREVENT=01b to prevent, 00b to allow.
func preventAllowCDB(prevent bool) []byte {
	cdb := []byte{opPreventAllowRemoval, 0, 0, 0, 0, 0}
	if prevent {
		cdb[4] = 0x01
	}
	return cdb
}

// modeSense6CDB builds MODE SENSE(6) (SPC-4 6.11) for the current values
// (PC=00b) of page, with DBD set when block descriptors are not wanted.
func modeSense6CDB(dbd bool, page uint8, alloc uint8) []byte {
	cdb := []byte{opModeSense6, 0, page & 0x3F, 0, alloc, 0}
	if dbd {
		cdb[1] = 0x08 // DBD
	}
	return cdb
}

// modeSelect6CDB builds MODE SELECT(6) (SPC-4 6.9) with PF=1 (page format)
// and SP=0 (do not save) for a parameter list of n bytes.
func modeSelect6CDB(n uint8) []byte {
	return []byte{opModeSelect6, 0x10, 0, 0, n, 0}
}

// Log pages read by this package.
const (
	logPageVolumeStatistics = 0x17
	logPageTapeAlert        = 0x2E
)

// logSenseCDB builds LOG SENSE (SPC-4 6.8) for the cumulative values
// (PC=01b) of page, subpage 0, starting at parameter 0.
func logSenseCDB(page uint8, alloc uint16) []byte {
	cdb := make([]byte, 10)
	cdb[0] = opLogSense
	cdb[2] = 0x40 | page&0x3F // PC=01b
	binary.BigEndian.PutUint16(cdb[7:9], alloc)
	return cdb
}

// readAttributeCDB builds READ ATTRIBUTE (SPC-4 6.17) with service action
// 00h (ATTRIBUTE VALUES) for volume 0, partition 0, from attribute first.
func readAttributeCDB(first uint16, alloc uint32) []byte {
	cdb := make([]byte, 16)
	cdb[0] = opReadAttribute
	binary.BigEndian.PutUint16(cdb[8:10], first)
	binary.BigEndian.PutUint32(cdb[10:14], alloc)
	return cdb
}

// Tape data encryption security protocol (SSC-4 8.5) and its pages.
const (
	secProtocolTapeEncryption = 0x20
	pageEncryptionCaps        = 0x0010 // SECURITY PROTOCOL IN
	pageEncryptionStatus      = 0x0020 // SECURITY PROTOCOL IN
	pageSetDataEncryption     = 0x0010 // SECURITY PROTOCOL OUT
)

// securityProtocolInCDB builds SECURITY PROTOCOL IN (SPC-4 6.30) for the
// tape data encryption protocol page, INC_512=0.
func securityProtocolInCDB(page uint16, alloc uint32) []byte {
	cdb := make([]byte, 12)
	cdb[0] = opSecurityProtocolIn
	cdb[1] = secProtocolTapeEncryption
	binary.BigEndian.PutUint16(cdb[2:4], page)
	binary.BigEndian.PutUint32(cdb[6:10], alloc)
	return cdb
}

// securityProtocolOutCDB builds SECURITY PROTOCOL OUT (SPC-4 6.31) for the
// tape data encryption protocol page with n bytes of parameter data.
func securityProtocolOutCDB(page uint16, n uint32) []byte {
	cdb := make([]byte, 12)
	cdb[0] = opSecurityProtocolOut
	cdb[1] = secProtocolTapeEncryption
	binary.BigEndian.PutUint16(cdb[2:4], page)
	binary.BigEndian.PutUint32(cdb[6:10], n)
	return cdb
}

// Element type codes (SMC-3 6.10, READ ELEMENT STATUS).
const (
	elemAll       = 0
	elemTransport = 1
	elemStorage   = 2
	elemImportExp = 3
	elemDataXfer  = 4
)

// readElementStatusCDB builds READ ELEMENT STATUS (SMC-3 6.10) with VOLTAG=1,
// CURDATA=0, DVCID=0 for count elements of type typ from address start.
func readElementStatusCDB(typ uint8, start, count uint16, alloc uint32) []byte {
	cdb := make([]byte, 12)
	cdb[0] = opReadElementStatus
	cdb[1] = 0x10 | typ&0x0F // VOLTAG
	binary.BigEndian.PutUint16(cdb[2:4], start)
	binary.BigEndian.PutUint16(cdb[4:6], count)
	put24(cdb[7:10], alloc)
	return cdb
}

// moveMediumCDB builds MOVE MEDIUM (SMC-3 6.6) with INVERT=0.
func moveMediumCDB(transport, src, dst uint16) []byte {
	cdb := make([]byte, 12)
	cdb[0] = opMoveMedium
	binary.BigEndian.PutUint16(cdb[2:4], transport)
	binary.BigEndian.PutUint16(cdb[4:6], src)
	binary.BigEndian.PutUint16(cdb[6:8], dst)
	return cdb
}

// initializeElementStatusCDB builds INITIALIZE ELEMENT STATUS (SMC-3 6.2).
func initializeElementStatusCDB() []byte {
	return []byte{opInitializeElementStatus, 0, 0, 0, 0, 0}
}
