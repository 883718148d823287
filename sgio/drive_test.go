package sgio

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"tapefs/engine/device"
)

func newTestDrive(t *testing.T) (*Drive, *fakeTransport) {
	t.Helper()
	f := newFake(t, inquirySteps(TypeTape, "10WT000001")...)
	d, err := NewDrive(f)
	if err != nil {
		t.Fatal(err)
	}
	return d, f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func TestNewDriveChecksType(t *testing.T) {
	f := newFake(t, inquirySteps(TypeChanger, "X")...)
	if _, err := NewDrive(f); err == nil {
		t.Error("a changer was accepted as a drive")
	}
	d, _ := newTestDrive(t)
	info, err := d.Info(context.Background())
	want := device.Info{Vendor: "HPE", Model: "Ultrium 8-SCSI", Serial: "10WT000001", Revision: "J4DB"}
	if err != nil || info != want {
		t.Errorf("Info = %+v, %v; want %+v", info, err, want)
	}
}

func TestInquiryWithoutSerialPage(t *testing.T) {
	f := newFake(t,
		withIn(inquiryCDB(false, 0, inquiryAlloc), inquiryData(TypeTape, "QUANTUM", "ULTRIUM-HH6", "1234")),
		withSense(inquiryCDB(true, 0x80, 255), fixedSense(KeyIllegalRequest, 0x24, 0, 0, 0, false)),
	)
	d, err := NewDrive(f)
	if err != nil {
		t.Fatal(err)
	}
	if d.serial != "" {
		t.Errorf("serial %q", d.serial)
	}
}

func TestReadRecord(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	buf := make([]byte, 1024)
	read := must6(read6CDB(1024))

	// Exact record: no sense, no residue.
	rec := bytes.Repeat([]byte{0xA5}, 1024)
	f.expect(withIn(read, rec))
	n, err := d.ReadRecord(ctx, buf)
	if err != nil || n != 1024 || !bytes.Equal(buf, rec) {
		t.Errorf("exact: n=%d err=%v", n, err)
	}

	// Short record: ILI with positive residue 1024-100.
	f.expect(step{cdb: read, in: rec[:100], sense: fixedSense(KeyNoSense, 0, 0, bitILI, 924, true)})
	n, err = d.ReadRecord(ctx, buf)
	if err != nil || n != 100 {
		t.Errorf("short: n=%d err=%v, want 100", n, err)
	}

	// Long record: ILI with negative residue; the buffer is full.
	f.expect(step{cdb: read, in: rec, sense: fixedSense(KeyNoSense, 0, 0, bitILI, -500, true)})
	n, err = d.ReadRecord(ctx, buf)
	if n != 1024 {
		t.Errorf("long: n=%d, want 1024", n)
	}
	wantErr(t, "long", err, device.ErrRecordTooLong)

	// Filemark: the drive is after it; Drive reads the position to learn
	// where file 1 starts.
	f.expect(
		withSense(read, fixedSense(KeyNoSense, 0, 1, bitFilemark, 1024, true)),
		withIn(readPositionLongCDB(), positionData(0, 0, 4, 1)),
	)
	n, err = d.ReadRecord(ctx, buf)
	if n != 0 {
		t.Errorf("filemark: n=%d", n)
	}
	wantErr(t, "filemark", err, device.ErrFilemark)
	if d.fileStart[1] != 4 {
		t.Errorf("file 1 start %d, want 4", d.fileStart[1])
	}

	// End of data, encrypted, medium error.
	for _, c := range []struct {
		sense []byte
		want  error
	}{
		{fixedSense(KeyBlankCheck, 0, 5, 0, 1024, true), device.ErrEndOfData},
		{fixedSense(KeyDataProtect, 0x74, 0x01, 0, 0, false), device.ErrEncrypted},
		{fixedSense(KeyMediumError, 0x11, 0x00, 0, 0, false), device.ErrMediumError},
	} {
		f.expect(withSense(read, c.sense))
		n, err = d.ReadRecord(ctx, buf)
		if n != 0 {
			t.Errorf("%v: n=%d", c.want, n)
		}
		wantErr(t, "read", err, c.want)
	}
	if _, err := d.ReadRecord(ctx, nil); err == nil {
		t.Error("empty buffer accepted")
	}
}

func must6(cdb []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return cdb
}

func TestWriteRecordAndFilemarks(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	d.fileStart[5] = 100 // stale knowledge from a former write

	rec := bytes.Repeat([]byte{1}, 512)
	write := must6(write6CDB(512))
	// The first write of a sequence reads the position once to drop the
	// files after the current one.
	f.expect(
		withIn(readPositionLongCDB(), positionData(0, 0, 10, 2)),
		step{cdb: write, out: rec},
		step{cdb: write, out: rec, sense: fixedSense(KeyNoSense, 0, 2, bitEOM, 0, false)},
	)
	must(t, d.WriteRecord(ctx, rec))
	wantErr(t, "early warning", d.WriteRecord(ctx, rec), device.ErrEarlyWarning)
	if _, ok := d.fileStart[5]; ok {
		t.Error("file 5 start survived a write in file 2")
	}

	f.expect(step{cdb: write, out: rec, sense: fixedSense(KeyVolumeOverflow, 0, 2, bitEOM, 512, true)})
	wantErr(t, "overflow", d.WriteRecord(ctx, rec), device.ErrEndOfMedium)

	f.expect(step{cdb: write, out: rec, sense: fixedSense(KeyDataProtect, 0x27, 0, 0, 0, false)})
	wantErr(t, "protected", d.WriteRecord(ctx, rec), device.ErrWriteProtected)

	f.expect(step{cdb: write, out: rec, sense: fixedSense(KeyMediumError, 0x0C, 0, 0, 0, false)})
	wantErr(t, "write error", d.WriteRecord(ctx, rec), device.ErrMediumError)

	// Filemarks: after writing, the new file's start is recorded.
	f.expect(
		cmd(must6(writeFilemarks6CDB(1))),
		withIn(readPositionLongCDB(), positionData(0, 0, 13, 3)),
	)
	must(t, d.WriteFilemarks(ctx, 1))
	if d.fileStart[3] != 13 {
		t.Errorf("file 3 start %d, want 13", d.fileStart[3])
	}
	f.expect(withSense(must6(writeFilemarks6CDB(0)), fixedSense(KeyNoSense, 0, 2, bitEOM, 0, false)))
	wantErr(t, "flush past LEOM", d.WriteFilemarks(ctx, 0), device.ErrEarlyWarning)

	if err := d.WriteRecord(ctx, nil); err == nil {
		t.Error("empty record accepted")
	}
	if !d.atEOD {
		t.Error("not at EOD after writing")
	}
}

func TestSpace(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)

	f.expect(cmd(spaceCDB(spaceCodeBlocks, 3)))
	must(t, d.Space(ctx, device.SpaceRecords, 3))

	// Records forward into a filemark: after it, file start learned.
	f.expect(
		withSense(spaceCDB(spaceCodeBlocks, 5), fixedSense(KeyNoSense, 0, 1, bitFilemark, 2, true)),
		withIn(readPositionLongCDB(), positionData(0, 0, 7, 1)),
	)
	wantErr(t, "records into filemark", d.Space(ctx, device.SpaceRecords, 5), device.ErrFilemark)
	if d.fileStart[1] != 7 {
		t.Errorf("file 1 start %d, want 7", d.fileStart[1])
	}

	// Filemarks backward: before the filemark of object 20 (file 2), so
	// file 3 starts at 21.
	f.expect(
		cmd(spaceCDB(spaceCodeFilemarks, -2)),
		withIn(readPositionLongCDB(), positionData(0, 0, 20, 2)),
	)
	must(t, d.Space(ctx, device.SpaceFilemarks, -2))
	if d.fileStart[3] != 21 {
		t.Errorf("file 3 start %d, want 21", d.fileStart[3])
	}

	f.expect(withSense(spaceCDB(spaceCodeBlocks, -9), fixedSense(KeyNoSense, 0, 4, bitEOM, 2, true)))
	wantErr(t, "before BOT", d.Space(ctx, device.SpaceRecords, -9), device.ErrBeginningOfMedium)

	f.expect(withSense(spaceCDB(spaceCodeFilemarks, 4), fixedSense(KeyBlankCheck, 0, 5, 0, 1, true)))
	wantErr(t, "past EOD", d.Space(ctx, device.SpaceFilemarks, 4), device.ErrEndOfData)
	if !d.atEOD {
		t.Error("not at EOD")
	}

	f.expect(cmd(spaceCDB(spaceCodeEOD, 0)))
	must(t, d.Space(ctx, device.SpaceEndOfData, 99))

	// Counts beyond 24 bits use SPACE(16).
	f.expect(cmd(spaceCDB(spaceCodeBlocks, 1<<30)))
	must(t, d.Space(ctx, device.SpaceRecords, 1<<30))

	must(t, d.Space(ctx, device.SpaceRecords, 0)) // no command
}

