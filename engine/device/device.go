package device

import "context"

// Info identifies a device, as INQUIRY and the unit serial number VPD page
// report it.
type Info struct {
	Vendor string `json:"vendor"`
	Model  string `json:"model"`
	Serial string `json:"serial"`
	// Revision is the firmware revision, if known.
	Revision string `json:"revision,omitempty"`
}

// Position is a tape position as READ POSITION reports it, plus the file and
// record numbers a tape driver keeps.
type Position struct {
	// Object is the logical object number counted from BOT: every record
	// and every filemark is one object.
	Object uint64 `json:"object"`
	// File is the number of filemarks between BOT and the position.
	File uint64 `json:"file"`
	// Record is the number of records between the last filemark (or BOT)
	// and the position.
	Record uint64 `json:"record"`
}

// SpaceKind selects what Space counts.
type SpaceKind int

const (
	// SpaceRecords spaces over records; a filemark stops the operation
	// (ErrFilemark, positioned after the filemark when going forward, before
	// it when going backward).
	SpaceRecords SpaceKind = iota
	// SpaceFilemarks spaces over filemarks. Forward ends after the count-th
	// filemark; backward ends before (on the BOT side of) the count-th
	// filemark.
	SpaceFilemarks
	// SpaceEndOfData positions at end of data; count is ignored.
	SpaceEndOfData
)

func (k SpaceKind) String() string {
	switch k {
	case SpaceRecords:
		return "records"
	case SpaceFilemarks:
		return "filemarks"
	case SpaceEndOfData:
		return "end-of-data"
	}
	return "unknown"
}

// DriveStatus is what a drive reports about itself and its medium.
type DriveStatus struct {
	// Online is false when the device does not answer; other fields are
	// then zero.
	Online bool `json:"online"`
	// MediumPresent: a cartridge is in the drive.
	MediumPresent bool `json:"medium-present"`
	// Loaded: the cartridge is threaded and ready for I/O.
	Loaded bool `json:"loaded"`
	// WriteProtected: the loaded cartridge cannot be written.
	WriteProtected bool `json:"write-protected,omitempty"`
	// Cleaning: the loaded cartridge is a cleaning cartridge.
	Cleaning bool `json:"cleaning,omitempty"`
	// BlockSize is the fixed block size; 0 means variable block mode.
	BlockSize uint32 `json:"blocksize"`
	// Density is the medium density/generation, e.g. "LTO-8".
	Density string `json:"density,omitempty"`
	// Compression: hardware compression enabled.
	Compression bool `json:"compression"`
	// BufferMode: buffered writes enabled (SCSI MODE SENSE).
	BufferMode bool `json:"buffer-mode"`
	// Encryption: a data encryption key is set in the drive.
	Encryption bool `json:"encryption"`
	// Locked: medium removal is prevented.
	Locked bool `json:"locked,omitempty"`
	// Position is valid when Loaded and not PositionUnknown.
	Position Position `json:"position"`
	// PositionUnknown: the device does not report a usable position
	// (ReadPosition fails with ErrUnsupported); Position is zero and
	// AtBOT false.
	PositionUnknown bool `json:"position-unknown,omitempty"`
	// AtBOT, AtEOD, PastEarlyWarning describe the position. AtEOD is
	// known only from this handle's own operations: a SCSI drive does
	// not report end of data, so a drive opened anew (another process)
	// says AtEOD false until it moves there.
	AtBOT            bool `json:"bot,omitempty"`
	AtEOD            bool `json:"eod,omitempty"`
	PastEarlyWarning bool `json:"early-warning,omitempty"`
	// Alerts are the TapeAlert flags currently set.
	Alerts TapeAlertFlags `json:"alert-flags"`
	// Sim is set by simulated drives (vtape): accumulated simulated tape
	// time and back-hitches.
	Sim *SimStats `json:"sim,omitempty"`
}

// SimStats are the counters of a simulated drive's timing model.
type SimStats struct {
	// TapeSeconds is the simulated time the drive spent on mechanical
	// work and data transfer since the counters were reset.
	TapeSeconds float64 `json:"tape-seconds"`
	// BackHitches counts stop/reposition/restart cycles caused by a host
	// that fed or drained data slower than the drive's slowest speed.
	BackHitches uint64 `json:"back-hitches"`
	// Loads, Locates count cartridge loads and locate/space operations.
	Loads   uint64 `json:"loads"`
	Locates uint64 `json:"locates"`
	// BytesWritten, BytesRead count host data since the reset.
	BytesWritten uint64 `json:"bytes-written"`
	BytesRead    uint64 `json:"bytes-read"`
}

