package vtape

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tapefs/engine/device"
)

// layout writes: file 0 = 3 records, FM, file 1 = 2 records, FM, file 2 = 1
// record (objects 0..7, EOD = 8).
//
//	obj: 0 r  1 r  2 r  3 FM  4 r  5 r  6 FM  7 r  | 8 EOD
func writeLayout(t *testing.T, d *Drive) {
	t.Helper()
	for i := range 3 {
		mustWrite(t, d, record(i, 100+i))
	}
	mustFM(t, d, 1)
	for i := 3; i < 5; i++ {
		mustWrite(t, d, record(i, 100+i))
	}
	mustFM(t, d, 1)
	mustWrite(t, d, record(5, 105))
}

func TestWriteReadPositions(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	if p := pos(t, d); p != (device.Position{}) {
		t.Fatalf("position after load %+v", p)
	}
	writeLayout(t, d)
	if p := pos(t, d); p != (device.Position{Object: 8, File: 2, Record: 1}) {
		t.Fatalf("position at EOD %+v", p)
	}
	st, _ := d.Status(bg)
	if !st.AtEOD || st.AtBOT || !st.Loaded || !st.MediumPresent || st.Density != "LTO-8" {
		t.Fatalf("status at EOD %+v", st)
	}
	wantErr(t, d.Rewind(bg), nil)
	buf := make([]byte, 1000)
	type step struct {
		n   int
		err error
		pos device.Position
	}
	steps := []step{
		{100, nil, device.Position{Object: 1, File: 0, Record: 1}},
		{101, nil, device.Position{Object: 2, File: 0, Record: 2}},
		{102, nil, device.Position{Object: 3, File: 0, Record: 3}},
		{0, device.ErrFilemark, device.Position{Object: 4, File: 1, Record: 0}},
		{103, nil, device.Position{Object: 5, File: 1, Record: 1}},
		{104, nil, device.Position{Object: 6, File: 1, Record: 2}},
		{0, device.ErrFilemark, device.Position{Object: 7, File: 2}},
		{105, nil, device.Position{Object: 8, File: 2, Record: 1}},
		{0, device.ErrEndOfData, device.Position{Object: 8, File: 2, Record: 1}},
	}
	rec := 0
	for i, s := range steps {
		n, err := d.ReadRecord(bg, buf)
		if n != s.n || !errors.Is(err, s.err) && !(s.err == nil && err == nil) {
			t.Fatalf("step %d: read %d, %v; want %d, %v", i, n, err, s.n, s.err)
		}
		if s.n > 0 {
			if !bytes.Equal(buf[:n], record(rec, 100+rec)) {
				t.Fatalf("step %d: wrong content", i)
			}
			rec++
		}
		if p := pos(t, d); p != s.pos {
			t.Fatalf("step %d: position %+v, want %+v", i, p, s.pos)
		}
	}
}

