// The changer conformance suite. Over 600 lines: one check per clause of
// the device.Changer contract, each short and independent.

package devicetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"tapefs/engine/device"
)

// ChangerFactory returns a changer with at least 1 drive, 4 storage slots
// and 1 import/export slot, in this state: every drive and import/export
// slot empty, at least 2 barcoded data cartridges in storage slots and at
// least 1 storage slot empty. openDrive opens drive n (the changer's drive
// element n) of the same library.
//
// The factory registers the cleanup of everything it creates, including
// drives openDrive opens, with t.Cleanup; the suite calls openDrive at most
// once per drive in a test and never closes what it gets. The suite moves
// cartridges back to storage slots at the end of each test, and overwrites
// the data cartridges it is given. A cleaning cartridge (barcode starting
// with CLN) in a storage slot is used once, to check that loading it cleans
// and leaves it unusable for data.
type ChangerFactory func(t *testing.T) (c device.Changer, openDrive func(n int) device.Drive)

// changerTest is the state of one changer subtest.
type changerTest struct {
	t         *testing.T
	c         device.Changer
	openDrive func(n int) device.Drive
	drives    map[int]device.Drive
	initial   device.ChangerStatus
}

// Skip names a subtest of a suite that an implementation is known not to
// pass, and why (an emulator that leaves out part of the SCSI standard).
type Skip struct {
	Name, Why string
}

// RunChangerSuite runs the changer conformance tests, one subtest per
// promise of the device.Changer contract and of drives in a library, each
// on a fresh changer from newChanger. The subtests named in skip are
// reported as skipped, with their reason; naming one the suite does not
// have fails the test.
func RunChangerSuite(t *testing.T, newChanger ChangerFactory, skip ...Skip) {
	tests := []struct {
		name string
		fn   func(ct *changerTest)
	}{
		{"Info", testChangerInfo},
		{"StatusLayout", testStatusLayout},
		{"EmptyDrive", testEmptyDrive},
		{"MoveSlotDriveSlot", testMoveSlotDriveSlot},
		{"MoveSlotToSlot", testMoveSlotToSlot},
		{"MoveImportExport", testMoveImportExport},
		{"MoveFromLoadedDrive", testMoveFromLoadedDrive},
		{"MoveFromLockedDrive", testMoveFromLockedDrive},
		{"MoveToFullElement", testMoveToFullElement},
		{"MoveFromEmptyElement", testMoveFromEmptyElement},
		{"MoveInvalidElement", testMoveInvalidElement},
		{"Inventory", testInventory},
		{"DataSurvivesMoves", testDataSurvivesMoves},
		{"SecondDrive", testSecondDrive},
		{"CleaningCartridge", testCleaningCartridge},
	}
	why := map[string]string{}
	for _, s := range skip {
		why[s.Name] = s.Why
	}
	for _, tc := range tests {
		reason, skipped := why[tc.name]
		delete(why, tc.name)
		t.Run(tc.name, func(t *testing.T) {
			if skipped {
				t.Skip(reason)
			}
			c, openDrive := newChanger(t)
			ct := &changerTest{t: t, c: c, openDrive: openDrive, drives: map[int]device.Drive{}}
			ct.initial = ct.status()
			ct.checkPreconditions()
			t.Cleanup(ct.restore)
			tc.fn(ct)
		})
	}
	for name := range why {
		t.Errorf("skip names %q, which is not a changer subtest", name)
	}
}

// checkPreconditions fails the test when the factory broke its promises.
func (ct *changerTest) checkPreconditions() {
	t := ct.t
	t.Helper()
	st := ct.initial
	if len(st.Drives) < 1 || len(st.Slots) < 4 || len(st.ImportExport) < 1 {
		t.Fatalf("changer has %d drives, %d storage slots, %d import/export slots; the suite needs at least 1, 4 and 1",
			len(st.Drives), len(st.Slots), len(st.ImportExport))
	}
	for _, e := range append(st.Drives[:len(st.Drives):len(st.Drives)], st.ImportExport...) {
		if e.Full {
			t.Fatalf("%v %d holds cartridge %q; the factory must leave drives and import/export slots empty", e.Kind, e.ID, e.VolumeTag)
		}
	}
	if n := len(ct.dataSlots()); n < 2 {
		t.Fatalf("changer has %d barcoded data cartridges in storage slots; the suite needs 2", n)
	}
	if len(ct.emptySlots()) < 1 {
		t.Fatalf("changer has no empty storage slot; the suite needs 1")
	}
}

