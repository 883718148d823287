package vtape

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// newCartDir makes an empty cartridge folder.
func newCartDir(t *testing.T) string {
	t.Helper()
	lib := t.TempDir()
	if err := createCartridgeFiles(lib, "CRASH1L8"); err != nil {
		t.Fatal(err)
	}
	return cartridgeDir(lib, "CRASH1L8")
}

type object struct {
	kind uint8
	data []byte
}

func writeObjects(t *testing.T, dir string, objs []object) {
	t.Helper()
	c, err := openCartridge(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, o := range objs {
		if err := c.appendObject(o.kind, 0, [8]byte{}, o.data); err != nil {
			t.Fatal(err)
		}
	}
}

func readFiles(t *testing.T, dir string) (data, index []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, dataFile))
	if err != nil {
		t.Fatal(err)
	}
	index, err = os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	return data, index
}

func writeFiles(t *testing.T, dir string, data, index []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, dataFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, indexFile), index, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkTape opens the cartridge and checks that it holds exactly want.
func checkTape(t *testing.T, dir string, want []object, what string) {
	t.Helper()
	c, err := openCartridge(dir)
	if err != nil {
		t.Fatalf("%s: open: %v", what, err)
	}
	defer c.close()
	if c.count != uint64(len(want)) {
		t.Fatalf("%s: %d objects, want %d", what, c.count, len(want))
	}
	for i, o := range want {
		e, err := c.entry(uint64(i))
		if err != nil {
			t.Fatalf("%s: object %d: %v", what, i, err)
		}
		if e.Kind != o.kind {
			t.Fatalf("%s: object %d kind %d, want %d", what, i, e.Kind, o.kind)
		}
		p, err := c.payload(e)
		if err != nil || !bytes.Equal(p, o.data) {
			t.Fatalf("%s: object %d payload differs (%v)", what, i, err)
		}
	}
	// The files are cut to the surviving objects, so the next append
	// continues cleanly.
	data, index := readFiles(t, dir)
	if int64(len(data)) != c.dataEnd || len(index) != len(want)*entrySize {
		t.Fatalf("%s: files not trimmed: data %d (end %d), index %d", what, len(data), c.dataEnd, len(index))
	}
}

// TestCrashAtEveryByte simulates a kill at every byte offset of the last
// write (payload bytes, then index entry bytes): the tape must hold either
// all objects before it, or those plus the complete last one.
func TestCrashAtEveryByte(t *testing.T) {
	base := []object{
		{kindRecord, record(0, 300)},
		{kindFilemark, nil},
		{kindRecord, record(1, 200)},
	}
	for _, last := range []object{{kindRecord, record(2, 257)}, {kindFilemark, nil}} {
		dir := newCartDir(t)
		writeObjects(t, dir, base)
		data0, index0 := readFiles(t, dir)
		writeObjects(t, dir, []object{last})
		data1, index1 := readFiles(t, dir)
		added := append(append([]byte{}, data1[len(data0):]...), index1[len(index0):]...)
		for k := 0; k <= len(added); k++ {
			nd := min(k, len(data1)-len(data0))
			ni := k - nd
			writeFiles(t, dir, data1[:len(data0)+nd], index1[:len(index0)+ni])
			want := base
			if k == len(added) {
				want = append(append([]object{}, base...), last)
			}
			checkTape(t, dir, want, "kill after byte "+strconv.Itoa(k))
		}
		// Corruption of the last entry or its payload drops just it.
		for _, at := range []int{0, 13, 40, 47} {
			idx := bytes.Clone(index1)
			idx[len(index0)+at] ^= 0x40
			writeFiles(t, dir, data1, idx)
			checkTape(t, dir, base, "flipped entry byte "+strconv.Itoa(at))
		}
		if last.kind == kindRecord {
			d := bytes.Clone(data1)
			d[len(data1)-1] ^= 1
			writeFiles(t, dir, d, index1)
			checkTape(t, dir, base, "flipped payload byte")
		}
		// A torn truncation (index cut, data not yet) keeps the prefix.
		writeFiles(t, dir, data1, index1[:2*entrySize])
		checkTape(t, dir, base[:2], "index cut before data")
	}
}

// TestDamagedMiddleEntry: an entry before the tail that fails its checksum
// is a medium error when read, not a silent loss of the rest of the tape.
func TestDamagedMiddleEntry(t *testing.T) {
	dir := newCartDir(t)
	objs := []object{{kindRecord, record(0, 10)}, {kindRecord, record(1, 10)}, {kindRecord, record(2, 10)}}
	writeObjects(t, dir, objs)
	data, index := readFiles(t, dir)
	index[entrySize+3] ^= 1
	writeFiles(t, dir, data, index)
	c, err := openCartridge(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if c.count != 3 {
		t.Fatalf("count %d", c.count)
	}
	if _, err := c.entry(1); err == nil {
		t.Fatal("damaged entry read without error")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	e := entry{Offset: 1 << 40, Length: 4 << 20, Kind: kindRecord, Flags: flagEncrypted, KeyID: [8]byte{1, 2, 3}, File: 7, FileStart: 99, DataCRC: 0xdeadbeef}
	got, err := decodeEntry(e.encode())
	if err != nil || got != e {
		t.Fatalf("round trip %+v %v", got, err)
	}
	bad := e
	bad.Kind = 3
	if _, err := decodeEntry(bad.encode()); err == nil {
		t.Fatal("bad kind accepted")
	}
	fm := entry{Kind: kindFilemark, Length: 1}
	if _, err := decodeEntry(fm.encode()); err == nil {
		t.Fatal("filemark with payload accepted")
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
