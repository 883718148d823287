package sgio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"tapefs/engine/device"
)

// Peripheral device types (SPC-4 table 49).
const (
	TypeTape    = 0x01
	TypeChanger = 0x08
)

// Inquiry is the decoded standard INQUIRY data.
type Inquiry struct {
	// Qualifier is the peripheral qualifier (0: a device is connected).
	Qualifier  byte
	DeviceType byte
	Removable  bool
	Vendor     string
	Model      string
	Revision   string
}

// ParseInquiry decodes standard INQUIRY data (SPC-4 6.6.2): byte 0
// qualifier|type, byte 1 RMB, bytes 8..15 vendor, 16..31 product, 32..35
// revision. At least 36 bytes are required.
func ParseInquiry(b []byte) (Inquiry, error) {
	if len(b) < 36 {
		return Inquiry{}, fmt.Errorf("sgio: INQUIRY data too short (%d bytes, need 36)", len(b))
	}
	return Inquiry{
		Qualifier:  b[0] >> 5,
		DeviceType: b[0] & 0x1F,
		Removable:  b[1]&0x80 != 0,
		Vendor:     asciiField(b[8:16]),
		Model:      asciiField(b[16:32]),
		Revision:   asciiField(b[32:36]),
	}, nil
}

// asciiField trims the space and NUL padding of a SCSI ASCII field and drops
// bytes outside printable ASCII.
func asciiField(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7F {
			sb.WriteByte(c)
		}
	}
	return strings.TrimSpace(sb.String())
}

// ParseUnitSerial decodes the unit serial number VPD page (SPC-4 7.8.17):
// byte 1 page code 80h, bytes 2..3 page length, serial from byte 4. The
// same layout is in sysfs vpd_pg80.
func ParseUnitSerial(b []byte) (string, error) {
	if len(b) < 4 {
		return "", fmt.Errorf("sgio: serial number page too short (%d bytes)", len(b))
	}
	if b[1] != 0x80 {
		return "", fmt.Errorf("sgio: VPD page %#02x, want 80h", b[1])
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	end := min(4+n, len(b))
	return asciiField(b[4:end]), nil
}

// ReadPosition is the decoded long form of READ POSITION (SSC-4 7.5.4).
type ReadPosition struct {
	BOP, EOP bool
	// MPU: the position is unknown (mark position unknown).
	MPU bool
	// LONU: the logical object number is unknown.
	LONU bool
	// BPEW: the position is beyond programmable early warning.
	BPEW      bool
	Partition uint32
	Object    uint64
	File      uint64
	Set       uint64
}

// ParseReadPositionLong decodes the 32 bytes of READ POSITION long form:
// byte 0 BOP(7) EOP(6) MPU(3) LONU(2) BPEW(0), 4..7 partition, 8..15 logical
// object number, 16..23 logical file identifier, 24..31 logical set id.
func ParseReadPositionLong(b []byte) (ReadPosition, error) {
	if len(b) < readPositionLongLen {
		return ReadPosition{}, fmt.Errorf("sgio: READ POSITION data too short (%d bytes, need 32)", len(b))
	}
	return ReadPosition{
		BOP:       b[0]&0x80 != 0,
		EOP:       b[0]&0x40 != 0,
		MPU:       b[0]&0x08 != 0,
		LONU:      b[0]&0x04 != 0,
		BPEW:      b[0]&0x01 != 0,
		Partition: binary.BigEndian.Uint32(b[4:8]),
		Object:    binary.BigEndian.Uint64(b[8:16]),
		File:      binary.BigEndian.Uint64(b[16:24]),
		Set:       binary.BigEndian.Uint64(b[24:32]),
	}, nil
}

// ModeData is decoded MODE SENSE(6) data of a tape drive: the header, the
// first block descriptor and the data compression page, when present.
type ModeData struct {
	MediumType     byte
	WriteProtected bool
	// BufferMode is the 3-bit BUFFERED MODE field; 1 = buffered writes.
	BufferMode byte
	Speed      byte
	// HasBlockDescriptor says Density, Blocks and BlockLength are valid.
	HasBlockDescriptor bool
	Density            byte
	Blocks             uint32
	BlockLength        uint32
	// Compression is the data compression page (0Fh), when present.
	Compression *CompressionPage
}

// CompressionPage is the data compression mode page 0Fh (SSC-4 8.3.2).
type CompressionPage struct {
	// Raw holds the page as returned (PS bit included), for MODE SELECT.
	Raw []byte
	DCE bool // data compression enabled
	DCC bool // data compression capable
	DDE bool // data decompression enabled
}

// ParseModeSense6 decodes MODE SENSE(6) data (SPC-4 7.5.5): header byte 0
// mode data length, 1 medium type, 2 device-specific (SSC: WP bit 7, BUFFERED
// MODE bits 6..4, SPEED 3..0), 3 block descriptor length; block descriptor
// byte 0 density, 1..3 number of blocks, 5..7 block length; then pages.
func ParseModeSense6(b []byte) (ModeData, error) {
	if len(b) < 4 {
		return ModeData{}, fmt.Errorf("sgio: MODE SENSE data too short (%d bytes)", len(b))
	}
	end := min(int(b[0])+1, len(b))
	md := ModeData{
		MediumType:     b[1],
		WriteProtected: b[2]&0x80 != 0,
		BufferMode:     (b[2] >> 4) & 0x07,
		Speed:          b[2] & 0x0F,
	}
	bdl := int(b[3])
	p := 4
	if bdl >= 8 && p+8 <= end {
		d := b[p : p+8]
		md.HasBlockDescriptor = true
		md.Density = d[0]
		md.Blocks = uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3])
		md.BlockLength = uint32(d[5])<<16 | uint32(d[6])<<8 | uint32(d[7])
	}
	p += bdl
	for p+2 <= end {
		code, n := b[p]&0x3F, int(b[p+1])
		if p+2+n > end {
			break
		}
		if code == 0x0F && n >= 2 {
			raw := append([]byte(nil), b[p:p+2+n]...)
			md.Compression = &CompressionPage{
				Raw: raw,
				DCE: raw[2]&0x80 != 0,
				DCC: raw[2]&0x40 != 0,
				DDE: raw[3]&0x80 != 0,
			}
		}
		p += 2 + n
	}
	return md, nil
}