func TestSpace(t *testing.T) {
	tests := []struct {
		name  string
		from  uint64
		kind  device.SpaceKind
		count int64
		to    uint64
		err   error
	}{
		{"records fwd", 0, device.SpaceRecords, 2, 2, nil},
		{"records fwd to filemark object", 0, device.SpaceRecords, 3, 3, nil},
		{"records fwd over filemark", 0, device.SpaceRecords, 4, 4, device.ErrFilemark},
		{"records fwd at filemark", 3, device.SpaceRecords, 1, 4, device.ErrFilemark},
		{"records fwd to eod", 7, device.SpaceRecords, 1, 8, nil},
		{"records fwd past eod", 7, device.SpaceRecords, 5, 8, device.ErrEndOfData},
		{"records fwd at eod", 8, device.SpaceRecords, 1, 8, device.ErrEndOfData},
		{"records back", 3, device.SpaceRecords, -2, 1, nil},
		{"records back to bot", 3, device.SpaceRecords, -3, 0, nil},
		{"records back past bot", 2, device.SpaceRecords, -5, 0, device.ErrBeginningOfMedium},
		{"records back over filemark", 5, device.SpaceRecords, -2, 3, device.ErrFilemark},
		{"records back right after filemark", 4, device.SpaceRecords, -1, 3, device.ErrFilemark},
		{"records zero", 5, device.SpaceRecords, 0, 5, nil},
		{"filemarks fwd 1", 0, device.SpaceFilemarks, 1, 4, nil},
		{"filemarks fwd 2", 1, device.SpaceFilemarks, 2, 7, nil},
		{"filemarks fwd from filemark", 3, device.SpaceFilemarks, 1, 4, nil},
		{"filemarks fwd past last", 4, device.SpaceFilemarks, 2, 8, device.ErrEndOfData},
		{"filemarks back 1", 8, device.SpaceFilemarks, -1, 6, nil},
		{"filemarks back 2", 8, device.SpaceFilemarks, -2, 3, nil},
		{"filemarks back from file start", 4, device.SpaceFilemarks, -1, 3, nil},
		{"filemarks back past bot", 5, device.SpaceFilemarks, -2, 0, device.ErrBeginningOfMedium},
		{"end of data", 2, device.SpaceEndOfData, 0, 8, nil},
	}
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	writeLayout(t, d)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, d.Locate(bg, tt.from), nil)
			err := d.Space(bg, tt.kind, tt.count)
			wantErr(t, err, tt.err)
			if p := pos(t, d); p.Object != tt.to {
				t.Fatalf("ended at %d, want %d", p.Object, tt.to)
			}
		})
	}
}

func TestLocateAndOverwrite(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	writeLayout(t, d)
	wantErr(t, d.Locate(bg, 20), device.ErrEndOfData)
	if p := pos(t, d); p.Object != 8 {
		t.Fatalf("locate past EOD ended at %d", p.Object)
	}
	// Writing at object 4 discards objects 4..7.
	wantErr(t, d.Locate(bg, 4), nil)
	mustWrite(t, d, []byte("new"))
	if p := pos(t, d); p != (device.Position{Object: 5, File: 1, Record: 1}) {
		t.Fatalf("position after overwrite %+v", p)
	}
	buf := make([]byte, 10)
	_, err := d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrEndOfData)
	wantErr(t, d.Locate(bg, 4), nil)
	n, err := d.ReadRecord(bg, buf)
	if err != nil || string(buf[:n]) != "new" {
		t.Fatalf("read back %q %v", buf[:n], err)
	}
	// Too small a buffer: first bytes, positioned after the record.
	wantErr(t, d.Locate(bg, 0), nil)
	n, err = d.ReadRecord(bg, buf[:5])
	wantErr(t, err, device.ErrRecordTooLong)
	if n != 5 || pos(t, d).Object != 1 {
		t.Fatalf("short read n=%d pos=%d", n, pos(t, d).Object)
	}
	// Erase from object 1: EOD there, position unchanged.
	wantErr(t, d.Erase(bg, false), nil)
	if p := pos(t, d); p.Object != 1 {
		t.Fatalf("erase moved to %d", p.Object)
	}
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrEndOfData)
	wantErr(t, d.Format(bg), nil)
	if p := pos(t, d); p.Object != 0 {
		t.Fatalf("format left position %d", p.Object)
	}
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrEndOfData)
}

