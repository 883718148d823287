package format

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

// testHeader returns a content header with a fixed UUID derived from n.
func testHeader(n byte) ContentHeader {
	return ContentHeader{
		Type:   ContentChunkArchive,
		UUID:   uuid.UUID{0: 0xc0, 15: n},
		Ctime:  time.Date(2026, 11, 25, 17, 0, 0, 123456789, time.UTC),
		Header: json.RawMessage(`{"file":` + string('0'+rune(n%10)) + `}`),
	}
}

// testData returns n pseudo-random bytes, the same for the same seed.
func testData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeFile writes one tape file holding data in writes of varying size.
func writeFile(t testing.TB, d device.Drive, blockSize int, h ContentHeader, data []byte) *FileWriter {
	t.Helper()
	w, err := NewFileWriter(context.Background(), d, blockSize, h)
	if err != nil {
		t.Fatalf("NewFileWriter: %v", err)
	}
	for i, p := 0, data; len(p) > 0; i++ {
		n := min(len(p), 1+i*7919%100000)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		p = p[n:]
	}
	if got := w.BytesWritten(); got != int64(len(data)) {
		t.Errorf("BytesWritten = %d, want %d", got, len(data))
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return w
}

// readFile reads the tape file at the current position. It returns what was
// read and the error that ended it (nil for a complete file).
func readFile(d device.Drive, blockSize int) (ContentHeader, []byte, error) {
	r, err := NewFileReader(context.Background(), d, blockSize)
	if err != nil {
		return ContentHeader{}, nil, err
	}
	data, err := io.ReadAll(r)
	return r.Header(), data, err
}

func sameHeader(t *testing.T, got, want ContentHeader) {
	t.Helper()
	if got.Type != want.Type || got.UUID != want.UUID || !got.Ctime.Equal(want.Ctime) || !bytes.Equal(got.Header, want.Header) {
		t.Errorf("header = %+v, want %+v", got, want)
	}
}

func TestFileRoundTrip(t *testing.T) {
	h := testHeader(1)
	hdrLen := contentFixedSize + len(h.Header)
	for _, bs := range []int{MinBlockSize, DefaultBlockSize} {
		pc := bs - RecordHeaderSize
		for _, n := range []int{0, 1, pc - hdrLen, pc - hdrLen + 1, 3*pc - hdrLen, 1<<20 + 17} {
			for _, readBS := range []int{0, bs} {
				d := &memDrive{}
				data := testData(uint64(n), n)
				writeFile(t, d, bs, h, data)

				wantRecords := max(1, (hdrLen+n+pc-1)/pc)
				if got := len(d.objs) - 1; got != wantRecords {
					t.Errorf("bs %d n %d: %d records, want %d", bs, n, got, wantRecords)
				}
				for i, o := range d.objs[:len(d.objs)-1] {
					if len(o.data) != bs {
						t.Fatalf("bs %d n %d: record %d is %d bytes", bs, n, i, len(o.data))
					}
				}
				if !d.objs[len(d.objs)-1].filemark {
					t.Fatalf("bs %d n %d: file does not end with a filemark", bs, n)
				}

				d.pos = 0
				got, back, err := readFile(d, readBS)
				if err != nil {
					t.Fatalf("bs %d n %d: read: %v", bs, n, err)
				}
				sameHeader(t, got, h)
				if !bytes.Equal(back, data) {
					t.Errorf("bs %d n %d: read %d bytes back, they differ from the %d written", bs, n, len(back), len(data))
				}
				if d.pos != len(d.objs) {
					t.Errorf("bs %d n %d: after reading, at object %d, want %d (after the filemark)", bs, n, d.pos, len(d.objs))
				}
				if _, err := NewFileReader(context.Background(), d, readBS); !errors.Is(err, device.ErrEndOfData) {
					t.Errorf("bs %d n %d: reader at end of data: %v, want ErrEndOfData", bs, n, err)
				}
			}
		}
	}
}

func TestFileReaderBlockSizeMismatch(t *testing.T) {
	d := &memDrive{}
	writeFile(t, d, MinBlockSize, testHeader(1), testData(1, 1000))
	d.pos = 0
	if _, err := NewFileReader(context.Background(), d, DefaultBlockSize); !errors.Is(err, ErrCorrupt) {
		t.Errorf("reading a 64 KiB file as 256 KiB: %v, want ErrCorrupt", err)
	}
	d.pos = 0
	writeFile(t, d, DefaultBlockSize, testHeader(1), testData(1, 1000))
	d.pos = 0
	if _, err := NewFileReader(context.Background(), d, MinBlockSize); !errors.Is(err, ErrCorrupt) {
		t.Errorf("reading a 256 KiB file as 64 KiB: %v, want ErrCorrupt", err)
	}
}

func TestSeveralFilesAndSkip(t *testing.T) {
	d := &memDrive{}
	var data [3][]byte
	for i := range data {
		data[i] = testData(uint64(i), 200000*(i+1))
		writeFile(t, d, MinBlockSize, testHeader(byte(i)), data[i])
	}
	d.pos = 0
	ctx := context.Background()

	r, err := NewFileReader(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := r.SkipToEnd(); err != nil {
		t.Fatalf("SkipToEnd: %v", err)
	}
	if _, err := r.Read(make([]byte, 10)); err == nil {
		t.Error("Read after SkipToEnd returned no error")
	}

	// A reader that never read payload skips too.
	r, err = NewFileReader(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameHeader(t, r.Header(), testHeader(1))
	if err := r.SkipToEnd(); err != nil {
		t.Fatalf("SkipToEnd: %v", err)
	}

	h, back, err := readFile(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameHeader(t, h, testHeader(2))
	if !bytes.Equal(back, data[2]) {
		t.Error("third file differs")
	}
	// SkipToEnd after io.EOF does not move.
	pos := d.pos
	r2 := &FileReader{done: true}
	if err := r2.SkipToEnd(); err != nil || d.pos != pos {
		t.Errorf("SkipToEnd on a finished reader: %v, moved to %d", err, d.pos)
	}
}

func TestAbort(t *testing.T) {
	d := &memDrive{}
	ctx := context.Background()
	data := testData(7, 150000)
	w, err := NewFileWriter(ctx, d, MinBlockSize, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if _, err := w.Write([]byte{1}); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	writeFile(t, d, MinBlockSize, testHeader(2), []byte("next"))

	d.pos = 0
	_, back, err := readFile(d, 0)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("reading an aborted file: %v, want ErrIncomplete", err)
	}
	if !bytes.Equal(back, data) {
		t.Errorf("aborted file: read %d bytes, want the %d written", len(back), len(data))
	}
	_, back, err = readFile(d, 0)
	if err != nil || string(back) != "next" {
		t.Errorf("file after the aborted one: %q, %v", back, err)
	}
}

func TestWriterEarlyWarning(t *testing.T) {
	const bs = MinBlockSize
	d := &memDrive{earlyWarning: 2 * bs}
	ctx := context.Background()
	w, err := NewFileWriter(ctx, d, bs, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	data := testData(3, 5*bs)
	chunk := bs / 2
	sawWarning := -1
	for off := 0; off < len(data); off += chunk {
		if _, err := w.Write(data[off : off+chunk]); err != nil {
			t.Fatalf("Write at %d: %v", off, err)
		}
		if w.EarlyWarning() && sawWarning < 0 {
			sawWarning = d.used()
		}
	}
	if sawWarning < 0 {
		t.Fatal("EarlyWarning never became true")
	}
	if sawWarning != 3*bs {
		t.Errorf("early warning seen with %d bytes on tape, want %d (the first record past the warning point)", sawWarning, 3*bs)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close past early warning: %v", err)
	}
	d.pos = 0
	if _, back, err := readFile(d, 0); err != nil || !bytes.Equal(back, data) {
		t.Errorf("read back after early warning: %d bytes, %v", len(back), err)
	}
}

func TestWriterEndOfMedium(t *testing.T) {
	const bs = MinBlockSize
	d := &memDrive{earlyWarning: 2 * bs, capacity: 3 * bs}
	ctx := context.Background()
	w, err := NewFileWriter(ctx, d, bs, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(testData(4, 10*bs))
	if !errors.Is(err, device.ErrEndOfMedium) {
		t.Fatalf("Write past the end of the tape: %v, want ErrEndOfMedium", err)
	}
	if !w.EarlyWarning() {
		t.Error("EarlyWarning is false after writing past the warning point")
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, device.ErrEndOfMedium) {
		t.Errorf("Write after the failure: %v, want the same ErrEndOfMedium", err)
	}
	if err := w.Close(); !errors.Is(err, device.ErrEndOfMedium) {
		t.Errorf("Close after the failure: %v, want ErrEndOfMedium", err)
	}
	if err := w.Abort(); !errors.Is(err, device.ErrEndOfMedium) {
		t.Errorf("Abort on a full tape: %v, want ErrEndOfMedium", err)
	}
	if n := len(d.objs); n != 3 {
		t.Errorf("tape holds %d objects, want the 3 records that fit", n)
	}
	d.pos = 0
	if _, _, err := readFile(d, 0); !errors.Is(err, ErrIncomplete) {
		t.Errorf("reading the cut-off file: %v, want ErrIncomplete", err)
	}
}

func TestWriteErrorThenAbort(t *testing.T) {
	const bs = MinBlockSize
	d := &memDrive{failWrite: 3}
	ctx := context.Background()
	w, err := NewFileWriter(ctx, d, bs, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	data := testData(5, 5*bs)
	n, err := w.Write(data)
	if !errors.Is(err, device.ErrMediumError) {
		t.Fatalf("Write: %v, want ErrMediumError", err)
	}
	if n >= len(data) {
		t.Errorf("Write took %d of %d bytes despite the error", n, len(data))
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort after a write error: %v", err)
	}
	d.pos = 0
	_, back, err := readFile(d, 0)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("read: %v, want ErrIncomplete", err)
	}
	if !bytes.Equal(back, data[:len(back)]) || len(back) != n {
		t.Errorf("read %d bytes, want the %d bytes Write accepted", len(back), n)
	}
}

func TestCloseRetriesFilemark(t *testing.T) {
	d := &failingFilemarks{memDrive: &memDrive{}, fail: 1}
	w, err := NewFileWriter(context.Background(), d, MinBlockSize, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("payload")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, device.ErrMediumError) {
		t.Fatalf("Close with failing filemark: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d.pos = 0
	if _, back, err := readFile(d.memDrive, 0); err != nil || string(back) != "payload" {
		t.Errorf("read back: %q, %v", back, err)
	}
}

// failingFilemarks fails the first fail WriteFilemarks calls.
type failingFilemarks struct {
	*memDrive
	fail int
}

func (f *failingFilemarks) WriteFilemarks(ctx context.Context, n int) error {
	if f.fail > 0 {
		f.fail--
		return device.ErrMediumError
	}
	return f.memDrive.WriteFilemarks(ctx, n)
}

func TestNewFileWriterRejects(t *testing.T) {
	good := testHeader(1)
	tests := []struct {
		name string
		bs   int
		h    func(h *ContentHeader)
		want string
	}{
		{"block size too small", 32 << 10, nil, "invalid block size"},
		{"block size too large", 8 << 20, nil, "invalid block size"},
		{"block size unaligned", 65536 + 1000, nil, "invalid block size"},
		{"type 0", 0, func(h *ContentHeader) { h.Type = 0 }, "content type 0"},
		{"nil uuid", 0, func(h *ContentHeader) { h.UUID = uuid.Nil }, "all zeros"},
		{"no ctime", 0, func(h *ContentHeader) { h.Ctime = time.Time{} }, "creation time"},
		{"ctime after 9999", 0, func(h *ContentHeader) { h.Ctime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside the years"},
		{"invalid json", 0, func(h *ContentHeader) { h.Header = json.RawMessage("{") }, "not valid JSON"},
		{"json too large", 0, func(h *ContentHeader) {
			h.Header = json.RawMessage(`"` + strings.Repeat("x", MaxHeaderJSON) + `"`)
		}, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good
			if tt.h != nil {
				tt.h(&h)
			}
			d := &memDrive{}
			_, err := NewFileWriter(context.Background(), d, tt.bs, h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if len(d.objs) != 0 {
				t.Errorf("a rejected writer wrote %d objects", len(d.objs))
			}
		})
	}
}

func TestLargeContentHeaderSpansRecords(t *testing.T) {
	h := testHeader(1)
	h.Header = json.RawMessage(`"` + strings.Repeat("y", MaxHeaderJSON-2) + `"`)
	d := &memDrive{}
	writeFile(t, d, MinBlockSize, h, []byte("after"))
	if len(d.objs) != 3 {
		t.Fatalf("%d objects, want 2 records and a filemark", len(d.objs))
	}
	d.pos = 0
	got, back, err := readFile(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameHeader(t, got, h)
	if string(back) != "after" {
		t.Errorf("payload %q", back)
	}
}

func TestRecordOf(t *testing.T) {
	const bs = MinBlockSize
	d := &memDrive{}
	data := testData(9, 4*bs)
	w := writeFile(t, d, bs, testHeader(1), data)

	// Where each record's payload starts in the stream, from the headers.
	var starts []int64
	var total int64
	for _, o := range d.objs[:len(d.objs)-1] {
		h, err := decodeRecordHeader(o.data)
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, total)
		total += int64(h.PayloadLen)
	}
	hdrLen := int64(contentFixedSize + len(testHeader(1).Header))
	for _, off := range []int64{0, 1, bs - RecordHeaderSize - hdrLen - 1, bs - RecordHeaderSize - hdrLen, 2 * bs, int64(len(data) - 1)} {
		s := hdrLen + off
		want := uint64(0)
		for i, st := range starts {
			if st <= s {
				want = uint64(i)
			}
		}
		if got := w.RecordOf(off); got != want {
			t.Errorf("RecordOf(%d) = %d, want %d", off, got, want)
		}
		rec := d.objs[want].data[RecordHeaderSize:]
		if rec[s-starts[want]] != data[off] {
			t.Errorf("offset %d: byte in record %d differs", off, want)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &memDrive{}
	w, err := NewFileWriter(ctx, d, MinBlockSize, testHeader(1))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a cancelled context: %v", err)
	}
}
