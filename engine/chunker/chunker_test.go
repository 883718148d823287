package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"testing"
	"testing/iotest"
)

var smallParams = Params{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}

func TestChunksDoNotDependOnReadSizes(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		p    Params
	}{
		{"random/small", randomData(1, 3<<20), smallParams},
		{"mixed/small", mixedData(2, 3<<20), smallParams},
		{"mixed/default", mixedData(3, 24<<20), DefaultParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := chunkAll(t, bytes.NewReader(tt.data), tt.p)
			if len(want) < 3 {
				t.Fatalf("only %d chunks: the test data is too short", len(want))
			}
			rnd := splitmix(42)
			readers := []struct {
				name string
				r    io.Reader
			}{
				{"1", &sizedReader{tt.data, func() int { return 1 }}},
				{"7", &sizedReader{tt.data, func() int { return 7 }}},
				{"4096", &sizedReader{tt.data, func() int { return 4096 }}},
				{"random", &sizedReader{tt.data, func() int { return rnd.intn(3 * tt.p.Max) }}},
				{"data+EOF", iotest.DataErrReader(bytes.NewReader(tt.data))},
			}
			for _, rd := range readers {
				if rd.name == "1" && len(tt.data) > 4<<20 {
					continue // a byte at a time through 24 MiB adds nothing but time
				}
				if got := chunkAll(t, rd.r, tt.p); !slices.Equal(got, want) {
					t.Errorf("reads of %s bytes: %d chunks differ from the %d of one whole read", rd.name, len(got), len(want))
				}
			}
		})
	}
}

func TestInsertAtFrontKeepsLaterChunks(t *testing.T) {
	const size = 64 << 20
	tests := []struct {
		name string
		data func() []byte
	}{
		{"random", func() []byte { return randomData(10, size) }},
		{"mixed", func() []byte { return mixedData(11, size) }},
		{"text", func() []byte { return textData(12, size) }},
	}
	for _, tt := range tests {
		if testing.Short() && tt.name != "mixed" {
			continue
		}
		data := tt.data()
		orig := chunkAll(t, bytes.NewReader(data), DefaultParams)
		for _, insert := range []string{"x", "tapefs", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"} {
			t.Run(fmt.Sprintf("%s/insert%d", tt.name, len(insert)), func(t *testing.T) {
				shifted := chunkAll(t, io.MultiReader(bytes.NewReader([]byte(insert)), bytes.NewReader(data)), DefaultParams)
				known := map[Digest]bool{}
				for _, c := range orig {
					known[c.Digest] = true
				}
				var newChunks, newBytes, total int
				for _, c := range shifted {
					total += c.Len
					if !known[c.Digest] {
						newChunks++
						newBytes += c.Len
					}
				}
				ratio := 1 - float64(newBytes)/float64(total)
				t.Logf("insert %d bytes: %d of %d chunks new, dedup ratio %.4f", len(insert), newChunks, len(shifted), ratio)
				if newChunks > 2 {
					t.Errorf("inserting %d bytes at the front changed %d chunks, want at most 2", len(insert), newChunks)
				}
				if ratio < 0.95 {
					t.Errorf("dedup ratio after the insert = %.4f, want >= 0.95", ratio)
				}
			})
		}
	}
}