// VolumeStatistics is the SSC volume statistics log page (17h) of the loaded
// cartridge, lifetime values.
type VolumeStatistics struct {
	VolumeMounts                     uint64 `json:"volume-mounts"`
	VolumeDatasetsWritten            uint64 `json:"volume-datasets-written"`
	VolumeRecoveredWriteDataErrors   uint64 `json:"volume-recovered-write-data-errors"`
	VolumeUnrecoveredWriteDataErrors uint64 `json:"volume-unrecovered-write-data-errors"`
	VolumeDatasetsRead               uint64 `json:"volume-datasets-read"`
	VolumeRecoveredReadErrors        uint64 `json:"volume-recovered-read-errors"`
	VolumeUnrecoveredReadErrors      uint64 `json:"volume-unrecovered-read-errors"`
	LastMountBytesWritten            uint64 `json:"last-mount-bytes-written"`
	LastMountBytesRead               uint64 `json:"last-mount-bytes-read"`
	LifetimeBytesWritten             uint64 `json:"lifetime-bytes-written"`
	LifetimeBytesRead                uint64 `json:"lifetime-bytes-read"`
	BeginningOfMediumPasses          uint64 `json:"beginning-of-medium-passes"`
	MiddleOfTapePasses               uint64 `json:"middle-of-tape-passes"`
	Serial                           string `json:"serial"`
	WriteProtect                     bool   `json:"write-protect"`
}

