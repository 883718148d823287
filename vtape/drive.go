package vtape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
)

// Drive is one drive of a virtual library, opened by OpenDrive. It
// implements device.Drive.
//
// Locking: the handle holds an exclusive flock on the drive's lock file
// until Close. Like every device.Drive it is used by one goroutine at a
// time. The drive's own state (position, options, key, counters) lives in
// its folder and is written after every operation, so the next process that
// opens the drive continues where this one stopped; the shared element state
// (which cartridge is in the drive, threaded or not, faults, alerts) is read
// from library.json at the start of every operation.
type Drive struct {
	lib    string
	n      int
	path   string
	lock   *deviceLock
	sf     *os.File
	st     *driveState
	timing Timing
	now    func() time.Time

	// cached library.json, reloaded when the file changes
	libState *LibraryState
	libIdent os.FileInfo
	libFile  *os.File

	// positioned: an operation of this handle moved the tape (or read
	// the position), so it knows whether it left the tape at end of
	// data. A real drive does not tell a new opener where end of data
	// is, and Status says AtEOD only when positioned, as sgio does.
	positioned bool

	// the open cartridge of the current mount
	cart    *cartridge
	cartBC  string
	meta    *cartridgeMeta
	metaDir string
	// saved is the cartridge memory as last read or written, so an
	// operation that changed nothing does not rewrite (and fsync) it.
	saved cartridgeMeta
}

var _ device.Drive = (*Drive)(nil)

// OpenDrive opens the drive at path (a DrivePath of a library) and takes its
// lock. A drive held by another handle or process returns an error wrapping
// device.ErrBusy that names the holder.
func OpenDrive(path string) (*Drive, error) {
	path = filepath.Clean(path)
	lib := filepath.Dir(path)
	base := filepath.Base(path)
	n, err := strconv.Atoi(strings.TrimPrefix(base, "drive"))
	if !strings.HasPrefix(base, "drive") || err != nil || n < 0 {
		return nil, fmt.Errorf("%s is not a virtual drive path (want <library>/drive<N>)", path)
	}
	st, err := readState(lib)
	if err != nil {
		return nil, err
	}
	if n >= len(st.Drives) {
		return nil, fmt.Errorf("library %s has no drive %d (drives 0..%d)", lib, n, len(st.Drives)-1)
	}
	timing, err := TimingFor(st.Options.Generation)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(path, fileutil.PrivateDir); err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	lock, err := acquireDeviceLock(filepath.Join(path, driveLockFile), "drive "+path)
	if err != nil {
		return nil, err
	}
	sf, dst, err := openStateFile(filepath.Join(path, stateFile))
	if err != nil {
		lock.release()
		return nil, err
	}
	return &Drive{lib: lib, n: n, path: path, lock: lock, sf: sf, st: dst, timing: timing, now: time.Now}, nil
}

// SetClock replaces the wall clock the back-hitch model measures the host's
// pace with (tests make it deterministic).
func (d *Drive) SetClock(now func() time.Time) { d.now = now }

// Timing returns the drive's timing model.
func (d *Drive) Timing() Timing { return d.timing }

// SimStats returns the timing model counters since the last reset,
// including a mount a changer made since the last call.
func (d *Drive) SimStats() device.SimStats {
	if d.lock != nil {
		d.begin(context.Background(), needOnline)
	}
	return d.st.Sim
}

// ResetSimStats zeroes the timing model counters. A mount a changer made
// before the call is accounted for before the reset.
func (d *Drive) ResetSimStats() {
	if d.lock == nil {
		return
	}
	d.begin(context.Background(), needOnline)
	d.st.Sim = device.SimStats{}
	d.persist()
}

// Close saves the drive state and releases the lock. The cartridge stays
// where it is.
func (d *Drive) Close() error {
	if d.lock == nil {
		return nil
	}
	errs := []error{d.saveMeta(), d.persist()}
	if d.cart != nil {
		errs = append(errs, d.cart.close())
		d.cart = nil
	}
	d.closeLibFile()
	errs = append(errs, d.sf.Close(), d.lock.release())
	d.lock = nil
	return errors.Join(errs...)
}

func (d *Drive) persist() error {
	if d.sf == nil {
		return nil
	}
	return writeStateSlot(d.sf, d.st)
}

func (d *Drive) name() string { return "drive " + strconv.Itoa(d.n) }

