package vtape

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
)

// File names inside a library directory.
const (
	libraryFile    = "library.json"
	libraryLock    = "library.lock"
	changerLock    = "changer.lock"
	cartridgesDir  = "cartridges"
	stateVersion   = 1
	defaultUses    = 50
	vaultLocation  = "vault"
	maxRecordBytes = 16 << 20
)

// LibraryOptions configure a new library.
type LibraryOptions struct {
	// Drives, Slots, ImportExport: number of drives, storage slots
	// (1..Slots) and import/export slots (Slots+1..Slots+ImportExport).
	Drives       int `json:"drives"`
	Slots        int `json:"slots"`
	ImportExport int `json:"import-export"`
	// Cartridges is the number of data cartridges placed in slots 1.. at
	// creation.
	Cartridges int `json:"cartridges"`
	// BarcodePrefix starts the data cartridge barcodes: "TEST" gives
	// TEST01L8, TEST02L8, ...
	BarcodePrefix string `json:"barcode-prefix"`
	// Cleaning is the number of cleaning cartridges (CLN001CU, ...) placed
	// in the slots after the data cartridges.
	Cleaning int `json:"cleaning"`
	// Generation is "LTO-5".."LTO-9"; "" means LTO-8.
	Generation string `json:"generation"`
	// Capacity is the capacity of each cartridge in bytes; 0 means the
	// generation's native capacity. Files are sparse: nothing is
	// preallocated.
	Capacity int64 `json:"capacity"`
	// CleaningUses is the number of cleaning cycles of a new cleaning
	// cartridge; 0 means 50.
	CleaningUses int `json:"cleaning-uses"`
}

// CartridgeOptions configure a cartridge an operator inserts.
type CartridgeOptions struct {
	// Capacity in bytes; 0 means the library's capacity.
	Capacity int64 `json:"capacity,omitempty"`
	// WriteProtected sets the write-protect tab.
	WriteProtected bool `json:"write-protected,omitempty"`
	// CleaningUses for a new cleaning cartridge; 0 means the library's.
	CleaningUses int `json:"cleaning-uses,omitempty"`
}

// Fault is injected misbehaviour, persisted in library.json so that every
// process using the library sees it. Object numbers and byte offsets of -1
// mean "none"; NoFault returns a Fault with nothing injected.
type Fault struct {
	// WriteErrorAt: writing object number N fails with ErrMediumError
	// (cartridge fault).
	WriteErrorAt int64 `json:"write-error-at"`
	// ReadErrorAt: reading object number N fails with ErrMediumError
	// (cartridge fault).
	ReadErrorAt int64 `json:"read-error-at"`
	// EarlyWarningAt moves early warning (LEOM) to this many bytes of data
	// (cartridge fault).
	EarlyWarningAt int64 `json:"early-warning-at"`
	// Offline: a drive answers nothing (ErrOffline; Status reports
	// Online false); a cartridge fails to load (ErrBadCartridge).
	Offline bool `json:"offline"`
	// CleaningRequired: a drive raises TapeAlert 20 (CLEAN_NOW) and refuses
	// to load data cartridges (ErrCleaningRequired) until it is cleaned; a
	// cartridge with this fault dirties every drive that loads it.
	CleaningRequired bool `json:"cleaning-required"`
}

// NoFault returns a Fault that injects nothing.
func NoFault() Fault {
	return Fault{WriteErrorAt: -1, ReadErrorAt: -1, EarlyWarningAt: -1}
}

// LibraryState is the content of library.json.
type LibraryState struct {
	Version int            `json:"version"`
	UUID    string         `json:"uuid"`
	Options LibraryOptions `json:"options"`
	// Drives are the drive elements, drive 0 first.
	Drives []DriveElement `json:"drives"`
	// Slots are the storage slots followed by the import/export slots;
	// Slots[i] has ID i+1.
	Slots []SlotElement `json:"slots"`
	// Cartridges are all cartridges the library knows, by barcode,
	// including those removed to the vault.
	Cartridges map[string]*CartridgeState `json:"cartridges"`
}