func TestEarlyWarningAndEndOfMedium(t *testing.T) {
	const capacity = 64 << 20 // margin 16 MiB: LEOM at 48 MiB
	dir, d := loadedDrive(t, LibraryOptions{Capacity: capacity})
	rec := make([]byte, 4<<20)
	for i := range 11 {
		mustWrite(t, d, rec)
		_ = i
	}
	// 44 MiB written; the 12th record reaches 48 MiB = LEOM.
	wantErr(t, d.WriteRecord(bg, rec), device.ErrEarlyWarning)
	wantErr(t, d.WriteFilemarks(bg, 1), device.ErrEarlyWarning)
	st, _ := d.Status(bg)
	if !st.PastEarlyWarning {
		t.Fatal("status does not report early warning")
	}
	for range 4 {
		wantErr(t, d.WriteRecord(bg, rec), device.ErrEarlyWarning)
	}
	// 64 MiB used: physically full, nothing written.
	before := pos(t, d)
	wantErr(t, d.WriteRecord(bg, rec), device.ErrEndOfMedium)
	if pos(t, d) != before {
		t.Fatal("a write at EOM changed the position")
	}
	// Injected early warning.
	wantErr(t, SetCartridgeFault(dir, "TEST01L8", Fault{WriteErrorAt: -1, ReadErrorAt: -1, EarlyWarningAt: 1 << 20}), nil)
	wantErr(t, d.Format(bg), nil)
	mustWrite(t, d, make([]byte, 512<<10))
	wantErr(t, d.WriteRecord(bg, make([]byte, 512<<10)), device.ErrEarlyWarning)
}

func TestInjectedMediumErrors(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	f := NoFault()
	f.WriteErrorAt = 2
	wantErr(t, SetCartridgeFault(dir, "TEST01L8", f), nil)
	mustWrite(t, d, record(0, 10))
	mustWrite(t, d, record(1, 10))
	wantErr(t, d.WriteRecord(bg, record(2, 10)), device.ErrMediumError)
	if p := pos(t, d); p.Object != 2 {
		t.Fatalf("position after failed write %d", p.Object)
	}
	alerts, _ := d.TapeAlerts(bg)
	if !alerts.Has(device.AlertWriteFailure) {
		t.Fatalf("alerts %v", alerts)
	}
	if alerts, _ = d.TapeAlerts(bg); alerts.Has(device.AlertWriteFailure) {
		t.Fatal("WRITE_FAILURE not cleared by reading")
	}
	f = NoFault()
	f.ReadErrorAt = 1
	wantErr(t, SetCartridgeFault(dir, "TEST01L8", f), nil)
	wantErr(t, d.Rewind(bg), nil)
	buf := make([]byte, 100)
	_, err := d.ReadRecord(bg, buf)
	wantErr(t, err, nil)
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrMediumError)
	if p := pos(t, d); p.Object != 2 {
		t.Fatalf("position after read error %d, want after the record", p.Object)
	}
	vs, _ := d.VolumeStatistics(bg)
	if vs.VolumeUnrecoveredReadErrors != 1 || vs.VolumeUnrecoveredWriteDataErrors != 1 {
		t.Fatalf("volume statistics %+v", vs)
	}
}

func TestWriteProtected(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Capacity: 64 << 20})
	wantErr(t, SetWriteProtected(dir, "TEST01L8", true), nil)
	moveSlotToDrive(t, dir, 1, 0)
	d := openDrive(t, dir, 0)
	wantErr(t, d.WriteRecord(bg, []byte("x")), device.ErrWriteProtected)
	wantErr(t, d.WriteFilemarks(bg, 1), device.ErrWriteProtected)
	wantErr(t, d.Erase(bg, false), device.ErrWriteProtected)
	wantErr(t, d.Format(bg), device.ErrWriteProtected)
	st, _ := d.Status(bg)
	if !st.WriteProtected || !st.Alerts.Has(device.AlertWriteProtect) {
		t.Fatalf("status %+v", st)
	}
}

