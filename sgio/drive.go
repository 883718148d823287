package sgio

import (
	"context"
	"errors"
	"fmt"

	"tapefs/engine/device"
)

// Drive is an SSC tape drive (LTO-4 or later) driven through a Transport.
// It implements device.Drive.
//
// Like every device.Drive, a Drive is used by one goroutine at a time; it
// holds no lock of its own. OpenDrive holds the sg device open with O_EXCL
// until Close.
//
// Positions: READ POSITION (long form) reports the logical object number and
// the file number; the record number inside the file is the distance to the
// first object of the file. Drive remembers where each file starts whenever
// it crosses or writes a filemark; when it has not seen the start of the
// current file (after Locate into an unvisited file), ReadPosition finds it
// with one SPACE back over a filemark, READ POSITION and LOCATE back.
//
// A device whose READ POSITION does not follow the tape (tgt's emulation
// answers zeros) is detected: a report of logical object 0 without the
// beginning-of-partition bit, or of object 0 after the tape was moved past
// it. From then on ReadPosition fails with device.ErrUnsupported and a
// message saying why, and Status reports PositionUnknown, so nothing that
// needs to know where it is on tape (backup, restore, catalog) runs on a
// wrong position; records and filemarks are still written, read and spaced
// over. tapefs does not keep a position count of its own: it could not
// know where another process left the tape.
type Drive struct {
	executor
	inq    Inquiry
	serial string

	// locked: PREVENT MEDIUM REMOVAL is in effect (set by SetLock).
	locked bool
	// keySet: a data encryption key was sent and not cleared.
	keySet bool
	// pendingAlerts are TapeAlert flags read by Status and not yet
	// returned by TapeAlerts (reading the log page clears them).
	pendingAlerts device.TapeAlertFlags
	// fileStart maps a file number to the object number of its first
	// object, for the cartridge loaded now.
	fileStart map[uint64]uint64
	// atEOD: the last operation left the tape at end of data.
	atEOD bool
	// writing: files after the current one were already pruned from
	// fileStart for the write sequence in progress.
	writing bool
	// pastBOT: an operation since the last load, rewind, locate or
	// backward space moved the tape over at least one object, so a
	// position report of object 0 is wrong.
	pastBOT bool
	// noPosition says why the device's position report was found
	// unusable; empty while it is believed.
	noPosition string
}

// errNoPosition is the error of ReadPosition on a device whose position
// report does not follow the tape.
var errNoPosition = fmt.Errorf("the drive does not report where the tape is, and tapefs needs the position to find archives and to append safely; backup, restore and catalog do not run on this drive (plain reads, writes and spacing with pmt do): %w", device.ErrUnsupported)

var _ device.Drive = (*Drive)(nil)

// OpenDrive opens the tape drive at path: its /dev/sg* node, a link to it
// (/dev/tape/by-id/...), or its st/nst node, which is mapped to the sg node
// of the same device through sysfs. The sg device is opened O_RDWR|O_EXCL;
// another user makes it fail with device.ErrBusy. The device must report
// peripheral type 1 (sequential access).
func OpenDrive(path string) (*Drive, error) {
	return openDevice(path, NewDrive)
}