func TestLocateAndReadPosition(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)

	f.expect(withSense(locate16CDB(1000), fixedSense(KeyBlankCheck, 0, 5, 0, 0, false)))
	wantErr(t, "locate past EOD", d.Locate(ctx, 1000), device.ErrEndOfData)

	// Locate into file 3, whose start is unknown: ReadPosition spaces back
	// over one filemark (object 79), then locates back to 100.
	f.expect(
		cmd(locate16CDB(100)),
		withIn(readPositionLongCDB(), positionData(0, 0, 100, 3)),
		cmd(spaceCDB(spaceCodeFilemarks, -1)),
		withIn(readPositionLongCDB(), positionData(0, 0, 79, 2)),
		cmd(locate16CDB(100)),
	)
	must(t, d.Locate(ctx, 100))
	pos, err := d.ReadPosition(ctx)
	if err != nil || pos != (device.Position{Object: 100, File: 3, Record: 20}) {
		t.Errorf("position %+v, %v; want object 100 file 3 record 20", pos, err)
	}
	// Known now: no probe.
	f.expect(withIn(readPositionLongCDB(), positionData(0, 0, 105, 3)))
	pos, err = d.ReadPosition(ctx)
	if err != nil || pos.Record != 25 {
		t.Errorf("position %+v, %v; want record 25", pos, err)
	}
	// File 0 starts at BOT: no probe.
	f.expect(withIn(readPositionLongCDB(), positionData(0x80, 0, 0, 0)))
	pos, err = d.ReadPosition(ctx)
	if err != nil || pos != (device.Position{}) {
		t.Errorf("BOT position %+v, %v", pos, err)
	}
	// Partitioned tape and unknown position are errors.
	f.expect(withIn(readPositionLongCDB(), positionData(0, 1, 0, 0)))
	if _, err := d.ReadPosition(ctx); err == nil {
		t.Error("partition 1 accepted")
	}
	f.expect(withIn(readPositionLongCDB(), positionData(0x04, 0, 0, 0)))
	if _, err := d.ReadPosition(ctx); !errors.Is(err, device.ErrNotReady) {
		t.Errorf("LONU: %v, want ErrNotReady", err)
	}
	// Short data from the drive.
	f.expect(withIn(readPositionLongCDB(), make([]byte, 20)))
	if _, err := d.ReadPosition(ctx); err == nil {
		t.Error("20 bytes accepted")
	}
}

