package devicetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"tapefs/engine/device"
)

// DriveFactory returns a drive with a blank, writable data cartridge loaded
// and positioned at BOT, in variable block mode, with no encryption key and
// no medium lock. Capacity is the cartridge capacity in bytes that the
// implementation configured, so the suite can reach early warning and end
// of medium on a small cartridge; 0 means too large to fill in a test (the
// early warning and long erase tests then skip). The other tests write up to
// 4 MiB and expect no early warning, so a small cartridge must leave at
// least that much before LEOM.
//
// The factory registers the cleanup of everything it creates with
// t.Cleanup; the suite never closes the drive. The suite may leave the
// drive unloaded, at any position, or with an encryption key set.
type DriveFactory func(t *testing.T) (d device.Drive, capacity int64)

// driveTest is one subtest of the drive suite.
type driveTest struct {
	name string
	fn   func(t *testing.T, d device.Drive, capacity int64)
}

// RunDriveSuite runs the drive conformance tests, one subtest per promise
// of the device.Drive contract, each on a fresh drive from newDrive.
func RunDriveSuite(t *testing.T, newDrive DriveFactory) {
	tests := []driveTest{
		{"Info", testInfo},
		{"BlankTape", testBlankTape},
		{"WriteReadSizes", testWriteReadSizes},
		{"ReadRecordTooLong", testReadRecordTooLong},
		{"ReadFilemarks", testReadFilemarks},
		{"ReadEndOfData", testReadEndOfData},
		{"WriteFilemarksZero", testWriteFilemarksZero},
		{"PositionWhileWriting", testPositionWhileWriting},
		{"SpaceRecords", testSpaceRecords},
		{"SpaceFilemarks", testSpaceFilemarks},
		{"SpaceEndOfData", testSpaceEndOfData},
		{"SpaceThenAppend", testSpaceThenAppend},
		{"Locate", testLocate},
		{"LocateFileRecord", testLocateFileRecord},
		{"LocatePastEndOfData", testLocatePastEndOfData},
		{"WriteDiscardsRest", testWriteDiscardsRest},
		{"Rewind", testRewind},
		{"EraseShort", func(t *testing.T, d device.Drive, _ int64) { testErase(t, d, false) }},
		{"EraseLong", testEraseLong},
		{"Format", testFormat},
		{"EarlyWarning", testEarlyWarning},
		{"Encryption", testEncryption},
		{"Status", testStatus},
		{"Lock", testLock},
		{"Unload", testUnload},
		{"VolumeStatistics", testVolumeStatistics},
		{"CartridgeMemory", testCartridgeMemory},
		{"TapeAlerts", testTapeAlerts},
		{"SetOptions", testSetOptions},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, capacity := newDrive(t)
			tc.fn(t, d, capacity)
		})
	}
}

// testInfo: Info identifies the device.
func testInfo(t *testing.T, d device.Drive, _ int64) {
	info, err := d.Info(t.Context())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Vendor == "" || info.Model == "" || info.Serial == "" {
		t.Errorf("Info = %+v, want non-empty vendor, model and serial", info)
	}
}

// testBlankTape: the factory's blank cartridge is loaded at BOT, and BOT is
// end of data.
func testBlankTape(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	st := status(t, d)
	if !st.Online || !st.MediumPresent || !st.Loaded {
		t.Errorf("Status: online %v, medium present %v, loaded %v; want all true", st.Online, st.MediumPresent, st.Loaded)
	}
	if st.WriteProtected || st.Cleaning {
		t.Errorf("Status: write protected %v, cleaning %v; want a writable data cartridge", st.WriteProtected, st.Cleaning)
	}
	if st.BlockSize != 0 {
		t.Errorf("Status.BlockSize = %d, want 0 (variable block mode)", st.BlockSize)
	}
	if st.Position != (device.Position{}) || !st.AtBOT {
		t.Errorf("Status: position %s, at BOT %v; want object 0 at BOT", fmtPos(st.Position), st.AtBOT)
	}
	wantPos(t, d, device.Position{}, "of a blank tape")

	n, err := d.ReadRecord(ctx, make([]byte, 1024))
	if n != 0 || !errors.Is(err, device.ErrEndOfData) {
		t.Fatalf("ReadRecord on a blank tape = (%d, %v), want (0, ErrEndOfData)", n, err)
	}
	wantPos(t, d, device.Position{}, "after ReadRecord on a blank tape")
	if st := status(t, d); !st.AtEOD {
		t.Errorf("Status.AtEOD = false after ReadRecord returned ErrEndOfData")
	}

	for _, tc := range []struct {
		kind  device.SpaceKind
		count int64
		want  error
	}{
		{device.SpaceRecords, 1, device.ErrEndOfData},
		{device.SpaceFilemarks, 1, device.ErrEndOfData},
		{device.SpaceRecords, -1, device.ErrBeginningOfMedium},
		{device.SpaceFilemarks, -1, device.ErrBeginningOfMedium},
		{device.SpaceEndOfData, 0, nil},
	} {
		op := fmt.Sprintf("Space(%v, %d) on a blank tape", tc.kind, tc.count)
		wantErr(t, d.Space(ctx, tc.kind, tc.count), tc.want, op)
		wantPos(t, d, device.Position{}, "after "+op)
	}
}

