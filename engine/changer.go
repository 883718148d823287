package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"tapefs/engine/config"
	"tapefs/engine/device"
)

// ChangerInfo is one configured changer with what the device reports about
// itself (empty when the device is offline or held by another process).
type ChangerInfo struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	ExportSlots []int  `json:"export-slots,omitempty"`
	// EjectBeforeUnload is the changer's eject-before-unload setting.
	EjectBeforeUnload bool   `json:"eject-before-unload,omitempty"`
	Vendor            string `json:"vendor,omitempty"`
	Model             string `json:"model,omitempty"`
	Serial            string `json:"serial,omitempty"`
}

// ChangerCreate adds a changer to tape.cfg.
func (e *Engine) ChangerCreate(name, path string, exportSlots []int) error {
	if err := checkPath(path); err != nil {
		return err
	}
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		if _, err := tc.Changer(name); err == nil {
			return classify(ErrExists, "changer %s already exists", name)
		}
		tc.Changers = append(tc.Changers, config.Changer{Name: name, Path: path, ExportSlots: exportSlots})
		return nil
	})
}

// ChangerUpdate changes a changer's settings. Nil arguments are left alone;
// an empty non-nil exportSlots clears them.
func (e *Engine) ChangerUpdate(name string, path *string, exportSlots *[]int, ejectBeforeUnload *bool) error {
	if path != nil {
		if err := checkPath(*path); err != nil {
			return err
		}
	}
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		c, err := tc.Changer(name)
		if err != nil {
			return err
		}
		if path != nil {
			c.Path = *path
		}
		if exportSlots != nil {
			c.ExportSlots = *exportSlots
		}
		if ejectBeforeUnload != nil {
			c.EjectBeforeUnload = *ejectBeforeUnload
		}
		return nil
	})
}

// ChangerRemove deletes a changer from tape.cfg. It refuses while a drive
// refers to it.
func (e *Engine) ChangerRemove(name string) error {
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		if _, err := tc.Changer(name); err != nil {
			return err
		}
		for _, d := range tc.Drives {
			if d.Changer == name {
				return refusedf("changer %s is used by drive %s: remove the drive or run `tapefs drive update %s --delete changer` first", name, d.Name, d.Name)
			}
		}
		tc.Changers = slices.DeleteFunc(tc.Changers, func(c config.Changer) bool { return c.Name == name })
		return nil
	})
}

// ChangerConfig returns one changer's configuration.
func (e *Engine) ChangerConfig(name string) (config.Changer, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return config.Changer{}, err
	}
	c, err := tc.Changer(name)
	if err != nil {
		return config.Changer{}, err
	}
	return *c, nil
}

// ChangerList lists configured changers with their identity when online.
func (e *Engine) ChangerList(ctx context.Context) ([]ChangerInfo, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return nil, err
	}
	out := make([]ChangerInfo, 0, len(tc.Changers))
	for _, c := range tc.Changers {
		ci := ChangerInfo{Name: c.Name, Path: c.Path, ExportSlots: c.ExportSlots}
		_ = e.changerOwner(c.Path).do(ctx, func(ctx context.Context, ch device.Changer) error {
			info, err := ch.Info(ctx)
			if err == nil {
				ci.Vendor, ci.Model, ci.Serial = info.Vendor, info.Model, info.Serial
			}
			return err
		})
		out = append(out, ci)
	}
	return out, nil
}

// ChangerScan lists the changers the system can see (SCSI changers and the
// known virtual libraries).
func (e *Engine) ChangerScan() ([]device.ScanEntry, error) {
	return e.opts.Opener.ScanChangers()
}

// ChangerEntry is one row of `changer status`.
type ChangerEntry struct {
	// Kind is "drive", "slot" or "import-export".
	Kind string `json:"entry-kind"`
	ID   int    `json:"entry-id"`
	// LabelText is the barcode of the cartridge in the element.
	LabelText string `json:"label-text,omitempty"`
	// LoadedSlot is, for a drive, the slot its cartridge came from.
	LoadedSlot int `json:"loaded-slot,omitempty"`
}

// changerView is a changer's element status seen through its configuration:
// configured export slots are storage slots that tapefs treats as
// import/export slots.
type changerView struct {
	cfg    config.Changer
	status device.ChangerStatus
}

func (v *changerView) isExport(slot int) bool { return slices.Contains(v.cfg.ExportSlots, slot) }