// drive returns drive n of the library, opening it once.
func (ct *changerTest) drive(n int) device.Drive {
	if d, ok := ct.drives[n]; ok {
		return d
	}
	d := ct.openDrive(n)
	ct.drives[n] = d
	return d
}

// status reads the changer status and fails the test on error.
func (ct *changerTest) status() device.ChangerStatus {
	ct.t.Helper()
	st, err := ct.c.Status(ct.t.Context())
	if err != nil {
		ct.t.Fatalf("changer Status: %v", err)
	}
	return st
}

// element returns the status of element e, failing the test if the changer
// does not list it.
func (ct *changerTest) element(st device.ChangerStatus, e device.Element) device.ElementStatus {
	ct.t.Helper()
	for _, list := range [][]device.ElementStatus{st.Drives, st.Slots, st.ImportExport} {
		for _, es := range list {
			if es.Element == e {
				return es
			}
		}
	}
	ct.t.Fatalf("changer Status does not list %v %d", e.Kind, e.ID)
	return device.ElementStatus{}
}

// dataSlots lists the storage slots of the initial status that hold a
// barcoded data cartridge.
func (ct *changerTest) dataSlots() []device.ElementStatus {
	var out []device.ElementStatus
	for _, s := range ct.initial.Slots {
		if s.Full && s.VolumeTag != "" && !strings.HasPrefix(s.VolumeTag, "CLN") {
			out = append(out, s)
		}
	}
	return out
}

// emptySlots lists the empty storage slots of the initial status.
func (ct *changerTest) emptySlots() []device.ElementStatus {
	var out []device.ElementStatus
	for _, s := range ct.initial.Slots {
		if !s.Full {
			out = append(out, s)
		}
	}
	return out
}

func driveElement(n int) device.Element {
	return device.Element{Kind: device.ElementDrive, ID: n}
}

func elemName(e device.Element) string { return fmt.Sprintf("%v %d", e.Kind, e.ID) }

// move moves a cartridge and checks that its barcode went along.
func (ct *changerTest) move(from, to device.Element) {
	t := ct.t
	t.Helper()
	tag := ct.element(ct.status(), from).VolumeTag
	if err := ct.c.Move(t.Context(), from, to); err != nil {
		t.Fatalf("Move(%s -> %s): %v", elemName(from), elemName(to), err)
	}
	st := ct.status()
	src, dst := ct.element(st, from), ct.element(st, to)
	if src.Full || src.VolumeTag != "" {
		t.Fatalf("after Move(%s -> %s) the source is full %v with barcode %q; want empty", elemName(from), elemName(to), src.Full, src.VolumeTag)
	}
	if !dst.Full || dst.VolumeTag != tag {
		t.Fatalf("after Move(%s -> %s) the destination is full %v with barcode %q; want full with %q", elemName(from), elemName(to), dst.Full, dst.VolumeTag, tag)
	}
}

// wantMoveErr checks that a move fails with target and changes nothing.
func (ct *changerTest) wantMoveErr(from, to device.Element, target error) {
	t := ct.t
	t.Helper()
	before := ct.status()
	err := ct.c.Move(t.Context(), from, to)
	wantErr(t, err, target, fmt.Sprintf("Move(%s -> %s)", elemName(from), elemName(to)))
	ct.wantStatus(before, "after the failed Move("+elemName(from)+" -> "+elemName(to)+")")
}

// wantStatus checks that the cartridges are where want has them.
func (ct *changerTest) wantStatus(want device.ChangerStatus, what string) {
	t := ct.t
	t.Helper()
	got := ct.status()
	lists := [][2][]device.ElementStatus{{want.Drives, got.Drives}, {want.Slots, got.Slots}, {want.ImportExport, got.ImportExport}}
	for _, l := range lists {
		if len(l[0]) != len(l[1]) {
			t.Fatalf("changer Status %s lists %d elements of a kind, before %d", what, len(l[1]), len(l[0]))
		}
		for i := range l[0] {
			w, g := l[0][i], l[1][i]
			if w.Element != g.Element || w.Full != g.Full || w.VolumeTag != g.VolumeTag {
				t.Fatalf("changer Status %s: %s full %v barcode %q; want full %v barcode %q",
					what, elemName(g.Element), g.Full, g.VolumeTag, w.Full, w.VolumeTag)
			}
		}
	}
}