// buildModeSelect6 builds the MODE SELECT(6) parameter list that applies the
// wanted block length, buffer mode and compression: a 4-byte header (mode
// data length 0 as SPC-4 requires, buffered mode in byte 2), one block
// descriptor keeping the sensed density, and the compression page (PS bit
// cleared) only when compression is being changed: as st does, a block size
// or buffer mode change sends the block descriptor alone, since some
// devices (tgt) refuse any mode page.
func buildModeSelect6(md ModeData, opts device.DriveOptions) ([]byte, error) {
	if !md.HasBlockDescriptor {
		return nil, errors.New("sgio: drive returned no block descriptor")
	}
	blockLen := md.BlockLength
	if opts.BlockSize != nil {
		if *opts.BlockSize > maxTransfer6 {
			return nil, fmt.Errorf("sgio: block size %d exceeds %d", *opts.BlockSize, maxTransfer6)
		}
		blockLen = *opts.BlockSize
	}
	buffer := md.BufferMode
	if opts.BufferMode != nil {
		buffer = 0
		if *opts.BufferMode {
			buffer = 1
		}
	}
	out := []byte{0, 0, buffer << 4, 8, md.Density, 0, 0, 0, 0, 0, 0, 0}
	put24(out[9:12], blockLen)
	if opts.Compression == nil {
		return out, nil
	}
	if md.Compression == nil {
		return nil, fmt.Errorf("sgio: drive has no data compression page: %w", device.ErrUnsupported)
	}
	page := append([]byte(nil), md.Compression.Raw...)
	page[0] &= 0x3F
	if *opts.Compression {
		page[2] |= 0x80
	} else {
		page[2] &^= 0x80
	}
	return append(out, page...), nil
}

// densityName names the LTO density codes (SSC density code table, LTO
// program); other codes are shown in hex.
func densityName(code byte) string {
	switch code {
	case 0x00:
		return ""
	case 0x40:
		return "LTO-1"
	case 0x42:
		return "LTO-2"
	case 0x44:
		return "LTO-3"
	case 0x46:
		return "LTO-4"
	case 0x58:
		return "LTO-5"
	case 0x5A:
		return "LTO-6"
	case 0x5C:
		return "LTO-7"
	case 0x5D:
		return "LTO-7 M8"
	case 0x5E:
		return "LTO-8"
	case 0x60:
		return "LTO-9"
	}
	return fmt.Sprintf("density %#02x", code)
}

