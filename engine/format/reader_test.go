package format

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"tapefs/engine/device"
)

// TestReaderDamage damages a tape of two files (a 4-record file 0 and a
// one-record file 1) and checks what reading file 0 reports, and that the
// reader can still get to file 1 with SkipToEnd where the damage allows.
func TestReaderDamage(t *testing.T) {
	const bs = MinBlockSize
	pc := bs - RecordHeaderSize
	data0 := testData(1, 3*pc+100)
	data1 := []byte("second file")

	build := func() *memDrive {
		d := &memDrive{}
		writeFile(t, d, bs, testHeader(0), data0)
		writeFile(t, d, bs, testHeader(1), data1)
		d.pos = 0
		return d
	}
	if n := len(build().objs); n != 7 {
		t.Fatalf("setup: %d objects, want 4 records + filemark + 1 record + filemark", n)
	}

	tests := []struct {
		name   string
		damage func(d *memDrive)
		want   error // what ends reading file 0
		// nextOK: after SkipToEnd, file 1 reads back intact.
		nextOK bool
	}{
		{"payload bit flip", func(d *memDrive) { d.objs[2].data[1000] ^= 1 }, ErrCorrupt, true},
		{"header bit flip", func(d *memDrive) { d.objs[2].data[17] ^= 1 }, ErrCorrupt, true},
		{"first record foreign", func(d *memDrive) { d.objs[0].data = bytes.Repeat([]byte{0x55}, 512) }, ErrCorrupt, false},
		{"records swapped", func(d *memDrive) { d.objs[1], d.objs[2] = d.objs[2], d.objs[1] }, ErrCorrupt, true},
		{"record lost", func(d *memDrive) { d.objs = slices.Delete(d.objs, 1, 2) }, ErrCorrupt, true},
		{"record duplicated", func(d *memDrive) { d.objs = slices.Insert(d.objs, 2, d.objs[1]) }, ErrCorrupt, true},
		{"record of another file", func(d *memDrive) {
			other := &memDrive{}
			writeFile(t, other, bs, testHeader(9), data0)
			d.objs[2] = other.objs[2]
		}, ErrCorrupt, true},
		{"record cut short", func(d *memDrive) { d.objs[1].data = d.objs[1].data[:bs-4096] }, ErrCorrupt, true},
		{"record longer than block", func(d *memDrive) { d.objs[1].data = append(d.objs[1].data, 0) }, ErrCorrupt, true},
		{"unreadable record", func(d *memDrive) { d.badRead = map[int]bool{2: true} }, device.ErrMediumError, true},
		{"end-of-stream record lost", func(d *memDrive) { d.objs = slices.Delete(d.objs, 3, 4) }, ErrIncomplete, true},
		{"tape ends mid-file", func(d *memDrive) { d.objs = d.objs[:2] }, ErrIncomplete, false},
		{"filemark lost", func(d *memDrive) { d.objs = slices.Delete(d.objs, 4, 5) }, ErrCorrupt, false},
		{"filemark lost at end of data", func(d *memDrive) { d.objs = d.objs[:4] }, nil, false},
		{"empty file", func(d *memDrive) { d.objs = slices.Insert(d.objs, 0, memObject{filemark: true}) }, ErrCorrupt, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := build()
			tt.damage(d)
			ctx := context.Background()
			var err error
			r, err := NewFileReader(ctx, d, 0)
			if err == nil {
				var back []byte
				back, err = io.ReadAll(r)
				if !bytes.Equal(back, data0[:len(back)]) {
					t.Errorf("read %d bytes that differ from what was written", len(back))
				}
				if again, err2 := r.Read(make([]byte, 1)); again != 0 || (err2 != err && !(err == nil && err2 == io.EOF)) {
					t.Errorf("Read after the end: %d, %v; want the same error %v", again, err2, err)
				}
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("reading file 0: %v, want %v", err, tt.want)
			}
			if !tt.nextOK {
				return
			}
			if r != nil {
				if err := r.SkipToEnd(); err != nil {
					t.Fatalf("SkipToEnd: %v", err)
				}
			}
			_, back, err := readFile(d, 0)
			if err != nil || !bytes.Equal(back, data1) {
				t.Errorf("file 1 after the damage: %q, %v", back, err)
			}
		})
	}
}

func TestReaderEndOfData(t *testing.T) {
	_, err := NewFileReader(context.Background(), &memDrive{}, 0)
	if !errors.Is(err, device.ErrEndOfData) {
		t.Errorf("reader on a blank tape: %v, want ErrEndOfData", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Errorf("end of data reported as corrupt: %v", err)
	}
}

func TestReaderHugeForeignRecord(t *testing.T) {
	d := &memDrive{objs: []memObject{{data: make([]byte, MaxBlockSize+1)}}}
	if _, err := NewFileReader(context.Background(), d, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("record larger than MaxBlockSize: %v, want ErrCorrupt", err)
	}
}