// testWriteReadSizes: records from 1 byte to 1 MiB read back unchanged.
func testWriteReadSizes(t *testing.T, d device.Drive, _ int64) {
	sizes := []int{1, 2, 3, 511, 512, 513, 4096, 65535, 65536, 65537, 262144, 1<<20 - 1, 1 << 20}
	tp := layout(1, append(sizes, 0)...)
	writeTape(t, d, tp)
	wantPos(t, d, tp.eod(), "after writing")
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testReadRecordTooLong: a record larger than the buffer fills the buffer
// with its prefix, returns ErrRecordTooLong and skips the rest of the
// record; a record that fits exactly is read whole.
func testReadRecordTooLong(t *testing.T, d device.Drive, _ int64) {
	cases := []struct {
		record, buf int
		err         error
	}{
		{1000, 100, device.ErrRecordTooLong},
		{2, 1, device.ErrRecordTooLong},
		{1 << 20, 64 << 10, device.ErrRecordTooLong},
		{4096, 4096, nil},
		{4096, 4095, device.ErrRecordTooLong},
	}
	sizes := make([]int, 0, len(cases)+1)
	for _, c := range cases {
		sizes = append(sizes, c.record)
	}
	tp := layout(2, append(sizes, 10)...)
	writeTape(t, d, tp)
	rewind(t, d)
	for i, c := range cases {
		buf := make([]byte, c.buf)
		n, err := d.ReadRecord(t.Context(), buf)
		op := fmt.Sprintf("ReadRecord of a %d-byte record into %d bytes", c.record, c.buf)
		wantErr(t, err, c.err, op)
		if n != c.buf {
			t.Fatalf("%s returned %d bytes, want %d", op, n, c.buf)
		}
		if !bytes.Equal(buf, tp[i].data[:c.buf]) {
			t.Fatalf("%s: the buffer does not hold the start of the record", op)
		}
		wantPos(t, d, tp.posAt(i+1), "after "+op)
	}
	checkRead(t, d, tp, len(cases))
}

// testReadFilemarks: ReadRecord at a filemark returns ErrFilemark and
// positions after it, also for adjacent filemarks and a filemark at BOT.
func testReadFilemarks(t *testing.T, d device.Drive, _ int64) {
	tp := layout(3, 0, 100, 0, 0, 200, 0)
	writeTape(t, d, tp)
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testReadEndOfData: ReadRecord at end of data returns ErrEndOfData every
// time, stays at end of data, and a write there appends.
func testReadEndOfData(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := layout(4, 100, 200)
	writeTape(t, d, tp)
	buf := make([]byte, 1024)
	for i := range 2 {
		n, err := d.ReadRecord(ctx, buf)
		if n != 0 || !errors.Is(err, device.ErrEndOfData) {
			t.Fatalf("ReadRecord #%d at end of data = (%d, %v), want (0, ErrEndOfData)", i+1, n, err)
		}
		wantPos(t, d, tp.eod(), fmt.Sprintf("after ReadRecord #%d at end of data", i+1))
	}
	more := layout(5, 300)
	writeTape(t, d, more)
	tp = append(tp, more...)
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testWriteFilemarksZero: WriteFilemarks(0) only flushes.
func testWriteFilemarksZero(t *testing.T, d device.Drive, _ int64) {
	tp := layout(6, 100, 200)
	writeTape(t, d, tp)
	wantErr(t, d.WriteFilemarks(t.Context(), 0), nil, "WriteFilemarks(0)")
	wantPos(t, d, tp.eod(), "after WriteFilemarks(0)")
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testPositionWhileWriting: each write advances the position by one
// object, and the drive is at end of data after it.
func testPositionWhileWriting(t *testing.T, d device.Drive, _ int64) {
	tp := spaceLayout()
	for i := range tp {
		writeTape(t, d, tp[i:i+1])
		wantPos(t, d, tp.posAt(i+1), fmt.Sprintf("after writing object %d (%v)", i, tp[i]))
		st := status(t, d)
		if st.Position != tp.posAt(i+1) || !st.AtEOD || st.AtBOT {
			t.Fatalf("Status after writing object %d: position %s, at EOD %v, at BOT %v; want %s at EOD, not at BOT",
				i, fmtPos(st.Position), st.AtEOD, st.AtBOT, fmtPos(tp.posAt(i+1)))
		}
	}
	// A multi-filemark write counts each filemark.
	if err := d.WriteFilemarks(t.Context(), 3); err != nil {
		t.Fatalf("WriteFilemarks(3): %v", err)
	}
	tp = append(tp, object{filemark: true}, object{filemark: true}, object{filemark: true})
	wantPos(t, d, tp.eod(), "after WriteFilemarks(3)")
	rewind(t, d)
	checkRead(t, d, tp, 0)
}