// MAMAttribute is one cartridge memory (medium auxiliary memory) attribute.
type MAMAttribute struct {
	ID    uint16 `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Drive is a tape drive (SSC). A Drive value is used by one goroutine at a
// time (the engine's drive owner); implementations need not be safe for
// concurrent use. Open implementations hold an exclusive lock on the device
// until Close, so two processes never drive the same drive.
//
// Every method honours ctx only before the device starts an operation: a
// positioning or write that has begun runs to completion, as on hardware.
type Drive interface {
	// Info reports vendor, model and serial number.
	Info(ctx context.Context) (Info, error)

	// Status reports drive and medium state. It succeeds on an empty
	// drive (MediumPresent false) and on an offline device (Online false,
	// nil error) when the implementation can tell.
	Status(ctx context.Context) (DriveStatus, error)

	// Load threads the cartridge that is in the drive and positions at
	// BOT. ErrNoMedium if the drive is empty. A drive may load a cartridge
	// a changer moved into it by itself; Status.Loaded tells. Loading a
	// cleaning cartridge runs a cleaning cycle and returns nil; the
	// cartridge is then not usable for I/O: reads and writes return
	// ErrBadCartridge (writes may return ErrWriteProtected) until it leaves
	// the drive, also when the drive unthreaded it after the cycle, so no
	// caller mistakes it for a data cartridge to load again.
	Load(ctx context.Context) error

	// Unload rewinds and unthreads the cartridge so a changer can take it
	// or an operator can remove it (eject). ErrMediumLocked if removal is
	// prevented. Unloading an empty drive returns ErrNoMedium.
	Unload(ctx context.Context) error

	// Rewind positions at BOT.
	Rewind(ctx context.Context) error

	// Space moves count objects of the given kind, forward for count > 0,
	// backward for count < 0. See SpaceKind for where each ends. Going past
	// end of data forward returns ErrEndOfData (positioned at EOD); going
	// before BOT returns ErrBeginningOfMedium (positioned at BOT).
	Space(ctx context.Context, kind SpaceKind, count int64) error

	// Locate positions at the given logical object number. Locating past
	// end of data returns ErrEndOfData, positioned at EOD.
	Locate(ctx context.Context, object uint64) error

	// ReadPosition reports the current position.
	ReadPosition(ctx context.Context) (Position, error)

	// ReadRecord reads the record at the current position into buf and
	// returns its length, advancing past it. At a filemark it returns
	// (0, ErrFilemark) positioned after the filemark; at end of data
	// (0, ErrEndOfData). A record longer than buf fills buf and returns
	// (len(buf), ErrRecordTooLong), positioned after the record. An
	// unreadable record returns ErrMediumError (positioned after it); an
	// encrypted record without the right key returns ErrEncrypted
	// (positioned at it, nothing returned).
	ReadRecord(ctx context.Context, buf []byte) (int, error)

	// WriteRecord writes p as one record at the current position; every
	// object after it is discarded. Past early warning it returns
	// ErrEarlyWarning after writing (every write until EOM does); at
	// physical end ErrEndOfMedium without writing, the position unchanged.
	// ErrWriteProtected for protected media. A write error returns
	// ErrMediumError; what was written before the failed record stays.
	WriteRecord(ctx context.Context, p []byte) error

	// WriteFilemarks writes n filemarks (n may be 0 to flush buffers).
	// Same early warning rules as WriteRecord. When WriteFilemarks
	// returns, every object before it is on the medium (the call is the
	// synchronisation point: SCSI WRITE FILEMARKS with IMMED=0).
	WriteFilemarks(ctx context.Context, n int) error

	// Erase erases from the current position to the end of the medium.
	// long erases physically (slow); short only writes end of data at the
	// current position. Afterwards the position is unchanged and is end of
	// data.
	Erase(ctx context.Context, long bool) error

	// Format formats the medium (LTO-5+: FORMAT MEDIUM), leaving an empty
	// tape positioned at BOT. Everything on it is lost.
	Format(ctx context.Context) error

	// SetLock prevents (true) or allows (false) medium removal.
	SetLock(ctx context.Context, locked bool) error

	// TapeAlerts reads the TapeAlert log page; reading clears the flags
	// that the drive clears on read, as hardware does.
	TapeAlerts(ctx context.Context) (TapeAlertFlags, error)

	// VolumeStatistics reads the volume statistics of the loaded
	// cartridge. ErrNoMedium if none.
	VolumeStatistics(ctx context.Context) (VolumeStatistics, error)

	// CartridgeMemory reads the medium auxiliary memory attributes of the
	// cartridge in the drive. ErrNoMedium if none.
	CartridgeMemory(ctx context.Context) ([]MAMAttribute, error)

	// SetEncryptionKey sets the 256-bit data encryption key used for
	// subsequent writes and reads (SSC security protocol, AES-256-GCM on
	// LTO-4+). A nil key clears it: writes are then plain, and reads of
	// encrypted records fail with ErrEncrypted. The key stays set until
	// cleared or the cartridge is unloaded.
	SetEncryptionKey(ctx context.Context, key []byte) error

	// SetOptions changes drive options: block size (0 = variable),
	// compression, buffer mode. A nil field leaves the option as is.
	SetOptions(ctx context.Context, opts DriveOptions) error

	// Close releases the device lock. The medium stays where it is.
	Close() error
}

// DriveOptions are the settable drive options (MODE SELECT).
type DriveOptions struct {
	BlockSize   *uint32
	Compression *bool
	BufferMode  *bool
}

// ElementKind is the kind of a changer element.
type ElementKind int

const (
	// ElementDrive is a data transfer element; IDs count from 0.
	ElementDrive ElementKind = iota
	// ElementSlot is a storage element; IDs count from 1.
	ElementSlot
	// ElementImportExport is an import/export (mail) slot. IDs continue
	// the storage slot numbering: with 16 storage slots the first
	// import/export slot is 17 (as mtx numbers them).
	ElementImportExport
)

func (k ElementKind) String() string {
	switch k {
	case ElementDrive:
		return "drive"
	case ElementSlot:
		return "slot"
	case ElementImportExport:
		return "import-export"
	}
	return "unknown"
}

// Element addresses one element of a changer.
type Element struct {
	Kind ElementKind `json:"kind"`
	ID   int         `json:"id"`
}

// ElementStatus is the state of one changer element (READ ELEMENT STATUS).
type ElementStatus struct {
	Element
	// Full: the element holds a cartridge.
	Full bool `json:"full"`
	// VolumeTag is the cartridge barcode ("" when unreadable or empty).
	VolumeTag string `json:"volume-tag,omitempty"`
	// SourceSlot, for a full drive, is the storage slot the cartridge came
	// from (0 when unknown).
	SourceSlot int `json:"source-slot,omitempty"`
}

// ChangerStatus lists every element of a changer: drives first, then storage
// slots, then import/export slots, each in ID order.
type ChangerStatus struct {
	Drives       []ElementStatus `json:"drives"`
	Slots        []ElementStatus `json:"slots"`
	ImportExport []ElementStatus `json:"import-export"`
}

// Changer is a media changer (SMC). Like Drive, one goroutine uses a value at
// a time and Open holds an exclusive lock until Close.
type Changer interface {
	// Info reports vendor, model and serial number.
	Info(ctx context.Context) (Info, error)

	// Status reads the element status of all elements, with barcodes.
	Status(ctx context.Context) (ChangerStatus, error)

	// Move moves the cartridge in from to the empty element to. Moving
	// out of a drive requires the drive to have unloaded the cartridge
	// (ErrNotReady otherwise) and no medium lock (ErrMediumLocked).
	// ErrSourceEmpty, ErrDestinationFull and ErrInvalidElement are
	// permanent.
	Move(ctx context.Context, from, to Element) error

	// Inventory makes the changer re-read every barcode (INITIALIZE
	// ELEMENT STATUS).
	Inventory(ctx context.Context) error

	// Close releases the device lock.
	Close() error
}

// ScanEntry is one device found by a scan.
type ScanEntry struct {
	Path string `json:"path"`
	Info
}

// Opener opens devices by path. The engine receives one from the command
// layer, which knows the implementations (vtape, sgio).
type Opener interface {
	OpenDrive(path string) (Drive, error)
	OpenChanger(path string) (Changer, error)
	ScanDrives() ([]ScanEntry, error)
	ScanChangers() ([]ScanEntry, error)
}

// Estimate describes tape work for an Estimator.
type Estimate struct {
	// Loads is the number of cartridges loaded (and unloaded again).
	Loads int
	// Locates is the number of positioning operations.
	Locates int
	// Bytes is the data read or written.
	Bytes int64
}

// Estimator is implemented by drives that can tell how long work would
// take on tape (the virtual drive's timing model); restore plans use it
// for --dry-run. It never moves the tape.
type Estimator interface {
	EstimateSeconds(e Estimate) float64
	// MinStreamRate is the slowest data rate in bytes/s at which the drive
	// still streams; a host that feeds it slower makes it back-hitch.
	MinStreamRate() float64
}
