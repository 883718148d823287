package devicetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"tapefs/engine/device"
)

// testEarlyWarning fills a small cartridge: writes past LEOM succeed with
// ErrEarlyWarning, the write at EOM fails with ErrEndOfMedium and writes
// nothing, and everything written, before and after LEOM, reads back.
func testEarlyWarning(t *testing.T, d device.Drive, capacity int64) {
	if capacity == 0 {
		t.Skip("filling the cartridge: capacity 0 means too large for a test")
	}
	ctx := t.Context()
	recSize := int(min(max(capacity/256, 16), 256<<10))
	limit := int(capacity/int64(recSize))*2 + 64
	var tp tape
	var written int64
	warnedAt := -1 // first object written past early warning
	for i := 0; ; i++ {
		if i > limit {
			t.Fatalf("wrote %d records of %d bytes (%d bytes) on a cartridge of capacity %d without ErrEndOfMedium",
				len(tp), recSize, written, capacity)
		}
		if warnedAt >= 0 && warnedAt == len(tp)-1 {
			// A filemark past LEOM is written and warned about, too.
			err := d.WriteFilemarks(ctx, 1)
			wantErr(t, err, device.ErrEarlyWarning, "WriteFilemarks(1) past early warning")
			tp = append(tp, object{filemark: true})
			wantPos(t, d, tp.eod(), "after WriteFilemarks(1) past early warning")
			continue
		}
		rec := object{data: payload(13, uint64(i), recSize)}
		err := d.WriteRecord(ctx, rec.data)
		switch {
		case err == nil:
			if warnedAt >= 0 {
				t.Fatalf("WriteRecord of object %d returned nil after early warning at object %d; want ErrEarlyWarning for every write past LEOM",
					len(tp), warnedAt)
			}
			tp = append(tp, rec)
			written += int64(recSize)
		case errors.Is(err, device.ErrEarlyWarning):
			tp = append(tp, rec)
			written += int64(recSize)
			if warnedAt < 0 {
				warnedAt = len(tp) - 1
				wantPos(t, d, tp.eod(), "after the first write past early warning (it must be written)")
				if st := status(t, d); !st.PastEarlyWarning {
					t.Errorf("Status.PastEarlyWarning = false after WriteRecord returned ErrEarlyWarning")
				}
			}
		case errors.Is(err, device.ErrEndOfMedium):
			if warnedAt < 0 {
				t.Fatalf("WriteRecord of object %d returned ErrEndOfMedium without an early warning before it", len(tp))
			}
			wantPos(t, d, tp.eod(), "after WriteRecord returned ErrEndOfMedium (nothing may be written)")
			wantErr(t, d.WriteRecord(ctx, rec.data), device.ErrEndOfMedium, "a second WriteRecord of the same size at end of medium")
			wantPos(t, d, tp.eod(), "after a second WriteRecord at end of medium")
			if written > capacity {
				t.Errorf("the cartridge took %d bytes of incompressible data, more than its capacity of %d", written, capacity)
			}
			t.Logf("capacity %d: early warning at object %d, end of medium at object %d after %d bytes in %d-byte records",
				capacity, warnedAt, len(tp), written, recSize)
			rewind(t, d)
			checkRead(t, d, tp, 0)

			// Writing from BOT discards everything, so the cartridge is
			// no longer past early warning.
			rewind(t, d)
			wantErr(t, d.WriteRecord(ctx, rec.data), nil, "WriteRecord at BOT of a full cartridge")
			if st := status(t, d); st.PastEarlyWarning {
				t.Errorf("Status.PastEarlyWarning = true after rewriting the cartridge from BOT with one record")
			}
			checkNext(t, d, tape{rec}, 1, "after rewriting the cartridge from BOT with one record")
			return
		default:
			t.Fatalf("WriteRecord of object %d: %v", len(tp), err)
		}
	}
}

// testKey returns a 256-bit key that differs for every n.
func testKey(n uint64) []byte { return payload(0xe0c, n, 32) }

