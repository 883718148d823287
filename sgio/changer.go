package sgio

import (
	"context"
	"fmt"

	"tapefs/engine/device"
)

// Changer is an SMC media changer driven through a Transport. It implements
// device.Changer.
//
// Element numbering follows device.Element: the element address assignment
// mode page (1Dh) gives the first address and count of each element type;
// drives are numbered from 0, storage slots from 1, both in address order,
// and import/export slots continue after the last storage slot (as mtx
// numbers them).
//
// A Changer is used by one goroutine at a time; OpenChanger holds the sg
// device open with O_EXCL until Close.
type Changer struct {
	executor
	inq    Inquiry
	serial string
	// layout is read on first use and kept: the element configuration of
	// a library changes only when it is reconfigured, which resets it.
	layout *ElementAddressAssignment
}

var _ device.Changer = (*Changer)(nil)

// OpenChanger opens the media changer at path (its /dev/sg* node or a link
// to it) with O_RDWR|O_EXCL; another user makes it fail with
// device.ErrBusy. The device must report peripheral type 8.
func OpenChanger(path string) (*Changer, error) {
	return openDevice(path, NewChanger)
}

// NewChanger returns a Changer on an open transport after checking with
// INQUIRY that the device is a medium changer. The Changer owns tr.
func NewChanger(tr Transport) (*Changer, error) {
	c := &Changer{executor: executor{tr: tr}}
	inq, serial, err := c.inquiry(context.Background())
	if err != nil {
		return nil, err
	}
	if inq.DeviceType != TypeChanger {
		return nil, fmt.Errorf("not a medium changer (peripheral device type %d)", inq.DeviceType)
	}
	c.inq, c.serial = inq, serial
	return c, nil
}

// Info reports the INQUIRY vendor, model, revision and unit serial number.
func (c *Changer) Info(ctx context.Context) (device.Info, error) {
	return device.Info{Vendor: c.inq.Vendor, Model: c.inq.Model, Serial: c.serial, Revision: c.inq.Revision}, nil
}

// elementLayout returns the element address assignment, reading mode page
// 1Dh on first use.
func (c *Changer) elementLayout(ctx context.Context) (ElementAddressAssignment, error) {
	if c.layout != nil {
		return *c.layout, nil
	}
	b, err := c.in(ctx, "MODE SENSE(6) (element address assignment)", modeSense6CDB(true, 0x1D, 255), 255, timeoutShort)
	if err != nil {
		return ElementAddressAssignment{}, err
	}
	l, err := ParseElementAddressAssignment(b)
	if err != nil {
		return ElementAddressAssignment{}, err
	}
	c.layout = &l
	return l, nil
}

// address maps a device.Element to its SCSI element address.
func address(l ElementAddressAssignment, e device.Element) (uint16, error) {
	switch {
	case e.Kind == device.ElementDrive && e.ID >= 0 && e.ID < int(l.DriveCount):
		return l.DriveFirst + uint16(e.ID), nil
	case e.Kind == device.ElementSlot && e.ID >= 1 && e.ID <= int(l.StorageCount):
		return l.StorageFirst + uint16(e.ID-1), nil
	case e.Kind == device.ElementImportExport && e.ID > int(l.StorageCount) && e.ID <= int(l.StorageCount)+int(l.ImportCount):
		return l.ImportFirst + uint16(e.ID-int(l.StorageCount)-1), nil
	}
	return 0, fmt.Errorf("%s %d: %w (the changer has %d drives, %d slots, %d import/export slots)",
		e.Kind, e.ID, device.ErrInvalidElement, l.DriveCount, l.StorageCount, l.ImportCount)
}

// element maps a SCSI element address of type typ back to a device.Element.
func element(l ElementAddressAssignment, typ byte, addr uint16) (device.Element, bool) {
	in := func(first, count uint16) bool { return addr >= first && int(addr) < int(first)+int(count) }
	switch typ {
	case elemDataXfer:
		if in(l.DriveFirst, l.DriveCount) {
			return device.Element{Kind: device.ElementDrive, ID: int(addr - l.DriveFirst)}, true
		}
	case elemStorage:
		if in(l.StorageFirst, l.StorageCount) {
			return device.Element{Kind: device.ElementSlot, ID: int(addr-l.StorageFirst) + 1}, true
		}
	case elemImportExp:
		if in(l.ImportFirst, l.ImportCount) {
			return device.Element{Kind: device.ElementImportExport, ID: int(l.StorageCount) + int(addr-l.ImportFirst) + 1}, true
		}
	}
	return device.Element{}, false
}