// logParam is one log parameter: code, control byte and value.
type logParam struct {
	Code    uint16
	Control byte
	Value   []byte
}

// parseLogPage decodes a LOG SENSE page (SPC-4 7.3.2): byte 0 page code
// (bits 5..0), byte 1 subpage, bytes 2..3 page length, then parameters of
// code (2 bytes), control (1), length (1) and value.
func parseLogPage(b []byte, page byte) ([]logParam, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("sgio: log page too short (%d bytes)", len(b))
	}
	if b[0]&0x3F != page {
		return nil, fmt.Errorf("sgio: log page %#02x, want %#02x", b[0]&0x3F, page)
	}
	// Some drives report the allocation length as the page length: stop
	// at the data actually returned.
	end := min(4+int(binary.BigEndian.Uint16(b[2:4])), len(b))
	var params []logParam
	for p := 4; p+4 <= end; {
		n := int(b[p+3])
		if p+4+n > end {
			return params, fmt.Errorf("sgio: log parameter %#04x truncated", binary.BigEndian.Uint16(b[p:p+2]))
		}
		params = append(params, logParam{
			Code:    binary.BigEndian.Uint16(b[p : p+2]),
			Control: b[p+2],
			Value:   b[p+4 : p+4+n],
		})
		p += 4 + n
	}
	return params, nil
}