// setKey sets key (nil clears it) and fails the test on error.
func setKey(t *testing.T, d device.Drive, key []byte) {
	t.Helper()
	if err := d.SetEncryptionKey(t.Context(), key); err != nil {
		t.Fatalf("SetEncryptionKey(%v): %v", key != nil, err)
	}
}

// wantEncrypted checks that reading object i fails with ErrEncrypted,
// returns nothing and leaves the drive in front of it.
func wantEncrypted(t *testing.T, d device.Drive, tp tape, i int, what string) {
	t.Helper()
	buf := make([]byte, readBufSize)
	for range 2 { // the error is permanent: a retry fails the same way
		n, err := d.ReadRecord(t.Context(), buf)
		if n != 0 || !errors.Is(err, device.ErrEncrypted) {
			t.Fatalf("ReadRecord of encrypted object %d %s = (%d, %v), want (0, ErrEncrypted)", i, what, n, err)
		}
		wantPos(t, d, tp.posAt(i), fmt.Sprintf("after ErrEncrypted reading object %d %s (the drive stays in front of it)", i, what))
	}
}

// testEncryption: records written with a key read back with it and fail
// with ErrEncrypted without it or with another key; plain records stay
// readable.
func testEncryption(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	err := d.SetEncryptionKey(ctx, testKey(1))
	skipUnsupported(t, err, "SetEncryptionKey")
	wantErr(t, err, nil, "SetEncryptionKey")
	setKey(t, d, nil)

	// enc is written with key 1: two records, a filemark, a record.
	enc := layout(14, 1000, 70000, 0, 3000)
	write := func(t *testing.T) {
		rewind(t, d)
		setKey(t, d, testKey(1))
		writeTape(t, d, enc)
	}

	t.Run("StatusEncryption", func(t *testing.T) {
		setKey(t, d, testKey(1))
		if st := status(t, d); !st.Encryption {
			t.Errorf("Status.Encryption = false with a key set")
		}
		setKey(t, d, nil)
		if st := status(t, d); st.Encryption {
			t.Errorf("Status.Encryption = true after clearing the key")
		}
	})
	t.Run("ReadWithKey", func(t *testing.T) {
		write(t)
		rewind(t, d)
		checkRead(t, d, enc, 0)
	})
	t.Run("ReadWithoutKey", func(t *testing.T) {
		write(t)
		setKey(t, d, nil)
		rewind(t, d)
		wantEncrypted(t, d, enc, 0, "without a key")
		locate(t, d, 3)
		wantEncrypted(t, d, enc, 3, "without a key")
	})
	t.Run("WrongKey", func(t *testing.T) {
		write(t)
		setKey(t, d, testKey(2))
		rewind(t, d)
		wantEncrypted(t, d, enc, 0, "with the wrong key")
	})
	t.Run("PositioningWithoutKey", func(t *testing.T) {
		write(t)
		setKey(t, d, nil)
		rewind(t, d)
		wantErr(t, d.Space(ctx, device.SpaceRecords, 1), nil, "Space(records, 1) over an encrypted record without a key")
		wantPos(t, d, enc.posAt(1), "after spacing over an encrypted record")
		wantErr(t, d.Space(ctx, device.SpaceFilemarks, 1), nil, "Space(filemarks, 1) over encrypted records without a key")
		wantPos(t, d, enc.posAt(3), "after spacing to the next file over encrypted records")
		rewind(t, d)
		wantErr(t, d.Space(ctx, device.SpaceEndOfData, 0), nil, "SpaceEndOfData over encrypted records without a key")
		wantPos(t, d, enc.eod(), "after SpaceEndOfData over encrypted records")
		locate(t, d, 1)
		wantEncrypted(t, d, enc, 1, "after Locate without a key")
	})
	t.Run("PlainAfterClear", func(t *testing.T) {
		write(t)
		setKey(t, d, nil)
		plain := layout(15, 0, 5000)
		writeTape(t, d, plain)
		tp := append(enc[:len(enc):len(enc)], plain...)
		locate(t, d, uint64(len(enc)))
		checkRead(t, d, tp, len(enc))
		rewind(t, d)
		wantEncrypted(t, d, tp, 0, "after clearing the key")
		// With the key set, encrypted and plain records both read.
		setKey(t, d, testKey(1))
		rewind(t, d)
		checkRead(t, d, tp, 0)
	})
	t.Run("KeyClearedByUnload", func(t *testing.T) {
		write(t)
		reload(t, d)
		if st := status(t, d); st.Encryption {
			t.Errorf("Status.Encryption = true after Unload and Load; the key must not outlive the load")
		}
		wantEncrypted(t, d, enc, 0, "after Unload and Load")
	})
}