// all returns every element; for slots, kind is ElementSlot even for
// export slots.
func (v *changerView) all() []device.ElementStatus {
	var out []device.ElementStatus
	out = append(out, v.status.Drives...)
	out = append(out, v.status.Slots...)
	out = append(out, v.status.ImportExport...)
	return out
}

// offline reports whether a slot's cartridge is outside the library's
// reach for jobs (import/export or configured export slot).
func (v *changerView) offline(el device.ElementStatus) bool {
	return el.Kind == device.ElementImportExport || (el.Kind == device.ElementSlot && v.isExport(el.ID))
}

// slot returns the element addressed by a slot number (storage or
// import/export numbering, as `changer status` shows them).
func (v *changerView) slot(n int) (device.ElementStatus, error) {
	for _, el := range v.status.Slots {
		if el.ID == n {
			return el, nil
		}
	}
	for _, el := range v.status.ImportExport {
		if el.ID == n {
			return el, nil
		}
	}
	return device.ElementStatus{}, invalidf("slot %d is out of range for changer %s (slots %s)", n, v.cfg.Name, v.slotRange())
}

func (v *changerView) slotRange() string {
	ids := []int{}
	for _, el := range v.status.Slots {
		ids = append(ids, el.ID)
	}
	for _, el := range v.status.ImportExport {
		ids = append(ids, el.ID)
	}
	if len(ids) == 0 {
		return "none"
	}
	sort.Ints(ids)
	return fmt.Sprintf("%d-%d", ids[0], ids[len(ids)-1])
}

func (v *changerView) drive(n int) (device.ElementStatus, error) {
	for _, el := range v.status.Drives {
		if el.ID == n {
			return el, nil
		}
	}
	return device.ElementStatus{}, invalidf("changer %s has no drive number %d (it has %d drives)", v.cfg.Name, n, len(v.status.Drives))
}

// find returns the element holding the cartridge with barcode tag.
func (v *changerView) find(tag string) (device.ElementStatus, bool) {
	for _, el := range v.all() {
		if el.Full && el.VolumeTag == tag {
			return el, true
		}
	}
	return device.ElementStatus{}, false
}

// ErrMediaOffline: a job needs a tape that is not in the library's
// reach: not in the changer at all, or in an import/export slot (the
// operator is taking it out, or has not put it into a storage slot yet).
// Such errors also match ErrNotFound.
var ErrMediaOffline = errors.New("tape is offline")

// online returns the element of the cartridge with barcode label when a
// job may load it: in a storage slot or a drive. A tape in an
// import/export slot (real or configured) is offline, as is one the
// changer does not hold; the error says where it is and what to do, and
// wraps ErrMediaOffline. Every job that loads a tape by its label checks
// here (media requests hook in here).
func (v *changerView) online(label string) (device.ElementStatus, error) {
	el, ok := v.find(label)
	if !ok {
		return el, classify(ErrNotFound, "tape %s is not in the library (changer %s): %w; put it into a storage slot and run `tapefs inventory` (see `tapefs changer status %s`)",
			label, v.cfg.Name, ErrMediaOffline, v.cfg.Name)
	}
	if v.offline(el) {
		return el, classify(ErrNotFound, "tape %s is in import/export slot %d of changer %s: %w (exported); to use it, move it into a storage slot (`tapefs changer transfer --from %d --to SLOT`, or by hand and `tapefs inventory`)",
			label, el.ID, v.cfg.Name, ErrMediaOffline, el.ID)
	}
	return el, nil
}

// freeStorageSlot returns an empty storage slot that is not an export slot,
// preferring want when it is free.
func (v *changerView) freeStorageSlot(want int) (device.Element, error) {
	var first *device.ElementStatus
	for i, el := range v.status.Slots {
		if el.Full || v.isExport(el.ID) {
			continue
		}
		if el.ID == want {
			return el.Element, nil
		}
		if first == nil {
			first = &v.status.Slots[i]
		}
	}
	if first == nil {
		return device.Element{}, classify(ErrNoSpace, "changer %s has no free storage slot", v.cfg.Name)
	}
	return first.Element, nil
}