func TestEncryption(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	if err := d.SetEncryptionKey(bg, key[:16]); err == nil {
		t.Fatal("16-byte key accepted")
	}
	mustWrite(t, d, []byte("plain"))
	wantErr(t, d.SetEncryptionKey(bg, key), nil)
	mustWrite(t, d, []byte("secret"))
	mustFM(t, d, 1)
	raw, _ := d.cart.payload(mustEntry(t, d, 1))
	if bytes.Contains(raw, []byte("secret")) {
		t.Fatal("encrypted record stored in clear")
	}
	buf := make([]byte, 100)
	for _, tc := range []struct {
		name string
		key  []byte
		err  error
	}{{"no key", nil, device.ErrEncrypted}, {"wrong key", other, device.ErrEncrypted}, {"right key", key, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, d.SetEncryptionKey(bg, tc.key), nil)
			wantErr(t, d.Locate(bg, 0), nil)
			n, err := d.ReadRecord(bg, buf)
			if err != nil || string(buf[:n]) != "plain" {
				t.Fatalf("plain record: %q %v", buf[:n], err)
			}
			n, err = d.ReadRecord(bg, buf)
			wantErr(t, err, tc.err)
			if tc.err != nil {
				if n != 0 || pos(t, d).Object != 1 {
					t.Fatalf("failed decrypt returned %d bytes, position %d", n, pos(t, d).Object)
				}
				return
			}
			if string(buf[:n]) != "secret" {
				t.Fatalf("decrypted %q", buf[:n])
			}
		})
	}
	st, _ := d.Status(bg)
	if !st.Encryption {
		t.Fatal("status does not show the key")
	}
	wantErr(t, d.Unload(bg), nil)
	wantErr(t, d.Load(bg), nil)
	if st, _ := d.Status(bg); st.Encryption {
		t.Fatal("key survived unload")
	}
}

func mustEntry(t *testing.T, d *Drive, i uint64) entry {
	t.Helper()
	e, err := d.cart.entry(i)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestStatePersistsAcrossHandles(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	writeLayout(t, d)
	key := bytes.Repeat([]byte{1}, 32)
	bs := uint32(0)
	comp := true
	wantErr(t, d.SetOptions(bg, device.DriveOptions{BlockSize: &bs, Compression: &comp}), nil)
	wantErr(t, d.SetEncryptionKey(bg, key), nil)
	wantErr(t, d.Locate(bg, 5), nil)
	sim := d.SimStats()
	d.Close()

	d2 := openDrive(t, dir, 0)
	if p := pos(t, d2); p != (device.Position{Object: 5, File: 1, Record: 1}) {
		t.Fatalf("position after reopen %+v", p)
	}
	st, _ := d2.Status(bg)
	if !st.Compression || !st.Encryption || st.Sim.TapeSeconds != sim.TapeSeconds || st.Sim.Loads != 1 {
		t.Fatalf("status after reopen %+v sim %+v", st, st.Sim)
	}
	d2.ResetSimStats()
	if d2.SimStats() != (device.SimStats{}) {
		t.Fatal("reset did not clear")
	}
}

func TestEmptyAndNotReady(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	d := openDrive(t, dir, 0)
	buf := make([]byte, 10)
	_, err := d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrNoMedium)
	wantErr(t, d.Load(bg), device.ErrNoMedium)
	wantErr(t, d.Unload(bg), device.ErrNoMedium)
	_, err = d.VolumeStatistics(bg)
	wantErr(t, err, device.ErrNoMedium)
	_, err = d.CartridgeMemory(bg)
	wantErr(t, err, device.ErrNoMedium)
	st, err := d.Status(bg)
	if err != nil || !st.Online || st.MediumPresent {
		t.Fatalf("empty status %+v %v", st, err)
	}
	// Moved in: auto-loaded; after unload: present but not ready.
	moveSlotToDrive(t, dir, 1, 0)
	st, _ = d.Status(bg)
	if !st.MediumPresent || !st.Loaded || !st.AtBOT {
		t.Fatalf("status after move %+v", st)
	}
	wantErr(t, d.Unload(bg), nil)
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrNotReady)
	wantErr(t, d.Load(bg), nil)
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrEndOfData)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	wantErr(t, d.Rewind(ctx), context.Canceled)
}