// reload unloads and loads the cartridge again; it skips the test when the
// drive ejects the cartridge on Unload (a standalone drive), because the
// suite cannot put it back.
func reload(t *testing.T, d device.Drive) {
	t.Helper()
	if err := d.Unload(t.Context()); err != nil {
		t.Fatalf("Unload: %v", err)
	}
	if st := status(t, d); !st.MediumPresent {
		t.Skip("the drive ejected the cartridge on Unload; cannot load it again")
	}
	if err := d.Load(t.Context()); err != nil {
		t.Fatalf("Load after Unload: %v", err)
	}
}

// testStatus: Status reports the position like ReadPosition does, and
// AtBOT/AtEOD where they are known.
func testStatus(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := layout(16, 100, 200, 0, 300)
	writeTape(t, d, tp)
	check := func(what string, pos device.Position, bot, eod bool) {
		t.Helper()
		st := status(t, d)
		if !st.Online || !st.MediumPresent || !st.Loaded {
			t.Errorf("Status %s: online %v, medium present %v, loaded %v; want all true", what, st.Online, st.MediumPresent, st.Loaded)
		}
		if st.Position != pos || st.AtBOT != bot || st.AtEOD != eod {
			t.Errorf("Status %s: position %s, at BOT %v, at EOD %v; want %s, %v, %v",
				what, fmtPos(st.Position), st.AtBOT, st.AtEOD, fmtPos(pos), bot, eod)
		}
		if st.PastEarlyWarning {
			t.Errorf("Status %s: PastEarlyWarning on a nearly empty cartridge", what)
		}
		wantPos(t, d, pos, what)
	}
	check("after writing", tp.eod(), false, true)
	rewind(t, d)
	check("after Rewind", device.Position{}, true, false)
	wantErr(t, d.Space(ctx, device.SpaceFilemarks, 1), nil, "Space(filemarks, 1)")
	check("after Space(filemarks, 1)", tp.posAt(3), false, false)
	wantErr(t, d.Space(ctx, device.SpaceEndOfData, 0), nil, "SpaceEndOfData")
	check("after SpaceEndOfData", tp.eod(), false, true)
	locate(t, d, 1)
	st := status(t, d)
	if st.Position.Object != 1 || st.AtBOT || st.AtEOD {
		t.Errorf("Status after Locate(1): object %d, at BOT %v, at EOD %v; want object 1, neither", st.Position.Object, st.AtBOT, st.AtEOD)
	}
}

// testLock: a medium lock makes Unload fail with ErrMediumLocked and keeps
// the cartridge loaded; unlocking allows Unload again.
func testLock(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	err := d.SetLock(ctx, true)
	skipUnsupported(t, err, "SetLock")
	wantErr(t, err, nil, "SetLock(true)")
	t.Cleanup(func() { d.SetLock(context.Background(), false) })
	if st := status(t, d); !st.Locked {
		t.Errorf("Status.Locked = false after SetLock(true)")
	}
	wantErr(t, d.Unload(ctx), device.ErrMediumLocked, "Unload of a locked drive")
	if st := status(t, d); !st.Loaded || !st.MediumPresent {
		t.Errorf("Status after a refused Unload: loaded %v, medium present %v; want the cartridge still loaded", st.Loaded, st.MediumPresent)
	}
	if _, err := d.ReadPosition(ctx); err != nil {
		t.Errorf("ReadPosition after a refused Unload: %v", err)
	}
	wantErr(t, d.SetLock(ctx, false), nil, "SetLock(false)")
	if st := status(t, d); st.Locked {
		t.Errorf("Status.Locked = true after SetLock(false)")
	}
	wantErr(t, d.Unload(ctx), nil, "Unload after SetLock(false)")
}