// load makes drive n ready for I/O after a cartridge was moved into it.
func (ct *changerTest) load(n int) device.Drive {
	t := ct.t
	t.Helper()
	d := ct.drive(n)
	st := status(t, d)
	if !st.MediumPresent {
		t.Fatalf("drive %d: Status.MediumPresent = false with a cartridge moved into it", n)
	}
	if !st.Loaded {
		if err := d.Load(t.Context()); err != nil {
			t.Fatalf("drive %d: Load: %v", n, err)
		}
	}
	// A drive that does not report its position says so (ErrUnsupported);
	// the moves are still tested.
	got, err := d.ReadPosition(t.Context())
	switch {
	case errors.Is(err, device.ErrUnsupported):
		t.Logf("drive %d does not report its position: %v", n, err)
	case err != nil:
		t.Fatalf("ReadPosition of drive %d after loading a cartridge: %v", n, err)
	case got != device.Position{}:
		t.Fatalf("position of drive %d after loading a cartridge = %s, want BOT", n, fmtPos(got))
	}
	return d
}

// unload unloads drive n so the changer can take the cartridge.
func (ct *changerTest) unload(n int) {
	ct.t.Helper()
	if err := ct.drive(n).Unload(ct.t.Context()); err != nil {
		ct.t.Fatalf("drive %d: Unload: %v", n, err)
	}
}

// restore moves the cartridges a test left in drives and import/export
// slots back to storage, so the next test finds the library as the factory
// promised; it only logs what fails.
func (ct *changerTest) restore() {
	t := ct.t
	ctx := context.Background()
	st, err := ct.c.Status(ctx)
	if err != nil {
		t.Logf("restore: changer Status: %v", err)
		return
	}
	free := map[int]bool{}
	for _, s := range st.Slots {
		if !s.Full {
			free[s.ID] = true
		}
	}
	slotFor := func(source int) (device.Element, bool) {
		if free[source] {
			delete(free, source)
			return device.Element{Kind: device.ElementSlot, ID: source}, true
		}
		for _, s := range st.Slots {
			if free[s.ID] {
				delete(free, s.ID)
				return s.Element, true
			}
		}
		return device.Element{}, false
	}
	var full []device.ElementStatus
	for _, e := range append(st.Drives[:len(st.Drives):len(st.Drives)], st.ImportExport...) {
		if e.Full {
			full = append(full, e)
		}
	}
	for _, e := range full {
		if e.Kind == device.ElementDrive {
			d := ct.drive(e.ID)
			d.SetLock(ctx, false)
			if ds, err := d.Status(ctx); err == nil && ds.Loaded {
				if err := d.Unload(ctx); err != nil {
					t.Logf("restore: drive %d: Unload: %v", e.ID, err)
				}
			}
		}
		to, ok := slotFor(e.SourceSlot)
		if !ok {
			t.Logf("restore: no free storage slot for the cartridge in %s", elemName(e.Element))
			continue
		}
		if err := ct.c.Move(ctx, e.Element, to); err != nil {
			t.Logf("restore: Move(%s -> %s): %v", elemName(e.Element), elemName(to), err)
		}
	}
}

// testChangerInfo: Info identifies the changer.
func testChangerInfo(ct *changerTest) {
	info, err := ct.c.Info(ct.t.Context())
	if err != nil {
		ct.t.Fatalf("changer Info: %v", err)
	}
	if info.Vendor == "" || info.Model == "" || info.Serial == "" {
		ct.t.Errorf("changer Info = %+v, want non-empty vendor, model and serial", info)
	}
}

