package devicetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"tapefs/engine/device"
)

// checkNext reads one object and checks that it is object i of tp (end of
// data when i == len(tp)); what says how the drive got there.
func checkNext(t *testing.T, d device.Drive, tp tape, i int, what string) {
	t.Helper()
	buf := make([]byte, readBufSize)
	n, err := d.ReadRecord(t.Context(), buf)
	switch {
	case i == len(tp):
		if !errors.Is(err, device.ErrEndOfData) {
			t.Fatalf("ReadRecord %s = (%d, %v), want ErrEndOfData: the drive is not at end of data", what, n, err)
		}
	case tp[i].filemark:
		if !errors.Is(err, device.ErrFilemark) {
			t.Fatalf("ReadRecord %s = (%d, %v), want ErrFilemark: the drive is not in front of object %d", what, n, err, i)
		}
	default:
		if err != nil || !bytes.Equal(buf[:n], tp[i].data) {
			t.Fatalf("ReadRecord %s = (%d, %v), want object %d (%v): the drive is not in front of it", what, n, err, i, tp[i])
		}
	}
}

// spaceCase is one Space call on spaceLayout: from object from, Space(kind,
// count) returns err and ends in front of object to.
type spaceCase struct {
	from  int
	kind  device.SpaceKind
	count int64
	err   error
	to    int
}

func runSpaceCases(t *testing.T, d device.Drive, cases []spaceCase) {
	tp := spaceLayout()
	writeTape(t, d, tp)
	for _, c := range cases {
		name := fmt.Sprintf("%v%+d_from_%d", c.kind, c.count, c.from)
		t.Run(name, func(t *testing.T) {
			locate(t, d, uint64(c.from))
			op := fmt.Sprintf("Space(%v, %d) from object %d", c.kind, c.count, c.from)
			wantErr(t, d.Space(t.Context(), c.kind, c.count), c.err, op)
			wantPos(t, d, tp.posAt(c.to), "after "+op)
			checkNext(t, d, tp, c.to, "after "+op)
		})
	}
}

// testSpaceRecords: spacing over records stops at filemarks (after them
// going forward, before them going backward), at end of data and at BOT.
func testSpaceRecords(t *testing.T, d device.Drive, _ int64) {
	r := device.SpaceRecords
	runSpaceCases(t, d, []spaceCase{
		{0, r, 0, nil, 0},
		{0, r, 2, nil, 2},
		{0, r, 3, nil, 3},
		{0, r, 4, device.ErrFilemark, 4},
		{0, r, 100, device.ErrFilemark, 4},
		{4, r, 3, device.ErrFilemark, 7},
		{6, r, 1, device.ErrFilemark, 7},
		{7, r, 1, device.ErrFilemark, 8},
		{8, r, 2, nil, 10},
		{8, r, 3, device.ErrEndOfData, 10},
		{10, r, 1, device.ErrEndOfData, 10},
		{2, r, -2, nil, 0},
		{2, r, -3, device.ErrBeginningOfMedium, 0},
		{0, r, -1, device.ErrBeginningOfMedium, 0},
		{5, r, -1, nil, 4},
		{4, r, -1, device.ErrFilemark, 3},
		{5, r, -2, device.ErrFilemark, 3},
		{7, r, -1, device.ErrFilemark, 6},
		{8, r, -1, device.ErrFilemark, 7},
		{10, r, -2, nil, 8},
		{10, r, -3, device.ErrFilemark, 7},
	})
}

// testSpaceFilemarks: forward ends after the count-th filemark, backward on
// the BOT side of it; running out ends at end of data or BOT.
func testSpaceFilemarks(t *testing.T, d device.Drive, _ int64) {
	f := device.SpaceFilemarks
	runSpaceCases(t, d, []spaceCase{
		{0, f, 0, nil, 0},
		{0, f, 1, nil, 4},
		{0, f, 2, nil, 7},
		{0, f, 3, nil, 8},
		{1, f, 1, nil, 4},
		{3, f, 1, nil, 4},
		{6, f, 1, nil, 7},
		{0, f, 4, device.ErrEndOfData, 10},
		{8, f, 1, device.ErrEndOfData, 10},
		{10, f, 1, device.ErrEndOfData, 10},
		{10, f, -1, nil, 7},
		{10, f, -2, nil, 6},
		{10, f, -3, nil, 3},
		{10, f, -4, device.ErrBeginningOfMedium, 0},
		{8, f, -1, nil, 7},
		{7, f, -1, nil, 6},
		{4, f, -1, nil, 3},
		{5, f, -2, device.ErrBeginningOfMedium, 0},
		{2, f, -1, device.ErrBeginningOfMedium, 0},
		{0, f, -1, device.ErrBeginningOfMedium, 0},
	})
}