// statusLoadedSteps is the command sequence of Status on a loaded drive.
func statusLoadedSteps(alerts []byte, pos []byte) []step {
	encStatus := []byte{0x00, 0x20, 0, 20, 0x40, 2, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	return []step{
		cmd(testUnitReadyCDB()),
		withIn(modeSense6CDB(false, 0x0F, 255), modeData(true, 1, 0x5E, 0, true)),
		withIn(logSenseCDB(0x2E, defaultAlloc), alerts),
		withIn(readPositionLongCDB(), pos),
		withIn(securityProtocolInCDB(pageEncryptionStatus, defaultAlloc), encStatus),
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)

	alerts := logPage(0x2E, logParamBytes(20, 1), logParamBytes(21, 0))
	f.expect(statusLoadedSteps(alerts, positionData(0x80|0x01, 0, 0, 0))...)
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := device.DriveStatus{
		Online: true, MediumPresent: true, Loaded: true, WriteProtected: true,
		Density: "LTO-8", Compression: true, BufferMode: true, Encryption: true,
		AtBOT: true, PastEarlyWarning: true,
		Alerts: device.TapeAlertFlags(0).With(20),
	}
	if st != want {
		t.Errorf("loaded:\ngot  %+v\nwant %+v", st, want)
	}

	// The flags read by Status are returned by the next TapeAlerts.
	f.expect(withIn(logSenseCDB(0x2E, defaultAlloc), logPage(0x2E, logParamBytes(3, 1))))
	flags, err := d.TapeAlerts(ctx)
	if err != nil || flags != device.TapeAlertFlags(0).With(3).With(20) {
		t.Errorf("TapeAlerts = %v, %v", flags, err)
	}

	// Empty drive.
	f.expect(
		withSense(testUnitReadyCDB(), fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)),
		withIn(modeSense6CDB(false, 0x0F, 255), modeData(false, 1, 0, 0, true)),
		withIn(logSenseCDB(0x2E, defaultAlloc), logPage(0x2E)),
	)
	st, err = d.Status(ctx)
	if err != nil || st.MediumPresent || st.Loaded || !st.Online || st.Density != "" {
		t.Errorf("empty: %+v, %v", st, err)
	}

	// Cartridge in the drive, not threaded; TapeAlert page unsupported.
	f.expect(
		withSense(testUnitReadyCDB(), fixedSense(KeyNotReady, 0x04, 0x02, 0, 0, false)),
		withIn(modeSense6CDB(false, 0x0F, 255), modeData(false, 1, 0, 0, true)),
		withSense(logSenseCDB(0x2E, defaultAlloc), fixedSense(KeyIllegalRequest, 0x24, 0, 0, 0, false)),
	)
	st, err = d.Status(ctx)
	if err != nil || !st.MediumPresent || st.Loaded {
		t.Errorf("unthreaded: %+v, %v", st, err)
	}

	// Cleaning cartridge.
	f.expect(
		withSense(testUnitReadyCDB(), fixedSense(KeyNotReady, 0x30, 0x03, 0, 0, false)),
		withIn(modeSense6CDB(false, 0x0F, 255), modeData(false, 1, 0, 0, true)),
		withIn(logSenseCDB(0x2E, defaultAlloc), logPage(0x2E)),
	)
	st, err = d.Status(ctx)
	if err != nil || !st.Cleaning || !st.MediumPresent {
		t.Errorf("cleaning: %+v, %v", st, err)
	}

	// Device gone: offline, no error.
	f.expect(step{cdb: testUnitReadyCDB(), host: didNoConnect})
	st, err = d.Status(ctx)
	if err != nil || st.Online {
		t.Errorf("offline: %+v, %v", st, err)
	}
}

