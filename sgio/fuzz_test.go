package sgio

import (
	"context"
	"testing"

	"tapefs/engine/device"
)

// The fuzz targets feed arbitrary device responses to every parser: a
// parser may reject them but must never panic, and what it accepts must be
// consistent.

func FuzzParseSense(f *testing.F) {
	f.Add(fixedSense(KeyNoSense, 0, 0, bitILI, -4096, true))
	f.Add(fixedSense(KeyBlankCheck, 0, 5, bitEOM, 0, false))
	f.Add(descSense(KeyNoSense, 0, 1, bitFilemark|bitILI, 12, true))
	f.Add([]byte{0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0xFF, 0x00, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSense(b)
		if err != nil {
			return
		}
		_ = s.String()
		for _, write := range []bool{false, true} {
			if e := s.err(write); e != nil && e.Error() == "" {
				t.Fatal("empty error text")
			}
		}
	})
}

func FuzzParseInquiry(f *testing.F) {
	f.Add(inquiryData(TypeTape, "IBM", "ULT3580-TD8", "Q4J0"))
	f.Add(serialPage(1, "10WT012345"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if inq, err := ParseInquiry(b); err == nil && inq.DeviceType > 0x1F {
			t.Fatalf("device type %d", inq.DeviceType)
		}
		_, _ = ParseUnitSerial(b)
		_, _ = ParseReadPositionLong(b)
	})
}

func FuzzParseModeSense(f *testing.F) {
	f.Add(modeData(true, 1, 0x5E, 0, true))
	f.Add(elementAddressPage(testLayout))
	f.Add([]byte{0xFF, 0, 0, 0xFF, 0x0F, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := ParseModeSense6(b)
		if err == nil {
			bs, on := uint32(0x40000), true
			out, err := buildModeSelect6(md, device.DriveOptions{BlockSize: &bs, Compression: &on, BufferMode: &on})
			if err == nil && len(out) < 12 {
				t.Fatalf("mode select data %d bytes", len(out))
			}
		}
		_, _ = ParseElementAddressAssignment(b)
	})
}

func FuzzParseLogPage(f *testing.F) {
	f.Add(logPage(0x2E, logParamBytes(20, 1), logParamBytes(64, 1)))
	f.Add(logPage(0x17, logParamBytes(0, 1), logParamBytes(0x40, 'A', 'B'), logParamBytes(0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9)))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseTapeAlert(b)
		_, _ = ParseVolumeStatistics(b)
	})
}

func FuzzParseAttributes(f *testing.F) {
	body := append(attribute(0x0400, 0x81, []byte("FUJIFILM")), attribute(0x0003, 0x80, []byte{0, 0, 0, 0, 0, 0, 0, 17})...)
	f.Add(append([]byte{0, 0, 0, byte(len(body))}, body...))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		attrs, _ := ParseAttributes(b)
		if len(attrs)*5 > len(b) {
			t.Fatalf("%d attributes from %d bytes", len(attrs), len(b))
		}
	})
}

func FuzzParseEncryptionPages(f *testing.F) {
	f.Add(capsWithAESGCM())
	f.Add(encStatusPage(2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseEncryptionCaps(b)
		_, _ = ParseEncryptionStatus(b)
	})
}

func FuzzParseElementStatus(f *testing.F) {
	f.Add(elementStatusData(
		elementPage(elemDataXfer, elementDesc(0x100, true, "VOL001L8", 0x1000, true)),
		elementPage(elemStorage, elementDesc(0x1000, false, "", 0, false))))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 8, 2, 0x80, 0, 0, 0, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		descs, _ := ParseElementStatus(b)
		if len(descs)*12 > len(b) {
			t.Fatalf("%d descriptors from %d bytes", len(descs), len(b))
		}
		for _, d := range descs {
			if e, ok := element(testLayout, d.Type, d.Address); ok {
				if a, err := address(testLayout, e); err != nil || a != d.Address {
					t.Fatalf("address %#x maps to %+v and back to %#x, %v", d.Address, e, a, err)
				}
			}
		}
	})
}

// anyTransport answers every command with the same sense and residue, so
// the drive's error handling meets arbitrary sense data.
type anyTransport struct {
	sense []byte
	resid int
	calls int
}

func (a *anyTransport) Exec(cmd *Command) (Result, error) {
	a.calls++
	if cmd.CDB[0] == opInquiry {
		if cmd.CDB[1] == 0 {
			copy(cmd.Data, inquiryData(TypeTape, "IBM", "ULT3580-TD8", "Q4J0"))
		} else {
			copy(cmd.Data, serialPage(1, "X"))
		}
		return Result{}, nil
	}
	res := Result{Resid: a.resid, Sense: a.sense}
	if len(a.sense) > 0 {
		res.Status = statusCheckCondition
	}
	return res, nil
}

func (a *anyTransport) Close() error { return nil }

func FuzzDriveSense(f *testing.F) {
	f.Add(fixedSense(KeyNoSense, 0, 0, bitILI, 900, true), 0)
	f.Add(fixedSense(KeyNoSense, 0, 0, bitILI, -900, true), 0)
	f.Add(fixedSense(KeyNoSense, 0, 1, bitFilemark, 0, false), 1024)
	f.Add(descSense(KeyNoSense, 0, 0, bitILI, 1<<40, true), -5)
	f.Fuzz(func(t *testing.T, sense []byte, resid int) {
		tr := &anyTransport{sense: sense, resid: resid}
		d, err := NewDrive(tr)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		buf := make([]byte, 1024)
		n, _ := d.ReadRecord(ctx, buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("ReadRecord returned n=%d for a %d-byte buffer", n, len(buf))
		}
		_ = d.WriteRecord(ctx, buf)
		_ = d.WriteFilemarks(ctx, 1)
		_ = d.Space(ctx, device.SpaceRecords, -1)
		_, _ = d.ReadPosition(ctx)
		_, _ = d.Status(ctx)
		if tr.calls > 100 {
			t.Fatalf("%d commands for a handful of calls", tr.calls)
		}
	})
}