// openDevice resolves path to its sg node, opens it and hands the
// transport to newDev, which checks the device type; on failure the
// transport is closed.
func openDevice[T any](path string, newDev func(Transport) (T, error)) (T, error) {
	var zero T
	sg, err := resolveSG("/sys", path)
	if err != nil {
		return zero, err
	}
	tr, err := openSG(sg)
	if err != nil {
		return zero, err
	}
	tr, err = traced(tr, sg)
	if err != nil {
		return zero, err
	}
	d, err := newDev(tr)
	if err != nil {
		tr.Close()
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// NewDrive returns a Drive on an open transport after checking with INQUIRY
// that the device is a tape drive. The Drive owns tr and closes it on Close.
func NewDrive(tr Transport) (*Drive, error) {
	d := &Drive{executor: executor{tr: tr}, fileStart: map[uint64]uint64{0: 0}}
	d.unitAttention = func(Sense) {
		// Power on, reset or medium change: forget the cartridge.
		d.forgetMedium()
	}
	inq, serial, err := d.inquiry(context.Background())
	if err != nil {
		return nil, err
	}
	if inq.DeviceType != TypeTape {
		return nil, fmt.Errorf("not a tape drive (peripheral device type %d)", inq.DeviceType)
	}
	d.inq, d.serial = inq, serial
	return d, nil
}

// forgetMedium drops what Drive knows about the loaded cartridge.
func (d *Drive) forgetMedium() {
	d.fileStart = map[uint64]uint64{0: 0}
	d.atEOD = false
	d.writing = false
	d.pastBOT = false
}

// Info reports the INQUIRY vendor, model, revision and unit serial number.
func (d *Drive) Info(ctx context.Context) (device.Info, error) {
	return device.Info{Vendor: d.inq.Vendor, Model: d.inq.Model, Serial: d.serial, Revision: d.inq.Revision}, nil
}

// Status reports drive and medium state: TEST UNIT READY, MODE SENSE (block
// descriptor and compression page), the TapeAlert log page and, with a
// loaded cartridge, READ POSITION and the encryption status page. The
// position is completed like ReadPosition's, which may move the tape once
// after a Locate into a file whose start Drive has not seen. TapeAlert
// flags read here are kept for the next TapeAlerts call.
func (d *Drive) Status(ctx context.Context) (device.DriveStatus, error) {
	st := device.DriveStatus{Online: true, Locked: d.locked}
	err := d.run(ctx, "TEST UNIT READY", testUnitReadyCDB(), timeoutShort)
	switch {
	case err == nil:
		st.MediumPresent, st.Loaded = true, true
	case errors.Is(err, device.ErrOffline):
		return device.DriveStatus{}, nil
	case errors.Is(err, device.ErrNoMedium):
		d.forgetMedium()
	case errors.Is(err, device.ErrBadCartridge):
		st.MediumPresent = true
		if s, ok := senseOf(err); ok && s.ASC == ascIncompatibleMedium && s.ASCQ == 3 {
			st.Cleaning = true
		}
	case errors.Is(err, device.ErrNotReady):
		st.MediumPresent = true
	default:
		return device.DriveStatus{}, fmt.Errorf("drive status: %w", err)
	}

	md, err := d.modeSense(ctx)
	if err != nil {
		return device.DriveStatus{}, fmt.Errorf("drive status: %w", err)
	}
	st.BlockSize = md.BlockLength
	st.BufferMode = md.BufferMode != 0
	st.Compression = md.Compression != nil && md.Compression.DCE
	if st.Loaded {
		st.WriteProtected = md.WriteProtected
		st.Density = densityName(md.Density)
	}

	alerts, err := d.readTapeAlerts(ctx)
	switch {
	case err == nil:
		d.pendingAlerts |= alerts
	case !isIllegalRequest(err):
		return device.DriveStatus{}, fmt.Errorf("drive status: %w", err)
	}
	st.Alerts = d.pendingAlerts
	if !st.Loaded {
		return st, nil
	}

	rp, pos, err := d.readPosition(ctx)
	switch {
	case errors.Is(err, errNoPosition):
		st.PositionUnknown = true
	case err != nil:
		return device.DriveStatus{}, fmt.Errorf("drive status: %w", err)
	default:
		st.Position = pos
		st.AtBOT = rp.BOP
		st.PastEarlyWarning = rp.BPEW
	}
	st.AtEOD = d.atEOD

	st.Encryption = d.keySet
	if b, err := d.in(ctx, "SECURITY PROTOCOL IN (encryption status)",
		securityProtocolInCDB(pageEncryptionStatus, defaultAlloc), defaultAlloc, timeoutShort); err == nil {
		if es, err := ParseEncryptionStatus(b); err == nil {
			st.Encryption = es.EncryptionMode != 0
		}
	}
	return st, nil
}

// Load threads the cartridge and positions at BOT (LOAD UNLOAD, LOAD=1). A
// cleaning cartridge is reported by the drive as "cleaning cartridge
// installed"; the drive then runs its cleaning cycle and Load returns nil.
func (d *Drive) Load(ctx context.Context) error {
	err := d.run(ctx, "LOAD", loadUnloadCDB(true), timeoutPosition)
	if s, ok := senseOf(err); ok && s.ASC == ascIncompatibleMedium && s.ASCQ == 3 {
		d.forgetMedium()
		return nil
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	d.forgetMedium()
	return nil
}

// Unload rewinds and unthreads the cartridge (LOAD UNLOAD, LOAD=0) and then
// clears a data encryption key that is still set. ErrMediumLocked while
// SetLock(true) is in effect.
func (d *Drive) Unload(ctx context.Context) error {
	if d.locked {
		return fmt.Errorf("unload: %w; allow removal first", device.ErrMediumLocked)
	}
	if err := d.run(ctx, "UNLOAD", loadUnloadCDB(false), timeoutPosition); err != nil {
		return fmt.Errorf("unload: %w", err)
	}
	d.forgetMedium()
	if d.keySet {
		if err := d.SetEncryptionKey(context.WithoutCancel(ctx), nil); err != nil {
			return fmt.Errorf("unload: cartridge unloaded, but clearing the encryption key failed: %w", err)
		}
	}
	return nil
}

// Rewind positions at BOT (REWIND, IMMED=0).
func (d *Drive) Rewind(ctx context.Context) error {
	d.writing = false
	d.pastBOT = false
	if err := d.run(ctx, "REWIND", rewindCDB(), timeoutPosition); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	d.atEOD = false
	return nil
}

// Space moves over records or filemarks (SPACE(6), or SPACE(16) for counts
// beyond 24 bits) or to end of data. Errors follow device.Drive.Space:
// ErrFilemark, ErrEndOfData, ErrBeginningOfMedium, with the drive's
// positioning.
func (d *Drive) Space(ctx context.Context, kind device.SpaceKind, count int64) error {
	var code uint8
	switch kind {
	case device.SpaceRecords:
		code = spaceCodeBlocks
	case device.SpaceFilemarks:
		code = spaceCodeFilemarks
	case device.SpaceEndOfData:
		code, count = spaceCodeEOD, 0
	default:
		return fmt.Errorf("space: unknown kind %d", kind)
	}
	if count == 0 && kind != device.SpaceEndOfData {
		return nil
	}
	d.writing = false
	timeout := timeoutIO
	if kind != device.SpaceRecords {
		timeout = timeoutPosition
	}
	cdb := spaceCDB(code, count)
	op := "SPACE(6)"
	if cdb[0] == opSpace16 {
		op = "SPACE(16)"
	}
	err := d.run(ctx, op, cdb, timeout)
	d.atEOD = kind == device.SpaceEndOfData && err == nil || errors.Is(err, device.ErrEndOfData)
	switch {
	case count < 0:
		d.pastBOT = false
	case count > 0 && (err == nil || errors.Is(err, device.ErrFilemark)):
		d.pastBOT = true
	}
	switch {
	case err == nil && kind == device.SpaceFilemarks && count > 0,
		errors.Is(err, device.ErrFilemark) && count > 0:
		d.noteFileStart(ctx, false)
	case err == nil && kind == device.SpaceFilemarks && count < 0,
		errors.Is(err, device.ErrFilemark) && count < 0:
		d.noteFileStart(ctx, true)
	}
	if err != nil {
		return fmt.Errorf("space %d %s: %w", count, kind, err)
	}
	return nil
}

// Locate positions at a logical object number (LOCATE(16), IMMED=0). Past
// end of data the drive stops at EOD and Locate returns ErrEndOfData.
func (d *Drive) Locate(ctx context.Context, object uint64) error {
	d.writing = false
	d.pastBOT = false
	err := d.run(ctx, "LOCATE(16)", locate16CDB(object), timeoutPosition)
	d.atEOD = errors.Is(err, device.ErrEndOfData)
	if err != nil {
		return fmt.Errorf("locate %d: %w", object, err)
	}
	return nil
}

// ReadPosition reports the current position (READ POSITION long form).
func (d *Drive) ReadPosition(ctx context.Context) (device.Position, error) {
	_, pos, err := d.readPosition(ctx)
	return pos, err
}

func (d *Drive) readRawPosition(ctx context.Context) (ReadPosition, error) {
	b, err := d.in(ctx, "READ POSITION", readPositionLongCDB(), readPositionLongLen, timeoutShort)
	if err != nil {
		return ReadPosition{}, err
	}
	rp, err := ParseReadPositionLong(b)
	if err != nil {
		return ReadPosition{}, err
	}
	if rp.Partition != 0 {
		return ReadPosition{}, fmt.Errorf("position is in partition %d; partitioned tapes (LTFS) are not supported, format the tape first", rp.Partition)
	}
	if rp.LONU || rp.MPU {
		return ReadPosition{}, fmt.Errorf("drive does not know its position; rewind or locate first: %w", device.ErrNotReady)
	}
	if rp.Object == 0 && d.noPosition == "" {
		switch {
		case !rp.BOP:
			d.noPosition = "READ POSITION reports logical object 0 without beginning of partition"
		case d.pastBOT:
			d.noPosition = "READ POSITION reports logical object 0 after the tape moved past it"
		}
	}
	if d.noPosition != "" {
		return ReadPosition{}, fmt.Errorf("%s: %w", d.noPosition, errNoPosition)
	}
	return rp, nil
}

// readPosition reads the position and completes it with the record number,
// probing for the start of the current file when it is unknown.
func (d *Drive) readPosition(ctx context.Context) (ReadPosition, device.Position, error) {
	rp, err := d.readRawPosition(ctx)
	if err != nil {
		return ReadPosition{}, device.Position{}, fmt.Errorf("read position: %w", err)
	}
	start, ok := d.fileStart[rp.File]
	if !ok || start > rp.Object {
		start, err = d.probeFileStart(ctx, rp)
		if err != nil {
			return ReadPosition{}, device.Position{}, fmt.Errorf("read position: %w", err)
		}
		d.fileStart[rp.File] = start
	}
	return rp, device.Position{Object: rp.Object, File: rp.File, Record: rp.Object - start}, nil
}

// probeFileStart finds the first object of the file holding rp: it spaces
// back over one filemark, reads the filemark's object number and locates
// back to rp.Object.
func (d *Drive) probeFileStart(ctx context.Context, rp ReadPosition) (uint64, error) {
	if rp.File == 0 {
		return 0, nil
	}
	spaceErr := d.run(ctx, "SPACE(6)", spaceCDB(spaceCodeFilemarks, -1), timeoutPosition)
	var start uint64
	var probeErr error
	switch {
	case spaceErr == nil:
		var fm ReadPosition
		fm, probeErr = d.readRawPosition(ctx)
		start = fm.Object + 1
	case errors.Is(spaceErr, device.ErrBeginningOfMedium):
		start = 0
	default:
		probeErr = spaceErr
	}
	// The way back runs even when ctx ends now: the caller must find the
	// tape where it left it.
	if err := d.run(context.WithoutCancel(ctx), "LOCATE(16)", locate16CDB(rp.Object), timeoutPosition); err != nil {
		return 0, fmt.Errorf("return to object %d after finding the file start: %w", rp.Object, err)
	}
	if probeErr != nil {
		return 0, fmt.Errorf("find start of file %d: %w", rp.File, probeErr)
	}
	return start, nil
}

// noteFileStart records the start of a file after a filemark was crossed
// (or written): forward, the position is the first object of the file;
// backward (before a filemark), the next file starts after it. Errors only
// lose the cached knowledge, so they are dropped.
func (d *Drive) noteFileStart(ctx context.Context, beforeFilemark bool) {
	rp, err := d.readRawPosition(ctx)
	if err != nil {
		return
	}
	if beforeFilemark {
		d.fileStart[rp.File+1] = rp.Object + 1
	} else {
		d.fileStart[rp.File] = rp.Object
	}
}

// prepareWrite prunes the file starts after the current file once per write
// sequence: writing discards everything after the position.
func (d *Drive) prepareWrite(ctx context.Context) error {
	if d.writing {
		return nil
	}
	rp, err := d.readRawPosition(ctx)
	if errors.Is(err, errNoPosition) {
		// Nothing to prune: ReadPosition will not be believed.
		d.writing = true
		return nil
	}
	if err != nil {
		return err
	}
	for f := range d.fileStart {
		if f > rp.File {
			delete(d.fileStart, f)
		}
	}
	d.writing = true
	return nil
}

// ReadRecord reads one variable-length record (READ(6), FIXED=0, SILI=0)
// into buf, at most 16 MiB-1 bytes. A shorter record is reported by the
// drive as ILI with a positive residue and is not an error; a longer one
// fills buf and returns ErrRecordTooLong.
func (d *Drive) ReadRecord(ctx context.Context, buf []byte) (int, error) {
	n := min(len(buf), maxTransfer6)
	cdb, err := read6CDB(n)
	if err != nil {
		return 0, fmt.Errorf("read record: %w", err)
	}
	d.writing = false
	got, sense, err := d.exec(ctx, "READ(6)", &Command{CDB: cdb, Dir: DirIn, Data: buf[:n], Timeout: timeoutIO})
	if err == nil {
		if sense != nil && sense.ILI && sense.InfoValid && sense.Info > 0 && sense.Info <= int64(n) {
			got = n - int(sense.Info)
		}
		d.atEOD = false
		d.pastBOT = true
		return got, nil
	}
	switch {
	case errors.Is(err, device.ErrFilemark):
		d.atEOD = false
		d.pastBOT = true
		d.noteFileStart(ctx, false)
		return 0, fmt.Errorf("read record: %w", err)
	case errors.Is(err, device.ErrEndOfData):
		d.atEOD = true
		return 0, fmt.Errorf("read record: %w", err)
	case errors.Is(err, device.ErrRecordTooLong):
		d.atEOD = false
		d.pastBOT = true
		return n, fmt.Errorf("read record (buffer %d bytes): %w", n, err)
	}
	return 0, fmt.Errorf("read record: %w", err)
}

// WriteRecord writes p as one variable-length record (WRITE(6), FIXED=0).
// Early warning (EOM with NO SENSE) returns ErrEarlyWarning after the
// record was written; VOLUME OVERFLOW returns ErrEndOfMedium.
func (d *Drive) WriteRecord(ctx context.Context, p []byte) error {
	cdb, err := write6CDB(len(p))
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	if err := d.prepareWrite(ctx); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	_, _, err = d.exec(ctx, "WRITE(6)", &Command{CDB: cdb, Dir: DirOut, Data: p, Timeout: timeoutIO})
	if err == nil || errors.Is(err, device.ErrEarlyWarning) {
		d.atEOD = true
		d.pastBOT = true
	}
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// WriteFilemarks writes n filemarks (WRITE FILEMARKS(6), IMMED=0), which
// also flushes the drive buffer to the medium.
func (d *Drive) WriteFilemarks(ctx context.Context, n int) error {
	cdb, err := writeFilemarks6CDB(n)
	if err != nil {
		return fmt.Errorf("write filemarks: %w", err)
	}
	if err := d.prepareWrite(ctx); err != nil {
		return fmt.Errorf("write filemarks: %w", err)
	}
	err = d.run(ctx, "WRITE FILEMARKS(6)", cdb, timeoutIO)
	if err == nil || errors.Is(err, device.ErrEarlyWarning) {
		d.atEOD = true
		if n > 0 {
			d.pastBOT = true
			d.noteFileStart(ctx, false)
		}
	}
	if err != nil {
		return fmt.Errorf("write %d filemarks: %w", n, err)
	}
	return nil
}

// Erase erases from the current position (ERASE(6)); long overwrites to
// the end of the partition and may take hours.
func (d *Drive) Erase(ctx context.Context, long bool) error {
	if err := d.prepareWrite(ctx); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	d.writing = false
	timeout := timeoutPosition
	if long {
		timeout = timeoutErase
	}
	if err := d.run(ctx, "ERASE(6)", erase6CDB(long), timeout); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	d.atEOD = true
	return nil
}

// Format rewinds and formats the medium (FORMAT MEDIUM, default format, one
// partition), leaving an empty tape at BOT. LTO-9 media may run their
// initialization here, which takes up to two hours.
func (d *Drive) Format(ctx context.Context) error {
	if err := d.Rewind(ctx); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	if err := d.run(ctx, "FORMAT MEDIUM", formatMediumCDB(), timeoutFormat); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	d.forgetMedium()
	d.atEOD = true
	return nil
}

// SetLock sends PREVENT ALLOW MEDIUM REMOVAL.
func (d *Drive) SetLock(ctx context.Context, locked bool) error {
	if err := d.run(ctx, "PREVENT ALLOW MEDIUM REMOVAL", preventAllowCDB(locked), timeoutShort); err != nil {
		return fmt.Errorf("set medium lock: %w", err)
	}
	d.locked = locked
	return nil
}

func (d *Drive) readTapeAlerts(ctx context.Context) (device.TapeAlertFlags, error) {
	b, err := d.in(ctx, "LOG SENSE (TapeAlert)", logSenseCDB(logPageTapeAlert, defaultAlloc), defaultAlloc, timeoutShort)
	if err != nil {
		return 0, err
	}
	return ParseTapeAlert(b)
}

// TapeAlerts reads the TapeAlert log page 2Eh. Flags that Status read
// since the last call are included, since the read cleared them in the
// drive.
func (d *Drive) TapeAlerts(ctx context.Context) (device.TapeAlertFlags, error) {
	f, err := d.readTapeAlerts(ctx)
	if err != nil {
		return 0, fmt.Errorf("read TapeAlert flags: %w", err)
	}
	f |= d.pendingAlerts
	d.pendingAlerts = 0
	return f, nil
}

// VolumeStatistics reads the volume statistics log page 17h (LTO-5 and
// later). ErrNoMedium when no cartridge is loaded.
func (d *Drive) VolumeStatistics(ctx context.Context) (device.VolumeStatistics, error) {
	b, err := d.in(ctx, "LOG SENSE (volume statistics)", logSenseCDB(logPageVolumeStatistics, defaultAlloc), defaultAlloc, timeoutShort)
	if err != nil {
		return device.VolumeStatistics{}, fmt.Errorf("read volume statistics: %w", err)
	}
	vs, err := ParseVolumeStatistics(b)
	if err != nil {
		return device.VolumeStatistics{}, fmt.Errorf("read volume statistics: %w", err)
	}
	return vs, nil
}

// mamAlloc is large enough for every attribute an LTO cartridge holds.
const mamAlloc = 64 << 10

// CartridgeMemory reads all MAM attributes (READ ATTRIBUTE, ATTRIBUTE
// VALUES from attribute 0).
func (d *Drive) CartridgeMemory(ctx context.Context) ([]device.MAMAttribute, error) {
	b, err := d.in(ctx, "READ ATTRIBUTE", readAttributeCDB(0, mamAlloc), mamAlloc, timeoutShort)
	if err != nil {
		return nil, fmt.Errorf("read cartridge memory: %w", err)
	}
	attrs, err := ParseAttributes(b)
	if err != nil {
		return nil, fmt.Errorf("read cartridge memory: %w", err)
	}
	return attrs, nil
}

// SetEncryptionKey sets (32-byte key) or clears (nil) the data encryption
// key: SECURITY PROTOCOL IN reads the capabilities to find the AES-256-GCM
// algorithm index, SECURITY PROTOCOL OUT sends the set data encryption page
// (encrypt, mixed decryption, plain key), and the status page confirms it
// when the drive reports it. Clearing on a drive without encryption support
// succeeds; setting fails with ErrUnsupported.
func (d *Drive) SetEncryptionKey(ctx context.Context, key []byte) error {
	if key != nil && len(key) != 32 {
		return fmt.Errorf("set encryption key: key is %d bytes, want 32 (AES-256)", len(key))
	}
	b, err := d.in(ctx, "SECURITY PROTOCOL IN (encryption capabilities)",
		securityProtocolInCDB(pageEncryptionCaps, defaultAlloc), defaultAlloc, timeoutShort)
	if err != nil {
		if isIllegalRequest(err) {
			if key == nil {
				d.keySet = false
				return nil
			}
			return fmt.Errorf("set encryption key: drive has no tape data encryption: %w", device.ErrUnsupported)
		}
		return fmt.Errorf("set encryption key: %w", err)
	}
	index, err := ParseEncryptionCaps(b)
	if err != nil {
		if key == nil && errors.Is(err, device.ErrUnsupported) {
			d.keySet = false
			return nil
		}
		return fmt.Errorf("set encryption key: %w", err)
	}
	page := buildSetDataEncryption(index, key)
	if err := d.out(ctx, "SECURITY PROTOCOL OUT (set data encryption)",
		securityProtocolOutCDB(pageSetDataEncryption, uint32(len(page))), page, timeoutShort); err != nil {
		return fmt.Errorf("set encryption key: %w", err)
	}
	d.keySet = key != nil
	b, err = d.in(ctx, "SECURITY PROTOCOL IN (encryption status)",
		securityProtocolInCDB(pageEncryptionStatus, defaultAlloc), defaultAlloc, timeoutShort)
	if err != nil {
		// The status page needs a loaded cartridge on some drives; the
		// key was accepted.
		return nil
	}
	es, err := ParseEncryptionStatus(b)
	if err != nil {
		return fmt.Errorf("set encryption key: %w", err)
	}
	if on := es.EncryptionMode != 0; on != (key != nil) {
		return fmt.Errorf("set encryption key: drive reports encryption mode %d after the change", es.EncryptionMode)
	}
	return nil
}

// modeSense reads the block descriptor and the data compression page.
func (d *Drive) modeSense(ctx context.Context) (ModeData, error) {
	b, err := d.in(ctx, "MODE SENSE(6)", modeSense6CDB(false, 0x0F, 255), 255, timeoutShort)
	if err != nil {
		return ModeData{}, err
	}
	return ParseModeSense6(b)
}

// SetOptions changes block size, buffer mode and compression with a
// MODE SENSE / MODE SELECT(6) read-modify-write.
func (d *Drive) SetOptions(ctx context.Context, opts device.DriveOptions) error {
	if opts.BlockSize == nil && opts.Compression == nil && opts.BufferMode == nil {
		return nil
	}
	md, err := d.modeSense(ctx)
	if err != nil {
		return fmt.Errorf("set drive options: %w", err)
	}
	data, err := buildModeSelect6(md, opts)
	if err != nil {
		return fmt.Errorf("set drive options: %w", err)
	}
	if err := d.out(ctx, "MODE SELECT(6)", modeSelect6CDB(uint8(len(data))), data, timeoutShort); err != nil {
		return fmt.Errorf("set drive options: %w", err)
	}
	return nil
}

// Close clears a data encryption key still set, so the key does not stay
// in the drive for the next user, and closes the device.
func (d *Drive) Close() error {
	var keyErr error
	if d.keySet {
		keyErr = d.SetEncryptionKey(context.Background(), nil)
	}
	err := d.tr.Close()
	if keyErr != nil {
		return fmt.Errorf("close: clearing the encryption key failed: %w", keyErr)
	}
	return err
}

// isIllegalRequest reports whether err is a CHECK CONDITION with ILLEGAL
// REQUEST: the device does not support the command or page.
func isIllegalRequest(err error) bool {
	s, ok := senseOf(err)
	return ok && s.Key == KeyIllegalRequest
}