func TestUnitAttentionIsRetried(t *testing.T) {
	d, f := newTestDrive(t)
	d.fileStart[4] = 40
	f.expect(
		withSense(rewindCDB(), fixedSense(KeyUnitAttention, 0x28, 0, 0, 0, false)),
		withSense(rewindCDB(), fixedSense(KeyUnitAttention, 0x29, 0, 0, 0, false)),
		cmd(rewindCDB()),
	)
	must(t, d.Rewind(context.Background()))
	if _, ok := d.fileStart[4]; ok {
		t.Error("file starts survived a medium change")
	}
	// Endless unit attentions give up.
	for range unitAttnRetries + 1 {
		f.expect(withSense(rewindCDB(), fixedSense(KeyUnitAttention, 0x29, 0, 0, 0, false)))
	}
	if err := d.Rewind(context.Background()); err == nil {
		t.Error("no error after repeated UNIT ATTENTION")
	}
}

func TestLoadUnloadLock(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)

	f.expect(withSense(loadUnloadCDB(true), fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)))
	wantErr(t, "load empty", d.Load(ctx), device.ErrNoMedium)

	f.expect(withSense(loadUnloadCDB(true), fixedSense(KeyNotReady, 0x30, 0x03, 0, 0, false)))
	must(t, d.Load(ctx)) // cleaning cartridge: cleaning cycle

	f.expect(cmd(loadUnloadCDB(true)))
	must(t, d.Load(ctx))

	f.expect(cmd(preventAllowCDB(true)))
	must(t, d.SetLock(ctx, true))
	wantErr(t, "unload locked", d.Unload(ctx), device.ErrMediumLocked)

	f.expect(cmd(preventAllowCDB(false)), cmd(loadUnloadCDB(false)))
	must(t, d.SetLock(ctx, false))
	must(t, d.Unload(ctx))

	f.expect(withSense(loadUnloadCDB(false), fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)))
	wantErr(t, "unload empty", d.Unload(ctx), device.ErrNoMedium)

	f.expect(withSense(loadUnloadCDB(false), fixedSense(KeyIllegalRequest, 0x53, 0x02, 0, 0, false)))
	wantErr(t, "unload prevented by another initiator", d.Unload(ctx), device.ErrMediumLocked)
}

