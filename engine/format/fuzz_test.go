package format

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

func FuzzRecordHeader(f *testing.F) {
	b := make([]byte, RecordHeaderSize)
	sampleRecordHeader().put(b)
	f.Add(b)
	rec := make([]byte, MinBlockSize)
	recordHeader{Flags: flagEndOfStream, BlockSize: MinBlockSize, Content: uuid.UUID{1}, PayloadCRC: crc32c(nil)}.put(rec)
	f.Add(rec)
	f.Add([]byte("not a record"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeRecordHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
		} else {
			// A header that decodes encodes to the same bytes.
			again := make([]byte, RecordHeaderSize)
			h.put(again)
			if string(again) != string(b[:RecordHeaderSize]) {
				t.Fatalf("re-encoded header differs:\n% x\n% x", again, b[:RecordHeaderSize])
			}
			if int(h.PayloadLen) > int(h.BlockSize)-RecordHeaderSize {
				t.Fatalf("accepted payload length %d in block size %d", h.PayloadLen, h.BlockSize)
			}
		}
		_, payload, err := checkRecord(b)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkRecord error does not wrap ErrCorrupt: %v", err)
		}
		if err == nil && len(payload) > len(b)-RecordHeaderSize {
			t.Fatalf("payload of %d bytes from a %d-byte record", len(payload), len(b))
		}
	})
}