func TestChangerMoves(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Drives: 2, Cartridges: 2, ImportExport: 2})
	drive0 := device.Element{Kind: device.ElementDrive, ID: 0}
	slot1 := device.Element{Kind: device.ElementSlot, ID: 1}
	slot2 := device.Element{Kind: device.ElementSlot, ID: 2}
	slot3 := device.Element{Kind: device.ElementSlot, ID: 3}
	ie5 := device.Element{Kind: device.ElementImportExport, ID: 5}
	tests := []struct {
		name     string
		from, to device.Element
		err      error
	}{
		{"invalid slot", device.Element{Kind: device.ElementSlot, ID: 9}, slot3, device.ErrInvalidElement},
		{"ie id as slot", device.Element{Kind: device.ElementSlot, ID: 5}, slot3, device.ErrInvalidElement},
		{"slot id as ie", slot1, device.Element{Kind: device.ElementImportExport, ID: 2}, device.ErrInvalidElement},
		{"invalid drive", slot1, device.Element{Kind: device.ElementDrive, ID: 2}, device.ErrInvalidElement},
		{"source empty", slot3, slot1, device.ErrSourceEmpty},
		{"destination full", slot1, slot2, device.ErrDestinationFull},
		{"slot to ie", slot2, ie5, nil},
		{"slot to drive", slot1, drive0, nil},
		{"loaded drive out", drive0, slot1, device.ErrNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tryMove(dir, tt.from, tt.to), tt.err)
		})
	}
	c, _ := OpenChanger(dir)
	defer c.Close()
	st, err := c.Status(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Drives[0].Full || st.Drives[0].VolumeTag != "TEST01L8" || st.Drives[0].SourceSlot != 1 ||
		st.Slots[0].Full || st.ImportExport[0].VolumeTag != "TEST02L8" || st.ImportExport[0].ID != 5 || len(st.Slots) != 4 {
		t.Fatalf("changer status %+v", st)
	}
	wantErr(t, c.Inventory(bg), nil)
	d := openDrive(t, dir, 0)
	wantErr(t, d.SetLock(bg, true), nil)
	wantErr(t, d.Unload(bg), device.ErrMediumLocked)
	wantErr(t, c.Move(bg, drive0, slot1), device.ErrMediumLocked)
	wantErr(t, d.SetLock(bg, false), nil)
	wantErr(t, d.Unload(bg), nil)
	wantErr(t, c.Move(bg, drive0, slot1), nil)
	s, _ := d.Status(bg)
	if s.MediumPresent {
		t.Fatal("drive still shows the medium after the move out")
	}
}

func TestCleaning(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Cleaning: 1, CleaningUses: 1})
	f := NoFault()
	f.CleaningRequired = true
	wantErr(t, SetDriveFault(dir, 0, f), nil)
	d := openDrive(t, dir, 0)
	alerts, _ := d.TapeAlerts(bg)
	if !alerts.Has(device.AlertCleanNow) {
		t.Fatalf("no CLEAN_NOW: %v", alerts)
	}
	// A dirty drive does not thread data cartridges.
	moveSlotToDrive(t, dir, 1, 0)
	wantErr(t, d.Load(bg), device.ErrCleaningRequired)
	_, err := d.ReadRecord(bg, make([]byte, 1))
	wantErr(t, err, device.ErrNotReady)
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, device.Element{Kind: device.ElementSlot, ID: 1})

	// The cleaning cartridge cleans on insertion and ends unthreaded.
	moveSlotToDrive(t, dir, 2, 0)
	st, _ := d.Status(bg)
	if !st.Cleaning || st.Loaded || st.Alerts.Has(device.AlertCleanNow) {
		t.Fatalf("status with cleaning cartridge %+v", st)
	}
	wantErr(t, d.Load(bg), nil) // same insertion: no second cycle
	_, err = d.ReadRecord(bg, make([]byte, 1))
	wantErr(t, err, device.ErrBadCartridge)
	lib, _ := Describe(dir)
	if lib.Cartridges["CLN001CU"].UsesLeft != 0 || lib.Drives[0].Fault.CleaningRequired {
		t.Fatalf("after cleaning: %+v %+v", lib.Cartridges["CLN001CU"], lib.Drives[0])
	}
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, device.Element{Kind: device.ElementSlot, ID: 2})

	// Used up: the next insertion raises EXPIRED_CLEANING_MEDIA and does
	// not clean.
	wantErr(t, SetDriveFault(dir, 0, f), nil)
	moveSlotToDrive(t, dir, 2, 0)
	alerts, _ = d.TapeAlerts(bg)
	if !alerts.Has(device.AlertExpiredCleaning) || !alerts.Has(device.AlertCleanNow) {
		t.Fatalf("alerts with expired cleaning cartridge %v", alerts)
	}
	// I/O on a threaded cleaning cartridge is refused.
	wantErr(t, d.Load(bg), nil)
	wantErr(t, d.Rewind(bg), device.ErrBadCartridge)
}

