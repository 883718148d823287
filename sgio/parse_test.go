package sgio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"tapefs/engine/device"
)

// inquiryData builds 96 bytes of standard INQUIRY data: byte 0 peripheral
// type, byte 1 RMB, byte 2 version (SPC-4 = 06h), byte 4 additional length,
// 8..15 vendor, 16..31 product, 32..35 revision, space padded.
func inquiryData(typ byte, vendor, product, rev string) []byte {
	b := bytes.Repeat([]byte{' '}, 96)
	b[0], b[1], b[2], b[3], b[4] = typ, 0x80, 0x06, 0x02, 91
	b[5], b[6], b[7] = 0, 0, 0
	copy(b[8:16], vendor)
	copy(b[16:32], product)
	copy(b[32:36], rev)
	return b
}

// serialPage builds the unit serial number VPD page: byte 0 type, 1 page
// code 80h, 2..3 page length, serial.
func serialPage(typ byte, serial string) []byte {
	b := []byte{typ, 0x80, 0, byte(len(serial))}
	return append(b, serial...)
}

func TestParseInquiry(t *testing.T) {
	got, err := ParseInquiry(inquiryData(TypeTape, "IBM", "ULT3580-TD8", "Q4J0"))
	if err != nil {
		t.Fatal(err)
	}
	want := Inquiry{DeviceType: TypeTape, Removable: true, Vendor: "IBM", Model: "ULT3580-TD8", Revision: "Q4J0"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ParseInquiry(make([]byte, 35)); err == nil {
		t.Error("35 bytes: no error")
	}
	// Peripheral qualifier 011b: no device at this LUN.
	b := inquiryData(0x60|0x1F, "", "", "")
	got, _ = ParseInquiry(b)
	if got.Qualifier != 3 || got.DeviceType != 0x1F {
		t.Errorf("qualifier/type = %d/%d, want 3/31", got.Qualifier, got.DeviceType)
	}
}

func TestParseUnitSerial(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{serialPage(1, "10WT012345  "), "10WT012345"},
		{serialPage(8, "\x00\x00ABC"), "ABC"},
		// Page length larger than the data: take what is there.
		{[]byte{1, 0x80, 0, 40, 'X', 'Y'}, "XY"},
	}
	for _, tt := range tests {
		got, err := ParseUnitSerial(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseUnitSerial(% X) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseUnitSerial([]byte{1, 0x83, 0, 0}); err == nil {
		t.Error("page 83h accepted as serial page")
	}
}

// positionData builds READ POSITION long form data: byte 0 flags, 4..7
// partition, 8..15 logical object, 16..23 logical file, 24..31 set.
func positionData(flags byte, partition uint32, object, file uint64) []byte {
	b := make([]byte, 32)
	b[0] = flags
	binary.BigEndian.PutUint32(b[4:8], partition)
	binary.BigEndian.PutUint64(b[8:16], object)
	binary.BigEndian.PutUint64(b[16:24], file)
	return b
}

func TestParseReadPositionLong(t *testing.T) {
	got, err := ParseReadPositionLong(positionData(0x80|0x01, 0, 1234, 5))
	if err != nil {
		t.Fatal(err)
	}
	want := ReadPosition{BOP: true, BPEW: true, Object: 1234, File: 5}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got, _ = ParseReadPositionLong(positionData(0x40|0x08|0x04, 1, 0, 0))
	if !got.EOP || !got.MPU || !got.LONU || got.Partition != 1 {
		t.Errorf("flags/partition not decoded: %+v", got)
	}
	if _, err := ParseReadPositionLong(make([]byte, 20)); err == nil {
		t.Error("short form (20 bytes) accepted")
	}
}

// modeData builds MODE SENSE(6) data: header (mode data length, medium
// type, device-specific WP|BUFFERED MODE|SPEED, block descriptor length 8),
// block descriptor (density, 3 bytes blocks, reserved, 3 bytes block
// length), and the data compression page 0Fh (PS set, length 0Eh, DCE|DCC,
// DDE, compression algorithm 1, decompression algorithm 1).
func modeData(wp bool, buffered byte, density byte, blockLen uint32, dce bool) []byte {
	b := []byte{0, 0x00, buffered << 4, 8, density, 0, 0, 0, 0, 0, 0, 0}
	if wp {
		b[2] |= 0x80
	}
	put24(b[9:12], blockLen)
	page := []byte{0x80 | 0x0F, 0x0E, 0x40, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}
	if dce {
		page[2] |= 0x80
	}
	b = append(b, page...)
	b[0] = byte(len(b) - 1)
	return b
}

func TestParseModeSense6(t *testing.T) {
	md, err := ParseModeSense6(modeData(true, 1, 0x5E, 0, true))
	if err != nil {
		t.Fatal(err)
	}
	if !md.WriteProtected || md.BufferMode != 1 || !md.HasBlockDescriptor || md.Density != 0x5E || md.BlockLength != 0 {
		t.Errorf("header/descriptor wrong: %+v", md)
	}
	if md.Compression == nil || !md.Compression.DCE || !md.Compression.DCC || !md.Compression.DDE {
		t.Errorf("compression page wrong: %+v", md.Compression)
	}
	md, _ = ParseModeSense6(modeData(false, 0, 0x58, 0x40000, false))
	if md.WriteProtected || md.BufferMode != 0 || md.BlockLength != 0x40000 || md.Compression.DCE {
		t.Errorf("second case wrong: %+v", md)
	}
	// Header only, no block descriptor, no page.
	md, err = ParseModeSense6([]byte{3, 0, 0x10, 0})
	if err != nil || md.HasBlockDescriptor || md.Compression != nil || md.BufferMode != 1 {
		t.Errorf("header-only: %+v, %v", md, err)
	}
}

func TestBuildModeSelect6(t *testing.T) {
	md, _ := ParseModeSense6(modeData(true, 0, 0x5E, 0x40000, false))
	bs, on := uint32(0), true
	got, err := buildModeSelect6(md, device.DriveOptions{BlockSize: &bs, Compression: &on, BufferMode: &on})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 0, 0x10, 8, // header: length 0, medium 0, BUFFERED MODE 1 (WP dropped), BDL 8
		0x5E, 0, 0, 0, 0, 0, 0, 0, // block descriptor: density kept, block length 0
		0x0F, 0x0E, 0xC0, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, // page, PS cleared, DCE set
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  % X\nwant % X", got, want)
	}
	// Nil options keep the sensed values.
	got, _ = buildModeSelect6(md, device.DriveOptions{})
	if len(got) != 12 || got[2] != 0 || got[11] != 0 || got[9] != 0x04 {
		t.Errorf("unchanged options altered: % X", got)
	}
	// A block size change without a compression change sends the block
	// descriptor alone, as st does (tgt refuses any mode page).
	bs = 512
	got, err = buildModeSelect6(md, device.DriveOptions{BlockSize: &bs})
	want = []byte{0, 0, 0, 8, 0x5E, 0, 0, 0, 0, 0, 0x02, 0}
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("block size only: got % X, %v\nwant % X", got, err, want)
	}
	noPage, _ := ParseModeSense6([]byte{11, 0, 0, 8, 0x5E, 0, 0, 0, 0, 0, 0, 0})
	if _, err := buildModeSelect6(noPage, device.DriveOptions{Compression: &on}); !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("compression on a drive without the page: %v, want ErrUnsupported", err)
	}
	big := uint32(1 << 24)
	if _, err := buildModeSelect6(md, device.DriveOptions{BlockSize: &big}); err == nil {
		t.Error("block size 2^24 accepted")
	}
	if _, err := buildModeSelect6(ModeData{}, device.DriveOptions{}); err == nil {
		t.Error("no block descriptor accepted")
	}
}