// testStatusLayout: Status lists drives from 0, storage slots from 1 and
// import/export slots after them, each of the right kind, in ID order, with
// unique barcodes and nothing reported for empty elements.
func testStatusLayout(ct *changerTest) {
	t := ct.t
	st := ct.initial
	nSlots := len(st.Slots)
	lists := []struct {
		name  string
		kind  device.ElementKind
		first int
		elems []device.ElementStatus
	}{
		{"Drives", device.ElementDrive, 0, st.Drives},
		{"Slots", device.ElementSlot, 1, st.Slots},
		{"ImportExport", device.ElementImportExport, nSlots + 1, st.ImportExport},
	}
	tags := map[string]string{}
	for _, l := range lists {
		for i, e := range l.elems {
			if e.Kind != l.kind || e.ID != l.first+i {
				t.Errorf("ChangerStatus.%s[%d] is %s, want %v %d", l.name, i, elemName(e.Element), l.kind, l.first+i)
			}
			if !e.Full && (e.VolumeTag != "" || e.SourceSlot != 0) {
				t.Errorf("empty %s reports barcode %q, source slot %d", elemName(e.Element), e.VolumeTag, e.SourceSlot)
			}
			if e.Full && e.VolumeTag != "" {
				if other, dup := tags[e.VolumeTag]; dup {
					t.Errorf("barcode %q is in %s and %s", e.VolumeTag, other, elemName(e.Element))
				}
				tags[e.VolumeTag] = elemName(e.Element)
			}
		}
	}
	// Status is stable: a second read reports the same.
	ct.wantStatus(st, "read a second time")
}

// testEmptyDrive: an empty drive reports no medium and refuses what needs
// one with ErrNoMedium.
func testEmptyDrive(ct *changerTest) {
	t := ct.t
	ctx := t.Context()
	d := ct.drive(0)
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatalf("Status of an empty drive: %v", err)
	}
	if !st.Online || st.MediumPresent || st.Loaded {
		t.Errorf("Status of an empty drive: online %v, medium present %v, loaded %v; want online only", st.Online, st.MediumPresent, st.Loaded)
	}
	ops := []struct {
		name     string
		optional bool
		call     func() error
	}{
		{"Load", false, func() error { return d.Load(ctx) }},
		{"Unload", false, func() error { return d.Unload(ctx) }},
		{"ReadRecord", false, func() error { _, err := d.ReadRecord(ctx, make([]byte, 1024)); return err }},
		{"WriteRecord", false, func() error { return d.WriteRecord(ctx, make([]byte, 1024)) }},
		{"Rewind", false, func() error { return d.Rewind(ctx) }},
		{"VolumeStatistics", true, func() error { _, err := d.VolumeStatistics(ctx); return err }},
		{"CartridgeMemory", true, func() error { _, err := d.CartridgeMemory(ctx); return err }},
	}
	for _, op := range ops {
		err := op.call()
		if op.optional && errors.Is(err, device.ErrUnsupported) {
			continue
		}
		if !errors.Is(err, device.ErrNoMedium) {
			t.Errorf("%s on an empty drive: got error %v, want ErrNoMedium", op.name, err)
		}
	}
}

// testMoveSlotDriveSlot: a cartridge moves from a slot into a drive, which
// then has a medium and knows the source slot, and back after Unload.
func testMoveSlotDriveSlot(ct *changerTest) {
	t := ct.t
	src := ct.dataSlots()[0]
	ct.move(src.Element, driveElement(0))
	if got := ct.element(ct.status(), driveElement(0)).SourceSlot; got != src.ID {
		t.Errorf("drive 0 SourceSlot = %d, want %d (the slot it came from)", got, src.ID)
	}
	d := ct.load(0)
	if st := status(t, d); !st.MediumPresent || !st.Loaded || !st.AtBOT {
		t.Errorf("drive 0 after loading: medium present %v, loaded %v, at BOT %v; want all true", st.MediumPresent, st.Loaded, st.AtBOT)
	}
	if _, err := d.VolumeStatistics(t.Context()); err != nil && !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("VolumeStatistics of a cartridge loaded by the changer: %v", err)
	}
	ct.unload(0)
	ct.move(driveElement(0), src.Element)
	if st := status(t, d); st.MediumPresent {
		t.Errorf("drive 0 Status.MediumPresent = true after the changer took the cartridge")
	}
	ct.wantStatus(ct.initial, "after moving the cartridge back")
}

// testMoveSlotToSlot: a cartridge moves between storage slots.
func testMoveSlotToSlot(ct *changerTest) {
	src, dst := ct.dataSlots()[0], ct.emptySlots()[0]
	ct.move(src.Element, dst.Element)
	ct.move(dst.Element, src.Element)
	ct.wantStatus(ct.initial, "after moving the cartridge back")
}

// testMoveImportExport: a cartridge moves to an import/export slot and back.
func testMoveImportExport(ct *changerTest) {
	src, ie := ct.dataSlots()[0], ct.initial.ImportExport[0]
	ct.move(src.Element, ie.Element)
	ct.move(ie.Element, src.Element)
	ct.wantStatus(ct.initial, "after moving the cartridge back")
}