func TestCleaningViaLoad(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Cleaning: 1})
	d := openDrive(t, dir, 0)
	// Make the drive ask for periodic cleaning by lowering the threshold.
	d.timing.CleanPeriodic = 10
	moveSlotToDrive(t, dir, 1, 0)
	st, _ := d.Status(bg)
	if !st.Alerts.Has(device.AlertCleanPeriodic) {
		t.Fatalf("no CLEAN_PERIODIC after %v s of tape time", st.Sim.TapeSeconds)
	}
	wantErr(t, d.Unload(bg), nil)
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, device.Element{Kind: device.ElementSlot, ID: 1})
	moveSlotToDrive(t, dir, 2, 0)
	st, _ = d.Status(bg)
	if st.Alerts.Has(device.AlertCleanPeriodic) {
		t.Fatalf("CLEAN_PERIODIC not cleared by cleaning: %v", st.Alerts)
	}
	lib, _ := Describe(dir)
	if lib.Cartridges["CLN001CU"].UsesLeft != 49 {
		t.Fatalf("uses left %d", lib.Cartridges["CLN001CU"].UsesLeft)
	}
}

func TestOfflineFault(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{})
	f := NoFault()
	f.Offline = true
	wantErr(t, SetDriveFault(dir, 0, f), nil)
	st, err := d.Status(bg)
	if err != nil || st.Online {
		t.Fatalf("offline status %+v %v", st, err)
	}
	wantErr(t, d.Rewind(bg), device.ErrOffline)
	_, err = d.Info(bg)
	wantErr(t, err, device.ErrOffline)
	wantErr(t, SetDriveFault(dir, 0, NoFault()), nil)
	wantErr(t, d.Rewind(bg), nil)

	// An offline cartridge does not load.
	cf := NoFault()
	cf.Offline = true
	wantErr(t, d.Unload(bg), nil)
	wantErr(t, SetCartridgeFault(dir, "TEST01L8", cf), nil)
	wantErr(t, d.Load(bg), device.ErrBadCartridge)
}

func TestIncompatibleGeneration(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 0, ImportExport: 0, Slots: 3})
	wantErr(t, Insert(dir, 1, "OLD001L6", CartridgeOptions{}), nil)
	wantErr(t, Insert(dir, 2, "PRV001L7", CartridgeOptions{Capacity: 1 << 20}), nil)
	moveSlotToDrive(t, dir, 1, 0)
	d := openDrive(t, dir, 0)
	wantErr(t, d.Load(bg), device.ErrBadCartridge)
	alerts, _ := d.TapeAlerts(bg)
	if !alerts.Has(device.AlertUnsupportedFormat) {
		t.Fatalf("alerts %v", alerts)
	}
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, device.Element{Kind: device.ElementSlot, ID: 1})
	moveSlotToDrive(t, dir, 2, 0)
	mustWrite(t, d, []byte("LTO-7 in an LTO-8 drive"))
	st, _ := d.Status(bg)
	if st.Density != "LTO-7" {
		t.Fatalf("density %q", st.Density)
	}
}