// beUint decodes a big-endian counter of 1..8 bytes; longer values keep
// their low 8 bytes.
func beUint(b []byte) uint64 {
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// ParseTapeAlert decodes the TapeAlert log page 2Eh (SSC-4 8.2.3):
// parameters 0001h..0040h, one byte each, flag active when bit 0 is set.
func ParseTapeAlert(b []byte) (device.TapeAlertFlags, error) {
	params, err := parseLogPage(b, logPageTapeAlert)
	if err != nil {
		return 0, err
	}
	var f device.TapeAlertFlags
	for _, p := range params {
		if p.Code >= 1 && p.Code <= 64 && len(p.Value) > 0 && p.Value[len(p.Value)-1]&0x01 != 0 {
			f = f.With(int(p.Code))
		}
	}
	return f, nil
}

// ParseVolumeStatistics decodes the volume statistics log page 17h (SSC-4
// 8.2.4). Parameter 0000h (page valid) must be present and non-zero. Byte
// counters (0Eh..11h) are in units of 10^6 bytes.
func ParseVolumeStatistics(b []byte) (device.VolumeStatistics, error) {
	params, err := parseLogPage(b, logPageVolumeStatistics)
	if err != nil {
		return device.VolumeStatistics{}, err
	}
	var vs device.VolumeStatistics
	valid := false
	const mb = 1_000_000
	for _, p := range params {
		v := beUint(p.Value)
		switch p.Code {
		case 0x0000:
			valid = v != 0
		case 0x0001:
			vs.VolumeMounts = v
		case 0x0002:
			vs.VolumeDatasetsWritten = v
		case 0x0003:
			vs.VolumeRecoveredWriteDataErrors = v
		case 0x0004:
			vs.VolumeUnrecoveredWriteDataErrors = v
		case 0x0007:
			vs.VolumeDatasetsRead = v
		case 0x0008:
			vs.VolumeRecoveredReadErrors = v
		case 0x0009:
			vs.VolumeUnrecoveredReadErrors = v
		case 0x000E:
			vs.LastMountBytesWritten = v * mb
		case 0x000F:
			vs.LastMountBytesRead = v * mb
		case 0x0010:
			vs.LifetimeBytesWritten = v * mb
		case 0x0011:
			vs.LifetimeBytesRead = v * mb
		case 0x0040:
			vs.Serial = asciiField(p.Value)
		case 0x0080:
			vs.WriteProtect = v != 0
		case 0x0101:
			vs.BeginningOfMediumPasses = v
		case 0x0102:
			vs.MiddleOfTapePasses = v
		}
	}
	if !valid {
		return device.VolumeStatistics{}, fmt.Errorf("sgio: volume statistics page not valid: %w", device.ErrNoMedium)
	}
	return vs, nil
}

// mamNames names the MAM attributes of SPC-4 7.4.2.
var mamNames = map[uint16]string{
	0x0000: "Remaining Capacity In Partition",
	0x0001: "Maximum Capacity In Partition",
	0x0002: "TapeAlert Flags",
	0x0003: "Load Count",
	0x0004: "MAM Space Remaining",
	0x0005: "Assigning Organization",
	0x0006: "Format Density Code",
	0x0007: "Initialization Count",
	0x0008: "Volume Identifier",
	0x0009: "Volume Change Reference",
	0x020A: "Device Vendor/Serial at Last Load",
	0x020B: "Device Vendor/Serial at Load-1",
	0x020C: "Device Vendor/Serial at Load-2",
	0x020D: "Device Vendor/Serial at Load-3",
	0x0220: "Total MiB Written in Medium Life",
	0x0221: "Total MiB Read in Medium Life",
	0x0222: "Total MiB Written in Current/Last Load",
	0x0223: "Total MiB Read in Current/Last Load",
	0x0224: "Logical Position of First Encrypted Block",
	0x0225: "Logical Position of First Unencrypted Block after First Encrypted Block",
	0x0340: "Medium Usage History",
	0x0341: "Partition Usage History",
	0x0400: "Medium Manufacturer",
	0x0401: "Medium Serial Number",
	0x0402: "Medium Length",
	0x0403: "Medium Width",
	0x0404: "Assigning Organization",
	0x0405: "Medium Density Code",
	0x0406: "Medium Manufacture Date",
	0x0407: "MAM Capacity",
	0x0408: "Medium Type",
	0x0409: "Medium Type Information",
	0x040A: "Numeric Medium Serial Number",
	0x0800: "Application Vendor",
	0x0801: "Application Name",
	0x0802: "Application Version",
	0x0803: "User Medium Text Label",
	0x0804: "Date and Time Last Written",
	0x0805: "Text Localization Identifier",
	0x0806: "Barcode",
	0x0807: "Owning Host Textual Name",
	0x0808: "Media Pool",
	0x0809: "Partition User Text Label",
	0x080A: "Load/Unload at Partition",
	0x080B: "Application Format Version",
	0x080C: "Volume Coherency Information",
	0x0820: "Medium Globally Unique Identifier",
	0x0821: "Media Pool Globally Unique Identifier",
}

// ParseAttributes decodes READ ATTRIBUTE (ATTRIBUTE VALUES) data (SPC-4
// 6.17.2): bytes 0..3 available data length, then attributes of identifier
// (2 bytes), READ ONLY|FORMAT (1), length (2) and value. Binary values up to
// 8 bytes are shown in decimal, longer ones in hex; ASCII and text values
// are trimmed.
func ParseAttributes(b []byte) ([]device.MAMAttribute, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("sgio: attribute data too short (%d bytes)", len(b))
	}
	end := min(4+int(min(binary.BigEndian.Uint32(b[0:4]), 1<<30)), len(b))
	var out []device.MAMAttribute
	for p := 4; p+5 <= end; {
		id := binary.BigEndian.Uint16(b[p : p+2])
		format := b[p+2] & 0x03
		n := int(binary.BigEndian.Uint16(b[p+3 : p+5]))
		if p+5+n > end {
			return out, fmt.Errorf("sgio: attribute %#04x truncated", id)
		}
		v := b[p+5 : p+5+n]
		name, ok := mamNames[id]
		if !ok {
			name = fmt.Sprintf("Attribute %04Xh", id)
		}
		var value string
		switch {
		case format == 0 && n <= 8:
			value = strconv.FormatUint(beUint(v), 10)
		case format == 0:
			value = fmt.Sprintf("%X", v)
		default:
			value = asciiField(bytes.TrimRight(v, "\x00"))
		}
		out = append(out, device.MAMAttribute{ID: id, Name: name, Value: value})
		p += 5 + n
	}
	return out, nil
}

// AES-256-GCM as the security algorithm code of SSC-4 (table "Security
// algorithm codes").
const algorithmAESGCM = 0x00010014