func TestEraseFormat(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	f.expect(
		withIn(readPositionLongCDB(), positionData(0, 0, 50, 2)),
		cmd(erase6CDB(true)),
	)
	must(t, d.Erase(ctx, true))
	f.expect(cmd(rewindCDB()), cmd(formatMediumCDB()))
	must(t, d.Format(ctx))
	f.expect(cmd(rewindCDB()), withSense(formatMediumCDB(), fixedSense(KeyDataProtect, 0x27, 0, 0, 0, false)))
	wantErr(t, "format protected", d.Format(ctx), device.ErrWriteProtected)
}

// capsWithAESGCM is a capabilities page offering AES-256-GCM at index 1.
func capsWithAESGCM() []byte {
	return capsPage(algorithmDescriptor(1, 0x0A, 32, algorithmAESGCM))
}

func encStatusPage(enc, dec byte) []byte {
	b := make([]byte, 24)
	b[1], b[3], b[4], b[5], b[6], b[7] = 0x20, 20, 0x40, enc, dec, 1
	return b
}

func TestSetEncryptionKey(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	key := bytes.Repeat([]byte{7}, 32)
	setPage := buildSetDataEncryption(1, key)
	clearPage := buildSetDataEncryption(1, nil)
	spinCaps := securityProtocolInCDB(pageEncryptionCaps, defaultAlloc)
	spinStatus := securityProtocolInCDB(pageEncryptionStatus, defaultAlloc)

	f.expect(
		withIn(spinCaps, capsWithAESGCM()),
		step{cdb: securityProtocolOutCDB(pageSetDataEncryption, 52), out: setPage},
		withIn(spinStatus, encStatusPage(2, 3)),
	)
	must(t, d.SetEncryptionKey(ctx, key))
	if !d.keySet {
		t.Error("key not recorded")
	}

	// The drive does not confirm: error.
	f.expect(
		withIn(spinCaps, capsWithAESGCM()),
		step{cdb: securityProtocolOutCDB(pageSetDataEncryption, 20), out: clearPage},
		withIn(spinStatus, encStatusPage(2, 3)),
	)
	if err := d.SetEncryptionKey(ctx, nil); err == nil {
		t.Error("unconfirmed clear accepted")
	}

	// Unload clears a set key after the cartridge is out; the status page
	// needs a cartridge, so it is not confirmed.
	d.keySet = true
	f.expect(
		cmd(loadUnloadCDB(false)),
		withIn(spinCaps, capsWithAESGCM()),
		step{cdb: securityProtocolOutCDB(pageSetDataEncryption, 20), out: clearPage},
		withSense(spinStatus, fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)),
	)
	must(t, d.Unload(ctx))
	if d.keySet {
		t.Error("key still recorded after unload")
	}

	if err := d.SetEncryptionKey(ctx, key[:16]); err == nil {
		t.Error("16-byte key accepted")
	}

	// A drive without the security protocol: clearing succeeds, setting
	// is unsupported.
	f.expect(withSense(spinCaps, fixedSense(KeyIllegalRequest, 0x24, 0, 0, 0, false)))
	must(t, d.SetEncryptionKey(ctx, nil))
	f.expect(withSense(spinCaps, fixedSense(KeyIllegalRequest, 0x20, 0, 0, 0, false)))
	wantErr(t, "set unsupported", d.SetEncryptionKey(ctx, key), device.ErrUnsupported)

	// Close clears a key that is still set.
	d.keySet = true
	f.expect(
		withIn(spinCaps, capsWithAESGCM()),
		step{cdb: securityProtocolOutCDB(pageSetDataEncryption, 20), out: clearPage},
		withIn(spinStatus, encStatusPage(0, 0)),
	)
	must(t, d.Close())
	if !f.closed {
		t.Error("transport not closed")
	}
}