// testSpaceEndOfData: SpaceEndOfData ends at end of data from anywhere,
// whatever the count.
func testSpaceEndOfData(t *testing.T, d device.Drive, _ int64) {
	e := device.SpaceEndOfData
	runSpaceCases(t, d, []spaceCase{
		{0, e, 0, nil, 10},
		{5, e, 0, nil, 10},
		{7, e, 1, nil, 10},
		{10, e, 0, nil, 10},
		{3, e, -3, nil, 10},
	})
	if st := status(t, d); !st.AtEOD {
		t.Errorf("Status.AtEOD = false after SpaceEndOfData")
	}
}

// testSpaceThenAppend: writing after SpaceEndOfData appends; writing after
// a backward filemark space replaces the rest, as an appending writer and a
// writer that drops a trailing filemark do.
func testSpaceThenAppend(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := spaceLayout()
	writeTape(t, d, tp)
	rewind(t, d)
	wantErr(t, d.Space(ctx, device.SpaceEndOfData, 0), nil, "SpaceEndOfData")
	more := layout(8, 800, 0)
	writeTape(t, d, more)
	tp = append(tp, more...)
	wantErr(t, d.Space(ctx, device.SpaceFilemarks, -1), nil, "Space(filemarks, -1) from end of data")
	wantPos(t, d, tp.posAt(len(tp)-1), "after Space(filemarks, -1) from end of data")
	last := layout(9, 900)
	writeTape(t, d, last)
	tp = append(tp[:len(tp)-1], last...)
	rewind(t, d)
	checkRead(t, d, tp, 0)
}

// testLocate: Locate reaches every object, going forward and backward, and
// ReadPosition reports it.
func testLocate(t *testing.T, d device.Drive, _ int64) {
	tp := spaceLayout()
	writeTape(t, d, tp)
	order := make([]int, 0, 2*len(tp)+2)
	for i := 0; i <= len(tp); i++ {
		order = append(order, i)
	}
	for i := len(tp); i >= 0; i-- {
		order = append(order, i)
	}
	order = append(order, 2, 9, 0, 10, 5) // long jumps both ways
	for _, i := range order {
		locate(t, d, uint64(i))
		p, err := d.ReadPosition(t.Context())
		if err != nil {
			t.Fatalf("ReadPosition after Locate(%d): %v", i, err)
		}
		if p.Object != uint64(i) {
			t.Fatalf("ReadPosition after Locate(%d) reports object %d", i, p.Object)
		}
		checkNext(t, d, tp, i, fmt.Sprintf("after Locate(%d)", i))
	}
}

// testLocateFileRecord: after Locate the file and record numbers are those
// of the object, too.
func testLocateFileRecord(t *testing.T, d device.Drive, _ int64) {
	tp := spaceLayout()
	writeTape(t, d, tp)
	for _, i := range []int{10, 0, 5, 3, 4, 7, 8, 9, 6, 1, 2, 10} {
		locate(t, d, uint64(i))
		wantPos(t, d, tp.posAt(i), fmt.Sprintf("after Locate(%d)", i))
	}
}

// testLocatePastEndOfData: Locate to end of data succeeds; past it returns
// ErrEndOfData positioned at end of data.
func testLocatePastEndOfData(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := spaceLayout()
	writeTape(t, d, tp)
	eod := uint64(len(tp))
	locate(t, d, eod)
	checkNext(t, d, tp, len(tp), fmt.Sprintf("after Locate(%d), end of data", eod))
	for _, target := range []uint64{eod + 1, eod + 1000} {
		rewind(t, d)
		op := fmt.Sprintf("Locate(%d) with end of data at %d", target, eod)
		wantErr(t, d.Locate(ctx, target), device.ErrEndOfData, op)
		p, err := d.ReadPosition(ctx)
		if err != nil {
			t.Fatalf("ReadPosition after %s: %v", op, err)
		}
		if p.Object != eod {
			t.Fatalf("ReadPosition after %s reports object %d, want %d (end of data)", op, p.Object, eod)
		}
		if st := status(t, d); !st.AtEOD {
			t.Errorf("Status.AtEOD = false after %s returned ErrEndOfData", op)
		}
		checkNext(t, d, tp, len(tp), "after "+op)
	}
}