// ParseEncryptionCaps decodes the data encryption capabilities page 0010h
// (SSC-4 8.5.2.4) and returns the algorithm index of AES-GCM with a 32-byte
// key that the drive can both encrypt and decrypt with (ENCRYPT_C and
// DECRYPT_C = 10b). Header: bytes 0..1 page code, 2..3 length, 4..19 flags
// and reserved; descriptors from byte 20: 0 index, 2..3 descriptor length
// (n-3), 4 DECRYPT_C (3..2) ENCRYPT_C (1..0), 10..11 key length, 20..23
// security algorithm code.
func ParseEncryptionCaps(b []byte) (index byte, err error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("sgio: encryption capabilities page too short (%d bytes)", len(b))
	}
	if code := binary.BigEndian.Uint16(b[0:2]); code != pageEncryptionCaps {
		return 0, fmt.Errorf("sgio: security page %#04x, want 0010h", code)
	}
	end := min(4+int(binary.BigEndian.Uint16(b[2:4])), len(b))
	for p := 20; p+4 <= end; {
		n := int(binary.BigEndian.Uint16(b[p+2 : p+4]))
		if p+4+n > end {
			break
		}
		d := b[p : p+4+n]
		if len(d) >= 24 && d[4]&0x03 == 2 && (d[4]>>2)&0x03 == 2 &&
			binary.BigEndian.Uint16(d[10:12]) == 32 &&
			binary.BigEndian.Uint32(d[20:24]) == algorithmAESGCM {
			return d[0], nil
		}
		p += 4 + n
	}
	return 0, fmt.Errorf("sgio: drive offers no AES-256-GCM encryption: %w", device.ErrUnsupported)
}

// EncryptionStatus is the data encryption status page 0020h (SSC-4
// 8.5.2.6): byte 4 scope, 5 encryption mode, 6 decryption mode, 7 algorithm
// index.
type EncryptionStatus struct {
	EncryptionMode byte // 0 disable, 2 encrypt
	DecryptionMode byte // 0 disable, 1 raw, 2 decrypt, 3 mixed
	AlgorithmIndex byte
}

// ParseEncryptionStatus decodes the data encryption status page.
func ParseEncryptionStatus(b []byte) (EncryptionStatus, error) {
	if len(b) < 8 {
		return EncryptionStatus{}, fmt.Errorf("sgio: encryption status page too short (%d bytes)", len(b))
	}
	if code := binary.BigEndian.Uint16(b[0:2]); code != pageEncryptionStatus {
		return EncryptionStatus{}, fmt.Errorf("sgio: security page %#04x, want 0020h", code)
	}
	return EncryptionStatus{EncryptionMode: b[5], DecryptionMode: b[6], AlgorithmIndex: b[7]}, nil
}

// buildSetDataEncryption builds the set data encryption page 0010h (SSC-4
// 8.5.3.2) for SECURITY PROTOCOL OUT: scope ALL I_T NEXUS (byte 4 = 40h),
// CKOD=0, encryption mode ENCRYPT (2) and decryption mode MIXED (3) with a
// key, both DISABLE without; key format 0 (plain key), key length at bytes
// 18..19, key from byte 20.
func buildSetDataEncryption(algorithm byte, key []byte) []byte {
	b := make([]byte, 20+len(key))
	binary.BigEndian.PutUint16(b[0:2], pageSetDataEncryption)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-4))
	b[4] = 0x02 << 5 // SCOPE = ALL I_T NEXUS
	if key != nil {
		b[6] = 0x02 // ENCRYPTION MODE = ENCRYPT
		b[7] = 0x03 // DECRYPTION MODE = MIXED
	}
	b[8] = algorithm
	b[9] = 0x00 // KEY FORMAT = plain text key
	binary.BigEndian.PutUint16(b[18:20], uint16(len(key)))
	copy(b[20:], key)
	return b
}

// ElementAddressAssignment is the element address assignment mode page 1Dh
// (SMC-3 7.3.3): first address and count of each element type.
type ElementAddressAssignment struct {
	TransportFirst, TransportCount uint16
	StorageFirst, StorageCount     uint16
	ImportFirst, ImportCount       uint16
	DriveFirst, DriveCount         uint16
}