// sourceElement maps a source element address of any type.
func sourceElement(l ElementAddressAssignment, addr uint16) (device.Element, bool) {
	for _, typ := range []byte{elemStorage, elemImportExp, elemDataXfer} {
		if e, ok := element(l, typ, addr); ok {
			return e, true
		}
	}
	return device.Element{}, false
}

// Status reads the element status of the drives, storage slots and
// import/export slots (READ ELEMENT STATUS with VOLTAG, one command per
// element type), with barcodes and the source slot of loaded drives.
func (c *Changer) Status(ctx context.Context) (device.ChangerStatus, error) {
	l, err := c.elementLayout(ctx)
	if err != nil {
		return device.ChangerStatus{}, fmt.Errorf("changer status: %w", err)
	}
	st := device.ChangerStatus{
		Drives:       make([]device.ElementStatus, l.DriveCount),
		Slots:        make([]device.ElementStatus, l.StorageCount),
		ImportExport: make([]device.ElementStatus, l.ImportCount),
	}
	for i := range st.Drives {
		st.Drives[i].Element = device.Element{Kind: device.ElementDrive, ID: i}
	}
	for i := range st.Slots {
		st.Slots[i].Element = device.Element{Kind: device.ElementSlot, ID: i + 1}
	}
	for i := range st.ImportExport {
		st.ImportExport[i].Element = device.Element{Kind: device.ElementImportExport, ID: int(l.StorageCount) + i + 1}
	}
	for _, q := range []struct {
		typ          byte
		first, count uint16
	}{
		{elemDataXfer, l.DriveFirst, l.DriveCount},
		{elemStorage, l.StorageFirst, l.StorageCount},
		{elemImportExp, l.ImportFirst, l.ImportCount},
	} {
		if q.count == 0 {
			continue
		}
		alloc := min(16+int(q.count)*elementDescMax, maxAlloc)
		b, err := c.in(ctx, "READ ELEMENT STATUS", readElementStatusCDB(q.typ, q.first, q.count, uint32(alloc)), alloc, timeoutMove)
		if err != nil {
			return device.ChangerStatus{}, fmt.Errorf("changer status: %w", err)
		}
		descs, err := ParseElementStatus(b)
		if err != nil {
			return device.ChangerStatus{}, fmt.Errorf("changer status: %w", err)
		}
		for _, d := range descs {
			e, ok := element(l, d.Type, d.Address)
			if !ok {
				continue
			}
			es := device.ElementStatus{Element: e, Full: d.Full}
			if d.Full {
				es.VolumeTag = d.VolumeTag
			}
			if d.Full && d.SourceValid {
				if src, ok := sourceElement(l, d.Source); ok && src.Kind != device.ElementDrive {
					es.SourceSlot = src.ID
				}
			}
			switch e.Kind {
			case device.ElementDrive:
				st.Drives[e.ID] = es
			case device.ElementSlot:
				st.Slots[e.ID-1] = es
			case device.ElementImportExport:
				st.ImportExport[e.ID-int(l.StorageCount)-1] = es
			}
		}
	}
	return st, nil
}

// Move moves the cartridge in from to the empty element to (MOVE MEDIUM
// with the first medium transport element).
func (c *Changer) Move(ctx context.Context, from, to device.Element) error {
	l, err := c.elementLayout(ctx)
	if err != nil {
		return fmt.Errorf("move medium: %w", err)
	}
	src, err := address(l, from)
	if err != nil {
		return fmt.Errorf("move medium: source %w", err)
	}
	dst, err := address(l, to)
	if err != nil {
		return fmt.Errorf("move medium: destination %w", err)
	}
	if err := c.run(ctx, "MOVE MEDIUM", moveMediumCDB(l.TransportFirst, src, dst), timeoutMove); err != nil {
		return fmt.Errorf("move medium from %s %d to %s %d: %w", from.Kind, from.ID, to.Kind, to.ID, err)
	}
	return nil
}

// Inventory makes the changer rescan its elements and barcodes
// (INITIALIZE ELEMENT STATUS).
func (c *Changer) Inventory(ctx context.Context) error {
	if err := c.run(ctx, "INITIALIZE ELEMENT STATUS", initializeElementStatusCDB(), timeoutInit); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return nil
}

// Close closes the device.
func (c *Changer) Close() error { return c.tr.Close() }