func TestSetOptions(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	bs, off := uint32(0), false
	md := modeData(false, 1, 0x5A, 0x10000, true)
	sel := []byte{0, 0, 0x10, 8, 0x5A, 0, 0, 0, 0, 0, 0, 0,
		0x0F, 0x0E, 0x40, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}
	f.expect(
		withIn(modeSense6CDB(false, 0x0F, 255), md),
		step{cdb: modeSelect6CDB(uint8(len(sel))), out: sel},
	)
	must(t, d.SetOptions(ctx, device.DriveOptions{BlockSize: &bs, Compression: &off}))
	must(t, d.SetOptions(ctx, device.DriveOptions{})) // nothing to change: no command
}

func TestLogPagesAndMAM(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	f.expect(withIn(logSenseCDB(0x17, defaultAlloc), logPage(0x17, logParamBytes(0, 0))))
	_, err := d.VolumeStatistics(ctx)
	wantErr(t, "volume statistics without medium", err, device.ErrNoMedium)

	f.expect(withIn(logSenseCDB(0x17, defaultAlloc), logPage(0x17, logParamBytes(0, 1), logParamBytes(1, 9))))
	vs, err := d.VolumeStatistics(ctx)
	if err != nil || vs.VolumeMounts != 9 {
		t.Errorf("volume statistics %+v, %v", vs, err)
	}

	f.expect(withSense(readAttributeCDB(0, mamAlloc), fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)))
	_, err = d.CartridgeMemory(ctx)
	wantErr(t, "MAM without medium", err, device.ErrNoMedium)

	body := attribute(0x0401, 0x81, []byte("ABC"))
	f.expect(withIn(readAttributeCDB(0, mamAlloc), append([]byte{0, 0, 0, byte(len(body))}, body...)))
	attrs, err := d.CartridgeMemory(ctx)
	if err != nil || len(attrs) != 1 || attrs[0].Value != "ABC" {
		t.Errorf("MAM %+v, %v", attrs, err)
	}
}

func TestTransportOutcomes(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "cancelled", d.Rewind(cancelled), context.Canceled) // no command sent

	f.expect(step{cdb: rewindCDB(), status: statusReservationConflict})
	wantErr(t, "reservation conflict", d.Rewind(ctx), device.ErrBusy)

	f.expect(step{cdb: rewindCDB(), host: didBadTarget})
	wantErr(t, "bad target", d.Rewind(ctx), device.ErrOffline)

	f.expect(step{cdb: rewindCDB(), host: didTimeOut})
	if err := d.Rewind(ctx); err == nil {
		t.Error("timeout: no error")
	}

	f.expect(step{cdb: rewindCDB(), err: errors.New("ioctl failed")})
	if err := d.Rewind(ctx); err == nil {
		t.Error("ioctl error: no error")
	}

	// CHECK CONDITION without autosense: REQUEST SENSE fetches it.
	f.expect(
		step{cdb: rewindCDB(), status: statusCheckCondition},
		withIn(requestSenseCDB(senseAlloc), fixedSense(KeyNotReady, 0x3A, 0, 0, 0, false)),
	)
	wantErr(t, "no autosense", d.Rewind(ctx), device.ErrNoMedium)

	// Unparseable sense.
	f.expect(withSense(rewindCDB(), []byte{0x00, 1, 2}))
	if err := d.Rewind(ctx); err == nil {
		t.Error("bad sense: no error")
	}

	// Recovered error: success.
	f.expect(withSense(rewindCDB(), fixedSense(KeyRecoveredError, 0x17, 0x01, 0, 0, false)))
	must(t, d.Rewind(ctx))
}