// testMoveFromLoadedDrive: the changer does not take a cartridge the drive
// has not unloaded.
func testMoveFromLoadedDrive(ct *changerTest) {
	src := ct.dataSlots()[0]
	ct.move(src.Element, driveElement(0))
	ct.load(0)
	ct.wantMoveErr(driveElement(0), src.Element, device.ErrNotReady)
	ct.unload(0)
	ct.move(driveElement(0), src.Element)
}

// testMoveFromLockedDrive: the changer does not take a cartridge whose
// removal the drive prevents.
func testMoveFromLockedDrive(ct *changerTest) {
	t := ct.t
	src := ct.dataSlots()[0]
	ct.move(src.Element, driveElement(0))
	d := ct.load(0)
	ct.unload(0)
	err := d.SetLock(t.Context(), true)
	skipUnsupported(t, err, "SetLock")
	wantErr(t, err, nil, "SetLock(true)")
	ct.wantMoveErr(driveElement(0), src.Element, device.ErrMediumLocked)
	wantErr(t, d.SetLock(t.Context(), false), nil, "SetLock(false)")
	ct.move(driveElement(0), src.Element)
}

// testMoveToFullElement: a move to a full slot, import/export slot or
// drive fails with ErrDestinationFull and changes nothing.
func testMoveToFullElement(ct *changerTest) {
	a, b := ct.dataSlots()[0].Element, ct.dataSlots()[1].Element
	ie := ct.initial.ImportExport[0].Element
	ct.wantMoveErr(a, b, device.ErrDestinationFull)

	ct.move(a, ie)
	ct.wantMoveErr(b, ie, device.ErrDestinationFull)
	ct.move(ie, a)

	ct.move(a, driveElement(0))
	ct.wantMoveErr(b, driveElement(0), device.ErrDestinationFull)
	ct.load(0)
	ct.unload(0)
	ct.move(driveElement(0), a)
	ct.wantStatus(ct.initial, "after moving the cartridge back")
}

// testMoveFromEmptyElement: a move from an empty slot, drive or
// import/export slot fails with ErrSourceEmpty and changes nothing.
func testMoveFromEmptyElement(ct *changerTest) {
	empty := ct.emptySlots()[0].Element
	ie := ct.initial.ImportExport[0].Element
	cases := [][2]device.Element{
		{empty, driveElement(0)},
		{driveElement(0), empty},
		{ie, empty},
		{empty, ie},
	}
	for _, c := range cases {
		ct.wantMoveErr(c[0], c[1], device.ErrSourceEmpty)
	}
}

// testMoveInvalidElement: a move from or to an element the changer does not
// have fails with ErrInvalidElement and changes nothing.
func testMoveInvalidElement(ct *changerTest) {
	st := ct.initial
	lastIE := len(st.Slots) + len(st.ImportExport)
	invalid := []device.Element{
		{Kind: device.ElementSlot, ID: 0},
		{Kind: device.ElementSlot, ID: -1},
		{Kind: device.ElementSlot, ID: lastIE + 100},
		{Kind: device.ElementDrive, ID: -1},
		{Kind: device.ElementDrive, ID: len(st.Drives)},
		{Kind: device.ElementImportExport, ID: lastIE + 1},
		{Kind: device.ElementImportExport, ID: 0},
		{Kind: device.ElementKind(42), ID: 1},
	}
	full, empty := ct.dataSlots()[0].Element, ct.emptySlots()[0].Element
	for _, e := range invalid {
		ct.wantMoveErr(e, empty, device.ErrInvalidElement)
		ct.wantMoveErr(full, e, device.ErrInvalidElement)
	}
}

// testInventory: Inventory succeeds and finds every cartridge where it is.
func testInventory(ct *changerTest) {
	t := ct.t
	ct.move(ct.dataSlots()[0].Element, ct.initial.ImportExport[0].Element)
	want := ct.status()
	err := ct.c.Inventory(t.Context())
	skipUnsupported(t, err, "Inventory")
	wantErr(t, err, nil, "Inventory")
	ct.wantStatus(want, "after Inventory")
}