func TestChunkSizesWithinBounds(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		p    Params
	}{
		{"random/default", randomData(20, 24<<20), DefaultParams},
		{"text/default", textData(21, 24<<20), DefaultParams},
		{"zeros/default", make([]byte, 17<<20+5), DefaultParams},
		{"mixed/small", mixedData(22, 8<<20), smallParams},
		{"zeros/small", make([]byte, 1<<20+3), smallParams},
		{"random/tiny", randomData(23, 1<<20), Params{Min: 64, Avg: 256, Max: 1024}},
		{"random/fixed", randomData(24, 1<<20), Params{Min: 4096, Avg: 4096, Max: 4096}},
		{"random/min=avg", randomData(25, 4<<20), Params{Min: 16 << 10, Avg: 16 << 10, Max: 64 << 10}},
		{"random/avg=max", randomData(26, 4<<20), Params{Min: 1 << 10, Avg: 64 << 10, Max: 64 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := chunkAll(t, bytes.NewReader(tt.data), tt.p)
			total := 0
			atMax := 0
			for i, c := range chunks {
				total += c.Len
				last := i == len(chunks)-1
				if c.Len > tt.p.Max || c.Len < 1 || (!last && c.Len < tt.p.Min) {
					t.Errorf("chunk %d of %d has %d bytes, want %d..%d", i, len(chunks), c.Len, tt.p.Min, tt.p.Max)
				}
				if c.Len == tt.p.Max {
					atMax++
				}
			}
			if total != len(tt.data) {
				t.Errorf("chunks add up to %d bytes, want %d", total, len(tt.data))
			}
			t.Logf("%d chunks, mean %d bytes, %d cut at Max", len(chunks), total/len(chunks), atMax)
		})
	}
}

func TestMeanChunkSizeNearAvg(t *testing.T) {
	chunks := chunkAll(t, bytes.NewReader(randomData(30, 64<<20)), DefaultParams)
	mean := (64 << 20) / len(chunks)
	// Normalized chunking puts the mean a little above Avg; far from it
	// means a broken mask, and with it a broken dedup granularity.
	if mean < DefaultParams.Avg*3/4 || mean > DefaultParams.Avg*3/2 {
		t.Errorf("mean chunk size on random data = %d, want near %d", mean, DefaultParams.Avg)
	}
}

func TestNextReturnsViewValidUntilNextCall(t *testing.T) {
	data := randomData(40, 1<<20)
	c := New(bytes.NewReader(data), smallParams)
	first, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if cap(first) != len(first) {
		t.Errorf("chunk has capacity %d beyond its %d bytes: an append would overwrite the next chunk", cap(first), len(first))
	}
	_ = append(first, 0xff)
	second, err := c.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second, data[len(first):len(first)+len(second)]) {
		t.Error("second chunk does not match the input")
	}
}

func TestEmptyAndShortInput(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{7}},
		{"below min", randomData(50, smallParams.Min-1)},
		{"exactly max", randomData(51, smallParams.Max)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(bytes.NewReader(tt.data), smallParams)
			var got []byte
			for {
				chunk, err := c.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(chunk) == 0 {
					t.Fatal("Next returned an empty chunk")
				}
				got = append(got, chunk...)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("chunks give %d bytes, want the %d of the input", len(got), len(tt.data))
			}
			if _, err := c.Next(); err != io.EOF {
				t.Errorf("Next after the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestReadErrorIsReturnedAndSticky(t *testing.T) {
	errDisk := errors.New("disk on fire")
	data := randomData(60, 200<<10)
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errDisk))
	c := New(r, smallParams)
	var got int
	var err error
	for {
		var chunk []byte
		chunk, err = c.Next()
		if err != nil {
			break
		}
		got += len(chunk)
	}
	if !errors.Is(err, errDisk) {
		t.Fatalf("Next = %v, want an error wrapping %v", err, errDisk)
	}
	if got > len(data) {
		t.Errorf("got %d bytes of chunks from %d bytes of input", got, len(data))
	}
	if _, again := c.Next(); !errors.Is(again, errDisk) {
		t.Errorf("Next after the error = %v, want the error again", again)
	}
}

func TestReaderWithoutProgress(t *testing.T) {
	c := New(&sizedReader{[]byte{1}, func() int { return 0 }}, smallParams)
	if _, err := c.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("Next = %v, want io.ErrNoProgress", err)
	}
}