// testWriteDiscardsRest: a write at position P discards every object at
// and after P, however the drive got to P.
func testWriteDiscardsRest(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	rec := layout(10, 4242)[0]
	fm := object{filemark: true}
	readTwo := func(t *testing.T) {
		buf := make([]byte, readBufSize)
		for range 2 {
			if _, err := d.ReadRecord(ctx, buf); err != nil {
				t.Fatalf("ReadRecord: %v", err)
			}
		}
	}
	cases := []struct {
		name  string
		to    func(t *testing.T) // positions the drive at object at
		at    int
		write object
	}{
		{"RecordInFile", func(t *testing.T) { locate(t, d, 5) }, 5, rec},
		{"FilemarkInFile", func(t *testing.T) { locate(t, d, 1) }, 1, fm},
		{"RecordAtBOT", func(t *testing.T) { rewind(t, d) }, 0, rec},
		{"RecordAtFilemark", func(t *testing.T) { locate(t, d, 6) }, 6, rec},
		{"RecordAfterRead", func(t *testing.T) { rewind(t, d); readTwo(t) }, 2, rec},
		{"FilemarkAfterSpace", func(t *testing.T) {
			rewind(t, d)
			wantErr(t, d.Space(ctx, device.SpaceFilemarks, 2), nil, "Space(filemarks, 2)")
		}, 7, fm},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := spaceLayout()
			rewind(t, d)
			writeTape(t, d, old)
			c.to(t)
			wantPos(t, d, old.posAt(c.at), "before the write")
			writeTape(t, d, tape{c.write})
			tp := append(old[:c.at:c.at], c.write)
			wantPos(t, d, tp.eod(), "after the write")
			if st := status(t, d); !st.AtEOD {
				t.Errorf("Status.AtEOD = false after a write")
			}
			checkNext(t, d, tp, len(tp), "after the write")
			wantErr(t, d.Space(ctx, device.SpaceEndOfData, 0), nil, "SpaceEndOfData")
			wantPos(t, d, tp.eod(), "after SpaceEndOfData")
			rewind(t, d)
			checkRead(t, d, tp, 0)
		})
	}
}

// testRewind: Rewind returns to BOT from anywhere.
func testRewind(t *testing.T, d device.Drive, _ int64) {
	tp := spaceLayout()
	writeTape(t, d, tp)
	for _, from := range []int{10, 5, 3, 0} {
		locate(t, d, uint64(from))
		rewind(t, d)
		what := fmt.Sprintf("after Rewind from object %d", from)
		wantPos(t, d, device.Position{}, what)
		st := status(t, d)
		if !st.AtBOT || st.AtEOD || st.Position != (device.Position{}) {
			t.Errorf("Status %s: at BOT %v, at EOD %v, position %s; want at BOT, not at EOD, object 0",
				what, st.AtBOT, st.AtEOD, fmtPos(st.Position))
		}
		checkNext(t, d, tp, 0, what)
	}
}

// testErase: Erase keeps the position and makes it end of data.
func testErase(t *testing.T, d device.Drive, long bool) {
	for _, at := range []int{5, 4, 0} {
		t.Run(fmt.Sprintf("at_%d", at), func(t *testing.T) {
			ctx := t.Context()
			tp := spaceLayout()
			rewind(t, d)
			writeTape(t, d, tp)
			locate(t, d, uint64(at))
			op := fmt.Sprintf("Erase(long=%v) at object %d", long, at)
			wantErr(t, d.Erase(ctx, long), nil, op)
			wantPos(t, d, tp.posAt(at), "after "+op)
			if st := status(t, d); !st.AtEOD {
				t.Errorf("Status.AtEOD = false after %s", op)
			}
			tp = tp[:at]
			checkNext(t, d, tp, at, "after "+op)
			rewind(t, d)
			checkRead(t, d, tp, 0)
			// The erased tape takes new data after what is left.
			more := layout(11, 1234)
			writeTape(t, d, more)
			tp = append(tp, more...)
			rewind(t, d)
			checkRead(t, d, tp, 0)
		})
	}
}

// testEraseLong runs the erase tests with a long erase, which takes hours on
// a full-size cartridge.
func testEraseLong(t *testing.T, d device.Drive, capacity int64) {
	if capacity == 0 {
		t.Skip("long erase runs to the physical end of the cartridge; capacity 0 means too large for a test")
	}
	testErase(t, d, true)
}

// testFormat: Format leaves an empty tape at BOT, from any position.
func testFormat(t *testing.T, d device.Drive, _ int64) {
	ctx := t.Context()
	tp := spaceLayout()
	writeTape(t, d, tp)
	locate(t, d, 5)
	err := d.Format(ctx)
	skipUnsupported(t, err, "Format")
	wantErr(t, err, nil, "Format")
	wantPos(t, d, device.Position{}, "after Format")
	if st := status(t, d); !st.AtBOT {
		t.Errorf("Status.AtBOT = false after Format")
	}
	checkRead(t, d, nil, 0)
	rewind(t, d)
	more := layout(12, 100, 0, 200)
	writeTape(t, d, more)
	rewind(t, d)
	checkRead(t, d, more, 0)
}