// testDataSurvivesMoves: data written to a cartridge is there after the
// cartridge went to another slot and came back, and another cartridge in
// between does not show it.
func testDataSurvivesMoves(ct *changerTest) {
	t := ct.t
	first, second, spare := ct.dataSlots()[0], ct.dataSlots()[1], ct.emptySlots()[0]
	tp := layout(30, 1000, 2000, 0, 3000, 0)

	ct.move(first.Element, driveElement(0))
	d := ct.load(0)
	writeTape(t, d, tp)
	ct.unload(0)
	ct.move(driveElement(0), spare.Element)

	ct.move(second.Element, driveElement(0))
	d = ct.load(0)
	buf := make([]byte, readBufSize)
	n, err := d.ReadRecord(t.Context(), buf)
	if err == nil && n == len(tp[0].data) && string(buf[:n]) == string(tp[0].data) {
		t.Fatalf("the second cartridge (%s) reads the data written to the first (%s)", second.VolumeTag, first.VolumeTag)
	}
	ct.unload(0)
	ct.move(driveElement(0), second.Element)

	ct.move(spare.Element, driveElement(0))
	if got := ct.element(ct.status(), driveElement(0)).VolumeTag; got != first.VolumeTag {
		t.Fatalf("drive 0 holds %q, want %q", got, first.VolumeTag)
	}
	d = ct.load(0)
	checkRead(t, d, tp, 0)
	ct.unload(0)
	ct.move(driveElement(0), first.Element)
	ct.wantStatus(ct.initial, "after moving the cartridges back")
}

// testSecondDrive: a cartridge written in drive 0 reads back in drive 1,
// which reports it came from the slot it was last stored in.
func testSecondDrive(ct *changerTest) {
	t := ct.t
	if len(ct.initial.Drives) < 2 {
		t.Skip("the library has one drive")
	}
	i0, err := ct.drive(0).Info(t.Context())
	wantErr(t, err, nil, "drive 0 Info")
	i1, err := ct.drive(1).Info(t.Context())
	wantErr(t, err, nil, "drive 1 Info")
	if i0.Serial == i1.Serial {
		t.Errorf("drives 0 and 1 report the same serial number %q", i0.Serial)
	}
	src, spare := ct.dataSlots()[0], ct.emptySlots()[0]
	tp := layout(31, 5000, 0, 6000)
	ct.move(src.Element, driveElement(0))
	writeTape(t, ct.load(0), tp)
	ct.unload(0)
	ct.move(driveElement(0), spare.Element)
	ct.move(spare.Element, driveElement(1))
	if got := ct.element(ct.status(), driveElement(1)).SourceSlot; got != spare.ID {
		t.Errorf("drive 1 SourceSlot = %d, want %d (the slot it came from)", got, spare.ID)
	}
	checkRead(t, ct.load(1), tp, 0)
	ct.unload(1)
	ct.move(driveElement(1), src.Element)
}

// testCleaningCartridge: loading a cleaning cartridge succeeds (it runs a
// cleaning cycle) and the cartridge is then refused for data.
func testCleaningCartridge(ct *changerTest) {
	t := ct.t
	ctx := t.Context()
	var cln *device.ElementStatus
	for _, s := range ct.initial.Slots {
		if s.Full && strings.HasPrefix(s.VolumeTag, "CLN") {
			cln = &s
			break
		}
	}
	if cln == nil {
		t.Skip("the library has no cleaning cartridge (barcode CLN...)")
	}
	ct.move(cln.Element, driveElement(0))
	d := ct.drive(0)
	st := status(t, d)
	if !st.MediumPresent {
		t.Fatalf("drive 0: Status.MediumPresent = false with a cleaning cartridge moved into it")
	}
	if !st.Loaded {
		wantErr(t, d.Load(ctx), nil, "Load of a cleaning cartridge")
	}
	if st := status(t, d); st.Loaded && !st.Cleaning {
		t.Errorf("drive 0: Status.Cleaning = false with a cleaning cartridge loaded")
	}
	_, err := d.ReadRecord(ctx, make([]byte, 1024))
	wantErr(t, err, device.ErrBadCartridge, "ReadRecord from a cleaning cartridge")
	err = d.WriteRecord(ctx, make([]byte, 1024))
	if !errors.Is(err, device.ErrBadCartridge) && !errors.Is(err, device.ErrWriteProtected) {
		t.Errorf("WriteRecord to a cleaning cartridge: got error %v, want ErrBadCartridge or ErrWriteProtected", err)
	}
	if st := status(t, d); st.Loaded {
		ct.unload(0)
	}
	ct.move(driveElement(0), cln.Element)
	ct.wantStatus(ct.initial, "after moving the cleaning cartridge back")
}