// testUnload: after Unload the drive is not loaded and I/O fails with
// ErrNotReady (cartridge still in the drive) or ErrNoMedium (ejected);
// loading again finds the data at BOT.
func testUnload(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := layout(17, 100, 0, 200)
	writeTape(t, d, tp)
	locate(t, d, 1)
	wantErr(t, d.Unload(ctx), nil, "Unload")
	st := status(t, d)
	if !st.Online || st.Loaded {
		t.Errorf("Status after Unload: online %v, loaded %v; want online, not loaded", st.Online, st.Loaded)
	}
	want := device.ErrNoMedium
	if st.MediumPresent {
		want = device.ErrNotReady
	}
	buf := make([]byte, 1024)
	ops := []struct {
		name string
		call func() error
	}{
		{"ReadRecord", func() error { _, err := d.ReadRecord(ctx, buf); return err }},
		{"WriteRecord", func() error { return d.WriteRecord(ctx, buf) }},
		{"WriteFilemarks", func() error { return d.WriteFilemarks(ctx, 1) }},
		{"Space", func() error { return d.Space(ctx, device.SpaceRecords, 1) }},
		{"Locate", func() error { return d.Locate(ctx, 1) }},
		{"Rewind", func() error { return d.Rewind(ctx) }},
		{"ReadPosition", func() error { _, err := d.ReadPosition(ctx); return err }},
		{"Erase", func() error { return d.Erase(ctx, false) }},
	}
	for _, op := range ops {
		wantErr(t, op.call(), want, op.name+" after Unload (medium present "+strconv.FormatBool(st.MediumPresent)+")")
	}
	if !st.MediumPresent {
		t.Skip("the drive ejected the cartridge on Unload; cannot load it again")
	}
	wantErr(t, d.Load(ctx), nil, "Load after Unload")
	st = status(t, d)
	if !st.Loaded || !st.AtBOT || st.Position != (device.Position{}) {
		t.Errorf("Status after Load: loaded %v, at BOT %v, position %s; want loaded at BOT", st.Loaded, st.AtBOT, fmtPos(st.Position))
	}
	checkRead(t, d, tp, 0)
}

// testVolumeStatistics: the volume statistics of the loaded cartridge
// count a mount and the bytes written.
func testVolumeStatistics(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	before, err := d.VolumeStatistics(ctx)
	skipUnsupported(t, err, "VolumeStatistics")
	wantErr(t, err, nil, "VolumeStatistics")
	if before.VolumeMounts == 0 {
		t.Errorf("VolumeStatistics.VolumeMounts = 0 for a loaded cartridge")
	}
	writeTape(t, d, layout(18, 1<<20, 1<<20, 1<<20, 1<<20, 0))
	after, err := d.VolumeStatistics(ctx)
	wantErr(t, err, nil, "VolumeStatistics after writing")
	if after.LifetimeBytesWritten <= before.LifetimeBytesWritten && after.LastMountBytesWritten <= before.LastMountBytesWritten {
		t.Errorf("VolumeStatistics after writing 4 MiB: lifetime bytes written %d -> %d, last mount bytes written %d -> %d; want growth",
			before.LifetimeBytesWritten, after.LifetimeBytesWritten, before.LastMountBytesWritten, after.LastMountBytesWritten)
	}
	lifetime := []struct {
		name          string
		before, after uint64
	}{
		{"VolumeMounts", before.VolumeMounts, after.VolumeMounts},
		{"LifetimeBytesWritten", before.LifetimeBytesWritten, after.LifetimeBytesWritten},
		{"LifetimeBytesRead", before.LifetimeBytesRead, after.LifetimeBytesRead},
	}
	for _, c := range lifetime {
		if c.after < c.before {
			t.Errorf("VolumeStatistics.%s went down from %d to %d; lifetime counters never decrease", c.name, c.before, c.after)
		}
	}
}