func TestFixedBlockMode(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	bs := uint32(512)
	wantErr(t, d.SetOptions(bg, device.DriveOptions{BlockSize: &bs}), nil)
	wantErr(t, d.WriteRecord(bg, make([]byte, 700)), device.ErrUnsupported)
	data := record(0, 2048)
	mustWrite(t, d, data)
	mustFM(t, d, 1)
	if p := pos(t, d); p.Object != 5 {
		t.Fatalf("2048 bytes in 512-byte blocks ended at object %d", p.Object)
	}
	wantErr(t, d.Rewind(bg), nil)
	buf := make([]byte, 1500)
	n, err := d.ReadRecord(bg, buf)
	if err != nil || n != 1024 || !bytes.Equal(buf[:n], data[:1024]) {
		t.Fatalf("fixed read %d %v", n, err)
	}
	n, err = d.ReadRecord(bg, make([]byte, 4096))
	if err != nil || n != 1024 {
		t.Fatalf("second fixed read %d %v", n, err)
	}
	_, err = d.ReadRecord(bg, buf)
	wantErr(t, err, device.ErrFilemark)
}

func TestCartridgeMemoryAndStatistics(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	mustWrite(t, d, make([]byte, 3<<20))
	mustFM(t, d, 1)
	wantErr(t, d.Rewind(bg), nil)
	_, err := d.ReadRecord(bg, make([]byte, 4<<20))
	wantErr(t, err, nil)
	attrs, err := d.CartridgeMemory(bg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16]string{}
	for _, a := range attrs {
		got[a.ID] = a.Value
	}
	want := map[uint16]string{mamManufacturer: "TAPEFS", mamBarcode: "TEST01L8", mamLoadCount: "1",
		mamTotalWritten: "3", mamTotalRead: "3", mamLastLoadWritten: "3", mamMaximumCapacity: "64", mamRemainingCapacity: "61", mamMediumType: "0"}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("MAM %#04x = %q, want %q", id, got[id], v)
		}
	}
	wantErr(t, d.Unload(bg), nil)
	wantErr(t, d.Load(bg), nil)
	vs, err := d.VolumeStatistics(bg)
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := Describe(dir)
	if vs.VolumeMounts != 2 || vs.LifetimeBytesWritten != 3<<20 || vs.LastMountBytesWritten != 0 ||
		vs.Serial != lib.Cartridges["TEST01L8"].Serial || vs.VolumeDatasetsWritten != 1 || vs.BeginningOfMediumPasses < 2 {
		t.Fatalf("volume statistics %+v", vs)
	}
}

func TestCleaningInsertedIntoOfflineDrive(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 0, Cleaning: 1, Slots: 2})
	moveSlotToDrive(t, dir, 1, 0) // cleans once
	move(t, dir, device.Element{Kind: device.ElementDrive, ID: 0}, device.Element{Kind: device.ElementSlot, ID: 1})
	off := NoFault()
	off.Offline = true
	wantErr(t, SetDriveFault(dir, 0, off), nil)
	moveSlotToDrive(t, dir, 1, 0) // offline: no cycle
	dirty := NoFault()
	dirty.CleaningRequired = true
	wantErr(t, SetDriveFault(dir, 0, dirty), nil)
	d := openDrive(t, dir, 0)
	wantErr(t, d.Load(bg), nil) // a new insertion: Load cleans
	lib, _ := Describe(dir)
	if lib.Cartridges["CLN001CU"].UsesLeft != 48 || lib.Drives[0].Fault.CleaningRequired {
		t.Fatalf("after Load: uses %d, drive fault %+v", lib.Cartridges["CLN001CU"].UsesLeft, lib.Drives[0].Fault)
	}
}

