package staging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// mustT returns v, or panics (failing the test) on an error.
func mustT[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile creates parent/name with data and closes it.
func writeFile(t *testing.T, s *Store, parent ID, name string, data []byte) Attr {
	t.Helper()
	a := mustT(s.Make(parent, name, syscall.S_IFREG|0o644, 1, 2, 0, "", true))
	f := mustT(s.OpenFile(a.ID, false))
	mustT(f.WriteAt(data, 0))
	must(t, f.Flush())
	must(t, f.Close())
	return a
}

// groupStore opens a store in a temporary directory (closed when the test
// ends) with one group, g, and returns the group's id.
func groupStore(t *testing.T) (*Store, ID) {
	t.Helper()
	s := mustT(Open(t.TempDir(), Options{}))
	t.Cleanup(func() { s.Close() })
	return s, mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)).ID
}

func readAll(t *testing.T, s *Store, id ID) []byte {
	t.Helper()
	f := mustT(s.OpenFile(id, false))
	defer f.Close()
	a := mustT(s.GetAttr(id))
	b := make([]byte, a.Size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

// TestStoreReopen builds a tree with every kind of node, reopens the
// store and compares: the journal replays to the same tree.
func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "www", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	sub := mustT(s.Make(g.ID, "sub", syscall.S_IFDIR|0o2750, 0, 7, 0, "", false))
	f := writeFile(t, s, sub.ID, "a.txt", []byte("hello"))
	mustT(s.Link(f.ID, g.ID, "hard"))
	mustT(s.Make(g.ID, "sym", syscall.S_IFLNK|0o777, 0, 0, 0, "a/b/c", false))
	mustT(s.Make(g.ID, "null", syscall.S_IFCHR|0o666, 0, 0, 0x103, "", false))
	must(t, s.SetXattr(f.ID, "user.k", []byte{0, 1, 255}, 0))
	mt := time.Unix(1700000000, 123456789)
	mustT(s.SetAttr(f.ID, SetAttrs{Mtime: &mt}))
	tmp := writeFile(t, s, sub.ID, ".a.txt.XYZ", []byte("new content"))
	must(t, s.Rename(sub.ID, ".a.txt.XYZ", sub.ID, "a.txt", 0)) // rsync's rename over
	before := dump(t, s)
	must(t, s.Close())

	s = mustT(Open(dir, Options{}))
	defer s.Close()
	if after := dump(t, s); after != before {
		t.Errorf("after reopen:\n%s\nbefore:\n%s", after, before)
	}
	if got := readAll(t, s, tmp.ID); string(got) != "new content" {
		t.Errorf("a.txt = %q", got)
	}
	if got := readAll(t, s, f.ID); string(got) != "hello" {
		t.Errorf("hard = %q (the old a.txt, still linked)", got)
	}
}

// dump describes the tree for comparisons.
func dump(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	var walk func(id ID, path string)
	walk = func(id ID, path string) {
		a := mustT(s.GetAttr(id))
		x, _ := s.ListXattr(id)
		b.WriteString(strings.Join([]string{path, string(rune('0' + a.Nlink)), a.Mtime.String(), a.Target}, " "))
		for _, k := range x {
			v, _ := s.GetXattr(id, k)
			b.WriteString(" " + k + "=" + string(v))
		}
		b.WriteString("\n")
		if a.IsDir() {
			for _, e := range mustT(s.ReadDir(id)) {
				walk(e.ID, path+"/"+e.Name)
			}
		}
	}
	walk(RootID, "")
	return b.String()
}

// TestStoreDirtyRemoved: a file opened for writing and not flushed when
// the process died is gone after reopen; flushed ones stay.
func TestStoreDirtyRemoved(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	writeFile(t, s, g.ID, "done", []byte("complete"))
	a := mustT(s.Make(g.ID, "partial", syscall.S_IFREG|0o644, 0, 0, 0, "", true))
	fh := mustT(s.OpenFile(a.ID, false))
	mustT(fh.WriteAt([]byte("half"), 0))
	// Simulate kill -9: drop the store without closing files.
	crash(s)

	s = mustT(Open(dir, Options{}))
	defer s.Close()
	if _, err := s.Lookup(g.ID, "partial"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("partial: %v, want ENOENT", err)
	}
	d := mustT(s.Lookup(g.ID, "done"))
	if got := readAll(t, s, d.ID); string(got) != "complete" {
		t.Errorf("done = %q", got)
	}
}

// TestStoreErrors checks the errnos of the tree operations.
func TestStoreErrors(t *testing.T) {
	s := mustT(Open(t.TempDir(), Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	d := mustT(s.Make(g.ID, "d", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	f := writeFile(t, s, g.ID, "f", nil)
	writeFile(t, s, d.ID, "inner", nil)
	long := strings.Repeat("x", 255)
	deep := g.ID
	for i := 0; i < 16; i++ { // 16 × 256 - 1 = 4095 bytes below g
		deep = mustT(s.Make(deep, long, syscall.S_IFDIR|0o755, 0, 0, 0, "", false)).ID
	}
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"file at top", func() error { _, err := s.Make(RootID, "f", syscall.S_IFREG|0o644, 0, 0, 0, "", true); return err }(), syscall.EINVAL},
		{"bad group", func() error {
			_, err := s.Make(RootID, ".hidden", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)
			return err
		}(), syscall.EINVAL},
		{"exists", func() error { _, err := s.Make(g.ID, "f", syscall.S_IFREG|0o644, 0, 0, 0, "", true); return err }(), syscall.EEXIST},
		{"path too long", func() error { _, err := s.Make(deep, "x", syscall.S_IFDIR, 0, 0, 0, "", false); return err }(), syscall.ENAMETOOLONG},
		{"rmdir not empty", s.Rmdir(g.ID, "d"), syscall.ENOTEMPTY},
		{"rmdir file", s.Rmdir(g.ID, "f"), syscall.ENOTDIR},
		{"unlink dir", s.Unlink(g.ID, "d"), syscall.EISDIR},
		{"rename dir over file", s.Rename(g.ID, "d", g.ID, "f", 0), syscall.ENOTDIR},
		{"rename into itself", s.Rename(g.ID, "d", d.ID, "x", 0), syscall.EINVAL},
		{"noreplace", s.Rename(g.ID, "f", g.ID, "d", RenameNoReplace), syscall.EEXIST},
		{"link dir", func() error { _, err := s.Link(d.ID, g.ID, "dl"); return err }(), syscall.EPERM},
		{"xattr missing", s.RemoveXattr(f.ID, "user.none"), syscall.ENODATA},
		{"xattr replace missing", s.SetXattr(f.ID, "user.none", nil, XattrReplace), syscall.ENODATA},
		// Namespaces a Linux filesystem does not keep (ext4 refuses them).
		{"xattr unknown namespace", s.SetXattr(f.ID, "bogus.name", []byte("v"), 0), syscall.EOPNOTSUPP},
		{"xattr system.*", s.SetXattr(f.ID, "system.nfs4_acl", []byte("v"), 0), syscall.EOPNOTSUPP},
		{"xattr no namespace", s.SetXattr(f.ID, "name", []byte("v"), 0), syscall.EOPNOTSUPP},
		{"xattr empty user name", s.SetXattr(f.ID, "user.", []byte("v"), 0), syscall.EOPNOTSUPP},
		// NAME_MAX is 255 (Statfs): a longer name is ENAMETOOLONG, as on
		// any Linux filesystem, whatever the call.
		{"make name too long", func() error {
			_, err := s.Make(g.ID, long+"x", syscall.S_IFREG|0o644, 0, 0, 0, "", true)
			return err
		}(), syscall.ENAMETOOLONG},
		{"link name too long", func() error { _, err := s.Link(f.ID, g.ID, long+"x"); return err }(), syscall.ENAMETOOLONG},
		{"rename to name too long", s.Rename(g.ID, "f", g.ID, long+"x", 0), syscall.ENAMETOOLONG},
		{"lookup name too long", func() error { _, err := s.Lookup(g.ID, long+"x"); return err }(), syscall.ENAMETOOLONG},
		{"group name too long", func() error {
			_, err := s.Make(RootID, long+"x", syscall.S_IFDIR|0o755, 0, 0, 0, "", false)
			return err
		}(), syscall.ENAMETOOLONG},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	must(t, s.Rename(g.ID, "d", g.ID, "f", RenameExchange))
	if a := mustT(s.Lookup(g.ID, "f")); !a.IsDir() {
		t.Errorf("after exchange f is not the directory")
	}
}

// TestRenameReplacedCtime: a rename over a name of a node that keeps
// other names changes that node's ctime (it lost a link, as with
// Unlink), and an exchange changes the ctime of both nodes; the journal
// replays the same times.
func TestRenameReplacedCtime(t *testing.T) {
	dir := t.TempDir()
	clock := time.Unix(1700000000, 0)
	opts := Options{Now: func() time.Time { return clock }}
	s := mustT(Open(dir, opts))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	dst := writeFile(t, s, g.ID, "dst", []byte("old"))
	mustT(s.Link(dst.ID, g.ID, "dstlnk"))
	writeFile(t, s, g.ID, "src", []byte("new"))
	a := writeFile(t, s, g.ID, "a", nil)
	b := writeFile(t, s, g.ID, "b", nil)

	clock = clock.Add(time.Hour)
	must(t, s.Rename(g.ID, "src", g.ID, "dst", 0))
	must(t, s.Rename(g.ID, "a", g.ID, "b", RenameExchange))
	check := func(when string) {
		t.Helper()
		l := mustT(s.Lookup(g.ID, "dstlnk"))
		if l.ID != dst.ID || l.Nlink != 1 || !l.Ctime.Equal(clock) {
			t.Errorf("%s: dstlnk id %d nlink %d ctime %v, want id %d nlink 1 ctime %v", when, l.ID, l.Nlink, l.Ctime, dst.ID, clock)
		}
		for _, id := range []ID{a.ID, b.ID} {
			if c := mustT(s.GetAttr(id)).Ctime; !c.Equal(clock) {
				t.Errorf("%s: exchanged node %d ctime %v, want %v", when, id, c, clock)
			}
		}
	}
	check("after rename")
	must(t, s.Close())
	s = mustT(Open(dir, opts))
	defer s.Close()
	check("after reopen")
}

// TestFreezeRelease: Release removes what did not change since Freeze and
// keeps files written meanwhile; data of a file unlinked during the
// freeze stays readable until Release.
func TestFreezeRelease(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	writeFile(t, s, g.ID, "same", []byte("1"))
	ch := writeFile(t, s, g.ID, "changed", []byte("2"))
	writeFile(t, s, g.ID, "gone", []byte("3"))
	fz := mustT(s.Freeze("g"))
	if n := len(fz.Entries()); n != 4 {
		t.Fatalf("%d frozen entries, want 4", n)
	}
	must(t, s.Unlink(g.ID, "gone"))
	r := mustT(fz.Open("gone"))
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "3" {
		t.Errorf("unlinked frozen file reads %q", b)
	}
	mt := time.Unix(5, 0)
	mustT(s.SetAttr(ch.ID, SetAttrs{Mtime: &mt}))
	writeFile(t, s, g.ID, "new", []byte("4"))
	kept := mustT(fz.Release(true))
	if kept != 3 { // changed, gone (unlinked meanwhile), and g (not empty)
		t.Errorf("kept %d, want 3", kept)
	}
	names := []string{}
	for _, e := range mustT(s.ReadDir(g.ID)) {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "changed,new" {
		t.Errorf("left in g: %v", names)
	}
}

// TestFreezeSkipsFilesBeingWritten: a regular file open for writing and
// not flushed when its group is frozen is half-written: it is not in the
// freeze (so no snapshot holds part of it), and it stays in the tree after
// Release with everything written before its close.
func TestFreezeSkipsFilesBeingWritten(t *testing.T) {
	big := bytes.Repeat([]byte("b"), PackMax+1)
	tests := []struct {
		name string
		// start opens "f" in g for writing and writes part of it.
		start func(t *testing.T, s *Store, g ID) *File
		rest  []byte // written at the end of what start wrote, then closed
		want  string
	}{
		{"created in memory", func(t *testing.T, s *Store, g ID) *File {
			a := mustT(s.Make(g, "f", syscall.S_IFREG|0o644, 0, 0, 0, "", true))
			f := mustT(s.OpenFile(a.ID, false))
			mustT(f.WriteAt([]byte("first "), 0))
			return f
		}, []byte("second"), "first second"},
		{"created in a data file", func(t *testing.T, s *Store, g ID) *File {
			a := mustT(s.Make(g, "f", syscall.S_IFREG|0o644, 0, 0, 0, "", true))
			f := mustT(s.OpenFile(a.ID, false))
			mustT(f.WriteAt(big, 0))
			return f
		}, []byte("tail"), string(big) + "tail"},
		{"rewritten in place", func(t *testing.T, s *Store, g ID) *File {
			a := writeFile(t, s, g, "f", []byte("old old old"))
			f := mustT(s.OpenFile(a.ID, false))
			mustT(f.WriteAt([]byte("new"), 0))
			return f
		}, []byte(" and more"), "new old old and more"},
		{"truncated at open", func(t *testing.T, s *Store, g ID) *File {
			a := writeFile(t, s, g, "f", []byte("old"))
			return mustT(s.OpenFile(a.ID, true))
		}, []byte("replaced"), "replaced"},
		{"another handle's writer closed it", func(t *testing.T, s *Store, g ID) *File {
			a := writeFile(t, s, g, "f", []byte("old"))
			f := mustT(s.OpenWriter(a.ID, false))
			mustT(f.WriteAt([]byte("one"), 0))
			o := mustT(s.OpenWriter(a.ID, false))
			mustT(o.WriteAt([]byte("two"), 3))
			must(t, o.Flush())
			must(t, o.Close())
			return f
		}, []byte(" three"), "onetwo three"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, g := groupStore(t)
			writeFile(t, s, g, "done", []byte("complete"))
			f := tt.start(t, s, g)
			fz := mustT(s.Freeze("g"))
			if e := fz.Lookup("f"); e != nil {
				t.Errorf("the file being written is frozen (size %d)", e.Size)
			}
			if names := strings.Join(fz.Lookup("").Names, ","); names != "done" {
				t.Errorf("frozen g lists %q, want done", names)
			}
			size := mustT(s.GetAttr(f.ID())).Size
			mustT(f.WriteAt(tt.rest, size))
			must(t, f.Flush())
			must(t, f.Close())
			mustT(fz.Release(true))
			if _, err := s.Lookup(g, "done"); !errors.Is(err, syscall.ENOENT) {
				t.Errorf("done after Release: %v, want ENOENT", err)
			}
			a, err := s.Lookup(g, "f")
			if err != nil {
				t.Fatalf("f after Release: %v", err)
			}
			if got := string(readAll(t, s, a.ID)); got != tt.want {
				t.Errorf("f = %.40q (%d bytes), want %.40q (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
}

// FuzzDecodeRecord: the journal decoder never panics, and what it accepts
// re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []record{
		{op: opNode, node: nodeMeta{ID: 7, Mode: 0o100644, Target: "x", Xattrs: map[string][]byte{"user.a": {1}}, Dirty: true, Mtime: nanoStamp(-5)}},
		{op: opNode, node: nodeMeta{ID: 9, Mode: 0o100644, Atime: stamp{Sec: 15032385535, Nsec: 999}, Mtime: stamp{Sec: -11676096000}}},
		{op: opNode, node: nodeMeta{ID: 8, Mode: 0o100600, Pack: 2, PackOff: 4096, PackLen: 17}},
		{op: opLink, parent: 1, name: "n", id: 9},
		{op: opUnlink, parent: 1, name: "n"},
		{op: opRename, parent: 1, name: "a", newParent: 2, newName: "b", exchange: true},
	} {
		b := r.encode(nil)
		f.Add(b[frameHeader:])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := decodeRecord(p)
		if err != nil {
			return
		}
		b := r.encode(nil)
		payload, rest, ok := nextFrame(b)
		if !ok || len(rest) != 0 {
			t.Fatalf("re-encoded frame does not parse")
		}
		r2, err := decodeRecord(payload)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !bytes.Equal(r2.encode(nil), b) {
			t.Fatalf("encoding is not stable")
		}
	})
}

// TestAllocate checks fallocate modes: the size each leaves, the data
// read back, and the modes refused.
func TestAllocate(t *testing.T) {
	s := mustT(Open(t.TempDir(), Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	data := bytes.Repeat([]byte{42}, 100)
	tests := []struct {
		name        string
		off, length int64
		mode        uint32
		wantSize    int64
		want        []byte // content after the call
		wantErr     syscall.Errno
	}{
		{"extend", 50, 100, 0, 150, append(append([]byte{}, data...), make([]byte, 50)...), 0},
		{"inside", 10, 20, 0, 100, data, 0},
		{"keep size", 50, 52, AllocKeepSize, 100, data, 0},
		{"punch hole", 10, 20, AllocPunchHole | AllocKeepSize, 100,
			append(append(append([]byte{}, data[:10]...), make([]byte, 20)...), data[30:]...), 0},
		{"punch without keep size", 10, 20, AllocPunchHole, 100, data, syscall.EOPNOTSUPP},
		{"collapse", 0, 4096, unix.FALLOC_FL_COLLAPSE_RANGE, 100, data, syscall.EOPNOTSUPP},
		{"zero length", 0, 0, 0, 100, data, syscall.EINVAL},
		{"negative offset", -1, 10, 0, 100, data, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := writeFile(t, s, g.ID, tt.name, data)
			f := mustT(s.OpenFile(a.ID, false))
			got, err := f.Allocate(tt.off, tt.length, tt.mode)
			must(t, f.Flush())
			must(t, f.Close())
			if tt.wantErr != 0 {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Allocate: %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Allocate: %v", err)
			} else if got.Size != tt.wantSize {
				t.Errorf("Allocate returned size %d, want %d", got.Size, tt.wantSize)
			}
			if a := mustT(s.GetAttr(a.ID)); a.Size != tt.wantSize {
				t.Errorf("size %d, want %d", a.Size, tt.wantSize)
			}
			if b := readAll(t, s, a.ID); !bytes.Equal(b, tt.want) {
				t.Errorf("content %v, want %v", b, tt.want)
			}
		})
	}
}

// TestMakeTmp: a nameless file is in no directory, gets a name by Link,
// and is gone after Close or a crash unless linked and flushed.
func TestMakeTmp(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o2755, 0, 9, 0, "", false))

	a, f, err := s.MakeTmp(g.ID, 0o600, 1, 2)
	must(t, err)
	if a.Nlink != 0 || a.GID != 9 || a.Mode != syscall.S_IFREG|0o600 {
		t.Errorf("tmpfile attr %+v: want no links, the setgid directory's group, mode 0600", a)
	}
	mustT(f.WriteAt([]byte("kept"), 0))
	if es := mustT(s.ReadDir(g.ID)); len(es) != 0 {
		t.Errorf("directory lists %v", es)
	}
	mustT(s.Link(a.ID, g.ID, "kept"))
	must(t, f.Flush())
	must(t, f.Close())

	b, f2, err := s.MakeTmp(g.ID, 0o600, 1, 2)
	must(t, err)
	mustT(f2.WriteAt([]byte("dropped"), 0))
	must(t, f2.Close())
	if _, err := s.GetAttr(b.ID); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("closed tmpfile: %v, want ENOENT", err)
	}

	c, f3, err := s.MakeTmp(g.ID, 0o600, 1, 2)
	must(t, err)
	mustT(f3.WriteAt([]byte("crash"), 0))
	// Simulate kill -9 with the third one open.
	crash(s)
	f3.f.Close()

	s = mustT(Open(dir, Options{}))
	defer s.Close()
	k := mustT(s.Lookup(g.ID, "kept"))
	if got := readAll(t, s, k.ID); string(got) != "kept" {
		t.Errorf("kept = %q", got)
	}
	if es := mustT(s.ReadDir(g.ID)); len(es) != 1 {
		t.Errorf("after reopen the directory lists %v, want only kept", es)
	}
	for _, id := range []ID{b.ID, c.ID} {
		if _, err := s.GetAttr(id); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("tmpfile %d after reopen: %v, want ENOENT", id, err)
		}
		if _, err := os.Stat(s.dataPath(id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data of tmpfile %d after reopen: %v, want removed", id, err)
		}
	}
}

// crash drops s as kill -9 would: nothing more is written, the files
// stay open until the test ends.
func crash(s *Store) {
	s.j.Close()
	s.lock.Close()
}

// TestStoreCreateCrash: a file made by Create is written to the journal
// only at its Flush (with what changed while it was open), survives a
// crash after that, and is gone after a crash before; the records held
// back reach the journal ahead of any later change, so replay stays
// consistent.
func TestStoreCreateCrash(t *testing.T) {
	acl := []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff}
	mtime := time.Unix(1700000000, 5)
	tests := []struct {
		name string
		// run works in group g and returns the names that must survive a
		// crash right after it, with their content.
		run  func(t *testing.T, s *Store, g ID) map[string]string
		mode map[string]uint32 // permission bits expected after reopen
	}{
		{"closed after chmod, utimens, xattr", func(t *testing.T, s *Store, g ID) map[string]string {
			a, f := mustT2(s.Create(g, "f", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("data"), 0))
			mustT(s.SetAttr(a.ID, SetAttrs{Atime: &mtime, Mtime: &mtime}))
			must(t, s.SetXattr(a.ID, aclAccess, acl, 0))
			must(t, s.SetXattr(a.ID, "user.k", []byte("v"), 0))
			must(t, f.Flush())
			must(t, f.Close())
			return map[string]string{"f": "data"}
		}, map[string]uint32{"f": 0o644}},
		{"empty file closed", func(t *testing.T, s *Store, g ID) map[string]string {
			_, f := mustT2(s.Create(g, "empty", 0o640, 1, 2))
			must(t, f.Flush())
			must(t, f.Close())
			return map[string]string{"empty": ""}
		}, map[string]uint32{"empty": 0o640}},
		{"open when killed", func(t *testing.T, s *Store, g ID) map[string]string {
			_, f := mustT2(s.Create(g, "open", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("half"), 0))
			return map[string]string{}
		}, nil},
		{"one of two writers closed when killed", func(t *testing.T, s *Store, g ID) map[string]string {
			a, f := mustT2(s.Create(g, "f", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("half"), 0))
			o := mustT(s.OpenWriter(a.ID, false))
			mustT(o.WriteAt([]byte("more"), 4))
			must(t, o.Flush())
			must(t, o.Close())
			return map[string]string{}
		}, nil},
		{"released without its writer's flush", func(t *testing.T, s *Store, g ID) map[string]string {
			_, f := mustT2(s.Create(g, "f", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("whole"), 0))
			must(t, f.Close())
			return map[string]string{"f": "whole"}
		}, nil},
		{"closed file rewritten when killed", func(t *testing.T, s *Store, g ID) map[string]string {
			a := writeFile(t, s, g, "f", []byte("one"))
			f := mustT(s.OpenFile(a.ID, false))
			mustT(f.WriteAt([]byte("two"), 0))
			return map[string]string{}
		}, nil},
		{"open, renamed, then a directory made", func(t *testing.T, s *Store, g ID) map[string]string {
			a, f := mustT2(s.Create(g, "open", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("half"), 0))
			must(t, s.Rename(g, "open", g, "moved", 0))
			must(t, s.SetXattr(a.ID, "user.k", []byte("v"), 0))
			mustT(s.Make(g, "d", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			return map[string]string{"d": ""}
		}, nil},
		{"hard link while open, closed", func(t *testing.T, s *Store, g ID) map[string]string {
			a, f := mustT2(s.Create(g, "f", 0o600, 1, 2))
			mustT(s.Link(a.ID, g, "l"))
			mustT(f.WriteAt([]byte("both"), 0))
			must(t, f.Flush())
			must(t, f.Close())
			return map[string]string{"f": "both", "l": "both"}
		}, nil},
		{"renamed over a closed file while open", func(t *testing.T, s *Store, g ID) map[string]string {
			writeFile(t, s, g, "old", []byte("old"))
			_, f := mustT2(s.Create(g, "tmp", 0o600, 1, 2))
			mustT(f.WriteAt([]byte("new"), 0))
			must(t, f.Flush())
			must(t, s.Rename(g, "tmp", g, "old", 0))
			must(t, f.Close())
			return map[string]string{"old": "new"}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []string
			logf := func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
			s := mustT(Open(dir, Options{Logf: logf}))
			g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
			want := tt.run(t, s, g.ID)
			crash(s)

			s = mustT(Open(dir, Options{Logf: logf}))
			defer s.Close()
			for _, l := range logs {
				if strings.Contains(l, "skipping") || strings.Contains(l, "missing") {
					t.Errorf("replay: %s", l)
				}
			}
			ents := mustT(s.ReadDir(g.ID))
			if len(ents) != len(want) {
				t.Errorf("after the crash g holds %v, want %v", ents, want)
			}
			for name, data := range want {
				a, err := s.Lookup(g.ID, name)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if a.IsDir() {
					continue
				}
				if got := readAll(t, s, a.ID); string(got) != data {
					t.Errorf("%s = %q, want %q", name, got, data)
				}
				if m, ok := tt.mode[name]; ok && a.Mode&0o7777 != m {
					t.Errorf("%s mode %o, want %o", name, a.Mode&0o7777, m)
				}
				if name == "f" && tt.mode != nil {
					if !a.Mtime.Equal(mtime) {
						t.Errorf("f mtime %v, want %v", a.Mtime, mtime)
					}
					if v, err := s.GetXattr(a.ID, "user.k"); err != nil || string(v) != "v" {
						t.Errorf("f user.k = %q, %v", v, err)
					}
				}
			}
			names, _ := os.ReadDir(filepath.Join(dir, "data"))
			files := 0
			for _, sub := range names {
				es, _ := os.ReadDir(filepath.Join(dir, "data", sub.Name()))
				files += len(es)
			}
			if regular := countRegular(want, s, g.ID); files != regular {
				t.Errorf("%d data files after reopen, want %d", files, regular)
			}
		})
	}
}

// countRegular counts the distinct regular files among names in g that
// have a data file of their own (are not packed).
func countRegular(names map[string]string, s *Store, g ID) int {
	ids := map[ID]bool{}
	for name := range names {
		if a, err := s.Lookup(g, name); err == nil && a.IsRegular() && s.nodes[a.ID].Pack == 0 {
			ids[a.ID] = true
		}
	}
	return len(ids)
}

func mustT2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// TestStoreCreateOneWrite: creating, writing, chmod, utimens and xattrs
// of a new file write nothing to the journal before the file's Flush.
func TestStoreCreateOneWrite(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	size := func() int64 { return mustT(os.Stat(filepath.Join(dir, "journal"))).Size() }
	before := size()
	a, f := mustT2(s.Create(g.ID, "f", 0o600, 1, 2))
	mustT(f.WriteAt([]byte("data"), 0))
	mode := uint32(0o644)
	mustT(s.SetAttr(a.ID, SetAttrs{Mode: &mode}))
	must(t, s.SetXattr(a.ID, "user.k", []byte("v"), 0))
	mustT(f.Truncate(2))
	if got := size(); got != before {
		t.Errorf("the journal grew by %d bytes before the file was closed", got-before)
	}
	must(t, f.Flush())
	if got := size(); got <= before {
		t.Errorf("the journal did not grow at Flush")
	}
	must(t, f.Close())
}

// TestTimesFullRange: a file keeps every time a Linux filesystem can
// hold (ext4 reaches 2446, before 1677 and after 2262 int64 nanoseconds
// overflow), through SetAttr, GetAttr and two reopens of the journal.
func TestTimesFullRange(t *testing.T) {
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	times := []time.Time{
		time.Unix(0, 0),
		time.Unix(-1, 999_999_999),                             // 1 ns before the epoch
		time.Unix(15032385535, 0),                              // ext4's last second (2446)
		time.Unix(15032385535, 999_999_999),                    // with nanoseconds
		time.Unix(-11676096000, 0),                             // 1600
		time.Unix(-11676096000, 123_456_789),                   // 1600 with nanoseconds
		time.Unix(253402297199, 999_999_999),                   // an hour before the end of 9999
		time.Unix(math.MaxInt64/int64(time.Second), 854775807), // the last int64 nanosecond
		time.Unix(math.MaxInt64/int64(time.Second), 854775808), // one past it
		time.Unix(0, math.MinInt64),                            // the first int64 nanosecond
		time.Unix(0, math.MinInt64).Add(-1),                    // one before it
	}
	ids := make([]ID, len(times))
	for i, tm := range times {
		a := writeFile(t, s, g.ID, fmt.Sprintf("f%d", i), nil)
		at := tm.Add(time.Hour)
		mustT(s.SetAttr(a.ID, SetAttrs{Mtime: &tm, Atime: &at}))
		ids[i] = a.ID
	}
	check := func(when string) {
		t.Helper()
		for i, tm := range times {
			a := mustT(s.GetAttr(ids[i]))
			if !a.Mtime.Equal(tm) || !a.Atime.Equal(tm.Add(time.Hour)) {
				t.Errorf("%s: f%d mtime %v atime %v, want %v and %v", when, i, a.Mtime, a.Atime, tm, tm.Add(time.Hour))
			}
		}
	}
	check("after setattr")
	for _, when := range []string{"after reopen", "after second reopen"} {
		must(t, s.Close())
		s = mustT(Open(dir, Options{}))
		check(when)
	}
	must(t, s.Close())
}

// TestTimesClamped: times outside the years 1 to 9999 that a snapshot
// holds are clamped when set, as a filesystem with a narrower range
// clamps them, so what incoming/ shows is what a commit writes.
func TestTimesClamped(t *testing.T) {
	s := mustT(Open(t.TempDir(), Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	a := writeFile(t, s, g.ID, "f", nil)
	far, early := time.Unix(300_000_000_000, 0), time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC)
	got := mustT(s.SetAttr(a.ID, SetAttrs{Mtime: &far, Atime: &early}))
	last := time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	if !got.Mtime.Equal(last) || !got.Atime.Equal(first) {
		t.Errorf("mtime %v atime %v, want %v and %v", got.Mtime, got.Atime, last, first)
	}
}

// TestFreezeKeepsFileBeingWritten: a file still open for writing when
// a commit ends stays in the tree (written during the freeze or not,
// flushed or not: a shell flushes when a child it forked closes its copy
// of the descriptor), and its writer's later data is kept: the commit
// must not unlink a file under its writer. A file open for reading only
// goes as usual.
func TestFreezeKeepsFileBeingWritten(t *testing.T) {
	small, large := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("a"), PackMax+1)
	create := func(flush bool, data []byte) func(*Store, ID) (*File, ID, []byte) {
		return func(s *Store, g ID) (*File, ID, []byte) {
			a, f := mustT2(s.Create(g, "open", syscall.S_IFREG|0o644, 0, 0))
			mustT(f.WriteAt(data, 0))
			if flush {
				must(t, f.Flush())
			}
			return f, a.ID, data
		}
	}
	tests := []struct {
		name  string
		open  func(s *Store, g ID) (f *File, id ID, first []byte)
		stays bool
		// dirty: written since its last flush, so left out of the
		// freeze altogether (TestFreezeSkipsFilesBeingWritten).
		dirty bool
	}{
		{"small, in memory", create(false, small), true, true},
		{"large, in a data file", create(false, large), true, true},
		{"small, flushed, still open", create(true, small), true, false},
		{"large, flushed, still open", create(true, large), true, false},
		{"reopened packed file written", func(s *Store, g ID) (*File, ID, []byte) {
			id := writeFile(t, s, g, "open", []byte("packed")).ID
			f := mustT(s.OpenWriter(id, false))
			mustT(f.WriteAt([]byte("PACKED"), 0))
			return f, id, []byte("PACKED")
		}, true, true},
		{"opened for writing, not written", func(s *Store, g ID) (*File, ID, []byte) {
			id := writeFile(t, s, g, "open", []byte("packed")).ID
			return mustT(s.OpenWriter(id, false)), id, []byte("packed")
		}, true, false},
		{"opened for reading", func(s *Store, g ID) (*File, ID, []byte) {
			id := writeFile(t, s, g, "open", []byte("packed")).ID
			return mustT(s.OpenFile(id, false)), id, []byte("packed")
		}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, g := groupStore(t)
			writeFile(t, s, g, "done", []byte("closed"))
			f, id, first := tc.open(s, g)
			fz := mustT(s.Freeze("g"))
			kept := mustT(fz.Release(true))
			_, err := s.Lookup(g, "open")
			wantKept := 2 // the open file and g
			if tc.dirty {
				wantKept = 1 // g: the freeze left the file out
			}
			if tc.stays && (kept != wantKept || err != nil) {
				t.Fatalf("file open for writing after the commit: %v, %d entries kept, want %d", err, kept, wantKept)
			}
			if !tc.stays && (kept != 0 || !errors.Is(err, syscall.ENOENT)) {
				t.Fatalf("file open for reading after the commit: %v, %d entries kept, want ENOENT and 0", err, kept)
			}
			if _, err := s.Lookup(g, "done"); !errors.Is(err, syscall.ENOENT) {
				t.Errorf("closed file after the commit: %v, want ENOENT", err)
			}
			if !tc.stays {
				must(t, f.Close())
				return
			}
			mustT(f.WriteAt([]byte("more"), int64(len(first))))
			must(t, f.Flush())
			must(t, f.Close())
			want := append(append([]byte{}, first...), "more"...)
			if got := readAll(t, s, id); !bytes.Equal(got, want) {
				t.Errorf("file reads %d bytes, want %d", len(got), len(want))
			}
			// Closed: the next commit takes it.
			fz = mustT(s.Freeze("g"))
			if kept := mustT(fz.Release(true)); kept != 0 {
				t.Errorf("second commit kept %d entries, want 0", kept)
			}
		})
	}
}

// TestChmodUpdatesACL: chmod of a file with an extended access ACL
// changes the ACL's owner, mask and other entries, as Linux
// filesystems do (posix_acl_chmod), so the ACL and the mode agree and a
// restore sets the mode that stat showed; the journal keeps it.
func TestChmodUpdatesACL(t *testing.T) {
	entry := func(tag, perm uint16, id uint32) []byte {
		return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, tag), perm), id)
	}
	acl := func(owner, named, group, mask, other uint16) []byte {
		v := []byte{2, 0, 0, 0}
		for _, e := range [][]byte{entry(0x01, owner, 0xffffffff), entry(0x02, named, 1000), entry(0x04, group, 0xffffffff), entry(0x10, mask, 0xffffffff), entry(0x20, other, 0xffffffff)} {
			v = append(v, e...)
		}
		return v
	}
	dir := t.TempDir()
	s := mustT(Open(dir, Options{}))
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	f := writeFile(t, s, g.ID, "f", nil)
	must(t, s.SetXattr(f.ID, aclAccess, acl(6, 7, 4, 7, 4), 0))
	if a := mustT(s.GetAttr(f.ID)); a.Mode&0o777 != 0o674 {
		t.Fatalf("mode after setfacl %o, want 674", a.Mode&0o777)
	}
	mode := uint32(0o640)
	mustT(s.SetAttr(f.ID, SetAttrs{Mode: &mode}))
	want := acl(6, 7, 4, 4, 0) // the named entry and the group entry stay
	check := func(when string) {
		t.Helper()
		got := mustT(s.GetXattr(f.ID, aclAccess))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: ACL %x, want %x", when, got, want)
		}
		if m, _, _ := aclMode(got); m != 0o640 {
			t.Errorf("%s: ACL says mode %o, want 640", when, m)
		}
	}
	check("after chmod")
	must(t, s.Close())
	s = mustT(Open(dir, Options{}))
	defer s.Close()
	check("after reopen")
}

