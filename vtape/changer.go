package vtape

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"tapefs/engine/device"
)

// Changer is the media changer of a virtual library, opened by OpenChanger.
// It implements device.Changer.
//
// Locking: the handle holds an exclusive flock on the library's changer
// lock until Close; every operation reads and changes library.json under
// the short library lock, so drive handles in other processes see moves at
// their next operation.
type Changer struct {
	dir  string
	lock *deviceLock
}

var _ device.Changer = (*Changer)(nil)

// OpenChanger opens the changer of the library in dir and takes its lock
// (an error wrapping device.ErrBusy when another handle holds it).
func OpenChanger(dir string) (*Changer, error) {
	dir = filepath.Clean(dir)
	if _, err := readState(dir); err != nil {
		return nil, err
	}
	lock, err := acquireDeviceLock(filepath.Join(dir, changerLock), "changer "+dir)
	if err != nil {
		return nil, err
	}
	return &Changer{dir: dir, lock: lock}, nil
}

func (c *Changer) check(ctx context.Context) error {
	if c.lock == nil {
		return fmt.Errorf("changer %s: handle is closed", c.dir)
	}
	return ctx.Err()
}

// Info reports vendor, model and serial number.
func (c *Changer) Info(ctx context.Context) (device.Info, error) {
	if err := c.check(ctx); err != nil {
		return device.Info{}, err
	}
	st, err := readState(c.dir)
	if err != nil {
		return device.Info{}, err
	}
	return changerInfo(st), nil
}

// Status reads the element status of all elements.
func (c *Changer) Status(ctx context.Context) (device.ChangerStatus, error) {
	if err := c.check(ctx); err != nil {
		return device.ChangerStatus{}, err
	}
	st, err := readState(c.dir)
	if err != nil {
		return device.ChangerStatus{}, err
	}
	return changerStatus(st), nil
}

func changerStatus(st *LibraryState) device.ChangerStatus {
	s := device.ChangerStatus{Drives: []device.ElementStatus{}, Slots: []device.ElementStatus{}, ImportExport: []device.ElementStatus{}}
	for i, d := range st.Drives {
		es := device.ElementStatus{Element: device.Element{Kind: device.ElementDrive, ID: i}, Full: d.Barcode != "", VolumeTag: d.Barcode}
		if es.Full {
			es.SourceSlot = d.Source
		}
		s.Drives = append(s.Drives, es)
	}
	for _, sl := range st.Slots {
		kind := device.ElementSlot
		if sl.ImportExport {
			kind = device.ElementImportExport
		}
		es := device.ElementStatus{Element: device.Element{Kind: kind, ID: sl.ID}, Full: sl.Barcode != "", VolumeTag: sl.Barcode}
		if sl.ImportExport {
			s.ImportExport = append(s.ImportExport, es)
		} else {
			s.Slots = append(s.Slots, es)
		}
	}
	return s
}

// holder is one element's cartridge field.
type holder struct {
	barcode *string
	drive   *DriveElement
	loc     string
	slotID  int
}

func element(st *LibraryState, e device.Element) (holder, error) {
	switch e.Kind {
	case device.ElementDrive:
		d, err := st.drive(e.ID)
		if err != nil {
			return holder{}, err
		}
		return holder{barcode: &d.Barcode, drive: d, loc: "drive " + strconv.Itoa(e.ID)}, nil
	case device.ElementSlot, device.ElementImportExport:
		if e.ID < 1 || e.ID > len(st.Slots) || st.Slots[e.ID-1].ImportExport != (e.Kind == device.ElementImportExport) {
			return holder{}, fmt.Errorf("%s %d does not exist: %w", e.Kind, e.ID, device.ErrInvalidElement)
		}
		s := &st.Slots[e.ID-1]
		return holder{barcode: &s.Barcode, loc: "slot " + strconv.Itoa(e.ID), slotID: e.ID}, nil
	}
	return holder{}, fmt.Errorf("element kind %d: %w", e.Kind, device.ErrInvalidElement)
}

// Move moves the cartridge in from to the empty element to. A data
// cartridge moved into a drive is loaded at once (LTO drives thread a
// cartridge on insertion), unless the drive is offline, needs cleaning or
// cannot use it; a cleaning cartridge runs its cleaning cycle and stays
// unthreaded. Moving out of a drive needs the drive to have unloaded the
// cartridge (ErrNotReady) and no medium lock (ErrMediumLocked).
func (c *Changer) Move(ctx context.Context, from, to device.Element) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	err := updateState(c.dir, func(st *LibraryState) error {
		src, err := element(st, from)
		if err != nil {
			return err
		}
		dst, err := element(st, to)
		if err != nil {
			return err
		}
		if *src.barcode == "" {
			return fmt.Errorf("%s is empty: %w", src.loc, device.ErrSourceEmpty)
		}
		if *dst.barcode != "" {
			return fmt.Errorf("%s holds %s: %w", dst.loc, *dst.barcode, device.ErrDestinationFull)
		}
		if d := src.drive; d != nil {
			if d.Locked {
				return fmt.Errorf("%s: %w", src.loc, device.ErrMediumLocked)
			}
			if d.Loaded {
				return fmt.Errorf("%s still has %s loaded; unload it first: %w", src.loc, d.Barcode, device.ErrNotReady)
			}
		}
		bc := *src.barcode
		source := src.slotID
		if src.drive != nil {
			source = src.drive.Source
		}
		*src.barcode = ""
		*dst.barcode = bc
		cs := st.Cartridges[bc]
		cs.Location = dst.loc
		if d := src.drive; d != nil {
			d.Source, d.Loaded = 0, false
		}
		if d := dst.drive; d != nil {
			d.Source = source
			insertIntoDrive(st, d, cs)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("changer %s: move %s %d to %s %d: %w", c.dir, from.Kind, from.ID, to.Kind, to.ID, err)
	}
	return nil
}

// insertIntoDrive is what a drive does with a cartridge a changer puts into
// it: a cleaning cartridge cleans, a usable data cartridge is threaded.
func insertIntoDrive(st *LibraryState, d *DriveElement, cs *CartridgeState) {
	// Every insertion is a new mount sequence, threaded or not, so a
	// cleaning cartridge inserted again cleans again.
	d.Loaded = false
	d.LoadSeq++
	if d.Fault.Offline {
		return
	}
	if cs.Cleaning {
		cleanCycle(st, d)
		return
	}
	t, _ := TimingFor(st.Options.Generation)
	dg, cg := t.Generation, cs.Generation
	if d.Fault.CleaningRequired || cs.Fault.Offline || !(dg == cg || generationBefore(dg) == cg) {
		return
	}
	threadCartridge(st, d)
}

// generationBefore returns the generation preceding g ("LTO-8" → "LTO-7").
func generationBefore(g string) string {
	if len(g) != 5 || g[4] < '1' {
		return ""
	}
	return g[:4] + string(g[4]-1)
}

// Inventory re-reads every barcode: it checks that every cartridge in an
// element still has its files.
func (c *Changer) Inventory(ctx context.Context) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	st, err := readState(c.dir)
	if err != nil {
		return err
	}
	for bc, cs := range st.Cartridges {
		if cs.Location == vaultLocation {
			continue
		}
		if _, err := os.Stat(filepath.Join(cartridgeDir(c.dir, bc), indexFile)); err != nil {
			return fmt.Errorf("changer %s: cartridge %s in %s: %w", c.dir, bc, cs.Location, err)
		}
	}
	return nil
}

// Close releases the changer lock.
func (c *Changer) Close() error {
	if c.lock == nil {
		return nil
	}
	err := c.lock.release()
	c.lock = nil
	return err
}
