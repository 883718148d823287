package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/device"
)

// InventoryEntry is one tape seen by `inventory`.
type InventoryEntry struct {
	LabelText string    `json:"label-text"`
	UUID      uuid.UUID `json:"uuid,omitzero"`
	Pool      string    `json:"pool,omitempty"`
	Location  string    `json:"location"`
	// Note says what inventory did or found ("read label", "not labelled",
	// "unknown tape: use --read-labels", ...).
	Note string `json:"note,omitempty"`
}

// InventoryOptions select how far inventory goes.
type InventoryOptions struct {
	// ReadLabels loads tapes that are not in the inventory to read their
	// labels.
	ReadLabels bool
	// ReadAllLabels loads every tape to read its label.
	ReadAllLabels bool
}

// Inventory walks the library of a drive: known tapes get their location
// updated, tapes that left the library are marked offline, and (with the
// options) tapes are loaded to read their labels.
func (e *Engine) Inventory(ctx context.Context, driveName string, opts InventoryOptions) ([]InventoryEntry, error) {
	job := "inventory"
	if !opts.ReadLabels && !opts.ReadAllLabels {
		job = "inventory (no tape loads)"
	}
	j, cat, release, err := e.useLibrary(ctx, driveName, job)
	if err != nil {
		return nil, err
	}
	defer release()
	v, err := e.view(ctx, *j.ch)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []InventoryEntry
	for _, el := range v.all() {
		if !el.Full || el.VolumeTag == "" || strings.HasPrefix(el.VolumeTag, "CLN") {
			continue
		}
		seen[el.VolumeTag] = true
		loc := slotLocation(v, el)
		ent := InventoryEntry{LabelText: el.VolumeTag, Location: loc.String()}
		m, err := cat.FindLabel(el.VolumeTag)
		known := err == nil
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return out, err
		}
		mustRead := opts.ReadAllLabels || (opts.ReadLabels && !known)
		if mustRead && el.Kind == device.ElementDrive {
			ent.Note = "in drive number " + strconv.Itoa(el.ID) + " of the changer: not read"
			if el.ID == j.cfg.ChangerDriveNum {
				li, note, err := j.readDriveLabel(ctx, cat, el)
				if err != nil {
					return out, err
				}
				ent.Note = note
				if li != nil {
					ent.UUID, ent.Pool = li.UUID, li.Pool
				}
			}
			out = append(out, ent)
			continue
		}
		if mustRead && !v.offline(el) {
			li, note, err := j.readSlotLabel(ctx, cat, el)
			if err != nil {
				return out, err
			}
			ent.Note = note
			if li != nil {
				ent.UUID, ent.Pool = li.UUID, li.Pool
			}
			out = append(out, ent)
			if v, err = e.view(ctx, *j.ch); err != nil {
				return out, err
			}
			continue
		}
		if known {
			ent.UUID, ent.Pool = m.UUID, m.Pool
			err := cat.UpdateMedia(m.UUID, func(m *catalog.Media) error {
				m.Location = loc
				m.Updated = e.now()
				return nil
			})
			if err != nil {
				return out, err
			}
		} else if v.offline(el) {
			ent.Note = "unknown tape in import/export slot: move it into a storage slot to read its label"
		} else {
			ent.Note = "unknown tape: run inventory with --read-labels"
		}
		out = append(out, ent)
	}
	// Tapes the inventory believes in this library that are gone.
	all, err := cat.ListMedia(catalog.MediaFilter{Location: catalog.LocationOnline})
	if err != nil {
		return out, err
	}
	for _, m := range all {
		if m.Location.Changer != j.ch.Name || seen[m.LabelText] {
			continue
		}
		if err := cat.UpdateMedia(m.UUID, func(m *catalog.Media) error {
			m.Location = catalog.Location{Kind: catalog.LocationOffline}
			m.Updated = e.now()
			return nil
		}); err != nil {
			return out, err
		}
		out = append(out, InventoryEntry{LabelText: m.LabelText, UUID: m.UUID, Pool: m.Pool, Location: "offline", Note: "no longer in changer " + j.ch.Name})
	}
	return out, nil
}

// readSlotLabel loads the tape in el, reads its label into the inventory,
// and puts it back.
func (j *driveJob) readSlotLabel(ctx context.Context, cat *catalog.Catalog, el device.ElementStatus) (*LabelInfo, string, error) {
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return nil, "", err
	}
	if err := j.loadElement(ctx, v, el); err != nil {
		return nil, "", err
	}
	li, rerr := j.readLabel(ctx)
	note := "read label"
	var res error
	switch {
	case rerr == nil && li.LabelText != el.VolumeTag:
		note = "label " + li.LabelText + " does not match barcode: not added"
		li = nil
	case rerr == nil:
		res = j.inventorize(cat, li)
	case errors.Is(rerr, ErrNotFound):
		note = "not labelled"
	default:
		res = rerr
	}
	j.logf("%s: %s", el.VolumeTag, note)
	if v, err = j.e.view(ctx, *j.ch); err != nil {
		return li, note, errors.Join(res, err)
	}
	if _, err := j.unloadToSlot(ctx, v, el.ID); err != nil {
		return li, note, errors.Join(res, err)
	}
	return li, note, res
}

// readDriveLabel reads the label of the tape already in this job's drive
// into the inventory.
func (j *driveJob) readDriveLabel(ctx context.Context, cat *catalog.Catalog, el device.ElementStatus) (*LabelInfo, string, error) {
	li, err := j.readLabel(ctx)
	switch {
	case err == nil && li.LabelText != el.VolumeTag:
		return nil, "label " + li.LabelText + " does not match barcode: not added", nil
	case err == nil:
		return li, "read label", j.inventorize(cat, li)
	case errors.Is(err, ErrNotFound):
		return nil, "not labelled", nil
	}
	return nil, "", err
}

// slotLocation is the inventory location of a cartridge in a changer
// element.
func slotLocation(v *changerView, el device.ElementStatus) catalog.Location {
	if v.offline(el) {
		return catalog.Location{Kind: catalog.LocationOffline}
	}
	loc := catalog.Location{Kind: catalog.LocationOnline, Changer: v.cfg.Name}
	if el.Kind == device.ElementSlot {
		loc.Slot = el.ID
	}
	return loc
}

// noteLocation records where a known tape went after a move. Tapes that
// are not in the inventory are left alone. A catalog that cannot be opened
// (held by another process) is reported in the log, not as a failure of the
// move, which has happened; `inventory` repairs locations later.
func (e *Engine) noteLocation(c config.Changer, tag string, el device.ElementStatus, v *changerView) error {
	if tag == "" {
		return nil
	}
	cat, err := e.Catalog()
	if err != nil {
		e.logf("warning: location of %s not recorded: %v", tag, err)
		return nil
	}
	m, err := cat.FindLabel(tag)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	loc := slotLocation(v, el)
	if el.Kind == device.ElementImportExport {
		loc = catalog.Location{Kind: catalog.LocationOffline}
	}
	return cat.UpdateMedia(m.UUID, func(m *catalog.Media) error {
		m.Location = loc
		m.Updated = e.now()
		return nil
	})
}

// MediaList lists the inventory, optionally of one pool.
func (e *Engine) MediaList(pool string) ([]catalog.Media, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	return cat.ListMedia(catalog.MediaFilter{Pool: pool})
}