// TestXattrLimits: a node takes at most format.MaxXattrs attributes (a
// snapshot holds no more; more made the commit fail) and no more names
// than listxattr(2) can return (64 KiB); beyond, setxattr is ENOSPC, as
// on a full ext4 inode. Replacing a value stays possible.
func TestXattrLimits(t *testing.T) {
	s := mustT(Open(t.TempDir(), Options{}))
	defer s.Close()
	g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
	f := writeFile(t, s, g.ID, "many", nil)
	for i := range format.MaxXattrs {
		must(t, s.SetXattr(f.ID, fmt.Sprintf("user.%d", i), []byte("v"), 0))
	}
	if err := s.SetXattr(f.ID, "user.one-more", []byte("v"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("attribute %d: %v, want ENOSPC", format.MaxXattrs+1, err)
	}
	must(t, s.SetXattr(f.ID, "user.0", []byte("new value"), 0))

	l := writeFile(t, s, g.ID, "long", nil)
	name := func(i int) string { return fmt.Sprintf("user.%0250d", i) } // 255 bytes, 256 listed
	for i := range 256 {                                                // 64 KiB of names
		must(t, s.SetXattr(l.ID, name(i), nil, 0))
	}
	if err := s.SetXattr(l.ID, "user.x", nil, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("name past 64 KiB of names: %v, want ENOSPC", err)
	}
}

// TestFrozenReadSeesChange: a commit reading a frozen file that is written
// in place meanwhile must not take the mix of old and new data for the
// frozen file: it reports ErrChanged (at the end of a file in a data file
// of its own, or at Open when the change came first). A file replaced by a
// rename still reads as frozen.
func TestFrozenReadSeesChange(t *testing.T) {
	large := bytes.Repeat([]byte("0123456789abcdef"), (PackMax+1<<16)/16)
	readFrozen := func(fz *Frozen, path string) ([]byte, error) {
		r, err := fz.Open(path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	setup := func(t *testing.T) (*Store, ID, *Frozen) {
		s, g := groupStore(t)
		writeFile(t, s, g, "large", large)
		writeFile(t, s, g, "small", []byte("small file"))
		return s, g, mustT(s.Freeze("g"))
	}
	writeIn := func(t *testing.T, s *Store, g ID, name string, off int64) {
		t.Helper()
		a := mustT(s.Lookup(g, name))
		f := mustT(s.OpenWriter(a.ID, false))
		mustT(f.WriteAt([]byte("CHANGED"), off))
		must(t, f.Flush())
		must(t, f.Close())
	}

	t.Run("unchanged", func(t *testing.T) {
		_, _, fz := setup(t)
		defer fz.Release(false)
		for name, want := range map[string][]byte{"large": large, "small": []byte("small file")} {
			if got, err := readFrozen(fz, name); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; want the %d frozen bytes", name, len(got), err, len(want))
			}
		}
	})
	t.Run("written while read", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		r := mustT(fz.Open("large"))
		defer r.Close()
		mustT(io.ReadFull(r, make([]byte, 1000)))
		writeIn(t, s, g, "large", 0) // behind the reader: it reads on unaware
		if _, err := io.ReadAll(r); !errors.Is(err, ErrChanged) {
			t.Errorf("read to the end: %v, want ErrChanged", err)
		}
		// The file stays for the next commit.
		if kept := mustT(fz.Release(true)); kept != 2 {
			t.Errorf("Release kept %d entries, want 2 (the file and g)", kept)
		}
	})
	t.Run("written before Open", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		writeIn(t, s, g, "large", int64(len(large)))
		if _, err := readFrozen(fz, "large"); !errors.Is(err, ErrChanged) {
			t.Errorf("Open: %v, want ErrChanged", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		a := mustT(s.Lookup(g, "large"))
		f := mustT(s.OpenWriter(a.ID, false))
		r := mustT(fz.Open("large"))
		defer r.Close()
		mustT(f.Truncate(100))
		must(t, f.Flush())
		must(t, f.Close())
		if _, err := io.ReadAll(r); !errors.Is(err, ErrChanged) {
			t.Errorf("read after a truncation: %v, want ErrChanged", err)
		}
	})
	t.Run("packed file written", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		writeIn(t, s, g, "small", 0)
		if got, err := readFrozen(fz, "small"); !errors.Is(err, ErrChanged) {
			t.Errorf("%q, %v; want ErrChanged", got, err)
		}
	})
	t.Run("packed file rewritten with O_TRUNC", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		a := mustT(s.Lookup(g, "small"))
		f := mustT(s.OpenFile(a.ID, true))
		mustT(f.WriteAt([]byte("new"), 0))
		if got, err := readFrozen(fz, "small"); !errors.Is(err, ErrChanged) {
			t.Errorf("while it is written: %q, %v; want ErrChanged", got, err)
		}
		must(t, f.Flush())
		must(t, f.Close())
		if got, err := readFrozen(fz, "small"); !errors.Is(err, ErrChanged) {
			t.Errorf("after: %q, %v; want ErrChanged", got, err)
		}
	})
	t.Run("replaced by a rename", func(t *testing.T) {
		s, g, fz := setup(t)
		defer fz.Release(false)
		writeFile(t, s, g, ".large.tmp", []byte("new version"))
		must(t, s.Rename(g, ".large.tmp", g, "large", 0))
		if got, err := readFrozen(fz, "large"); err != nil || !bytes.Equal(got, large) {
			t.Errorf("%d bytes, %v; want the %d frozen bytes", len(got), err, len(large))
		}
	})
}

// TestSyncTree: fsync of a directory writes the records held back (a
// file created and not yet closed), so the journal holds every change.
func TestSyncTree(t *testing.T) {
	for _, sync := range []bool{false, true} {
		dir := t.TempDir()
		s := mustT(Open(dir, Options{Sync: sync}))
		g := mustT(s.Make(RootID, "g", syscall.S_IFDIR|0o755, 0, 0, 0, "", false))
		before := mustT(os.Stat(s.journalPath())).Size()
		_, f := mustT2(s.Create(g.ID, "open", 0o600, 0, 0))
		if size := mustT(os.Stat(s.journalPath())).Size(); size != before {
			t.Fatalf("sync %v: the create was written at once (%d → %d bytes): nothing held back to test", sync, before, size)
		}
		must(t, s.SyncTree())
		if size := mustT(os.Stat(s.journalPath())).Size(); size <= before {
			t.Errorf("sync %v: SyncTree left the journal at %d bytes: the held-back records are not in it", sync, size)
		}
		must(t, f.Close())
		must(t, s.Close())
	}
}