// freeExportSlot returns an empty import/export slot: a configured export
// slot first (the operator chose those for exports), else a real one.
func (v *changerView) freeExportSlot() (device.Element, error) {
	for _, el := range v.status.Slots {
		if !el.Full && v.isExport(el.ID) {
			return el.Element, nil
		}
	}
	for _, el := range v.status.ImportExport {
		if !el.Full {
			return el.Element, nil
		}
	}
	return device.Element{}, classify(ErrNoSpace, "changer %s has no free import/export slot: take tapes out of the mail slots, or configure export slots with `tapefs changer update %s --export-slots N,M`", v.cfg.Name, v.cfg.Name)
}

// entries lists the status rows in the order proxmox-tape prints them:
// drives, import/export slots, storage slots.
func (v *changerView) entries() []ChangerEntry {
	var out []ChangerEntry
	for _, el := range v.status.Drives {
		out = append(out, ChangerEntry{Kind: "drive", ID: el.ID, LabelText: el.VolumeTag, LoadedSlot: el.SourceSlot})
	}
	var ie []ChangerEntry
	for _, el := range v.status.ImportExport {
		ie = append(ie, ChangerEntry{Kind: "import-export", ID: el.ID, LabelText: el.VolumeTag})
	}
	for _, el := range v.status.Slots {
		if v.isExport(el.ID) {
			ie = append(ie, ChangerEntry{Kind: "import-export", ID: el.ID, LabelText: el.VolumeTag})
		}
	}
	sort.Slice(ie, func(a, b int) bool { return ie[a].ID < ie[b].ID })
	out = append(out, ie...)
	for _, el := range v.status.Slots {
		if !v.isExport(el.ID) {
			out = append(out, ChangerEntry{Kind: "slot", ID: el.ID, LabelText: el.VolumeTag})
		}
	}
	return out
}

// view reads a changer's status.
func (e *Engine) view(ctx context.Context, c config.Changer) (*changerView, error) {
	v := &changerView{cfg: c}
	err := e.changerOwner(c.Path).do(ctx, func(ctx context.Context, ch device.Changer) error {
		st, err := ch.Status(ctx)
		v.status = st
		return err
	})
	if err != nil {
		err = fmt.Errorf("changer %s: %w", c.Name, err)
		e.cacheChanger(c.Name, nil, err)
		return nil, err
	}
	e.cacheChanger(c.Name, v, nil)
	return v, nil
}

// move moves a cartridge inside a changer.
func (e *Engine) move(ctx context.Context, c config.Changer, from, to device.Element) error {
	err := e.changerOwner(c.Path).do(ctx, func(ctx context.Context, ch device.Changer) error {
		return ch.Move(ctx, from, to)
	})
	if err != nil {
		return fmt.Errorf("changer %s: move %s %d to %s %d: %w", c.Name, from.Kind, from.ID, to.Kind, to.ID, err)
	}
	return nil
}

// ChangerStatus returns the status rows of a changer.
func (e *Engine) ChangerStatus(ctx context.Context, name, driveName string) (string, []ChangerEntry, error) {
	c, err := e.ResolveChanger(name, driveName)
	if err != nil {
		return "", nil, err
	}
	v, err := e.view(ctx, c)
	if err != nil {
		return "", nil, err
	}
	return c.Name, v.entries(), nil
}

// ChangerTransfer moves a cartridge from one slot to another.
func (e *Engine) ChangerTransfer(ctx context.Context, name, driveName string, from, to int) error {
	c, err := e.ResolveChanger(name, driveName)
	if err != nil {
		return err
	}
	v, err := e.view(ctx, c)
	if err != nil {
		return err
	}
	src, err := v.slot(from)
	if err != nil {
		return err
	}
	dst, err := v.slot(to)
	if err != nil {
		return err
	}
	if !src.Full {
		return classify(ErrInvalid, "slot %d of changer %s is empty", from, c.Name)
	}
	if dst.Full {
		return classify(ErrInvalid, "slot %d of changer %s is full (holds %s)", to, c.Name, orUnknown(dst.VolumeTag))
	}
	if err := e.move(ctx, c, src.Element, dst.Element); err != nil {
		return err
	}
	e.ctxLogf(ctx, "moved %s from slot %d to slot %d", orUnknown(src.VolumeTag), from, to)
	return e.noteLocation(c, src.VolumeTag, dst, v)
}

func orUnknown(tag string) string {
	if strings.TrimSpace(tag) == "" {
		return "(no barcode)"
	}
	return tag
}