// DriveElement is the shared state of one drive.
type DriveElement struct {
	// Barcode of the cartridge in the drive, "" when empty.
	Barcode string `json:"barcode,omitempty"`
	// Source is the slot the cartridge came from.
	Source int `json:"source,omitempty"`
	// Loaded: the cartridge is threaded (by Load or by auto-load on a
	// changer move) and must be unloaded before it can be moved out.
	Loaded bool `json:"loaded,omitempty"`
	// LoadSeq counts threadings; a drive handle that sees it change knows a
	// new mount started.
	LoadSeq uint64 `json:"load-seq"`
	// CleanedSeq is the LoadSeq whose cleaning cartridge already ran its
	// cycle (one cycle per insertion).
	CleanedSeq uint64 `json:"cleaned-seq,omitempty"`
	// CleanCount counts cleaning cycles; drive handles reset their periodic
	// cleaning counter when it changes.
	CleanCount uint64 `json:"clean-count"`
	// Locked: medium removal prevented.
	Locked bool `json:"locked,omitempty"`
	// Alerts are the pending TapeAlert flags that clear when read.
	Alerts device.TapeAlertFlags `json:"alerts,omitempty"`
	// Fault is the injected drive fault.
	Fault Fault `json:"fault"`
}

// SlotElement is one storage or import/export slot.
type SlotElement struct {
	ID           int    `json:"id"`
	ImportExport bool   `json:"import-export,omitempty"`
	Barcode      string `json:"barcode,omitempty"`
}

// CartridgeState is the library's record of one cartridge.
type CartridgeState struct {
	Barcode    string `json:"barcode"`
	Serial     string `json:"serial"`
	Generation string `json:"generation"`
	Capacity   int64  `json:"capacity"`
	Cleaning   bool   `json:"cleaning,omitempty"`
	// UsesLeft counts the remaining cycles of a cleaning cartridge.
	UsesLeft       int       `json:"uses-left,omitempty"`
	WriteProtected bool      `json:"write-protected,omitempty"`
	Manufactured   time.Time `json:"manufactured"`
	// Location is "slot N", "drive N" or "vault" (removed by an operator).
	Location string `json:"location"`
	Fault    Fault  `json:"fault"`
}

var (
	prefixRE  = regexp.MustCompile(`^[A-Z0-9]{0,5}$`)
	barcodeRE = regexp.MustCompile(`^[A-Z0-9]{6}(L[5-9]|CU)$`)
)

// IsCleaningBarcode reports whether barcode names a cleaning cartridge.
func IsCleaningBarcode(barcode string) bool {
	return strings.HasPrefix(strings.ToUpper(barcode), "CLN")
}

// Create makes a new library in dir (created if missing) with the data
// cartridges in slots 1.. and the cleaning cartridges after them. It refuses
// a directory that already holds a library.
func Create(dir string, opts LibraryOptions) error {
	if IsLibrary(dir) {
		return fmt.Errorf("%s already holds a virtual tape library; choose another directory", dir)
	}
	st, err := newState(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, cartridgesDir), fileutil.PrivateDir); err != nil {
		return fmt.Errorf("create library: %w", err)
	}
	for n := range st.Drives {
		if err := os.MkdirAll(DrivePath(dir, n), fileutil.PrivateDir); err != nil {
			return fmt.Errorf("create library: %w", err)
		}
	}
	for _, c := range st.Cartridges {
		if err := createCartridgeFiles(dir, c.Barcode); err != nil {
			return err
		}
	}
	return withFileLock(filepath.Join(dir, libraryLock), true, func() error {
		if IsLibrary(dir) {
			return fmt.Errorf("%s already holds a virtual tape library; choose another directory", dir)
		}
		return writeState(dir, st)
	})
}