// ParseElementAddressAssignment decodes MODE SENSE(6) data holding page 1Dh:
// after the 4-byte header and block descriptors, page bytes 2..3 first
// medium transport address, 4..5 count, 6..7 first storage, 8..9 count,
// 10..11 first import/export, 12..13 count, 14..15 first data transfer,
// 16..17 count.
func ParseElementAddressAssignment(b []byte) (ElementAddressAssignment, error) {
	if len(b) < 4 {
		return ElementAddressAssignment{}, fmt.Errorf("sgio: MODE SENSE data too short (%d bytes)", len(b))
	}
	end := min(int(b[0])+1, len(b))
	for p := 4 + int(b[3]); p+2 <= end; {
		code, n := b[p]&0x3F, int(b[p+1])
		if code == 0x1D {
			if n < 16 || p+2+16 > end {
				return ElementAddressAssignment{}, errors.New("sgio: element address assignment page truncated")
			}
			u := func(i int) uint16 { return binary.BigEndian.Uint16(b[p+i : p+i+2]) }
			return ElementAddressAssignment{
				TransportFirst: u(2), TransportCount: u(4),
				StorageFirst: u(6), StorageCount: u(8),
				ImportFirst: u(10), ImportCount: u(12),
				DriveFirst: u(14), DriveCount: u(16),
			}, nil
		}
		p += 2 + n
	}
	return ElementAddressAssignment{}, errors.New("sgio: no element address assignment page in MODE SENSE data")
}

// ElementDescriptor is one element of READ ELEMENT STATUS data.
type ElementDescriptor struct {
	Type    byte // elemTransport .. elemDataXfer
	Address uint16
	Full    bool
	Except  bool
	ASC     byte
	ASCQ    byte
	// SourceValid says Source holds the address the medium came from.
	SourceValid bool
	Source      uint16
	// VolumeTag is the primary volume tag (barcode), trimmed.
	VolumeTag string
}

// ParseElementStatus decodes READ ELEMENT STATUS data (SMC-3 6.10.2): an
// 8-byte header (bytes 5..7 report byte count), then element status pages
// with an 8-byte header (0 type, 1 PVOLTAG(7) AVOLTAG(6), 2..3 descriptor
// length, 5..7 byte count) and descriptors: 0..1 address, 2 flags (FULL bit
// 0, EXCEPT bit 2), 4 ASC, 5 ASCQ, 9 SVALID bit 7, 10..11 source address,
// 12..47 primary volume tag when PVOLTAG (32 bytes tag, 2 reserved, 2
// sequence). A last descriptor cut short is read if it holds these fields
// (up to the tag); one cut inside them is left out.
func ParseElementStatus(b []byte) ([]ElementDescriptor, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("sgio: element status data too short (%d bytes)", len(b))
	}
	end := min(8+int(uint32(b[5])<<16|uint32(b[6])<<8|uint32(b[7])), len(b))
	var out []ElementDescriptor
	for p := 8; p+8 <= end; {
		typ := b[p] & 0x0F
		pvoltag := b[p+1]&0x80 != 0
		dlen := int(binary.BigEndian.Uint16(b[p+2 : p+4]))
		count := int(uint32(b[p+5])<<16 | uint32(b[p+6])<<8 | uint32(b[p+7]))
		p += 8
		pageEnd := min(p+count, end)
		if dlen < 12 {
			if count == 0 {
				continue
			}
			return out, fmt.Errorf("sgio: element descriptor length %d too short", dlen)
		}
		// The fields read end at byte 12, or 44 with a volume tag. A
		// descriptor cut short after them is read all the same: tgt's
		// virtual library sends its report 8 bytes short (its byte
		// count without the 8-byte header), which cuts the unused tail
		// off the last descriptor.
		need := 12
		if pvoltag && dlen >= 44 {
			need = 44
		}
		for ; p+need <= pageEnd; p += dlen {
			d := b[p:min(p+dlen, pageEnd)]
			e := ElementDescriptor{
				Type:        typ,
				Address:     binary.BigEndian.Uint16(d[0:2]),
				Full:        d[2]&0x01 != 0,
				Except:      d[2]&0x04 != 0,
				ASC:         d[4],
				ASCQ:        d[5],
				SourceValid: d[9]&0x80 != 0,
				Source:      binary.BigEndian.Uint16(d[10:12]),
			}
			if pvoltag && dlen >= 12+32 {
				e.VolumeTag = asciiField(d[12:44])
			}
			out = append(out, e)
		}
		p = pageEnd
	}
	return out, nil
}
