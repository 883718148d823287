package devicetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"tapefs/engine/device"
)

// object is one logical object the suite writes: a record (data) or a
// filemark.
type object struct {
	filemark bool
	data     []byte
}

func (o object) String() string {
	if o.filemark {
		return "filemark"
	}
	return fmt.Sprintf("record of %d bytes", len(o.data))
}

// tape is the expected content of a cartridge, object by object.
type tape []object

// posAt returns the position a drive reports in front of object i
// (i == len(tp) is end of data).
func (tp tape) posAt(i int) device.Position {
	var p device.Position
	for _, o := range tp[:i] {
		p.Object++
		if o.filemark {
			p.File++
			p.Record = 0
		} else {
			p.Record++
		}
	}
	return p
}

// eod is the position of end of data.
func (tp tape) eod() device.Position { return tp.posAt(len(tp)) }

// payload returns size bytes of incompressible data that differ for every
// (seed, index) pair, so a read-back can tell records apart.
func payload(seed, index uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, index))
	b := make([]byte, size)
	for i := 0; i < size; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// layout builds a tape from a compact description: a positive number is a
// record of that many bytes, 0 is a filemark.
func layout(seed uint64, sizes ...int) tape {
	tp := make(tape, len(sizes))
	for i, n := range sizes {
		if n == 0 {
			tp[i] = object{filemark: true}
		} else {
			tp[i] = object{data: payload(seed, uint64(i), n)}
		}
	}
	return tp
}

// spaceLayout is the tape the positioning tests use:
//
//	object: 0  1  2  3   4  5  6   7   8  9  10
//	        r  r  r  FM  r  r  FM  FM  r  r  EOD
//	file:   0  0  0  0   1  1  1   2   3  3  3
//
// It has files with records, an empty file (two adjacent filemarks) and a
// last file without a closing filemark.
func spaceLayout() tape {
	return layout(7, 100, 200, 300, 0, 400, 500, 0, 0, 600, 700)
}

// writeTape writes tp at the current position and fails the test on any
// error, including early warning.
func writeTape(t *testing.T, d device.Drive, tp tape) {
	t.Helper()
	ctx := t.Context()
	for i, o := range tp {
		var err error
		if o.filemark {
			err = d.WriteFilemarks(ctx, 1)
		} else {
			err = d.WriteRecord(ctx, o.data)
		}
		if err != nil {
			t.Fatalf("writing object %d (%v): %v", i, o, err)
		}
	}
}

// readBufSize is larger than any record the suite writes.
const readBufSize = 2 << 20

// checkRead reads from the current position, which must be in front of
// object i of tp, up to end of data, and checks every object, the position
// after it and end of data.
func checkRead(t *testing.T, d device.Drive, tp tape, i int) {
	t.Helper()
	ctx := t.Context()
	buf := make([]byte, readBufSize)
	for ; i <= len(tp); i++ {
		n, err := d.ReadRecord(ctx, buf)
		switch {
		case i == len(tp):
			if n != 0 || !errors.Is(err, device.ErrEndOfData) {
				t.Errorf("ReadRecord at end of data (object %d) = (%d, %v), want (0, ErrEndOfData)", i, n, err)
			}
			wantPos(t, d, tp.eod(), "after ReadRecord at end of data")
			return
		case tp[i].filemark:
			if n != 0 || !errors.Is(err, device.ErrFilemark) {
				t.Fatalf("ReadRecord of object %d (filemark) = (%d, %v), want (0, ErrFilemark)", i, n, err)
			}
		default:
			if err != nil {
				t.Fatalf("ReadRecord of object %d (%v): %v", i, tp[i], err)
			}
			if !bytes.Equal(buf[:n], tp[i].data) {
				t.Fatalf("ReadRecord of object %d returned %d bytes that differ from the %v written", i, n, tp[i])
			}
		}
		wantPos(t, d, tp.posAt(i+1), fmt.Sprintf("after reading object %d (%v)", i, tp[i]))
	}
}

// wantPos checks ReadPosition against want; what says after which call.
func wantPos(t *testing.T, d device.Drive, want device.Position, what string) {
	t.Helper()
	got, err := d.ReadPosition(t.Context())
	if err != nil {
		t.Fatalf("ReadPosition %s: %v", what, err)
	}
	if got != want {
		t.Fatalf("position %s = %s, want %s", what, fmtPos(got), fmtPos(want))
	}
}

func fmtPos(p device.Position) string {
	return fmt.Sprintf("{object %d, file %d, record %d}", p.Object, p.File, p.Record)
}

// wantErr checks that err matches target with errors.Is (target nil: err is
// nil); op names the call.
func wantErr(t *testing.T, err, target error, op string) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", op, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", op, err, target)
	}
}

// skipUnsupported skips the test when err says the device lacks the
// operation op.
func skipUnsupported(t *testing.T, err error, op string) {
	t.Helper()
	if errors.Is(err, device.ErrUnsupported) {
		t.Skipf("%s: device does not support it: %v", op, err)
	}
}

// status reads the drive status and fails the test on error.
func status(t *testing.T, d device.Drive) device.DriveStatus {
	t.Helper()
	st, err := d.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

// locate positions at object and fails the test on error.
func locate(t *testing.T, d device.Drive, object uint64) {
	t.Helper()
	if err := d.Locate(t.Context(), object); err != nil {
		t.Fatalf("Locate(%d): %v", object, err)
	}
}

// rewind positions at BOT and fails the test on error.
func rewind(t *testing.T, d device.Drive) {
	t.Helper()
	if err := d.Rewind(t.Context()); err != nil {
		t.Fatalf("Rewind: %v", err)
	}
}

// cancelled returns a context that is already cancelled.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