// logPage builds a LOG SENSE page: byte 0 page code, 1 subpage, 2..3 page
// length, then parameters (2 bytes code, control, length, value).
func logPage(page byte, params ...[]byte) []byte {
	b := []byte{page, 0, 0, 0}
	for _, p := range params {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-4))
	return b
}

func logParamBytes(code uint16, value ...byte) []byte {
	return append([]byte{byte(code >> 8), byte(code), 0x03, byte(len(value))}, value...)
}

func TestParseTapeAlert(t *testing.T) {
	var params [][]byte
	for code := uint16(1); code <= 64; code++ {
		v := byte(0)
		if code == 3 || code == 20 || code == 64 {
			v = 1
		}
		params = append(params, logParamBytes(code, v))
	}
	f, err := ParseTapeAlert(logPage(0x2E, params...))
	if err != nil {
		t.Fatal(err)
	}
	want := device.TapeAlertFlags(0).With(3).With(20).With(64)
	if f != want {
		t.Errorf("flags %v, want %v", f, want)
	}
	if _, err := ParseTapeAlert(logPage(0x17)); err == nil {
		t.Error("page 17h accepted as TapeAlert")
	}
}

func TestParseVolumeStatistics(t *testing.T) {
	b := logPage(0x17,
		logParamBytes(0x0000, 1),           // page valid
		logParamBytes(0x0001, 0, 0, 0, 42), // volume mounts
		logParamBytes(0x0002, 0, 0, 1, 0),  // datasets written
		logParamBytes(0x0003, 5),
		logParamBytes(0x0004, 6),
		logParamBytes(0x0007, 7),
		logParamBytes(0x0008, 8),
		logParamBytes(0x0009, 9),
		logParamBytes(0x000E, 0, 10), // last mount MB written
		logParamBytes(0x000F, 0, 11),
		logParamBytes(0x0010, 0, 0, 0, 0, 0, 0, 0x30, 0x39), // lifetime MB written 12345
		logParamBytes(0x0011, 13),
		logParamBytes(0x0040, []byte("VOL001L8    ")...),
		logParamBytes(0x0080, 1),
		logParamBytes(0x0101, 0, 100),
		logParamBytes(0x0102, 0, 200),
		logParamBytes(0x7FFF, 1, 2, 3), // unknown, skipped
	)
	got, err := ParseVolumeStatistics(b)
	if err != nil {
		t.Fatal(err)
	}
	want := device.VolumeStatistics{
		VolumeMounts: 42, VolumeDatasetsWritten: 256,
		VolumeRecoveredWriteDataErrors: 5, VolumeUnrecoveredWriteDataErrors: 6,
		VolumeDatasetsRead: 7, VolumeRecoveredReadErrors: 8, VolumeUnrecoveredReadErrors: 9,
		LastMountBytesWritten: 10e6, LastMountBytesRead: 11e6,
		LifetimeBytesWritten: 12345e6, LifetimeBytesRead: 13e6,
		BeginningOfMediumPasses: 100, MiddleOfTapePasses: 200,
		Serial: "VOL001L8", WriteProtect: true,
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := ParseVolumeStatistics(logPage(0x17, logParamBytes(0, 0))); !errors.Is(err, device.ErrNoMedium) {
		t.Errorf("page valid = 0: %v, want ErrNoMedium", err)
	}
	// A truncated parameter is an error, not a panic.
	trunc := logPage(0x17, logParamBytes(0x0000, 1), []byte{0, 1, 3, 8, 0})
	if _, err := ParseVolumeStatistics(trunc); err == nil {
		t.Error("truncated parameter accepted")
	}
}

// attribute builds one MAM attribute: 2 bytes id, READ ONLY|FORMAT, 2 bytes
// length, value.
func attribute(id uint16, format byte, value []byte) []byte {
	b := []byte{byte(id >> 8), byte(id), format, 0, 0}
	binary.BigEndian.PutUint16(b[3:5], uint16(len(value)))
	return append(b, value...)
}

func TestParseAttributes(t *testing.T) {
	body := bytes.Join([][]byte{
		attribute(0x0000, 0x80, []byte{0, 0, 0, 0, 0, 0x0B, 0xB8, 0x00}), // remaining capacity, binary
		attribute(0x0003, 0x80, []byte{0, 0, 0, 0, 0, 0, 0, 17}),         // load count
		attribute(0x0400, 0x81, []byte("FUJIFILM")),                      // manufacturer, ASCII
		attribute(0x0401, 0x81, []byte("A1B2C3D4  ")),                    // serial, padded
		attribute(0x0340, 0x80, bytes.Repeat([]byte{0xAB}, 10)),          // long binary
		attribute(0x1234, 0x02, []byte("text\x00\x00")),                  // unknown id, text
	}, nil)
	b := append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	got, err := ParseAttributes(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []device.MAMAttribute{
		{ID: 0x0000, Name: "Remaining Capacity In Partition", Value: "768000"},
		{ID: 0x0003, Name: "Load Count", Value: "17"},
		{ID: 0x0400, Name: "Medium Manufacturer", Value: "FUJIFILM"},
		{ID: 0x0401, Name: "Medium Serial Number", Value: "A1B2C3D4"},
		{ID: 0x0340, Name: "Medium Usage History", Value: "ABABABABABABABABABAB"},
		{ID: 0x1234, Name: "Attribute 1234h", Value: "text"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Truncated last attribute: what came before is returned with an error.
	got, err = ParseAttributes(b[:len(b)-3])
	if err == nil || len(got) != 5 {
		t.Errorf("truncated: %d attributes, %v", len(got), err)
	}
}

// algorithmDescriptor builds a data encryption algorithm descriptor (24
// bytes): 0 index, 2..3 length 14h, 4 DECRYPT_C|ENCRYPT_C, 10..11 key
// length, 20..23 security algorithm code.
func algorithmDescriptor(index, caps byte, keyLen uint16, code uint32) []byte {
	d := make([]byte, 24)
	d[0] = index
	binary.BigEndian.PutUint16(d[2:4], 0x14)
	d[4] = caps
	binary.BigEndian.PutUint16(d[10:12], keyLen)
	binary.BigEndian.PutUint32(d[20:24], code)
	return d
}

// capsPage builds the data encryption capabilities page 0010h: 2 bytes
// page code, 2 bytes length, 16 bytes flags/reserved, descriptors.
func capsPage(descs ...[]byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], 0x0010)
	for _, d := range descs {
		b = append(b, d...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-4))
	return b
}

func TestParseEncryptionCaps(t *testing.T) {
	const both = 0x0A // DECRYPT_C=10b, ENCRYPT_C=10b
	b := capsPage(
		algorithmDescriptor(1, both, 16, algorithmAESGCM), // 128-bit key
		algorithmDescriptor(2, 0x08, 32, algorithmAESGCM), // decrypt only
		algorithmDescriptor(3, both, 32, 0x00010010),      // another algorithm
		algorithmDescriptor(4, both, 32, algorithmAESGCM), // the one
		algorithmDescriptor(5, both, 32, algorithmAESGCM), // later match ignored
	)
	idx, err := ParseEncryptionCaps(b)
	if err != nil || idx != 4 {
		t.Errorf("index %d, %v; want 4", idx, err)
	}
	_, err = ParseEncryptionCaps(capsPage(algorithmDescriptor(1, both, 16, algorithmAESGCM)))
	if !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("no AES-256-GCM: %v, want ErrUnsupported", err)
	}
}

func TestParseEncryptionStatus(t *testing.T) {
	// Page 0020h: 4 scope, 5 encryption mode, 6 decryption mode, 7 index.
	b := []byte{0x00, 0x20, 0, 20, 0x40, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	es, err := ParseEncryptionStatus(b)
	if err != nil || es != (EncryptionStatus{EncryptionMode: 2, DecryptionMode: 3, AlgorithmIndex: 4}) {
		t.Errorf("got %+v, %v", es, err)
	}
	if _, err := ParseEncryptionStatus(capsPage()); err == nil {
		t.Error("page 0010h accepted as status")
	}
}

func TestBuildSetDataEncryption(t *testing.T) {
	key := bytes.Repeat([]byte{0x5A}, 32)
	got := buildSetDataEncryption(7, key)
	want := append([]byte{
		0x00, 0x10, // page code 0010h
		0x00, 0x30, // page length 48 = 52-4
		0x40,                   // SCOPE = ALL I_T NEXUS, LOCK=0
		0x00,                   // CEEM, RDMC, SDK, CKOD, CKORP, CKORL = 0
		0x02,                   // ENCRYPTION MODE = ENCRYPT
		0x03,                   // DECRYPTION MODE = MIXED
		0x07,                   // ALGORITHM INDEX
		0x00,                   // KEY FORMAT = plain
		0, 0, 0, 0, 0, 0, 0, 0, // KAD format, reserved
		0x00, 0x20, // KEY LENGTH 32
	}, key...)
	if !bytes.Equal(got, want) {
		t.Errorf("set:\ngot  % X\nwant % X", got, want)
	}
	got = buildSetDataEncryption(7, nil)
	want = []byte{0x00, 0x10, 0x00, 0x10, 0x40, 0, 0, 0, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("clear:\ngot  % X\nwant % X", got, want)
	}
}

// elementAddressPage builds MODE SENSE(6) data with page 1Dh: header (mode
// data length, medium type, device-specific, BDL 0) and the page (code 1Dh,
// length 12h, transport, storage, import/export, data transfer first/count).
func elementAddressPage(l ElementAddressAssignment) []byte {
	b := []byte{0, 0, 0, 0, 0x1D, 0x12}
	for _, v := range []uint16{l.TransportFirst, l.TransportCount, l.StorageFirst, l.StorageCount,
		l.ImportFirst, l.ImportCount, l.DriveFirst, l.DriveCount, 0} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b[0] = byte(len(b) - 1)
	return b
}

func TestParseElementAddressAssignment(t *testing.T) {
	want := ElementAddressAssignment{
		TransportFirst: 0, TransportCount: 1,
		StorageFirst: 0x1000, StorageCount: 24,
		ImportFirst: 0x10, ImportCount: 2,
		DriveFirst: 0x100, DriveCount: 2,
	}
	got, err := ParseElementAddressAssignment(elementAddressPage(want))
	if err != nil || got != want {
		t.Errorf("got %+v, %v", got, err)
	}
	// Block descriptor of 8 bytes before the page is skipped.
	b := elementAddressPage(want)
	b = append(append(b[:4:4], make([]byte, 8)...), b[4:]...)
	b[3] = 8
	b[0] = byte(len(b) - 1)
	got, err = ParseElementAddressAssignment(b)
	if err != nil || got != want {
		t.Errorf("with block descriptor: got %+v, %v", got, err)
	}
	if _, err := ParseElementAddressAssignment([]byte{5, 0, 0, 0, 0x0F, 0x00}); err == nil {
		t.Error("no page 1Dh: no error")
	}
}

// elementDesc builds a 52-byte element descriptor with primary volume tag:
// 0..1 address, 2 flags (FULL bit 0, EXCEPT bit 2), 4 ASC, 5 ASCQ, 9 SVALID
// bit 7, 10..11 source address, 12..43 volume tag, 44..47 reserved and
// sequence, 48..51 padding as some libraries send.
func elementDesc(addr uint16, full bool, tag string, source uint16, svalid bool) []byte {
	d := make([]byte, 52)
	binary.BigEndian.PutUint16(d[0:2], addr)
	if full {
		d[2] = 0x01
	}
	if svalid {
		d[9] = 0x80
	}
	binary.BigEndian.PutUint16(d[10:12], source)
	copy(d[12:44], bytes.Repeat([]byte{' '}, 32))
	copy(d[12:44], tag)
	return d
}

// elementPage builds an element status page: 0 type, 1 PVOLTAG, 2..3
// descriptor length, 5..7 byte count of descriptors.
func elementPage(typ byte, descs ...[]byte) []byte {
	body := bytes.Join(descs, nil)
	b := []byte{typ, 0x80, 0, 52, 0, 0, 0, 0}
	put24(b[5:8], uint32(len(body)))
	return append(b, body...)
}

// elementStatusData builds READ ELEMENT STATUS data: 0..1 first address,
// 2..3 number of elements, 5..7 byte count of report.
func elementStatusData(pages ...[]byte) []byte {
	body := bytes.Join(pages, nil)
	b := make([]byte, 8)
	put24(b[5:8], uint32(len(body)))
	return append(b, body...)
}

func TestParseElementStatus(t *testing.T) {
	b := elementStatusData(
		elementPage(elemDataXfer,
			elementDesc(0x100, true, "VOL001L8", 0x1002, true),
			elementDesc(0x101, false, "", 0, false)),
		elementPage(elemStorage,
			elementDesc(0x1000, true, "CLN001CU", 0, false),
			elementDesc(0x1001, false, "", 0, false)),
	)
	got, err := ParseElementStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []ElementDescriptor{
		{Type: elemDataXfer, Address: 0x100, Full: true, SourceValid: true, Source: 0x1002, VolumeTag: "VOL001L8"},
		{Type: elemDataXfer, Address: 0x101},
		{Type: elemStorage, Address: 0x1000, Full: true, VolumeTag: "CLN001CU"},
		{Type: elemStorage, Address: 0x1001},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Without PVOLTAG the tag bytes are not read.
	p := elementPage(elemStorage, elementDesc(0x1000, true, "XYZ", 0, false))
	p[1] = 0
	got, _ = ParseElementStatus(elementStatusData(p))
	if len(got) != 1 || got[0].VolumeTag != "" {
		t.Errorf("no PVOLTAG: %+v", got)
	}
	// A report truncated by the allocation length keeps whole descriptors.
	full := elementStatusData(elementPage(elemStorage,
		elementDesc(0x1000, true, "A", 0, false), elementDesc(0x1001, true, "B", 0, false)))
	got, err = ParseElementStatus(full[:8+8+52+10])
	if err != nil || len(got) != 1 || got[0].VolumeTag != "A" {
		t.Errorf("truncated: %+v, %v", got, err)
	}
	// Cut after the volume tag (tgt sends its reports 8 bytes short):
	// the last descriptor is read, and one cut inside the tag is not.
	got, err = ParseElementStatus(full[:len(full)-8])
	if err != nil || len(got) != 2 || got[1].VolumeTag != "B" || !got[1].Full {
		t.Errorf("cut after the tag: %+v, %v", got, err)
	}
	got, err = ParseElementStatus(full[:8+8+52+40])
	if err != nil || len(got) != 1 {
		t.Errorf("cut inside the tag: %+v, %v", got, err)
	}
}

func TestDensityName(t *testing.T) {
	for code, want := range map[byte]string{
		0x00: "", 0x46: "LTO-4", 0x58: "LTO-5", 0x5A: "LTO-6", 0x5C: "LTO-7",
		0x5D: "LTO-7 M8", 0x5E: "LTO-8", 0x60: "LTO-9", 0x99: "density 0x99",
	} {
		if got := densityName(code); got != want {
			t.Errorf("densityName(%#x) = %q, want %q", code, got, want)
		}
	}
}
