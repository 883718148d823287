package vtape

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzDecodeEntry(f *testing.F) {
	f.Add((&entry{Offset: 10, Length: 5, Kind: kindRecord, DataCRC: 1}).encode())
	f.Add((&entry{Kind: kindFilemark, File: 3, FileStart: 9}).encode())
	f.Add(make([]byte, entrySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.encode(), b) {
			t.Fatalf("decoded entry %+v does not re-encode to its input", e)
		}
	})
}

// FuzzRecoverCartridge feeds arbitrary data and index files to the
// recovery: it must not fail or panic, and must leave a tape whose files
// match its summary and whose every object chains to the one before.
func FuzzRecoverCartridge(f *testing.F) {
	var idx []byte
	e0 := entry{Length: 3, Kind: kindRecord, DataCRC: crcOf([]byte("abc"))}
	e1 := entry{Offset: 3, Kind: kindFilemark}
	e2 := entry{Offset: 3, Length: 2, Kind: kindRecord, File: 1, FileStart: 2, DataCRC: crcOf([]byte("de"))}
	for _, e := range []entry{e0, e1, e2} {
		idx = append(idx, e.encode()...)
	}
	f.Add([]byte("abcde"), idx)
	f.Add([]byte("abcd"), idx)
	f.Add([]byte("abcde"), idx[:100])
	f.Add([]byte{}, []byte{})
	// One folder for all inputs, in memory when possible: rewriting small
	// files on a busy ext4 disk stalls for seconds on each close
	// (auto_da_alloc flushes files truncated to zero).
	dir := memTempDir(f)
	f.Fuzz(func(t *testing.T, data, index []byte) {
		if err := os.WriteFile(filepath.Join(dir, dataFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, indexFile), index, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := openCartridge(dir)
		if err != nil {
			t.Fatalf("recovery failed: %v", err)
		}
		defer c.close()
		fi, _ := c.index.Stat()
		di, _ := c.data.Stat()
		if fi.Size() != int64(c.count)*entrySize || di.Size() != c.dataEnd {
			t.Fatalf("files %d/%d do not match count %d, end %d", fi.Size(), di.Size(), c.count, c.dataEnd)
		}
		if c.count > 0 {
			if _, err := c.payload(c.last); err != nil && c.last.Kind == kindRecord {
				t.Fatalf("last record unreadable after recovery: %v", err)
			}
		}
		// The recovered tape accepts appends and reads them back.
		if err := c.appendObject(kindRecord, 0, [8]byte{}, []byte("new")); err != nil {
			t.Fatal(err)
		}
		if p, err := c.payload(c.last); err != nil || string(p) != "new" {
			t.Fatalf("append after recovery: %q %v", p, err)
		}
	})
}

func FuzzDecodeDriveState(f *testing.F) {
	st := &driveState{Seq: 4, Barcode: "TEST01L8", Position: 7, Key: bytes.Repeat([]byte{1}, 32)}
	slot, _ := encodeStateSlot(st)
	f.Add(slot)
	f.Add(append(slot, slot...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeStateFile(b)
		if got == nil {
			t.Fatal("nil state")
		}
		if got.Key != nil && len(got.Key) != KeySize {
			t.Fatalf("key of %d bytes accepted", len(got.Key))
		}
	})
}

func FuzzDecodeLibraryState(f *testing.F) {
	dir := f.TempDir()
	Create(dir, LibraryOptions{Drives: 1, Slots: 3, ImportExport: 1, Cartridges: 1, Cleaning: 1, BarcodePrefix: "F"})
	b, _ := os.ReadFile(filepath.Join(dir, libraryFile))
	f.Add(b)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		// A state that decodes is one the library can work with.
		changerStatus(st)
		for _, s := range st.Slots {
			if s.Barcode != "" && st.Cartridges[s.Barcode] == nil {
				t.Fatalf("slot %d holds unknown %q", s.ID, s.Barcode)
			}
		}
	})
}

// memTempDir returns a temporary directory on tmpfs (/dev/shm) when there
// is one, else f.TempDir().
func memTempDir(f *testing.F) string {
	if dir, err := os.MkdirTemp("/dev/shm", "vtape-fuzz-"); err == nil {
		f.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return f.TempDir()
}