func FuzzContentHeader(f *testing.F) {
	for _, h := range []ContentHeader{sampleContentHeader(), testHeader(3)} {
		b, err := h.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(make([]byte, contentFixedSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := decodeContentHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		again, err := h.encode()
		if err != nil {
			t.Fatalf("decoded header %+v does not encode: %v", h, err)
		}
		if string(again) != string(b[:n]) {
			t.Fatalf("re-encoded content header differs:\n% x\n% x", again, b[:n])
		}
	})
}

func FuzzMediaLabel(f *testing.F) {
	ml, _ := sampleLabels()
	js, _ := json.Marshal(ml)
	f.Add(js)
	f.Add([]byte(`{"label-text":"a","uuid":"7f42c4dd-9626-4d89-9f2b-c7bc6da7d533","ctime":"2021-01-06T09:07:51+01:00"}`))
	f.Add([]byte(`{"label-text":"CLN001L1","uuid":"","ctime":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decodeMediaLabel(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		js, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("decoded label %+v does not encode: %v", l, err)
		}
		l2, err := decodeMediaLabel(js)
		if err != nil {
			t.Fatalf("re-encoded label %s does not decode: %v", js, err)
		}
		if l2.LabelText != l.LabelText || l2.UUID != l.UUID || !l2.Ctime.Equal(l.Ctime) || l2.Pool != l.Pool {
			t.Fatalf("round trip changed the label: %+v -> %+v", l, l2)
		}
	})
}

func FuzzMediaSetLabel(f *testing.F) {
	_, empty := sampleLabels()
	for _, s := range []MediaSetLabel{empty, encryptedSet()} {
		js, _ := json.Marshal(s)
		f.Add(js)
	}
	f.Add([]byte(`{"media-set-uuid":"00000000-0000-0000-0000-000000000000","seq-nr":5,"media-set-ctime":"2021-01-06T09:07:51Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeMediaSetLabel(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("decoded label %+v does not encode: %v", s, err)
		}
		s2, err := decodeMediaSetLabel(js)
		if err != nil {
			t.Fatalf("re-encoded label %s does not decode: %v", js, err)
		}
		if s2.Pool != s.Pool || s2.SetUUID != s.SetUUID || s2.Seq != s.Seq || !s2.Ctime.Equal(s.Ctime) ||
			s2.EncryptionKeyFingerprint != s.EncryptionKeyFingerprint {
			t.Fatalf("round trip changed the label: %+v -> %+v", s, s2)
		}
	})
}

// Operations of the FuzzFileReader tape script. Each starts with one byte.
const (
	opRawRecord = iota // len uint16, bytes: a record taken as is
	opRecord           // flags, seq, uuid, len uint16, payload: a well-formed 64 KiB record
	opFilemark         // a filemark
	opFlip             // offset uint16, xor byte: damage the last record
	opCount
)

// fuzzUUIDs are the content UUIDs an opRecord can carry.
var fuzzUUIDs = [2]uuid.UUID{testHeader(1).UUID, testHeader(2).UUID}

// maxFuzzObjects bounds the tape a script can build (64 KiB per record).
const maxFuzzObjects = 48

// tapeFromScript builds the objects of a memDrive from a fuzz script.
func tapeFromScript(script []byte) []memObject {
	var objs []memObject
	take := func(n int) []byte {
		n = min(n, len(script))
		b := script[:n]
		script = script[n:]
		return b
	}
	u16 := func() int {
		b := take(2)
		if len(b) < 2 {
			return 0
		}
		return int(binary.LittleEndian.Uint16(b))
	}
	for len(script) > 0 && len(objs) < maxFuzzObjects {
		switch take(1)[0] % opCount {
		case opRawRecord:
			n := u16()
			objs = append(objs, memObject{data: append([]byte(nil), take(n)...)})
		case opRecord:
			hdr := take(3)
			if len(hdr) < 3 {
				return objs
			}
			n := min(u16(), MinBlockSize-RecordHeaderSize)
			payload := take(n)
			rec := make([]byte, MinBlockSize)
			copy(rec[RecordHeaderSize:], payload)
			recordHeader{
				Flags:      uint16(hdr[0] & 3),
				BlockSize:  MinBlockSize,
				Seq:        uint64(hdr[1]),
				PayloadLen: uint32(len(payload)),
				PayloadCRC: crc32c(payload),
				Content:    fuzzUUIDs[hdr[2]&1],
			}.put(rec)
			objs = append(objs, memObject{data: rec})
		case opFilemark:
			objs = append(objs, memObject{filemark: true})
		case opFlip:
			off, x := u16(), take(1)
			if len(objs) > 0 && len(x) == 1 {
				if d := objs[len(objs)-1].data; len(d) > 0 {
					d[off%len(d)] ^= x[0]
				}
			}
		}
	}
	return objs
}

// scriptFromTape turns what a FileWriter wrote into a script, for seeds.
func scriptFromTape(objs []memObject) []byte {
	var s []byte
	for _, o := range objs {
		if o.filemark {
			s = append(s, opFilemark)
			continue
		}
		h, err := decodeRecordHeader(o.data)
		if err != nil {
			panic(err)
		}
		u := byte(0)
		if h.Content == fuzzUUIDs[1] {
			u = 1
		}
		s = append(s, opRecord, byte(h.Flags), byte(h.Seq), u)
		s = binary.LittleEndian.AppendUint16(s, uint16(h.PayloadLen))
		s = append(s, o.data[RecordHeaderSize:RecordHeaderSize+h.PayloadLen]...)
	}
	return s
}

func FuzzFileReader(f *testing.F) {
	seed := func(write func(d *memDrive)) {
		d := &memDrive{}
		write(d)
		f.Add(scriptFromTape(d.objs))
	}
	seed(func(d *memDrive) {
		writeFile(f, d, MinBlockSize, testHeader(1), []byte("one small file"))
		writeFile(f, d, MinBlockSize, testHeader(2), nil)
	})
	seed(func(d *memDrive) {
		writeFile(f, d, MinBlockSize, testHeader(1), testData(1, MinBlockSize))
	})
	seed(func(d *memDrive) {
		w, err := NewFileWriter(context.Background(), d, MinBlockSize, testHeader(2))
		if err != nil {
			f.Fatal(err)
		}
		if _, err := w.Write([]byte("aborted")); err != nil {
			f.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			f.Fatal(err)
		}
	})
	f.Add([]byte{opRawRecord, 4, 0, 'a', 'b', 'c', 'd', opFilemark})

	f.Fuzz(func(t *testing.T, script []byte) {
		d := &memDrive{objs: tapeFromScript(script)}
		var payload int
		for _, o := range d.objs {
			payload += len(o.data)
		}
		ctx := context.Background()
		read := 0
		for range maxFuzzObjects + 1 {
			start := d.pos
			r, err := NewFileReader(ctx, d, 0)
			if errors.Is(err, device.ErrEndOfData) {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("NewFileReader: error wraps neither ErrCorrupt nor ErrEndOfData: %v", err)
				}
			} else {
				n, err := io.Copy(io.Discard, r)
				read += int(n)
				if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncomplete) {
					t.Fatalf("Read: unexpected error %v", err)
				}
				if err := r.SkipToEnd(); err != nil {
					t.Fatalf("SkipToEnd: %v", err)
				}
			}
			if read > payload {
				t.Fatalf("read %d payload bytes from a tape of %d bytes", read, payload)
			}
			if d.pos <= start {
				t.Fatalf("reader did not advance: object %d before, %d after", start, d.pos)
			}
		}
		t.Fatalf("more files read than objects on tape")
	})
}