func newState(opts LibraryOptions) (*LibraryState, error) {
	gen, err := normalizeGeneration(opts.Generation)
	if err != nil {
		return nil, err
	}
	opts.Generation = gen
	timing, _ := TimingFor(gen)
	if opts.CleaningUses == 0 {
		opts.CleaningUses = defaultUses
	}
	switch {
	case opts.Drives < 0, opts.Slots < 0, opts.ImportExport < 0, opts.Cartridges < 0, opts.Cleaning < 0, opts.Capacity < 0, opts.CleaningUses < 0:
		return nil, fmt.Errorf("library options must not be negative: %+v", opts)
	case opts.Drives == 0:
		return nil, errors.New("a library needs at least one drive")
	case opts.Cartridges+opts.Cleaning > opts.Slots:
		return nil, fmt.Errorf("%d data and %d cleaning cartridges do not fit in %d slots; add slots", opts.Cartridges, opts.Cleaning, opts.Slots)
	case opts.Cleaning > 999:
		return nil, fmt.Errorf("at most 999 cleaning cartridges (CLN001CU..CLN999CU), got %d", opts.Cleaning)
	}
	opts.BarcodePrefix = strings.ToUpper(opts.BarcodePrefix)
	var barcodes []string
	if opts.Cartridges > 0 {
		barcodes, err = dataBarcodes(opts.BarcodePrefix, opts.Cartridges, timing.MediaType)
		if err != nil {
			return nil, err
		}
	}
	st := &LibraryState{
		Version:    stateVersion,
		UUID:       uuid.NewString(),
		Options:    opts,
		Drives:     make([]DriveElement, opts.Drives),
		Cartridges: map[string]*CartridgeState{},
	}
	for i := range st.Drives {
		st.Drives[i].Fault = NoFault()
	}
	for i := range opts.Slots + opts.ImportExport {
		st.Slots = append(st.Slots, SlotElement{ID: i + 1, ImportExport: i >= opts.Slots})
	}
	for i := range opts.Cleaning {
		barcodes = append(barcodes, fmt.Sprintf("CLN%03dCU", i+1))
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, bc := range barcodes {
		c := st.newCartridge(bc, CartridgeOptions{}, now)
		st.Cartridges[bc] = c
		st.Slots[i].Barcode = bc
		c.Location = "slot " + strconv.Itoa(i+1)
	}
	return st, nil
}

// dataBarcodes makes n volsers of prefix + zero-padded number (6 chars)
// followed by the media type.
func dataBarcodes(prefix string, n int, media string) ([]string, error) {
	if !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("barcode prefix %q must be 0 to 5 letters or digits", prefix)
	}
	if strings.HasPrefix(prefix, "CLN") {
		return nil, fmt.Errorf("barcode prefix %q is reserved for cleaning cartridges", prefix)
	}
	digits := 6 - len(prefix)
	limit := 1
	for range digits {
		limit *= 10
	}
	if n >= limit {
		return nil, fmt.Errorf("barcode prefix %q leaves %d digits, too few for %d cartridges; use a shorter prefix", prefix, digits, n)
	}
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("%s%0*d%s", prefix, digits, i+1, media)
	}
	return out, nil
}

func (st *LibraryState) newCartridge(barcode string, opts CartridgeOptions, now time.Time) *CartridgeState {
	c := &CartridgeState{
		Barcode:        barcode,
		Serial:         cartridgeSerial(st.UUID, barcode),
		Generation:     generationOfBarcode(barcode, st.Options.Generation),
		Capacity:       opts.Capacity,
		WriteProtected: opts.WriteProtected,
		Manufactured:   now,
		Fault:          NoFault(),
	}
	if c.Capacity == 0 && c.Generation == st.Options.Generation {
		c.Capacity = st.Options.Capacity
	}
	if c.Capacity == 0 {
		t, _ := TimingFor(c.Generation)
		c.Capacity = t.NativeCapacity
	}
	if IsCleaningBarcode(barcode) {
		c.Cleaning = true
		c.UsesLeft = opts.CleaningUses
		if c.UsesLeft == 0 {
			c.UsesLeft = st.Options.CleaningUses
		}
	}
	return c
}

func cartridgeSerial(libUUID, barcode string) string {
	id := uuid.NewSHA1(uuid.MustParse(libUUID), []byte(barcode))
	return "VT" + strings.ToUpper(strings.ReplaceAll(id.String(), "-", "")[:8])
}

// generationOfBarcode derives a cartridge generation from the media type of
// its barcode (L5..L9); cleaning and unknown labels get def.
func generationOfBarcode(barcode, def string) string {
	if len(barcode) == 8 && barcode[6] == 'L' && barcode[7] >= '5' && barcode[7] <= '9' {
		return "LTO-" + barcode[7:]
	}
	return def
}

// IsLibrary reports whether dir holds a virtual tape library.
func IsLibrary(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, libraryFile))
	return err == nil && fi.Mode().IsRegular()
}

// DrivePath returns the path of drive n of the library in dir, the path
// OpenDrive takes.
func DrivePath(dir string, n int) string {
	return filepath.Join(dir, "drive"+strconv.Itoa(n))
}

// Describe returns the library's state: options, element contents and all
// cartridges.
func Describe(dir string) (LibraryState, error) {
	st, err := readState(dir)
	if err != nil {
		return LibraryState{}, err
	}
	return *st, nil
}

// readState reads library.json under a shared lock.
func readState(dir string) (*LibraryState, error) {
	if !IsLibrary(dir) {
		return nil, fmt.Errorf("%s is not a virtual tape library (no %s); create one first", dir, libraryFile)
	}
	var st *LibraryState
	err := withFileLock(filepath.Join(dir, libraryLock), false, func() error {
		var err error
		st, err = loadStateFile(dir)
		return err
	})
	return st, err
}

