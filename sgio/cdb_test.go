package sgio

import (
	"bytes"
	"testing"
)

func TestCDBBuilders(t *testing.T) {
	must := func(cdb []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return cdb
	}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"TEST UNIT READY", testUnitReadyCDB(), []byte{0x00, 0, 0, 0, 0, 0}},
		{"REQUEST SENSE", requestSenseCDB(96), []byte{0x03, 0, 0, 0, 96, 0}},
		// INQUIRY: byte 1 EVPD, byte 2 page, bytes 3..4 allocation length.
		{"INQUIRY standard", inquiryCDB(false, 0x80, 96), []byte{0x12, 0, 0, 0, 96, 0}},
		{"INQUIRY VPD 80h", inquiryCDB(true, 0x80, 0x1FF), []byte{0x12, 0x01, 0x80, 0x01, 0xFF, 0}},
		{"REWIND", rewindCDB(), []byte{0x01, 0, 0, 0, 0, 0}},
		// LOAD UNLOAD: byte 4 bit 0 LOAD.
		{"LOAD", loadUnloadCDB(true), []byte{0x1B, 0, 0, 0, 0x01, 0}},
		{"UNLOAD", loadUnloadCDB(false), []byte{0x1B, 0, 0, 0, 0, 0}},
		// READ(6)/WRITE(6): byte 1 FIXED=0 SILI=0, bytes 2..4 length.
		{"READ(6) 256 KiB", must(read6CDB(256 << 10)), []byte{0x08, 0, 0x04, 0x00, 0x00, 0}},
		{"READ(6) max", must(read6CDB(maxTransfer6)), []byte{0x08, 0, 0xFF, 0xFF, 0xFF, 0}},
		{"WRITE(6) 1 byte", must(write6CDB(1)), []byte{0x0A, 0, 0, 0, 1, 0}},
		{"WRITE(6) 0x123456", must(write6CDB(0x123456)), []byte{0x0A, 0, 0x12, 0x34, 0x56, 0}},
		// WRITE FILEMARKS(6): IMMED=0, WSMK=0, bytes 2..4 count.
		{"WRITE FILEMARKS 0", must(writeFilemarks6CDB(0)), []byte{0x10, 0, 0, 0, 0, 0}},
		{"WRITE FILEMARKS 2", must(writeFilemarks6CDB(2)), []byte{0x10, 0, 0, 0, 2, 0}},
		// SPACE(6): byte 1 code, bytes 2..4 two's complement count.
		{"SPACE blocks +1", spaceCDB(spaceCodeBlocks, 1), []byte{0x11, 0x00, 0, 0, 1, 0}},
		{"SPACE filemarks -1", spaceCDB(spaceCodeFilemarks, -1), []byte{0x11, 0x01, 0xFF, 0xFF, 0xFF, 0}},
		{"SPACE filemarks max6", spaceCDB(spaceCodeFilemarks, 1<<23-1), []byte{0x11, 0x01, 0x7F, 0xFF, 0xFF, 0}},
		{"SPACE blocks min6", spaceCDB(spaceCodeBlocks, -(1 << 23)), []byte{0x11, 0x00, 0x80, 0x00, 0x00, 0}},
		{"SPACE EOD", spaceCDB(spaceCodeEOD, 0), []byte{0x11, 0x03, 0, 0, 0, 0}},
		// SPACE(16): byte 1 code, bytes 4..11 count, 12..13 parameter length.
		{"SPACE(16) blocks 2^23", spaceCDB(spaceCodeBlocks, 1<<23),
			[]byte{0x91, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0}},
		{"SPACE(16) filemarks -(2^23+1)", spaceCDB(spaceCodeFilemarks, -(1<<23 + 1)),
			[]byte{0x91, 0x01, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0, 0, 0, 0}},
		// LOCATE(16): byte 1 DEST_TYPE=0 CP=0 IMMED=0, 3 partition, 4..11 object.
		{"LOCATE(16)", locate16CDB(0x0102030405060708),
			[]byte{0x92, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}},
		{"LOCATE(16) 0", locate16CDB(0), make16(0x92)},
		// READ POSITION: service action 06h long form.
		{"READ POSITION long", readPositionLongCDB(), []byte{0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"ERASE short", erase6CDB(false), []byte{0x19, 0, 0, 0, 0, 0}},
		{"ERASE long", erase6CDB(true), []byte{0x19, 0x01, 0, 0, 0, 0}},
		{"FORMAT MEDIUM", formatMediumCDB(), []byte{0x04, 0, 0, 0, 0, 0}},
		{"PREVENT", preventAllowCDB(true), []byte{0x1E, 0, 0, 0, 0x01, 0}},
		{"ALLOW", preventAllowCDB(false), []byte{0x1E, 0, 0, 0, 0, 0}},
		// MODE SENSE(6): byte 1 DBD (bit 3), byte 2 PC=00b|page, byte 4 alloc.
		{"MODE SENSE 0Fh", modeSense6CDB(false, 0x0F, 255), []byte{0x1A, 0, 0x0F, 0, 255, 0}},
		{"MODE SENSE 1Dh DBD", modeSense6CDB(true, 0x1D, 255), []byte{0x1A, 0x08, 0x1D, 0, 255, 0}},
		// MODE SELECT(6): byte 1 PF=1 SP=0, byte 4 parameter list length.
		{"MODE SELECT", modeSelect6CDB(28), []byte{0x15, 0x10, 0, 0, 28, 0}},
		// LOG SENSE: byte 2 PC=01b|page, bytes 7..8 allocation length.
		{"LOG SENSE 2Eh", logSenseCDB(0x2E, 8192), []byte{0x4D, 0, 0x6E, 0, 0, 0, 0, 0x20, 0x00, 0}},
		{"LOG SENSE 17h", logSenseCDB(0x17, 0x1234), []byte{0x4D, 0, 0x57, 0, 0, 0, 0, 0x12, 0x34, 0}},
		// READ ATTRIBUTE: byte 1 service action 0, 8..9 first id, 10..13 alloc.
		{"READ ATTRIBUTE", readAttributeCDB(0x0401, 0x10000),
			[]byte{0x8C, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x01, 0, 0x01, 0, 0, 0, 0}},
		// SECURITY PROTOCOL IN/OUT: byte 1 protocol 20h, 2..3 page, 6..9 length.
		{"SPIN caps", securityProtocolInCDB(0x0010, 8192),
			[]byte{0xA2, 0x20, 0x00, 0x10, 0, 0, 0, 0, 0x20, 0x00, 0, 0}},
		{"SPIN status", securityProtocolInCDB(0x0020, 8192),
			[]byte{0xA2, 0x20, 0x00, 0x20, 0, 0, 0, 0, 0x20, 0x00, 0, 0}},
		{"SPOUT set", securityProtocolOutCDB(0x0010, 52),
			[]byte{0xB5, 0x20, 0x00, 0x10, 0, 0, 0, 0, 0, 52, 0, 0}},
		// READ ELEMENT STATUS: byte 1 VOLTAG(4)|type, 2..3 start, 4..5 count,
		// 7..9 allocation length.
		{"READ ELEMENT STATUS storage", readElementStatusCDB(elemStorage, 0x1000, 24, 0x012345),
			[]byte{0xB8, 0x12, 0x10, 0x00, 0, 24, 0, 0x01, 0x23, 0x45, 0, 0}},
		{"READ ELEMENT STATUS drives", readElementStatusCDB(elemDataXfer, 1, 2, 256),
			[]byte{0xB8, 0x14, 0, 1, 0, 2, 0, 0, 1, 0, 0, 0}},
		// MOVE MEDIUM: 2..3 transport, 4..5 source, 6..7 destination.
		{"MOVE MEDIUM", moveMediumCDB(0x0000, 0x1001, 0x0101),
			[]byte{0xA5, 0, 0, 0, 0x10, 0x01, 0x01, 0x01, 0, 0, 0, 0}},
		{"INITIALIZE ELEMENT STATUS", initializeElementStatusCDB(), []byte{0x07, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: got % X, want % X", tt.name, tt.got, tt.want)
		}
	}
}

func make16(op byte) []byte {
	b := make([]byte, 16)
	b[0] = op
	return b
}

func TestCDBRangeErrors(t *testing.T) {
	if _, err := read6CDB(0); err == nil {
		t.Error("read6CDB(0): no error")
	}
	if _, err := read6CDB(maxTransfer6 + 1); err == nil {
		t.Error("read6CDB(max+1): no error")
	}
	if _, err := write6CDB(0); err == nil {
		t.Error("write6CDB(0): no error")
	}
	if _, err := write6CDB(maxTransfer6 + 1); err == nil {
		t.Error("write6CDB(max+1): no error")
	}
	if _, err := writeFilemarks6CDB(-1); err == nil {
		t.Error("writeFilemarks6CDB(-1): no error")
	}
}