func TestInvalidParams(t *testing.T) {
	tests := []Params{
		{Min: 0, Avg: 1024, Max: 4096},
		{Min: 63, Avg: 1024, Max: 4096},
		{Min: 2048, Avg: 1024, Max: 4096},
		{Min: 1024, Avg: 8192, Max: 4096},
		{Min: 1024, Avg: 4096, Max: MaxParamSize + 1},
		{Min: -1, Avg: -1, Max: -1},
	}
	for _, p := range tests {
		if err := p.Validate(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%+v.Validate() = %v, want ErrInvalidParams", p, err)
		}
		c := New(bytes.NewReader([]byte("data")), p)
		if _, err := c.Next(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("Next with %+v = %v, want ErrInvalidParams", p, err)
		}
		c.Reset(bytes.NewReader([]byte("data")))
		if _, err := c.Next(); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("Next after Reset with %+v = %v, want ErrInvalidParams", p, err)
		}
	}
	for _, p := range []Params{{}, DefaultParams, {Min: 64, Avg: 64, Max: 64}, {Min: 64, Avg: 1 << 20, Max: MaxParamSize}} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", p, err)
		}
	}
}

func TestZeroParamsMeanDefault(t *testing.T) {
	data := randomData(70, 12<<20)
	if got, want := chunkAll(t, bytes.NewReader(data), Params{}), chunkAll(t, bytes.NewReader(data), DefaultParams); !slices.Equal(got, want) {
		t.Error("the zero Params cut differently from DefaultParams")
	}
}

func TestResetReusesChunker(t *testing.T) {
	inputs := [][]byte{randomData(80, 300<<10), nil, textData(81, 100), mixedData(82, 1<<20)}
	c := New(bytes.NewReader(inputs[0]), smallParams)
	for i, in := range inputs {
		if i > 0 {
			c.Reset(bytes.NewReader(in))
		}
		var got []chunkInfo
		for {
			chunk, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, chunkInfo{len(chunk), Sum(chunk)})
		}
		if want := chunkAll(t, bytes.NewReader(in), smallParams); !slices.Equal(got, want) {
			t.Errorf("input %d after Reset: %d chunks, a new Chunker cuts %d", i, len(got), len(want))
		}
	}
}

func TestMasks(t *testing.T) {
	for _, avg := range []int{64, 256, 4096, 1 << 20, 3 << 20, 1 << 30} {
		p := Params{Min: 64, Avg: avg, Max: 1 << 30}
		maskS, maskL := p.masks()
		b := bits.Len(uint(avg)) - 1
		if got := bits.OnesCount64(maskS); got != min(b+normalization, 47) {
			t.Errorf("avg %d: maskS has %d one bits, want %d", avg, got, b+normalization)
		}
		if got := bits.OnesCount64(maskL); got != max(b-normalization, 1) {
			t.Errorf("avg %d: maskL has %d one bits, want %d", avg, got, b-normalization)
		}
		if (maskS|maskL)>>61 != 0 || (maskS|maskL)&0xffff != 0 {
			t.Errorf("avg %d: masks %#x %#x use bits outside 16..60", avg, maskS, maskL)
		}
	}
}

func TestGearTableDerivation(t *testing.T) {
	s := splitmix(gearSeed)
	for i, g := range gear {
		if want := s.next(); g != want {
			t.Fatalf("gear[%d] = %#x, want %#x (SplitMix64 from gearSeed)", i, g, want)
		}
	}
}

// scanReference is the Gear hash boundary test one byte at a time, as the
// FastCDC paper writes it; scan must agree with it.
func scanReference(data []byte, fp, mask uint64) (int, uint64) {
	for i, b := range data {
		fp = fp<<1 + gear[b]
		if fp&mask == 0 {
			return i + 1, 0
		}
	}
	return -1, fp
}

func TestScanMatchesReference(t *testing.T) {
	rnd := splitmix(7)
	data := mixedData(8, 4<<20)
	for range 2000 {
		mask := spreadMask(1 + rnd.intn(20))
		off := rnd.intn(len(data))
		seg := data[off:min(len(data), off+rnd.intn(1<<16))]
		fp := rnd.next()
		gotN, gotFP := scan(seg, fp, mask)
		wantN, wantFP := scanReference(seg, fp, mask)
		if gotN != wantN || gotFP != wantFP {
			t.Fatalf("scan of %d bytes with mask %#x = %d, %#x; want %d, %#x", len(seg), mask, gotN, gotFP, wantN, wantFP)
		}
	}
}