func TestReadPositionProbeFailureReturnsToPosition(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	f.expect(
		withIn(readPositionLongCDB(), positionData(0, 0, 500, 7)),
		withSense(spaceCDB(spaceCodeFilemarks, -1), fixedSense(KeyMediumError, 0x11, 0, 0, 0, false)),
		cmd(locate16CDB(500)),
	)
	_, err := d.ReadPosition(ctx)
	wantErr(t, "probe", err, device.ErrMediumError)
	if _, ok := d.fileStart[7]; ok {
		t.Error("file start recorded after a failed probe")
	}
}

func TestReadPositionProbeReturnsAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d, f := newTestDrive(t)
	f.expect(
		withIn(readPositionLongCDB(), positionData(0, 0, 500, 7)),
		step{cdb: spaceCDB(spaceCodeFilemarks, -1), hook: cancel},
		cmd(locate16CDB(500)), // sent although ctx is done
	)
	_, err := d.ReadPosition(ctx)
	wantErr(t, "cancelled probe", err, context.Canceled)
}

// TestPositionNotReported: tgt answers READ POSITION with zeros (byte 0
// 20h, no BOP bit). The drive refuses to report that as a position, says
// why, keeps Status working with PositionUnknown, and still writes.
func TestPositionNotReported(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	tgtPos := positionData(0x20, 0, 0, 0)
	f.expect(withIn(readPositionLongCDB(), tgtPos))
	_, err := d.ReadPosition(ctx)
	wantErr(t, "ReadPosition", err, device.ErrUnsupported)
	if err == nil || !strings.Contains(err.Error(), "logical object 0 without beginning of partition") {
		t.Errorf("ReadPosition error %q does not say why", err)
	}

	f.expect(statusLoadedSteps(logPage(0x2E), tgtPos)...)
	st, err := d.Status(ctx)
	if err != nil || !st.PositionUnknown || st.AtBOT || st.Position != (device.Position{}) {
		t.Errorf("Status = %+v, %v; want PositionUnknown", st, err)
	}

	rec := bytes.Repeat([]byte{1}, 512)
	f.expect(
		withIn(readPositionLongCDB(), tgtPos),
		step{cdb: must6(write6CDB(512)), out: rec},
		cmd(must6(writeFilemarks6CDB(1))),
		withIn(readPositionLongCDB(), tgtPos),
	)
	must(t, d.WriteRecord(ctx, rec))
	must(t, d.WriteFilemarks(ctx, 1))
}

// TestPositionStuckAtBOT: a device that reports BOT whatever happens is
// caught once the tape has moved past object 0, and stays distrusted.
func TestPositionStuckAtBOT(t *testing.T) {
	ctx := context.Background()
	d, f := newTestDrive(t)
	bot := positionData(0x80, 0, 0, 0)
	rec := bytes.Repeat([]byte{1}, 512)
	f.expect(
		withIn(readPositionLongCDB(), bot),
		withIn(readPositionLongCDB(), bot),
		step{cdb: must6(write6CDB(512)), out: rec},
		withIn(readPositionLongCDB(), bot),
	)
	if pos, err := d.ReadPosition(ctx); err != nil || pos != (device.Position{}) {
		t.Fatalf("at BOT: %+v, %v", pos, err)
	}
	must(t, d.WriteRecord(ctx, rec))
	_, err := d.ReadPosition(ctx)
	wantErr(t, "ReadPosition after a write", err, device.ErrUnsupported)
	if err == nil || !strings.Contains(err.Error(), "after the tape moved past it") {
		t.Errorf("ReadPosition error %q does not say why", err)
	}
	f.expect(cmd(rewindCDB()), withIn(readPositionLongCDB(), bot))
	must(t, d.Rewind(ctx))
	_, err = d.ReadPosition(ctx)
	wantErr(t, "ReadPosition after rewinding", err, device.ErrUnsupported)
}