// MAM attribute identifiers (SPC-4) the suite reads.
const (
	mamTotalMiBWritten    = 0x0220 // total MiB written in medium life
	mamLoadMiBWritten     = 0x0222 // MiB written in the current or last load
	mamMediumSerialNumber = 0x0401
)

// mamValues maps attribute identifiers to values and fails the test on
// duplicate identifiers.
func mamValues(t *testing.T, attrs []device.MAMAttribute) map[uint16]string {
	t.Helper()
	m := make(map[uint16]string, len(attrs))
	for _, a := range attrs {
		if _, dup := m[a.ID]; dup {
			t.Fatalf("CartridgeMemory lists attribute %04Xh twice", a.ID)
		}
		m[a.ID] = a.Value
	}
	return m
}

// mamWritten returns the sum of the MiB-written attributes that are
// present, and whether any is.
func mamWritten(t *testing.T, m map[uint16]string) (uint64, bool) {
	t.Helper()
	var sum uint64
	found := false
	for _, id := range []uint16{mamTotalMiBWritten, mamLoadMiBWritten} {
		v, ok := m[id]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CartridgeMemory attribute %04Xh = %q, want a decimal number", id, v)
		}
		sum += n
		found = true
	}
	return sum, found
}

// testCartridgeMemory: the cartridge memory is readable and its bytes
// written attributes grow when data is written (at the latest when the
// cartridge is unloaded, as drives update it).
func testCartridgeMemory(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	attrs, err := d.CartridgeMemory(ctx)
	skipUnsupported(t, err, "CartridgeMemory")
	wantErr(t, err, nil, "CartridgeMemory")
	if len(attrs) == 0 {
		t.Fatalf("CartridgeMemory returned no attributes")
	}
	before, ok := mamWritten(t, mamValues(t, attrs))
	if !ok {
		t.Fatalf("CartridgeMemory has neither attribute %04Xh nor %04Xh (MiB written)", mamTotalMiBWritten, mamLoadMiBWritten)
	}
	serial := mamValues(t, attrs)[mamMediumSerialNumber]

	writeTape(t, d, layout(19, 1<<20, 1<<20, 1<<20, 1<<20, 0))
	attrs, err = d.CartridgeMemory(ctx)
	wantErr(t, err, nil, "CartridgeMemory after writing")
	after, _ := mamWritten(t, mamValues(t, attrs))
	if after <= before {
		reload(t, d)
		attrs, err = d.CartridgeMemory(ctx)
		wantErr(t, err, nil, "CartridgeMemory after writing, Unload and Load")
		after, _ = mamWritten(t, mamValues(t, attrs))
	}
	if after <= before {
		t.Errorf("CartridgeMemory MiB written (%04Xh + %04Xh) = %d before and %d after writing 4 MiB and reloading; want growth",
			mamTotalMiBWritten, mamLoadMiBWritten, before, after)
	}
	if got := mamValues(t, attrs)[mamMediumSerialNumber]; got != serial {
		t.Errorf("CartridgeMemory medium serial number changed from %q to %q", serial, got)
	}
}

// testTapeAlerts: the TapeAlert flags are readable, repeatedly.
func testTapeAlerts(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	_, err := d.TapeAlerts(ctx)
	skipUnsupported(t, err, "TapeAlerts")
	wantErr(t, err, nil, "TapeAlerts")
	_, err = d.TapeAlerts(ctx)
	wantErr(t, err, nil, "TapeAlerts, read a second time")
}

