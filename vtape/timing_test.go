package vtape

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"tapefs/engine/device"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

func TestFullTapePassCost(t *testing.T) {
	for _, g := range []string{"LTO-5", "LTO-6", "LTO-7", "LTO-8", "LTO-9"} {
		t.Run(g, func(t *testing.T) {
			tm, err := TimingFor(g)
			if err != nil {
				t.Fatal(err)
			}
			got := tm.transferCost(0, tm.NativeCapacity, tm.NativeCapacity)
			want := float64(tm.NativeCapacity) / tm.NativeRate
			if math.Abs(got-want)/want > 0.02 {
				t.Fatalf("full pass %.0f s, want about %.0f s", got, want)
			}
			// Rewinding from the end of the first wrap takes the tape
			// length at locate speed, about twice the average rewind.
			end := tm.point(tm.NativeCapacity/int64(tm.Wraps)-1, tm.NativeCapacity)
			if r := tm.rewindCost(end); r < 80 || r > 160 {
				t.Fatalf("full-length rewind %.0f s", r)
			}
		})
	}
}

func TestTimingFor(t *testing.T) {
	for _, in := range []string{"", "lto8", "8", "LTO-8", " lto-8 "} {
		tm, err := TimingFor(in)
		if err != nil || tm.Generation != "LTO-8" || tm.NativeRate != 360e6 {
			t.Errorf("TimingFor(%q) = %s, %v", in, tm.Generation, err)
		}
	}
	if _, err := TimingFor("LTO-4"); err == nil {
		t.Error("LTO-4 accepted")
	}
}

// spreadDrive is a loaded drive whose timing model maps the small test
// cartridge onto the whole serpentine layout, so positioning costs are those
// of a full tape.
func spreadDrive(t *testing.T) *Drive {
	t.Helper()
	const capacity = 64 << 20
	_, d := loadedDrive(t, LibraryOptions{Capacity: capacity})
	d.timing.NativeCapacity = capacity
	clk := &fakeClock{t: time.Unix(1e9, 0), step: time.Microsecond}
	d.SetClock(clk.now)
	return d
}

func TestReadFrontToBack(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	clk := &fakeClock{t: time.Unix(1e9, 0), step: time.Microsecond}
	d.SetClock(clk.now)
	const n, size = 40, 1 << 20
	for i := range n {
		mustWrite(t, d, record(i, size))
	}
	mustFM(t, d, 1)
	wantErr(t, d.Rewind(bg), nil)
	d.ResetSimStats()
	buf := make([]byte, size)
	for range n {
		if _, err := d.ReadRecord(bg, buf); err != nil {
			t.Fatal(err)
		}
	}
	s := d.SimStats()
	want := float64(n*size) / d.timing.NativeRate
	if math.Abs(s.TapeSeconds-want)/want > 0.01 || s.BackHitches != 0 || s.BytesRead != n*size {
		t.Fatalf("front to back: %+v, want %.3f s", s, want)
	}
}

func TestRandomReadsCostMoreThanSorted(t *testing.T) {
	d := spreadDrive(t)
	const n, size = 40, 1 << 20
	for i := range n {
		mustWrite(t, d, record(i, size))
	}
	mustFM(t, d, 1)
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	readAt := func(objs []int) float64 {
		wantErr(t, d.Rewind(bg), nil)
		d.ResetSimStats()
		buf := make([]byte, size)
		for _, o := range objs {
			wantErr(t, d.Locate(bg, uint64(o)), nil)
			if _, err := d.ReadRecord(bg, buf); err != nil {
				t.Fatal(err)
			}
		}
		return d.SimStats().TapeSeconds
	}
	sorted := make([]int, n)
	for i := range sorted {
		sorted[i] = i
	}
	random := readAt(order)
	seq := readAt(sorted)
	if random < 10*seq {
		t.Fatalf("random order %.1f s, sorted %.1f s: want random much more expensive", random, seq)
	}
	if l := d.SimStats().Locates; l != n {
		t.Fatalf("locates %d", l)
	}
}