// library returns library.json, re-read only when the file was replaced.
// library.json is only ever replaced by rename, never modified in place, so
// an unchanged inode means unchanged content; the handle keeps the cached
// file open so that its inode number cannot be reused by a later version.
func (d *Drive) library() (*LibraryState, error) {
	fi, err := os.Stat(filepath.Join(d.lib, libraryFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name(), err)
	}
	if d.libState != nil && sameFile(fi, d.libIdent) {
		return d.libState, nil
	}
	var st *LibraryState
	var f *os.File
	err = withFileLock(filepath.Join(d.lib, libraryLock), false, func() error {
		var err error
		f, err = os.Open(filepath.Join(d.lib, libraryFile))
		if err != nil {
			return fmt.Errorf("%s: %w", d.name(), err)
		}
		b, err := io.ReadAll(f)
		if err == nil {
			st, err = decodeState(b)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("library %s: %w", d.lib, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	held, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", d.name(), err)
	}
	d.closeLibFile()
	d.libState, d.libIdent, d.libFile = st, held, f
	return st, nil
}

func sameFile(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b)
}

func (d *Drive) closeLibFile() {
	if d.libFile != nil {
		d.libFile.Close()
		d.libFile = nil
	}
	d.libIdent = nil
}

// update changes library.json and refreshes the cache.
func (d *Drive) update(fn func(st *LibraryState, e *DriveElement) error) error {
	err := updateState(d.lib, func(st *LibraryState) error { return fn(st, &st.Drives[d.n]) })
	d.libState = nil
	return err
}

// need says what an operation requires of the drive.
type need int

const (
	needOnline need = iota // the drive answers
	needMedium             // a cartridge is in the drive
	needLoaded             // it is threaded
	needData               // it is threaded and is a data cartridge
)

// op is the view of the drive an operation works on.
type op struct {
	elem DriveElement
	cs   *CartridgeState // nil when empty
}

// begin checks ctx and the drive's condition, accounts for a mount that
// happened since the last call (changer auto-load, Load by another process)
// and opens the cartridge for data operations.
func (d *Drive) begin(ctx context.Context, n need) (op, error) {
	if d.lock == nil {
		return op{}, fmt.Errorf("%s: handle is closed", d.name())
	}
	if err := ctx.Err(); err != nil {
		return op{}, err
	}
	st, err := d.library()
	if err != nil {
		return op{}, err
	}
	o := op{elem: st.Drives[d.n]}
	if o.elem.Fault.Offline {
		return o, fmt.Errorf("%s of %s does not answer: %w", d.name(), d.lib, device.ErrOffline)
	}
	if o.elem.Barcode != "" {
		o.cs = st.Cartridges[o.elem.Barcode]
	}
	if err := d.syncMount(o); err != nil {
		return o, err
	}
	if n >= needMedium && o.cs == nil {
		return o, fmt.Errorf("%s: %w", d.name(), device.ErrNoMedium)
	}
	// A cleaning cartridge is never usable for data, loaded or not: the
	// contract says ErrBadCartridge, so callers do not Load it again.
	if n >= needData && o.cs.Cleaning {
		return o, fmt.Errorf("%s: %s is a cleaning cartridge: %w", d.name(), o.cs.Barcode, device.ErrBadCartridge)
	}
	if n >= needLoaded && !o.elem.Loaded {
		return o, fmt.Errorf("%s: cartridge %s is not loaded; load it first: %w", d.name(), o.cs.Barcode, device.ErrNotReady)
	}
	if n >= needData {
		if err := d.openCart(o.cs); err != nil {
			return o, err
		}
		d.positioned = true
	}
	return o, nil
}

// syncMount brings the drive's own state in line with the element state.
func (d *Drive) syncMount(o op) error {
	if o.elem.Barcode != d.st.Barcode {
		if err := d.dropCart(); err != nil {
			return err
		}
		d.st.Barcode = o.elem.Barcode
		d.st.Position = 0
		d.positioned = false
		d.st.Stream.reset()
		if o.elem.Barcode == "" {
			d.st.Key = nil
		}
	}
	if o.elem.CleanCount != d.st.CleanCount {
		d.st.CleanCount = o.elem.CleanCount
		d.st.MotionSinceClean = 0
	}
	if o.elem.Loaded && o.elem.LoadSeq != d.st.LoadSeq && o.cs != nil {
		// A new mount: thread time, load count, fresh last-load counters.
		d.st.LoadSeq = o.elem.LoadSeq
		d.st.Position = 0
		d.st.Stream.reset()
		d.charge(d.timing.LoadTime)
		d.st.Sim.Loads++
		if !o.cs.Cleaning {
			m, err := d.cartMeta(o.cs.Barcode)
			if err != nil {
				return err
			}
			m.LoadCount++
			m.BOMPasses++
			m.LastRead, m.LastWritten = 0, 0
			if err := d.saveMeta(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Drive) charge(sec float64) {
	d.st.Sim.TapeSeconds += sec
	d.st.MotionSinceClean += sec
}

// cartMeta returns the cartridge memory of barcode, loading it if needed.
func (d *Drive) cartMeta(barcode string) (*cartridgeMeta, error) {
	dir := cartridgeDir(d.lib, barcode)
	if d.meta != nil && d.metaDir == dir {
		return d.meta, nil
	}
	if err := d.saveMeta(); err != nil {
		return nil, err
	}
	m, err := loadMeta(dir)
	if err != nil {
		return nil, err
	}
	d.meta, d.metaDir, d.saved = m, dir, *m
	return m, nil
}

// saveMeta writes the cartridge memory of the open cartridge durably if it
// changed since it was last read or written.
func (d *Drive) saveMeta() error {
	if d.meta == nil || *d.meta == d.saved {
		return nil
	}
	if err := saveMeta(d.metaDir, d.meta); err != nil {
		return err
	}
	d.saved = *d.meta
	return nil
}

func (d *Drive) openCart(cs *CartridgeState) error {
	if d.cart != nil && d.cartBC == cs.Barcode {
		return nil
	}
	if err := d.dropCart(); err != nil {
		return err
	}
	c, err := openCartridge(cartridgeDir(d.lib, cs.Barcode))
	if err != nil {
		return fmt.Errorf("%s: cartridge %s: %w", d.name(), cs.Barcode, err)
	}
	if _, err := d.cartMeta(cs.Barcode); err != nil {
		c.close()
		return err
	}
	d.cart, d.cartBC = c, cs.Barcode
	// A crash may have cut the tape short of the saved position.
	d.st.Position = min(d.st.Position, c.count)
	return nil
}

func (d *Drive) dropCart() error {
	errs := []error{d.saveMeta()}
	d.meta, d.metaDir = nil, ""
	if d.cart != nil {
		errs = append(errs, d.cart.close())
		d.cart, d.cartBC = nil, ""
	}
	return errors.Join(errs...)
}

// finish persists the drive state after an operation and passes err on.
func (d *Drive) finish(err error) error {
	if perr := d.persist(); perr != nil && err == nil {
		err = perr
	}
	return err
}

// Info reports vendor, model and serial number.
func (d *Drive) Info(ctx context.Context) (device.Info, error) {
	if _, err := d.begin(ctx, needOnline); err != nil {
		return device.Info{}, err
	}
	return driveInfo(d.libState, d.n), nil
}

// Status reports drive and medium state; an offline drive reports Online
// false with a nil error.
func (d *Drive) Status(ctx context.Context) (device.DriveStatus, error) {
	o, err := d.begin(ctx, needOnline)
	if errors.Is(err, device.ErrOffline) {
		return device.DriveStatus{}, nil
	}
	if err != nil {
		return device.DriveStatus{}, err
	}
	sim := d.st.Sim
	s := device.DriveStatus{
		Online:      true,
		BlockSize:   d.st.BlockSize,
		Compression: d.st.Compression,
		BufferMode:  d.st.BufferMode,
		Encryption:  d.st.Key != nil,
		Locked:      o.elem.Locked,
		Alerts:      d.alerts(o),
		Sim:         &sim,
	}
	if o.cs == nil {
		return s, d.finish(nil)
	}
	s.MediumPresent = true
	s.Loaded = o.elem.Loaded
	s.WriteProtected = o.cs.WriteProtected || o.cs.Cleaning
	s.Cleaning = o.cs.Cleaning
	s.Density = o.cs.Generation
	if s.Loaded && !o.cs.Cleaning {
		if err := d.openCart(o.cs); err != nil {
			return s, d.finish(err)
		}
		pos, err := d.cart.position(d.st.Position)
		if err != nil {
			return s, d.finish(err)
		}
		s.Position = pos
		s.AtBOT = d.st.Position == 0
		s.AtEOD = d.positioned && d.st.Position == d.cart.count
		s.PastEarlyWarning = d.cart.dataEnd >= d.leom(o.cs)
	}
	return s, d.finish(nil)
}

// alerts are the pending flags plus those that follow from conditions.
func (d *Drive) alerts(o op) device.TapeAlertFlags {
	f := o.elem.Alerts
	if o.elem.Fault.CleaningRequired {
		f = f.With(device.AlertCleanNow)
	}
	if d.st.MotionSinceClean >= d.timing.CleanPeriodic {
		f = f.With(device.AlertCleanPeriodic)
	}
	if o.cs != nil && o.cs.WriteProtected && o.elem.Loaded {
		f = f.With(device.AlertWriteProtect)
	}
	if o.cs != nil && o.cs.Cleaning {
		f = f.With(device.AlertCleaningMedia)
	}
	return f
}

// raise adds pending alert flags (cleared when TapeAlerts reads them).
func (d *Drive) raise(flags ...int) {
	d.update(func(_ *LibraryState, e *DriveElement) error {
		for _, f := range flags {
			e.Alerts = e.Alerts.With(f)
		}
		return nil
	})
}

// compatible reports whether the drive reads and writes a cartridge of
// generation g: its own generation and the one before.
func (d *Drive) compatible(g string) bool {
	dg, _ := strconv.Atoi(strings.TrimPrefix(d.timing.Generation, "LTO-"))
	cg, err := strconv.Atoi(strings.TrimPrefix(g, "LTO-"))
	return err == nil && (cg == dg || cg == dg-1)
}

// Load threads the cartridge and positions at BOT. A cleaning cartridge
// runs its cleaning cycle (once per insertion) and stays unthreaded.
func (d *Drive) Load(ctx context.Context) error {
	o, err := d.begin(ctx, needMedium)
	if err != nil {
		return d.finish(err)
	}
	cs := o.cs
	if cs.Cleaning {
		if o.elem.CleanedSeq == o.elem.LoadSeq && o.elem.LoadSeq != 0 {
			return d.finish(nil)
		}
		d.charge(d.timing.LoadTime + d.timing.UnloadTime)
		err := d.update(func(st *LibraryState, e *DriveElement) error {
			cleanCycle(st, e)
			return nil
		})
		return d.finish(err)
	}
	if o.elem.Loaded {
		// Already threaded (a changer move auto-loads): open the cartridge
		// for this handle, then rewind as Load promises.
		if _, err := d.begin(ctx, needData); err != nil {
			return d.finish(err)
		}
		return d.finish(d.rewind())
	}
	if err := d.loadable(o.elem, cs); err != nil {
		return d.finish(err)
	}
	err = d.update(func(st *LibraryState, e *DriveElement) error {
		threadCartridge(st, e)
		return nil
	})
	if err != nil {
		return d.finish(err)
	}
	_, err = d.begin(ctx, needData)
	return d.finish(err)
}

// loadable checks whether the drive accepts cartridge cs.
func (d *Drive) loadable(e DriveElement, cs *CartridgeState) error {
	if e.Fault.CleaningRequired {
		return fmt.Errorf("%s needs cleaning before it accepts %s; run a cleaning cartridge: %w", d.name(), cs.Barcode, device.ErrCleaningRequired)
	}
	if cs.Fault.Offline {
		d.raise(55) // LOADING_FAILURE
		return fmt.Errorf("%s: cartridge %s fails to load: %w", d.name(), cs.Barcode, device.ErrBadCartridge)
	}
	if !d.compatible(cs.Generation) {
		d.raise(device.AlertUnsupportedFormat)
		return fmt.Errorf("%s (%s) cannot use %s cartridge %s: %w", d.name(), d.timing.Generation, cs.Generation, cs.Barcode, device.ErrBadCartridge)
	}
	return nil
}

// threadCartridge marks the drive's cartridge threaded: a new mount. A
// cartridge with the CleaningRequired fault dirties the drive.
func threadCartridge(st *LibraryState, e *DriveElement) {
	e.Loaded = true
	e.LoadSeq++
	if cs := st.Cartridges[e.Barcode]; cs != nil && cs.Fault.CleaningRequired {
		e.Fault.CleaningRequired = true
	}
}

// cleanCycle runs the cleaning cartridge in drive e: it clears the cleaning
// alerts and fault and uses up one cycle, or raises EXPIRED_CLEANING_MEDIA
// when none is left. The cartridge ends unthreaded, as drives eject a
// cleaning cartridge when done.
func cleanCycle(st *LibraryState, e *DriveElement) {
	cs := st.Cartridges[e.Barcode]
	e.Loaded = false
	e.CleanedSeq = e.LoadSeq
	if cs == nil || !cs.Cleaning {
		return
	}
	if cs.UsesLeft <= 0 {
		e.Alerts = e.Alerts.With(device.AlertExpiredCleaning)
		return
	}
	cs.UsesLeft--
	e.Fault.CleaningRequired = false
	e.Alerts = e.Alerts.Without(device.AlertCleanNow).Without(device.AlertCleanPeriodic)
	e.CleanCount++
}

// Unload rewinds and unthreads the cartridge and forgets the key.
func (d *Drive) Unload(ctx context.Context) error {
	o, err := d.begin(ctx, needMedium)
	if err != nil {
		return d.finish(err)
	}
	if o.elem.Locked {
		return d.finish(fmt.Errorf("%s: %w", d.name(), device.ErrMediumLocked))
	}
	if o.elem.Loaded {
		if !o.cs.Cleaning {
			if err := d.openCart(o.cs); err != nil {
				return d.finish(err)
			}
			if err := d.rewind(); err != nil {
				return d.finish(err)
			}
			if err := d.cart.sync(); err != nil {
				return d.finish(err)
			}
		}
		d.charge(d.timing.UnloadTime)
	}
	if err := d.saveMeta(); err != nil {
		return d.finish(err)
	}
	d.st.Key = nil
	d.st.Position = 0
	d.st.Stream.reset()
	err = d.update(func(_ *LibraryState, e *DriveElement) error {
		if e.Locked {
			return fmt.Errorf("%s: %w", d.name(), device.ErrMediumLocked)
		}
		e.Loaded = false
		return nil
	})
	return d.finish(err)
}

// moveTo moves the head to object p, charging the locate cost and counting
// tape passes.
func (d *Drive) moveTo(p uint64) {
	from := d.cart.offsetOf(d.st.Position)
	to := d.cart.offsetOf(p)
	d.st.Position = p
	d.st.Stream.reset()
	if from == to {
		return
	}
	capacity := d.capacity()
	a, b := d.timing.point(from, capacity), d.timing.point(to, capacity)
	if to == 0 {
		d.charge(d.timing.rewindCost(a))
	} else {
		d.charge(d.timing.locateCost(a, b))
	}
	d.countPasses(a, b)
}

func (d *Drive) countPasses(a, b tapePoint) {
	if d.meta == nil {
		return
	}
	mid := d.timing.TapeLength / 2
	if (a.x < mid) != (b.x < mid) {
		d.meta.MOTPasses++
	}
	if b.x == 0 && a.x != 0 {
		d.meta.BOMPasses++
	}
}

func (d *Drive) capacity() int64 {
	st, err := d.library()
	if err == nil {
		if cs := st.Cartridges[d.cartBC]; cs != nil {
			return cs.Capacity
		}
	}
	return d.timing.NativeCapacity
}

func (d *Drive) rewind() error {
	d.moveTo(0)
	return nil
}

// Rewind positions at BOT.
func (d *Drive) Rewind(ctx context.Context) error {
	if _, err := d.begin(ctx, needData); err != nil {
		return d.finish(err)
	}
	return d.finish(d.rewind())
}

// Locate positions at object; past end of data it stops at EOD and returns
// ErrEndOfData.
func (d *Drive) Locate(ctx context.Context, object uint64) error {
	if _, err := d.begin(ctx, needData); err != nil {
		return d.finish(err)
	}
	d.st.Sim.Locates++
	if object > d.cart.count {
		d.moveTo(d.cart.count)
		return d.finish(fmt.Errorf("%s: locate %d beyond object %d: %w", d.name(), object, d.cart.count, device.ErrEndOfData))
	}
	d.moveTo(object)
	return d.finish(nil)
}

// ReadPosition reports the current position.
func (d *Drive) ReadPosition(ctx context.Context) (device.Position, error) {
	if _, err := d.begin(ctx, needData); err != nil {
		return device.Position{}, d.finish(err)
	}
	pos, err := d.cart.position(d.st.Position)
	return pos, d.finish(err)
}

// Space moves over records or filemarks; see device.SpaceKind.
func (d *Drive) Space(ctx context.Context, kind device.SpaceKind, count int64) error {
	if _, err := d.begin(ctx, needData); err != nil {
		return d.finish(err)
	}
	d.st.Sim.Locates++
	target, serr, err := d.spaceTarget(kind, count)
	if err != nil {
		return d.finish(err)
	}
	d.moveTo(target)
	if serr != nil {
		serr = fmt.Errorf("%s: space %d %s: %w", d.name(), count, kind, serr)
	}
	return d.finish(serr)
}

// spaceTarget computes where a space operation ends and the condition it
// reports there (ErrFilemark, ErrEndOfData, ErrBeginningOfMedium).
func (d *Drive) spaceTarget(kind device.SpaceKind, count int64) (uint64, error, error) {
	c := d.cart
	p := d.st.Position
	switch kind {
	case device.SpaceEndOfData:
		return c.count, nil, nil
	case device.SpaceRecords:
		if count == 0 {
			return p, nil, nil
		}
		if count > 0 {
			if p >= c.count {
				return c.count, device.ErrEndOfData, nil
			}
			f, err := c.fileOf(p)
			if err != nil {
				return 0, nil, err
			}
			next, ok, err := c.startOfFile(f + 1)
			if err != nil {
				return 0, nil, err
			}
			limit := c.count // no filemark ahead: EOD stops the space
			if ok {
				limit = next - 1 // the filemark object
			}
			if uint64(count) <= limit-p {
				return p + uint64(count), nil, nil
			}
			if ok {
				return next, device.ErrFilemark, nil
			}
			return c.count, device.ErrEndOfData, nil
		}
		back := uint64(-count)
		if p == 0 {
			return 0, device.ErrBeginningOfMedium, nil
		}
		prev, err := c.entry(p - 1)
		if err != nil {
			return 0, nil, err
		}
		if prev.Kind == kindFilemark {
			return p - 1, device.ErrFilemark, nil
		}
		start := prev.FileStart
		if back <= p-start {
			return p - back, nil, nil
		}
		if start == 0 {
			return 0, device.ErrBeginningOfMedium, nil
		}
		return start - 1, device.ErrFilemark, nil
	case device.SpaceFilemarks:
		if count == 0 {
			return p, nil, nil
		}
		f, err := c.fileOf(p)
		if err != nil {
			return 0, nil, err
		}
		if count > 0 {
			next, ok, err := c.startOfFile(f + uint64(count))
			if err != nil {
				return 0, nil, err
			}
			if !ok {
				return c.count, device.ErrEndOfData, nil
			}
			return next, nil, nil
		}
		back := uint64(-count)
		if back > f {
			return 0, device.ErrBeginningOfMedium, nil
		}
		next, _, err := c.startOfFile(f - back + 1)
		if err != nil {
			return 0, nil, err
		}
		return next - 1, nil, nil
	}
	return 0, nil, fmt.Errorf("%s: unknown space kind %d", d.name(), kind)
}

// ReadRecord reads the record at the position into buf; see device.Drive.
// In fixed block mode it reads as many whole blocks as fit in buf.
func (d *Drive) ReadRecord(ctx context.Context, buf []byte) (int, error) {
	o, err := d.begin(ctx, needData)
	if err != nil {
		return 0, d.finish(err)
	}
	n, err := d.readOne(o, buf)
	if err == nil && d.st.BlockSize > 0 && n == int(d.st.BlockSize) {
		for n+int(d.st.BlockSize) <= len(buf) && d.nextIsPlainBlock(o) {
			m, err := d.readOne(o, buf[n:])
			n += m
			if err != nil {
				return n, d.finish(err)
			}
		}
	}
	return n, d.finish(err)
}

// nextIsPlainBlock: the next object is a readable record of exactly the
// block size (fixed-mode reads continue over such records only).
func (d *Drive) nextIsPlainBlock(o op) bool {
	p := d.st.Position
	if p >= d.cart.count || o.cs.Fault.ReadErrorAt == int64(p) {
		return false
	}
	e, err := d.cart.entry(p)
	if err != nil || e.Kind != kindRecord {
		return false
	}
	size := int(e.Length)
	if e.Flags&flagEncrypted != 0 {
		if d.st.Key == nil || keyIdentifier(d.st.Key) != e.KeyID {
			return false
		}
		size -= gcmOverhead
	}
	return size == int(d.st.BlockSize)
}

const gcmOverhead = 12 + 16

func (d *Drive) readOne(o op, buf []byte) (int, error) {
	c := d.cart
	p := d.st.Position
	if p >= c.count {
		return 0, fmt.Errorf("%s: read at object %d: %w", d.name(), p, device.ErrEndOfData)
	}
	e, err := c.entry(p)
	if err != nil {
		d.st.Position = p + 1
		return 0, d.readFailure(err)
	}
	if e.Kind == kindFilemark {
		d.st.Position = p + 1
		return 0, fmt.Errorf("%s: object %d: %w", d.name(), p, device.ErrFilemark)
	}
	if o.cs.Fault.ReadErrorAt == int64(p) {
		d.st.Position = p + 1
		return 0, d.readFailure(fmt.Errorf("%s: object %d unreadable (injected): %w", d.name(), p, device.ErrMediumError))
	}
	if e.Flags&flagEncrypted != 0 && (d.st.Key == nil || keyIdentifier(d.st.Key) != e.KeyID) {
		return 0, fmt.Errorf("%s: object %d: %w", d.name(), p, device.ErrEncrypted)
	}
	// An unencrypted record is read straight into the caller's buffer.
	var into []byte
	if e.Flags&flagEncrypted == 0 {
		into = buf
	}
	stored, err := c.payloadInto(e, into)
	if err != nil {
		d.st.Position = p + 1
		return 0, d.readFailure(err)
	}
	rec := stored
	if e.Flags&flagEncrypted != 0 {
		rec, err = openRecord(d.st.Key, p, stored)
		if err != nil {
			return 0, err
		}
	}
	d.transfer(streamRead, int64(e.Offset), int64(e.Length))
	d.st.Position = p + 1
	d.st.Sim.BytesRead += uint64(len(rec))
	d.meta.LifetimeRead += uint64(len(rec))
	d.meta.LastRead += uint64(len(rec))
	if into != nil && len(into) >= len(rec) {
		return len(rec), nil // read in place
	}
	n := copy(buf, rec)
	if n < len(rec) {
		return n, fmt.Errorf("%s: record of %d bytes, buffer of %d: %w", d.name(), len(rec), len(buf), device.ErrRecordTooLong)
	}
	return n, nil
}

func (d *Drive) readFailure(err error) error {
	d.meta.ReadErrors++
	d.raise(device.AlertReadFailure)
	return err
}

// transfer charges streaming n bytes at offset and runs the back-hitch
// model against the host's wall-clock pace.
func (d *Drive) transfer(dir int, offset, n int64) {
	d.charge(d.timing.transferCost(offset, n, d.capacity()))
	if d.st.Stream.feed(&d.timing, dir, n, d.now()) {
		d.st.Sim.BackHitches++
		d.charge(d.timing.BackHitch)
	}
}

// leom is the early warning point of cartridge cs in bytes.
func (d *Drive) leom(cs *CartridgeState) int64 {
	if cs.Fault.EarlyWarningAt >= 0 {
		return cs.Fault.EarlyWarningAt
	}
	return cs.Capacity - earlyWarningMargin(cs.Capacity)
}

// earlyWarningMargin is the space between early warning and the physical
// end: 2% of the capacity, but at least four 4 MiB records (and at most a
// quarter of a very small cartridge).
func earlyWarningMargin(capacity int64) int64 {
	m := capacity / 50
	if m < 16<<20 {
		m = min(16<<20, capacity/4)
	}
	return m
}

func (d *Drive) writable(o op) error {
	if o.cs.WriteProtected {
		return fmt.Errorf("%s: cartridge %s: %w", d.name(), o.cs.Barcode, device.ErrWriteProtected)
	}
	if !d.compatible(o.cs.Generation) {
		return fmt.Errorf("%s: cartridge %s: %w", d.name(), o.cs.Barcode, device.ErrBadCartridge)
	}
	return nil
}

// WriteRecord writes p as one record (in fixed block mode, as len(p)/block
// size blocks) at the position, discarding everything after it.
func (d *Drive) WriteRecord(ctx context.Context, p []byte) error {
	o, err := d.begin(ctx, needData)
	if err != nil {
		return d.finish(err)
	}
	if err := d.writable(o); err != nil {
		return d.finish(err)
	}
	if len(p) == 0 {
		return d.finish(nil)
	}
	if len(p) > maxRecordBytes {
		return d.finish(fmt.Errorf("%s: record of %d bytes exceeds the maximum of %d: %w", d.name(), len(p), maxRecordBytes, device.ErrUnsupported))
	}
	blocks := [][]byte{p}
	if bs := int(d.st.BlockSize); bs > 0 {
		if len(p)%bs != 0 {
			return d.finish(fmt.Errorf("%s: %d bytes is not a multiple of the block size %d: %w", d.name(), len(p), bs, device.ErrUnsupported))
		}
		blocks = blocks[:0]
		for i := 0; i < len(p); i += bs {
			blocks = append(blocks, p[i:i+bs])
		}
	}
	for _, b := range blocks {
		if err := d.writeOne(o, b); err != nil {
			return d.finish(err)
		}
	}
	if d.cart.dataEnd >= d.leom(o.cs) {
		return d.finish(fmt.Errorf("%s: %w", d.name(), device.ErrEarlyWarning))
	}
	return d.finish(nil)
}

func (d *Drive) writeOne(o op, rec []byte) error {
	c := d.cart
	p := d.st.Position
	if o.cs.Fault.WriteErrorAt == int64(p) {
		if err := c.truncate(p); err != nil {
			return err
		}
		d.meta.WriteErrors++
		d.raise(device.AlertWriteFailure)
		return fmt.Errorf("%s: write of object %d failed (injected): %w", d.name(), p, device.ErrMediumError)
	}
	stored := rec
	var flags uint8
	var keyID [8]byte
	if d.st.Key != nil {
		var err error
		if stored, err = sealRecord(d.st.Key, p, rec); err != nil {
			return err
		}
		flags, keyID = flagEncrypted, keyIdentifier(d.st.Key)
	}
	start := c.offsetOf(p)
	if start+int64(len(stored)) > o.cs.Capacity {
		return fmt.Errorf("%s: %d bytes do not fit on %s: %w", d.name(), len(rec), o.cs.Barcode, device.ErrEndOfMedium)
	}
	if err := c.truncate(p); err != nil {
		return err
	}
	if err := c.appendObject(kindRecord, flags, keyID, stored); err != nil {
		d.raise(device.AlertWriteFailure)
		return fmt.Errorf("%v: %w", err, device.ErrMediumError)
	}
	d.st.Position = p + 1
	d.transfer(streamWrite, start, int64(len(stored)))
	d.st.Sim.BytesWritten += uint64(len(rec))
	d.meta.LifetimeWritten += uint64(len(rec))
	d.meta.LastWritten += uint64(len(rec))
	return nil
}

// WriteFilemarks writes n filemarks at the position and makes everything
// before them durable (fsync of data and index).
func (d *Drive) WriteFilemarks(ctx context.Context, n int) error {
	o, err := d.begin(ctx, needData)
	if err != nil {
		return d.finish(err)
	}
	if n < 0 {
		return d.finish(fmt.Errorf("%s: negative filemark count %d", d.name(), n))
	}
	if n > 0 {
		if err := d.writable(o); err != nil {
			return d.finish(err)
		}
	}
	c := d.cart
	for range n {
		p := d.st.Position
		if o.cs.Fault.WriteErrorAt == int64(p) {
			c.truncate(p)
			d.meta.WriteErrors++
			d.raise(device.AlertWriteFailure)
			return d.finish(fmt.Errorf("%s: write of filemark %d failed (injected): %w", d.name(), p, device.ErrMediumError))
		}
		if err := c.truncate(p); err != nil {
			return d.finish(err)
		}
		if err := c.appendObject(kindFilemark, 0, [8]byte{}, nil); err != nil {
			return d.finish(fmt.Errorf("%v: %w", err, device.ErrMediumError))
		}
		d.st.Position = p + 1
	}
	if err := c.sync(); err != nil {
		return d.finish(fmt.Errorf("%v: %w", err, device.ErrMediumError))
	}
	if err := d.saveMeta(); err != nil {
		return d.finish(err)
	}
	if n > 0 || d.st.Stream.Dir == streamWrite {
		d.charge(d.timing.SyncCost)
	}
	d.st.Stream.reset()
	if n > 0 && c.dataEnd >= d.leom(o.cs) {
		return d.finish(fmt.Errorf("%s: %w", d.name(), device.ErrEarlyWarning))
	}
	return d.finish(nil)
}

// Erase erases from the position to the end; the position becomes EOD.
// A long erase is charged as a pass over the rest of the tape.
func (d *Drive) Erase(ctx context.Context, long bool) error {
	o, err := d.begin(ctx, needData)
	if err != nil {
		return d.finish(err)
	}
	if err := d.writable(o); err != nil {
		return d.finish(err)
	}
	start := d.cart.offsetOf(d.st.Position)
	if err := d.cart.truncate(d.st.Position); err != nil {
		return d.finish(err)
	}
	if long {
		d.charge(float64(o.cs.Capacity-start) / d.timing.NativeRate)
	}
	d.st.Stream.reset()
	return d.finish(d.cart.sync())
}

// Format empties the cartridge and positions at BOT.
func (d *Drive) Format(ctx context.Context) error {
	o, err := d.begin(ctx, needData)
	if err != nil {
		return d.finish(err)
	}
	if err := d.writable(o); err != nil {
		return d.finish(err)
	}
	d.moveTo(0)
	if err := d.cart.truncate(0); err != nil {
		return d.finish(err)
	}
	d.charge(d.timing.LoadTime) // re-initialise the format on the medium
	return d.finish(d.cart.sync())
}

// SetLock prevents or allows medium removal.
func (d *Drive) SetLock(ctx context.Context, locked bool) error {
	if _, err := d.begin(ctx, needOnline); err != nil {
		return d.finish(err)
	}
	return d.finish(d.update(func(_ *LibraryState, e *DriveElement) error {
		e.Locked = locked
		return nil
	}))
}

// TapeAlerts returns the TapeAlert flags and clears the pending ones, as
// reading the log page does; flags that follow from a condition (cleaning
// required, write protect) stay until the condition ends.
func (d *Drive) TapeAlerts(ctx context.Context) (device.TapeAlertFlags, error) {
	o, err := d.begin(ctx, needOnline)
	if err != nil {
		return 0, d.finish(err)
	}
	flags := d.alerts(o)
	if o.elem.Alerts != 0 {
		err = d.update(func(_ *LibraryState, e *DriveElement) error {
			e.Alerts = 0
			return nil
		})
	}
	return flags, d.finish(err)
}

// VolumeStatistics reads the lifetime statistics of the cartridge in the
// drive.
func (d *Drive) VolumeStatistics(ctx context.Context) (device.VolumeStatistics, error) {
	o, err := d.begin(ctx, needMedium)
	if err != nil {
		return device.VolumeStatistics{}, d.finish(err)
	}
	m, err := d.cartMeta(o.cs.Barcode)
	if err != nil {
		return device.VolumeStatistics{}, d.finish(err)
	}
	return volumeStatistics(o.cs, m, &d.timing), d.finish(nil)
}

// CartridgeMemory reads the cartridge memory (MAM) attributes of the
// cartridge in the drive.
func (d *Drive) CartridgeMemory(ctx context.Context) ([]device.MAMAttribute, error) {
	o, err := d.begin(ctx, needMedium)
	if err != nil {
		return nil, d.finish(err)
	}
	m, err := d.cartMeta(o.cs.Barcode)
	if err != nil {
		return nil, d.finish(err)
	}
	used := int64(-1)
	if d.cart != nil && d.cartBC == o.cs.Barcode {
		used = d.cart.dataEnd
	} else if fi, err := os.Stat(filepath.Join(cartridgeDir(d.lib, o.cs.Barcode), dataFile)); err == nil {
		used = fi.Size()
	}
	return mamAttributes(o.cs, m, used), d.finish(nil)
}

// SetEncryptionKey sets (32 bytes) or clears (nil) the data encryption key.
func (d *Drive) SetEncryptionKey(ctx context.Context, key []byte) error {
	if _, err := d.begin(ctx, needOnline); err != nil {
		return d.finish(err)
	}
	if key == nil {
		d.st.Key = nil
		return d.finish(nil)
	}
	if len(key) != KeySize {
		return d.finish(fmt.Errorf("%s: encryption key of %d bytes, want %d (AES-256)", d.name(), len(key), KeySize))
	}
	d.st.Key = bytes.Clone(key)
	return d.finish(nil)
}

// SetOptions changes block size, compression and buffer mode.
func (d *Drive) SetOptions(ctx context.Context, opts device.DriveOptions) error {
	if _, err := d.begin(ctx, needOnline); err != nil {
		return d.finish(err)
	}
	if opts.BlockSize != nil {
		if *opts.BlockSize > maxRecordBytes {
			return d.finish(fmt.Errorf("%s: block size %d exceeds the maximum of %d: %w", d.name(), *opts.BlockSize, maxRecordBytes, device.ErrUnsupported))
		}
		d.st.BlockSize = *opts.BlockSize
	}
	if opts.Compression != nil {
		d.st.Compression = *opts.Compression
	}
	if opts.BufferMode != nil {
		d.st.BufferMode = *opts.BufferMode
	}
	return d.finish(nil)
}