func loadStateFile(dir string) (*LibraryState, error) {
	b, err := os.ReadFile(filepath.Join(dir, libraryFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a virtual tape library (no %s); create one first", dir, libraryFile)
		}
		return nil, fmt.Errorf("read library state: %w", err)
	}
	st, err := decodeState(b)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", dir, err)
	}
	return st, nil
}

// decodeState parses and validates library.json.
func decodeState(b []byte) (*LibraryState, error) {
	var st LibraryState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode %s: %w", libraryFile, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%s version %d is not supported (want %d)", libraryFile, st.Version, stateVersion)
	}
	if _, err := uuid.Parse(st.UUID); err != nil {
		return nil, fmt.Errorf("%s: bad uuid: %w", libraryFile, err)
	}
	if _, err := normalizeGeneration(st.Options.Generation); err != nil {
		return nil, err
	}
	if len(st.Drives) != st.Options.Drives || len(st.Slots) != st.Options.Slots+st.Options.ImportExport {
		return nil, fmt.Errorf("%s: element counts do not match the options", libraryFile)
	}
	if st.Cartridges == nil {
		st.Cartridges = map[string]*CartridgeState{}
	}
	seen := map[string]bool{}
	check := func(bc string) error {
		if bc == "" {
			return nil
		}
		c := st.Cartridges[bc]
		if c == nil || seen[bc] {
			return fmt.Errorf("%s: cartridge %q is unknown or in two places", libraryFile, bc)
		}
		seen[bc] = true
		return nil
	}
	for i, s := range st.Slots {
		if s.ID != i+1 {
			return nil, fmt.Errorf("%s: slot %d has id %d", libraryFile, i+1, s.ID)
		}
		if err := check(s.Barcode); err != nil {
			return nil, err
		}
	}
	for _, d := range st.Drives {
		if err := check(d.Barcode); err != nil {
			return nil, err
		}
	}
	for bc, c := range st.Cartridges {
		if c == nil || c.Barcode != bc || !validBarcode(bc) {
			return nil, fmt.Errorf("%s: bad cartridge entry %q", libraryFile, bc)
		}
	}
	return &st, nil
}

func validBarcode(bc string) bool {
	return barcodeRE.MatchString(bc) || (IsCleaningBarcode(bc) && len(bc) <= 16 && len(bc) >= 3)
}

// writeState replaces library.json atomically (temp file, fsync, rename,
// fsync of the directory). The caller holds the exclusive library lock.
func writeState(dir string, st *LibraryState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode library state: %w", err)
	}
	return fileutil.Replace(dir, libraryFile, append(b, '\n'), 0o600)
}

// updateState runs fn on the current state under the exclusive library lock
// and writes the result when fn returns nil.
func updateState(dir string, fn func(*LibraryState) error) error {
	return withFileLock(filepath.Join(dir, libraryLock), true, func() error {
		st, err := loadStateFile(dir)
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		return writeState(dir, st)
	})
}

// slot returns the slot with id, or an error wrapping ErrInvalidElement.
func (st *LibraryState) slot(id int) (*SlotElement, error) {
	if id < 1 || id > len(st.Slots) {
		return nil, fmt.Errorf("slot %d does not exist (slots 1..%d): %w", id, len(st.Slots), device.ErrInvalidElement)
	}
	return &st.Slots[id-1], nil
}

func (st *LibraryState) drive(n int) (*DriveElement, error) {
	if n < 0 || n >= len(st.Drives) {
		return nil, fmt.Errorf("drive %d does not exist (drives 0..%d): %w", n, len(st.Drives)-1, device.ErrInvalidElement)
	}
	return &st.Drives[n], nil
}

// Insert puts a cartridge into the empty slot (usually an import/export
// slot), as an operator does. A barcode the library knows from an earlier
// Remove brings that cartridge back with its data; a new barcode makes a
// blank cartridge (a cleaning cartridge for CLN* barcodes).
func Insert(dir string, slot int, barcode string, opts CartridgeOptions) error {
	barcode = strings.ToUpper(strings.TrimSpace(barcode))
	if !validBarcode(barcode) {
		return fmt.Errorf("barcode %q is not a valid volser (6 letters or digits plus media type, e.g. TEST01L8) or CLN label", barcode)
	}
	return updateState(dir, func(st *LibraryState) error {
		s, err := st.slot(slot)
		if err != nil {
			return err
		}
		if s.Barcode != "" {
			return fmt.Errorf("slot %d holds %s: %w", slot, s.Barcode, device.ErrDestinationFull)
		}
		c := st.Cartridges[barcode]
		if c != nil && c.Location != vaultLocation {
			return fmt.Errorf("cartridge %s is already in the library (%s)", barcode, c.Location)
		}
		if c == nil {
			if opts.Capacity < 0 || opts.CleaningUses < 0 {
				return fmt.Errorf("cartridge options must not be negative")
			}
			c = st.newCartridge(barcode, opts, time.Now().UTC().Truncate(time.Second))
			if err := createCartridgeFiles(dir, barcode); err != nil {
				return err
			}
			st.Cartridges[barcode] = c
		} else if opts.WriteProtected {
			c.WriteProtected = true
		}
		s.Barcode = barcode
		c.Location = "slot " + strconv.Itoa(slot)
		return nil
	})
}