func TestLocateCostGrowsWithDistance(t *testing.T) {
	d := spreadDrive(t)
	perWrap := d.timing.NativeCapacity / int64(d.timing.Wraps) // ~320 KiB
	const size = 16 << 10
	for i := range int(3 * perWrap / size) {
		mustWrite(t, d, record(i, size))
	}
	cost := func(obj uint64) float64 {
		wantErr(t, d.Rewind(bg), nil)
		d.ResetSimStats()
		wantErr(t, d.Locate(bg, obj), nil)
		return d.SimStats().TapeSeconds
	}
	perWrapObjs := uint64(perWrap / size)
	prev := 0.0
	for _, obj := range []uint64{1, perWrapObjs / 4, perWrapObjs / 2, perWrapObjs - 1} {
		c := cost(obj)
		if c <= prev {
			t.Fatalf("locate to %d costs %.2f s, not more than %.2f s", obj, c, prev)
		}
		prev = c
	}
	// Serpentine: the start of wrap 1 is at the far end of the tape; its
	// end is back near BOT.
	startW1, endW1 := cost(perWrapObjs+1), cost(2*perWrapObjs-1)
	if endW1 >= startW1 {
		t.Fatalf("end of wrap 1 (%.1f s) not cheaper than its start (%.1f s)", endW1, startW1)
	}
}

func TestLoadUnloadCost(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	st, _ := d.Status(bg)
	if st.Sim.Loads != 1 || st.Sim.TapeSeconds != d.timing.LoadTime {
		t.Fatalf("after auto-load %+v", st.Sim)
	}
	wantErr(t, d.Unload(bg), nil)
	wantErr(t, d.Load(bg), nil)
	s := d.SimStats()
	if s.Loads != 2 || s.TapeSeconds != 2*d.timing.LoadTime+d.timing.UnloadTime {
		t.Fatalf("after unload+load %+v", s)
	}
}

func TestBackHitches(t *testing.T) {
	const rec = 64 << 10
	tests := []struct {
		name    string
		read    bool
		rate    float64 // host bytes/s
		records int
		want    uint64
	}{
		{"fast writer", false, 300e6, 64, 0},
		// Writing, the drive starts after 8 records (512 KiB) and runs
		// dry on the next gap: a hitch on records 9, 17, ... 57.
		{"slow writer", false, 10e6, 64, 7},
		{"fast reader", true, 300e6, 64, 0},
		// Reading, the buffer overflows on the third record and then
		// every 8 records (refill to half free): 8 hitches.
		{"slow reader", true, 10e6, 64, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
			d.timing.BufferBytes = 1 << 20
			d.timing.RestartBytes = 512 << 10
			clk := &fakeClock{t: time.Unix(1e9, 0)}
			d.SetClock(clk.now)
			if tt.read {
				for i := range tt.records {
					mustWrite(t, d, record(i, rec))
				}
				mustFM(t, d, 1)
				wantErr(t, d.Rewind(bg), nil)
			}
			d.ResetSimStats()
			clk.step = time.Duration(float64(rec) / tt.rate * 1e9)
			buf := make([]byte, rec)
			for i := range tt.records {
				if tt.read {
					if _, err := d.ReadRecord(bg, buf); err != nil {
						t.Fatal(err)
					}
				} else {
					mustWrite(t, d, record(i, rec))
				}
			}
			s := d.SimStats()
			if s.BackHitches != tt.want {
				t.Fatalf("%d back-hitches, want %d", s.BackHitches, tt.want)
			}
			base := float64(tt.records*rec) / d.timing.NativeRate
			if got := s.TapeSeconds - base; math.Abs(got-float64(tt.want)*d.timing.BackHitch) > 1e-6 {
				t.Fatalf("back-hitch penalty %.3f s for %d hitches", got, s.BackHitches)
			}
		})
	}
}

func TestStatusCarriesSim(t *testing.T) {
	_, d := loadedDrive(t, LibraryOptions{Capacity: 64 << 20})
	mustWrite(t, d, record(0, 1000))
	st, err := d.Status(bg)
	if err != nil || st.Sim == nil || st.Sim.BytesWritten != 1000 || *st.Sim != d.SimStats() {
		t.Fatalf("status sim %+v %v", st.Sim, err)
	}
	var _ device.SimStats = *st.Sim
}
