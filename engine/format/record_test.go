package format

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current encoders")

// golden compares got (rendered as a hex dump) with testdata/name, or
// rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	dump := []byte(hex.Dump(got))
	if *update {
		if err := os.WriteFile(path, dump, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(dump, want) {
		t.Errorf("%s differs from the encoder's output (the on-tape layout changed?):\ngot:\n%swant:\n%s", path, dump, want)
	}
}

func sampleRecordHeader() recordHeader {
	return recordHeader{
		Flags:      flagEndOfStream | flagIncomplete,
		BlockSize:  DefaultBlockSize,
		Seq:        0x0102030405060708,
		PayloadLen: 0x1234,
		PayloadCRC: 0xdeadbeef,
		Content:    uuid.MustParse("7f42c4dd-9626-4d89-9f2b-c7bc6da7d533"),
	}
}

func TestRecordHeaderGolden(t *testing.T) {
	b := make([]byte, RecordHeaderSize)
	sampleRecordHeader().put(b)
	golden(t, "record-header.golden", b)
}

func TestRecordHeaderRoundTrip(t *testing.T) {
	want := sampleRecordHeader()
	b := make([]byte, RecordHeaderSize)
	want.put(b)
	got, err := decodeRecordHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

// reseal recomputes the header CRC after a test changed a field.
func reseal(b []byte) {
	binary.LittleEndian.PutUint32(b[60:], crc32c(b[:60]))
}

func TestDecodeRecordHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:63] }, "shorter than"},
		{"magic", func(b []byte) []byte { b[1] = 'X'; return b }, "bad record magic"},
		{"version", func(b []byte) []byte { b[8] = 2; reseal(b); return b }, "format version 2"},
		{"header crc", func(b []byte) []byte { b[20] ^= 1; return b }, "header checksum"},
		{"reserved", func(b []byte) []byte { b[50] = 1; reseal(b); return b }, "reserved byte 50"},
		{"unknown flag", func(b []byte) []byte { b[10] |= 0x80; reseal(b); return b }, "unknown flags 0x0080"},
		{"incomplete without end", func(b []byte) []byte { b[10] = byte(flagIncomplete); reseal(b); return b }, "incomplete but not end of stream"},
		{"block too small", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[12:], 4096)
			reseal(b)
			return b
		}, "invalid block size"},
		{"block unaligned", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[12:], DefaultBlockSize+1)
			reseal(b)
			return b
		}, "invalid block size"},
		{"payload too long", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[24:], DefaultBlockSize-RecordHeaderSize+1)
			reseal(b)
			return b
		}, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, RecordHeaderSize)
			sampleRecordHeader().put(b)
			_, err := decodeRecordHeader(tt.mutate(b))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCheckRecord(t *testing.T) {
	mk := func() []byte {
		rec := make([]byte, MinBlockSize)
		payload := []byte("hello, tape")
		copy(rec[RecordHeaderSize:], payload)
		recordHeader{
			Flags: flagEndOfStream, BlockSize: MinBlockSize, PayloadLen: uint32(len(payload)),
			PayloadCRC: crc32c(payload), Content: uuid.UUID{1},
		}.put(rec)
		return rec
	}
	_, payload, err := checkRecord(mk())
	if err != nil || string(payload) != "hello, tape" {
		t.Fatalf("checkRecord = %q, %v", payload, err)
	}
	// Padding is not covered by the CRC.
	rec := mk()
	rec[len(rec)-1] = 0xff
	if _, _, err := checkRecord(rec); err != nil {
		t.Errorf("non-zero padding: %v", err)
	}

	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"payload bit flip", func(b []byte) []byte { b[RecordHeaderSize+3] ^= 4; return b }, "payload checksum"},
		{"record shorter than block", func(b []byte) []byte { return b[:MinBlockSize-512] }, "its header says block size"},
		{"record longer than block", func(b []byte) []byte { return append(b, 0) }, "its header says block size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := checkRecord(tt.mutate(mk()))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func TestValidateBlockSize(t *testing.T) {
	for _, n := range []int{MinBlockSize, DefaultBlockSize, 1 << 20, MaxBlockSize, MinBlockSize + 4096} {
		if err := ValidateBlockSize(n); err != nil {
			t.Errorf("ValidateBlockSize(%d): %v", n, err)
		}
	}
	for _, n := range []int{0, -1, MinBlockSize - 4096, MaxBlockSize + 4096, MinBlockSize + 1, 100000} {
		if err := ValidateBlockSize(n); err == nil {
			t.Errorf("ValidateBlockSize(%d) accepted it", n)
		}
	}
}
