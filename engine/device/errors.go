package device

import "errors"

// Sentinel errors of the device contract. Implementations wrap them with
// context (fmt.Errorf("...: %w", ErrX)); callers use errors.Is.
//
// Permanent errors say something about the medium or the request and are not
// cured by retrying: ErrMediumError, ErrEncrypted, ErrWriteProtected,
// ErrInvalidElement, ErrSourceEmpty, ErrDestinationFull, ErrBadCartridge.
// Transient conditions may clear: ErrNotReady, ErrBusy, ErrOffline.
var (
	// ErrNoMedium: no cartridge is in the drive (SCSI NOT READY, medium not
	// present).
	ErrNoMedium = errors.New("no medium in drive")

	// ErrNotReady: a cartridge is in the drive but not threaded/loaded
	// (call Load), or the drive is becoming ready.
	ErrNotReady = errors.New("drive not ready")

	// ErrOffline: the device does not answer (powered off, cable, or an
	// injected fault on vtape).
	ErrOffline = errors.New("device offline")

	// ErrBusy: the device is opened by another process or job.
	ErrBusy = errors.New("device busy")

	// ErrFilemark: ReadRecord or Space(Records) met a filemark. The tape is
	// positioned after that filemark (at the start of the next file).
	ErrFilemark = errors.New("filemark encountered")

	// ErrEndOfData: a read or space reached end of data (SCSI BLANK CHECK).
	// The tape is positioned at end of data.
	ErrEndOfData = errors.New("end of data")

	// ErrBeginningOfMedium: a backward space reached beginning of tape. The
	// tape is positioned at BOT.
	ErrBeginningOfMedium = errors.New("beginning of medium")

	// ErrEarlyWarning: the write succeeded, but the tape is past logical
	// end of medium (LEOM). The writer should finish its current file and
	// continue on another tape. Returned by WriteRecord and WriteFilemarks.
	ErrEarlyWarning = errors.New("early warning: logical end of medium")

	// ErrEndOfMedium: the tape is physically full; nothing was written.
	ErrEndOfMedium = errors.New("end of medium: tape full")

	// ErrMediumError: an unrecoverable read or write error on the medium
	// (SCSI MEDIUM ERROR). Permanent for that position.
	ErrMediumError = errors.New("medium error")

	// ErrEncrypted: the record is encrypted and the drive has no key, or the
	// wrong key (SCSI DATA PROTECT, encryption). Nothing was returned.
	ErrEncrypted = errors.New("record is encrypted: no or wrong encryption key")

	// ErrWriteProtected: the cartridge is write protected (or a cleaning
	// cartridge).
	ErrWriteProtected = errors.New("medium is write protected")

	// ErrRecordTooLong: the record is larger than the read buffer (SCSI
	// ILI with positive residue). The buffer holds the first len(buf)
	// bytes; the tape is positioned after the record.
	ErrRecordTooLong = errors.New("record larger than buffer")

	// ErrBadCartridge: the loaded cartridge cannot be used for data (for
	// example a cleaning cartridge).
	ErrBadCartridge = errors.New("cartridge cannot be used for data")

	// ErrCleaningRequired: the drive needs cleaning before it accepts
	// further media (TapeAlert 20 with a hard stop).
	ErrCleaningRequired = errors.New("drive requires cleaning")

	// ErrInvalidElement: a changer element address that does not exist.
	ErrInvalidElement = errors.New("invalid element address")

	// ErrSourceEmpty: move medium from an empty element.
	ErrSourceEmpty = errors.New("source element is empty")

	// ErrDestinationFull: move medium to an element that holds a cartridge.
	ErrDestinationFull = errors.New("destination element is full")

	// ErrMediumLocked: the drive prevents medium removal (Lock) and an
	// unload or move was requested.
	ErrMediumLocked = errors.New("medium removal prevented")

	// ErrUnsupported: the device does not implement the operation.
	ErrUnsupported = errors.New("operation not supported by device")
)