// TestLoadAfterChangerAutoLoad: a fresh drive handle whose cartridge was
// moved in (and so auto-loaded) by the changer takes Load and rewinds.
func TestLoadAfterChangerAutoLoad(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1})
	ch, err := OpenChanger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Move(bg, device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0}); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	d, err := OpenDrive(DrivePath(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Load(bg); err != nil {
		t.Fatalf("Load after auto-load: %v", err)
	}
	if err := d.WriteRecord(bg, []byte("x")); err != nil {
		t.Fatal(err)
	}
	pos, err := d.ReadPosition(bg)
	if err != nil || pos.Object != 1 {
		t.Fatalf("position after Load and one write: %+v %v", pos, err)
	}
}

// TestEndOfDataNotKnownToNewHandle: like a SCSI drive, which does not tell
// a new opener (another process: `pmt eod`, then `pmt status`) that the
// tape is at end of data, a reopened drive reports AtEOD only once one of
// its own operations reached end of data; position and EOF are reported.
func TestEndOfDataNotKnownToNewHandle(t *testing.T) {
	dir, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	writeLayout(t, d)
	wantErr(t, d.Space(bg, device.SpaceEndOfData, 0), nil)
	if st, _ := d.Status(bg); !st.AtEOD {
		t.Fatalf("AtEOD false after SpaceEndOfData: %+v", st)
	}
	eod := pos(t, d)
	d.Close()

	d2 := openDrive(t, dir, 0)
	st, err := d2.Status(bg)
	if err != nil || st.AtEOD || st.Position != eod {
		t.Fatalf("reopened: Status = %+v, %v; want position %+v, AtEOD false", st, err, eod)
	}
	wantErr(t, d2.Space(bg, device.SpaceEndOfData, 0), nil)
	if st, _ := d2.Status(bg); !st.AtEOD {
		t.Fatalf("reopened: AtEOD false after its own SpaceEndOfData: %+v", st)
	}
}

// TestUnreadableCartridgeMemory: a cartridge whose memory was lost (power
// loss left meta.json empty or cut short) or damaged still loads and reads,
// with the memory rebuilt from the cartridge.
func TestUnreadableCartridgeMemory(t *testing.T) {
	for name, content := range map[string]string{
		"empty":   "",
		"short":   `{"load-count": 4`,
		"garbage": "\x00\x00\x00\x00",
	} {
		t.Run(name, func(t *testing.T) {
			dir, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
			writeLayout(t, d)
			mustFM(t, d, 1)
			wantErr(t, d.Unload(bg), nil)
			wantErr(t, d.Close(), nil)
			cart := cartridgeDir(dir, "TEST01L8")
			if err := os.WriteFile(filepath.Join(cart, metaFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(cart, dataFile))
			if err != nil {
				t.Fatal(err)
			}

			d = openDrive(t, dir, 0)
			wantErr(t, d.Load(bg), nil)
			buf := make([]byte, 1024)
			n, err := d.ReadRecord(bg, buf)
			if err != nil || !bytes.Equal(buf[:n], record(0, 100)) {
				t.Fatalf("read after rebuild: %q, %v", buf[:n], err)
			}
			vs, err := d.VolumeStatistics(bg)
			if err != nil {
				t.Fatal(err)
			}
			if vs.LifetimeBytesWritten != uint64(fi.Size()) || vs.VolumeMounts != 1 {
				t.Errorf("rebuilt memory: lifetime written %d (cartridge holds %d), mounts %d",
					vs.LifetimeBytesWritten, fi.Size(), vs.VolumeMounts)
			}
			wantErr(t, d.Unload(bg), nil)
			b, err := os.ReadFile(filepath.Join(cart, metaFile))
			var m cartridgeMeta
			if err != nil || json.Unmarshal(b, &m) != nil || m.LoadCount != 1 {
				t.Errorf("memory after unload: %q, %v", b, err)
			}
		})
	}
}
