package staging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// createWritten makes parent/name with Create, writes data in chunks of
// chunk bytes from offset 0 and closes it (Flush, Close).
func createWritten(t *testing.T, s *Store, parent ID, name string, data []byte, chunk int) Attr {
	t.Helper()
	a, f := mustT2(s.Create(parent, name, 0o644, 1, 2))
	for off := 0; off < len(data); off += chunk {
		mustT(f.WriteAt(data[off:min(off+chunk, len(data))], int64(off)))
	}
	must(t, f.Flush())
	must(t, f.Close())
	return a
}

// packFiles lists the store's pack files with their sizes.
func packFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	es, err := os.ReadDir(filepath.Join(dir, "packs"))
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	must(t, err)
	for _, e := range es {
		fi := mustT(e.Info())
		out[e.Name()] = fi.Size()
	}
	return out
}

// hasDataFile reports whether id has a data file of its own.
func hasDataFile(s *Store, id ID) bool {
	_, err := os.Stat(s.dataPath(id))
	return err == nil
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestPackSmallFiles: files written sequentially and closed while at most
// PackMax are packed (no data file of their own), larger ones, files
// written out of order and fsync'ed ones get their own data file; all
// read back the same before and after a reopen.
func TestPackSmallFiles(t *testing.T) {
	tests := []struct {
		name   string
		write  func(t *testing.T, s *Store, g ID) ID
		data   []byte
		packed bool
	}{
		{"4 KiB in one write", func(t *testing.T, s *Store, g ID) ID {
			return createWritten(t, s, g, "f", pattern(4096, 1), 4096).ID
		}, pattern(4096, 1), true},
		{"empty", func(t *testing.T, s *Store, g ID) ID {
			return createWritten(t, s, g, "f", nil, 1).ID
		}, []byte{}, true},
		{"PackMax in 128 KiB writes", func(t *testing.T, s *Store, g ID) ID {
			return createWritten(t, s, g, "f", pattern(PackMax, 2), 128<<10).ID
		}, pattern(PackMax, 2), true},
		{"one byte over PackMax", func(t *testing.T, s *Store, g ID) ID {
			return createWritten(t, s, g, "f", pattern(PackMax+1, 3), 128<<10).ID
		}, pattern(PackMax+1, 3), false},
		{"written backwards", func(t *testing.T, s *Store, g ID) ID {
			d := pattern(3000, 4)
			a, f := mustT2(s.Create(g, "f", 0o644, 1, 2))
			mustT(f.WriteAt(d[1000:], 1000))
			mustT(f.WriteAt(d[:1000], 0))
			must(t, f.Flush())
			must(t, f.Close())
			return a.ID
		}, pattern(3000, 4), false},
		{"ftruncate while written", func(t *testing.T, s *Store, g ID) ID {
			a, f := mustT2(s.Create(g, "f", 0o644, 1, 2))
			mustT(f.WriteAt([]byte("abcdef"), 0))
			mustT(f.Truncate(3))
			mustT(f.Truncate(5))
			must(t, f.Flush())
			must(t, f.Close())
			return a.ID
		}, []byte("abc\x00\x00"), true},
		{"fsync'ed while written", func(t *testing.T, s *Store, g ID) ID {
			a, f := mustT2(s.Create(g, "f", 0o644, 1, 2))
			mustT(f.WriteAt([]byte("synced"), 0))
			must(t, f.Sync())
			mustT(f.WriteAt([]byte("!"), 6))
			must(t, f.Flush())
			must(t, f.Close())
			return a.ID
		}, []byte("synced!"), false},
		{"Make then OpenFile", func(t *testing.T, s *Store, g ID) ID {
			return writeFile(t, s, g, "f", []byte("made")).ID
		}, []byte("made"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustT(Open(dir, Options{}))
			g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			id := tt.write(t, s, g.ID)
			if got := readAll(t, s, id); !bytes.Equal(got, tt.data) {
				t.Errorf("read %d bytes, want %d (equal: false)", len(got), len(tt.data))
			}
			if packed := s.nodes[id].Pack != 0; packed != tt.packed || hasDataFile(s, id) == tt.packed {
				t.Errorf("packed %v, data file %v; want packed %v", packed, hasDataFile(s, id), tt.packed)
			}
			if s.memBytes != 0 {
				t.Errorf("%d bytes still counted in memory", s.memBytes)
			}
			must(t, s.Close())
			s = mustT(Open(dir, Options{}))
			defer s.Close()
			a := mustT(s.Lookup(g.ID, "f"))
			if a.Size != int64(len(tt.data)) {
				t.Errorf("size after reopen %d, want %d", a.Size, len(tt.data))
			}
			if got := readAll(t, s, a.ID); !bytes.Equal(got, tt.data) {
				t.Errorf("after reopen read %d bytes, want %d", len(got), len(tt.data))
			}
		})
	}
}

// TestPackCopyUp: changing a packed file (write in place, ftruncate,
// truncate by path, O_TRUNC, fallocate) first copies it to a data file of
// its own (or, for O_TRUNC, starts it over in memory); the pack's copy is
// dropped and the pack emptied once no file is in it.
func TestPackCopyUp(t *testing.T) {
	orig := []byte("0123456789")
	tests := []struct {
		name   string
		change func(t *testing.T, s *Store, id ID)
		want   string
		packed bool
	}{
		{"write in place", func(t *testing.T, s *Store, id ID) {
			f := mustT(s.OpenFile(id, false))
			mustT(f.WriteAt([]byte("ab"), 4))
			must(t, f.Flush())
			must(t, f.Close())
		}, "0123ab6789", false},
		{"append", func(t *testing.T, s *Store, id ID) {
			f := mustT(s.OpenFile(id, false))
			mustT(f.WriteAt([]byte("X"), 10))
			must(t, f.Flush())
			must(t, f.Close())
		}, "0123456789X", false},
		{"ftruncate", func(t *testing.T, s *Store, id ID) {
			f := mustT(s.OpenFile(id, false))
			mustT(f.Truncate(3))
			must(t, f.Flush())
			must(t, f.Close())
		}, "012", false},
		{"truncate by path", func(t *testing.T, s *Store, id ID) {
			size := int64(12)
			mustT(s.SetAttr(id, SetAttrs{Size: &size}))
		}, "0123456789\x00\x00", false},
		{"O_TRUNC and rewrite", func(t *testing.T, s *Store, id ID) {
			f := mustT(s.OpenFile(id, true))
			mustT(f.WriteAt([]byte("new"), 0))
			must(t, f.Flush())
			must(t, f.Close())
		}, "new", true},
		{"fallocate", func(t *testing.T, s *Store, id ID) {
			f := mustT(s.OpenFile(id, false))
			if _, err := f.Allocate(0, 12, 0); err != nil && !errors.Is(err, syscall.EOPNOTSUPP) {
				t.Fatal(err)
			}
			must(t, f.Flush())
			must(t, f.Close())
		}, "0123456789\x00\x00", false},
		{"chmod only", func(t *testing.T, s *Store, id ID) {
			m := uint32(0o600)
			mustT(s.SetAttr(id, SetAttrs{Mode: &m}))
		}, "0123456789", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustT(Open(dir, Options{}))
			g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			id := createWritten(t, s, g.ID, "f", orig, 100).ID
			before := s.nodes[id].Pack
			tt.change(t, s, id)
			if got := readAll(t, s, id); string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if packed := s.nodes[id].Pack != 0; packed != tt.packed || hasDataFile(s, id) == tt.packed {
				t.Errorf("packed %v, data file %v; want packed %v", packed, hasDataFile(s, id), tt.packed)
			}
			if !tt.packed {
				if p := s.packs[before]; p != nil && (p.live != 0 || p.size != 0) {
					t.Errorf("pack %d after the copy-up: %d live, %d bytes; want emptied", before, p.live, p.size)
				}
			}
			must(t, s.Close())
			s = mustT(Open(dir, Options{}))
			defer s.Close()
			if got := readAll(t, s, id); string(got) != tt.want {
				t.Errorf("after reopen read %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPackCrash: packed files whose close returned survive a crash; a
// file in memory when the process dies is gone, and so is a packed file
// being changed (as any file being written); pack data nothing points at
// is removed at the next Open.
func TestPackCrash(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	for i := range 50 {
		createWritten(t, s, g.ID, fmt.Sprintf("f%02d", i), pattern(100+i, byte(i)), 64)
	}
	_, open := mustT2(s.Create(g.ID, "open", 0o644, 1, 2))
	mustT(open.WriteAt([]byte("half"), 0))
	changed := createWritten(t, s, g.ID, "changed", []byte("old"), 3)
	cf := mustT(s.OpenFile(changed.ID, false))
	mustT(cf.WriteAt([]byte("n"), 0))
	crash(s)

	s = mustT(Open(dir, Options{}))
	defer s.Close()
	ents := mustT(s.ReadDir(g.ID))
	if len(ents) != 50 {
		t.Fatalf("after the crash g holds %d entries, want 50", len(ents))
	}
	for i := range 50 {
		a := mustT(s.Lookup(g.ID, fmt.Sprintf("f%02d", i)))
		if got := readAll(t, s, a.ID); !bytes.Equal(got, pattern(100+i, byte(i))) {
			t.Errorf("f%02d differs after the crash", i)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "data")); len(es) != 0 {
		for _, sub := range es {
			if names, _ := os.ReadDir(filepath.Join(dir, "data", sub.Name())); len(names) > 0 {
				t.Errorf("data files left after the crash in %s: %d", sub.Name(), len(names))
			}
		}
	}
}

// TestPackFreezeRelease: a frozen packed file reads back through the
// freeze even if it is unlinked meanwhile, and one rewritten meanwhile
// reports ErrChanged; Release of the commit removes the files and with
// them the packs' data.
func TestPackFreezeRelease(t *testing.T) {
	old := packRotate
	packRotate = 1000 // a pack per few files
	defer func() { packRotate = old }()
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	for i := range 20 {
		createWritten(t, s, g.ID, fmt.Sprintf("f%02d", i), pattern(300, byte(i)), 300)
	}
	if n := len(packFiles(t, dir)); n < 5 {
		t.Fatalf("%d pack files for 20 files of 300 bytes, packs of 1000: want several", n)
	}
	fz := mustT(s.Freeze("g"))
	must(t, s.Unlink(g.ID, "f00"))
	a := mustT(s.Lookup(g.ID, "f01"))
	f := mustT(s.OpenFile(a.ID, true))
	mustT(f.WriteAt([]byte("rewritten"), 0))
	must(t, f.Flush())
	must(t, f.Close())
	if _, err := fz.Open("f01"); !errors.Is(err, ErrChanged) {
		t.Errorf("frozen f01, rewritten since: %v, want ErrChanged", err)
	}
	for i, want := range map[int][]byte{0: pattern(300, 0), 7: pattern(300, 7)} {
		r := mustT(fz.Open(fmt.Sprintf("f%02d", i)))
		got := mustT(io.ReadAll(r))
		must(t, r.Close())
		if !bytes.Equal(got, want) {
			t.Errorf("frozen f%02d: %d bytes, want %d", i, len(got), len(want))
		}
	}
	kept := mustT(fz.Release(true))
	if kept != 3 { // f00 gone, f01 changed, so g stays
		t.Errorf("kept %d, want 3 (f00, f01 and g)", kept)
	}
	left := packFiles(t, dir)
	var total int64
	for _, size := range left {
		total += size
	}
	if len(left) > 2 || total > 1000 {
		t.Errorf("packs after the commit: %v; want only the one holding f01", left)
	}
	must(t, s.Unlink(g.ID, "f01"))
	for name, size := range packFiles(t, dir) {
		if size != 0 {
			t.Errorf("pack %s holds %d bytes with no file in it", name, size)
		}
	}
}

// TestPackJournalRecord: a packed node's record round-trips with its
// pack, offset and length; pack 0 in a packed record is corrupt.
func TestPackJournalRecord(t *testing.T) {
	r := record{op: opNode, node: nodeMeta{ID: 9, Mode: 0o100644, Pack: 3, PackOff: 1 << 40, PackLen: 4096}}
	b := r.encode(nil)
	payload, _, ok := nextFrame(b)
	if !ok {
		t.Fatal("frame does not parse")
	}
	got, err := decodeRecord(payload)
	if err != nil || got.node.Pack != 3 || got.node.PackOff != 1<<40 || got.node.PackLen != 4096 {
		t.Fatalf("decoded %+v, %v", got.node, err)
	}
	bad := (&record{op: opNode, node: nodeMeta{ID: 9, Mode: 0o100644}}).encode(nil)[frameHeader:]
	// Set the packed flag and insert pack 0, offset 0, length 0 after it.
	p := append([]byte{}, bad...)
	flagAt := len(p) - 3 // flags, target length 0, xattr count 0
	if p[flagAt] != 0 {
		t.Fatalf("unexpected layout %v", p)
	}
	p[flagAt] = flagPacked
	p = append(p[:flagAt+1], append([]byte{0, 0, 0}, p[flagAt+1:]...)...)
	if _, err := decodeRecord(p); err == nil || !strings.Contains(err.Error(), "pack 0") {
		t.Errorf("pack 0 decoded: %v", err)
	}
}

// TestPackFreezeUnlinkedInMemory: a frozen file rewritten from scratch
// (O_TRUNC: in memory again) and then unlinked is not the frozen file any
// more (ErrChanged through the freeze), and its memory, kept for the
// freeze, is given back at Release.
func TestPackFreezeUnlinkedInMemory(t *testing.T) {
	s := mustT(Open(t.TempDir(), Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	w := writeFile(t, s, g.ID, "w", []byte("packed"))
	fz := mustT(s.Freeze("g"))
	f := mustT(s.OpenFile(w.ID, true))
	mustT(f.WriteAt([]byte("in memory"), 0))
	must(t, s.Unlink(g.ID, "w"))
	must(t, f.Close())
	if len(s.deferred) != 1 {
		t.Fatalf("%d deferred files after the unlink, want 1", len(s.deferred))
	}
	if _, err := fz.Open("w"); !errors.Is(err, ErrChanged) {
		t.Errorf("frozen w: %v, want ErrChanged", err)
	}
	mustT(fz.Release(true))
	if s.memBytes != 0 || len(s.deferred) != 0 {
		t.Errorf("after release: %d bytes in memory, %d deferred", s.memBytes, len(s.deferred))
	}
}