// Remove takes the cartridge out of a slot, as an operator does. The
// cartridge keeps its data on disk (in the vault) and Insert with its
// barcode brings it back.
func Remove(dir string, slot int) (string, error) {
	var barcode string
	err := updateState(dir, func(st *LibraryState) error {
		s, err := st.slot(slot)
		if err != nil {
			return err
		}
		if s.Barcode == "" {
			return fmt.Errorf("slot %d is empty: %w", slot, device.ErrSourceEmpty)
		}
		barcode = s.Barcode
		s.Barcode = ""
		st.Cartridges[barcode].Location = vaultLocation
		return nil
	})
	return barcode, err
}

// SetWriteProtected sets or clears the write-protect tab of a cartridge
// (an operator action; takes effect at the next load).
func SetWriteProtected(dir, barcode string, protected bool) error {
	return updateState(dir, func(st *LibraryState) error {
		c := st.Cartridges[strings.ToUpper(barcode)]
		if c == nil {
			return fmt.Errorf("no cartridge %s in library %s", barcode, dir)
		}
		c.WriteProtected = protected
		return nil
	})
}

// SetCartridgeFault injects f into the cartridge with barcode (replacing
// any earlier fault). Use NoFault() to clear.
func SetCartridgeFault(dir, barcode string, f Fault) error {
	return updateState(dir, func(st *LibraryState) error {
		c := st.Cartridges[strings.ToUpper(barcode)]
		if c == nil {
			return fmt.Errorf("no cartridge %s in library %s", barcode, dir)
		}
		c.Fault = f
		return nil
	})
}

// SetDriveFault injects f into drive n; only Offline and CleaningRequired
// apply to drives. Use NoFault() to clear.
func SetDriveFault(dir string, drive int, f Fault) error {
	return updateState(dir, func(st *LibraryState) error {
		d, err := st.drive(drive)
		if err != nil {
			return err
		}
		d.Fault = f
		return nil
	})
}

// Serials and models reported by INQUIRY emulation.
const (
	Vendor       = "TAPEFS"
	ChangerModel = "VTAPE-LIBRARY"
	Revision     = "V001"
)

// DriveModel returns the drive model string of generation g ("VTAPE-LTO8").
func DriveModel(g string) string {
	return "VTAPE-" + strings.ReplaceAll(g, "-", "")
}

func libSerialBase(libUUID string) string {
	return "VT" + strings.ToUpper(strings.ReplaceAll(libUUID, "-", "")[:10])
}

func driveInfo(st *LibraryState, n int) device.Info {
	return device.Info{Vendor: Vendor, Model: DriveModel(st.Options.Generation),
		Serial: libSerialBase(st.UUID) + "D" + strconv.Itoa(n), Revision: Revision}
}

func changerInfo(st *LibraryState) device.Info {
	return device.Info{Vendor: Vendor, Model: ChangerModel, Serial: libSerialBase(st.UUID) + "L", Revision: Revision}
}

// ScanLibraries finds the virtual libraries in dirs: each dir that is a
// library, and each immediate subdirectory of a dir that is one. Missing
// dirs are skipped. Drives are listed with their DrivePath, changers with
// the library directory.
func ScanLibraries(dirs []string) (drives, changers []device.ScanEntry, err error) {
	var libs []string
	for _, d := range dirs {
		if IsLibrary(d) {
			libs = append(libs, d)
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("scan %s: %w", d, err)
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			if e.IsDir() && IsLibrary(p) {
				libs = append(libs, p)
			}
		}
	}
	sort.Strings(libs)
	for _, lib := range libs {
		st, err := readState(lib)
		if err != nil {
			return nil, nil, err
		}
		changers = append(changers, device.ScanEntry{Path: lib, Info: changerInfo(st)})
		for n := range st.Drives {
			drives = append(drives, device.ScanEntry{Path: DrivePath(lib, n), Info: driveInfo(st, n)})
		}
	}
	return drives, changers, nil
}
