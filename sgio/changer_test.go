package sgio

import (
	"context"
	"reflect"
	"testing"

	"tapefs/engine/device"
)

// testLayout is a library with one robot at 0, four slots at 1000h, one
// mail slot at 10h and two drives at 100h.
var testLayout = ElementAddressAssignment{
	TransportFirst: 0, TransportCount: 1,
	StorageFirst: 0x1000, StorageCount: 4,
	ImportFirst: 0x10, ImportCount: 1,
	DriveFirst: 0x100, DriveCount: 2,
}

func newTestChanger(t *testing.T) (*Changer, *fakeTransport) {
	t.Helper()
	f := newFake(t, inquirySteps(TypeChanger, "CHG0001")...)
	c, err := NewChanger(f)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func resCDB(typ byte, first, count uint16) []byte {
	alloc := 16 + int(count)*elementDescMax
	return readElementStatusCDB(typ, first, count, uint32(alloc))
}

func TestNewChangerChecksType(t *testing.T) {
	f := newFake(t, inquirySteps(TypeTape, "X")...)
	if _, err := NewChanger(f); err == nil {
		t.Error("a drive was accepted as a changer")
	}
}

func TestChangerStatus(t *testing.T) {
	ctx := context.Background()
	c, f := newTestChanger(t)
	f.expect(
		withIn(modeSense6CDB(true, 0x1D, 255), elementAddressPage(testLayout)),
		withIn(resCDB(elemDataXfer, 0x100, 2), elementStatusData(elementPage(elemDataXfer,
			elementDesc(0x100, true, "VOL003L8", 0x1002, true), // from slot 3
			elementDesc(0x101, false, "", 0, false)))),
		withIn(resCDB(elemStorage, 0x1000, 4), elementStatusData(elementPage(elemStorage,
			elementDesc(0x1000, true, "VOL001L8", 0, false),
			elementDesc(0x1001, true, "CLN001CU", 0, false),
			elementDesc(0x1002, false, "", 0, false),
			elementDesc(0x1003, false, "STALE", 0, false),     // empty: tag ignored
			elementDesc(0x2000, true, "OUTSIDE", 0, false)))), // not in the layout
		withIn(resCDB(elemImportExp, 0x10, 1), elementStatusData(elementPage(elemImportExp,
			elementDesc(0x10, true, "VOL009L8", 0x1003, true)))),
	)
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	el := func(k device.ElementKind, id int) device.Element { return device.Element{Kind: k, ID: id} }
	want := device.ChangerStatus{
		Drives: []device.ElementStatus{
			{Element: el(device.ElementDrive, 0), Full: true, VolumeTag: "VOL003L8", SourceSlot: 3},
			{Element: el(device.ElementDrive, 1)},
		},
		Slots: []device.ElementStatus{
			{Element: el(device.ElementSlot, 1), Full: true, VolumeTag: "VOL001L8"},
			{Element: el(device.ElementSlot, 2), Full: true, VolumeTag: "CLN001CU"},
			{Element: el(device.ElementSlot, 3)},
			{Element: el(device.ElementSlot, 4)},
		},
		ImportExport: []device.ElementStatus{
			{Element: el(device.ElementImportExport, 5), Full: true, VolumeTag: "VOL009L8", SourceSlot: 4},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got  %+v\nwant %+v", st, want)
	}

	// The layout is cached: a second Status reads only element status.
	f.expect(
		withIn(resCDB(elemDataXfer, 0x100, 2), elementStatusData()),
		withIn(resCDB(elemStorage, 0x1000, 4), elementStatusData()),
		withIn(resCDB(elemImportExp, 0x10, 1), elementStatusData()),
	)
	st, err = c.Status(ctx)
	if err != nil || len(st.Slots) != 4 || st.Slots[0].Full {
		t.Errorf("second status %+v, %v", st, err)
	}
}

func TestChangerMove(t *testing.T) {
	ctx := context.Background()
	c, f := newTestChanger(t)
	slot := func(id int) device.Element { return device.Element{Kind: device.ElementSlot, ID: id} }
	drive := func(id int) device.Element { return device.Element{Kind: device.ElementDrive, ID: id} }
	mail := device.Element{Kind: device.ElementImportExport, ID: 5}

	f.expect(
		withIn(modeSense6CDB(true, 0x1D, 255), elementAddressPage(testLayout)),
		cmd(moveMediumCDB(0, 0x1002, 0x101)),
	)
	must(t, c.Move(ctx, slot(3), drive(1)))

	f.expect(cmd(moveMediumCDB(0, 0x100, 0x10)))
	must(t, c.Move(ctx, drive(0), mail))

	// Element IDs outside the layout: no command.
	for _, e := range []device.Element{slot(0), slot(5), drive(2), drive(-1),
		{Kind: device.ElementImportExport, ID: 4}, {Kind: device.ElementImportExport, ID: 6}} {
		wantErr(t, "invalid element", c.Move(ctx, e, slot(1)), device.ErrInvalidElement)
		wantErr(t, "invalid element", c.Move(ctx, slot(1), e), device.ErrInvalidElement)
	}

	for _, tc := range []struct {
		sense []byte
		want  error
	}{
		{fixedSense(KeyIllegalRequest, 0x3B, 0x0E, 0, 0, false), device.ErrSourceEmpty},
		{fixedSense(KeyIllegalRequest, 0x3B, 0x0D, 0, 0, false), device.ErrDestinationFull},
		{fixedSense(KeyIllegalRequest, 0x21, 0x01, 0, 0, false), device.ErrInvalidElement},
		{fixedSense(KeyIllegalRequest, 0x53, 0x02, 0, 0, false), device.ErrMediumLocked},
		{fixedSense(KeyNotReady, 0x04, 0x03, 0, 0, false), device.ErrNotReady},
	} {
		f.expect(withSense(moveMediumCDB(0, 0x1000, 0x100), tc.sense))
		wantErr(t, "move", c.Move(ctx, slot(1), drive(0)), tc.want)
	}
}

func TestChangerInventoryAndInfo(t *testing.T) {
	ctx := context.Background()
	c, f := newTestChanger(t)
	f.expect(cmd(initializeElementStatusCDB()))
	must(t, c.Inventory(ctx))
	info, err := c.Info(ctx)
	if err != nil || info.Serial != "CHG0001" || info.Vendor != "HPE" {
		t.Errorf("info %+v, %v", info, err)
	}
	must(t, c.Close())
	if !f.closed {
		t.Error("transport not closed")
	}
}