// testSetOptions: SetOptions changes the options Status reports, and a nil
// field leaves its option alone.
func testSetOptions(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	initial := status(t, d)
	err := d.SetOptions(ctx, device.DriveOptions{})
	skipUnsupported(t, err, "SetOptions")
	wantErr(t, err, nil, "SetOptions with no change")
	if st := status(t, d); st.BlockSize != initial.BlockSize || st.Compression != initial.Compression || st.BufferMode != initial.BufferMode {
		t.Errorf("SetOptions with all fields nil changed the options: %+v -> %+v", initial, st)
	}
	set := func(opts device.DriveOptions, what string) {
		t.Helper()
		err := d.SetOptions(ctx, opts)
		if errors.Is(err, device.ErrUnsupported) {
			t.Logf("SetOptions(%s): device does not support it: %v", what, err)
			return
		}
		wantErr(t, err, nil, "SetOptions("+what+")")
		st := status(t, d)
		if opts.BlockSize != nil && st.BlockSize != *opts.BlockSize {
			t.Errorf("Status.BlockSize = %d after SetOptions(%s)", st.BlockSize, what)
		}
		if opts.Compression != nil && st.Compression != *opts.Compression {
			t.Errorf("Status.Compression = %v after SetOptions(%s)", st.Compression, what)
		}
		if opts.BufferMode != nil && st.BufferMode != *opts.BufferMode {
			t.Errorf("Status.BufferMode = %v after SetOptions(%s)", st.BufferMode, what)
		}
		if opts.BlockSize == nil && st.BlockSize != 0 {
			t.Errorf("SetOptions(%s) changed the block size to %d", what, st.BlockSize)
		}
	}
	on, off := true, false
	fixed, variable := uint32(65536), uint32(0)
	set(device.DriveOptions{Compression: &off}, "compression off")
	set(device.DriveOptions{Compression: &on}, "compression on")
	set(device.DriveOptions{BufferMode: &off}, "buffer mode off")
	set(device.DriveOptions{BufferMode: &on}, "buffer mode on")
	set(device.DriveOptions{BlockSize: &fixed}, "block size 65536")
	set(device.DriveOptions{BlockSize: &variable, Compression: &initial.Compression, BufferMode: &initial.BufferMode}, "initial options")

	// Variable block mode is back: records of any size work.
	tp := layout(20, 1, 70000)
	writeTape(t, d, tp)
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testCancelledContext: a call whose context is already done does nothing
// and returns the context's error.
func testCancelledContext(t *testing.T, d device.Drive, _ int64) {
	tp := layout(21, 100, 200, 300)
	writeTape(t, d, tp)
	locate(t, d, 1)
	ctx := cancelled(t)
	buf := make([]byte, 1024)
	ops := []struct {
		name string
		call func() error
	}{
		{"WriteRecord", func() error { return d.WriteRecord(ctx, buf) }},
		{"WriteFilemarks", func() error { return d.WriteFilemarks(ctx, 1) }},
		{"ReadRecord", func() error { _, err := d.ReadRecord(ctx, buf); return err }},
		{"Space", func() error { return d.Space(ctx, device.SpaceRecords, 1) }},
		{"Locate", func() error { return d.Locate(ctx, 0) }},
		{"Rewind", func() error { return d.Rewind(ctx) }},
		{"Erase", func() error { return d.Erase(ctx, false) }},
		{"Format", func() error { return d.Format(ctx) }},
		{"Unload", func() error { return d.Unload(ctx) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.call()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: got error %v, want one wrapping context.Canceled", op.name, err)
			}
			if st := status(t, d); !st.Loaded {
				t.Fatalf("%s with a cancelled context unloaded the cartridge", op.name)
			}
			wantPos(t, d, tp.posAt(1), op.name+" with a cancelled context")
		})
	}
	rewind(t, d)
	checkRead(t, d, tp, 0)
}
