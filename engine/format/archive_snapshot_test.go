package format

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

var entryTime = time.Date(2026, 11, 25, 16, 59, 58, 123456789, time.UTC)

// sampleEntries returns a tree with every entry type, in path order.
func sampleEntries() []Entry {
	d := func(s string) [32]byte { return newChunk([]byte(s)).digest }
	return []Entry{
		{Path: "", Type: EntryDir, Mode: 0o755, User: "root", Group: "root", Size: 4096,
			Mtime: entryTime, Atime: entryTime.Add(time.Nanosecond), Ctime: entryTime.Add(2)},
		{Path: "bin", Type: EntryDir, Mode: 0o1777, UID: 1000, GID: 100, User: "alice", Group: "users",
			Mtime: entryTime, Xattrs: map[string][]byte{
				"system.posix_acl_default": {2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff},
				"user.empty":               {},
			}},
		{Path: "bin/sh", Type: EntrySymlink, Mode: 0o777, Target: "../usr/bin/dash", Mtime: time.Unix(0, 1).UTC()},
		{Path: "data", Type: EntryFile, Mode: 0o4750, UID: 0xffffffff, GID: 7, Size: 10 << 20,
			Mtime: entryTime, Atime: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Ctime: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Xattrs: map[string][]byte{"system.posix_acl_access": {2, 0, 0, 0}, "user.comment": []byte("hello\x00world")},
			Chunks: []ChunkRef{
				{Digest: d("a"), Offset: 0, Size: 1 << 20},
				{Digest: d("b"), Offset: 1 << 20, Size: 4096},
				// hole from 1 MiB + 4 KiB to 3 MiB
				{Offset: 3 << 20, Size: 2 << 20, Zero: true},
				{Digest: d("c"), Offset: 5 << 20, Size: MaxChunkSize >> 4},
				// hole at the end
			}},
		{Path: "data.link", Type: EntryHardLink, Mode: 0o4750, Target: "data", Size: 10 << 20, Mtime: entryTime},
		{Path: "dev", Type: EntryDir, Mode: 0o755},
		{Path: "dev/null", Type: EntryCharDev, Mode: 0o666, Rdev: 1<<8 | 3},
		{Path: "dev/sda", Type: EntryBlockDev, Mode: 0o660, Rdev: 8 << 8},
		{Path: "empty", Type: EntryFile, Mode: 0o644},
		{Path: "fifo", Type: EntryFIFO, Mode: 0o600},
		{Path: "sock", Type: EntrySocket, Mode: 0o755, Ctime: entryTime},
		{Path: "sparse", Type: EntryFile, Mode: 0o644, Size: 1 << 40},
	}
}

// sameEntry compares entries, treating times by Equal.
func sameEntry(t *testing.T, got, want Entry) {
	t.Helper()
	times := func(e *Entry) [3]time.Time {
		tt := [3]time.Time{e.Mtime, e.Atime, e.Ctime}
		e.Mtime, e.Atime, e.Ctime = time.Time{}, time.Time{}, time.Time{}
		return tt
	}
	gt, wt := times(&got), times(&want)
	for i := range gt {
		if !gt[i].Equal(wt[i]) {
			t.Errorf("entry %q: time %d is %v, want %v", want.Path, i, gt[i], wt[i])
		}
	}
	for k, v := range want.Xattrs {
		if len(v) == 0 {
			want.Xattrs[k] = []byte{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry:\n got %+v\nwant %+v", got, want)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range sampleEntries() {
		if err := e.Validate(); err != nil {
			t.Fatalf("sample entry: %v", err)
		}
		b := EncodeEntry([]byte("prefix"), &e)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("EncodeEntry did not append")
		}
		b = append(b[len("prefix"):], "tail"...)
		got, n, err := DecodeEntry(b)
		if err != nil {
			t.Fatalf("decode %q: %v", e.Path, err)
		}
		if n != len(b)-len("tail") {
			t.Errorf("entry %q: decoded %d bytes, want %d", e.Path, n, len(b)-len("tail"))
		}
		sameEntry(t, got, e)
		if again := EncodeEntry(nil, &got); !bytes.Equal(again, b[:n]) {
			t.Errorf("entry %q: encoding is not canonical", e.Path)
		}
	}
}

func sampleGoldenEntry() Entry {
	var digest [32]byte
	for i := range digest {
		digest[i] = byte(0xa0 + i)
	}
	return Entry{
		Path: "etc/passwd", Type: EntryFile, Mode: 0o644, UID: 0, GID: 0, User: "root", Group: "root",
		Size: 5000, Mtime: time.Date(2026, 11, 25, 17, 0, 0, 5, time.UTC), Atime: time.Unix(-1, 0), Ctime: time.Unix(1, 999999999),
		Xattrs: map[string][]byte{"user.b": []byte("2"), "user.a": []byte("1")},
		Chunks: []ChunkRef{{Digest: digest, Offset: 0, Size: 1000}, {Offset: 2000, Size: 3000, Zero: true}},
	}
}

func TestEntryGolden(t *testing.T) {
	e := sampleGoldenEntry()
	golden(t, "snapshot-entry.golden", EncodeEntry(nil, &e))
}

func TestEntryValidate(t *testing.T) {
	file := func(mut func(e *Entry)) Entry {
		e := Entry{Path: "a/b", Type: EntryFile, Mode: 0o644, Size: 100}
		mut(&e)
		return e
	}
	tests := []struct {
		name string
		e    Entry
		want string // "" means valid
	}{
		{"plain file", file(func(*Entry) {}), ""},
		{"dotdot", file(func(e *Entry) { e.Path = "../x" }), `".." component`},
		{"dotdot inside", file(func(e *Entry) { e.Path = "a/../x" }), `".." component`},
		{"absolute", file(func(e *Entry) { e.Path = "/abs" }), "absolute"},
		{"empty component", file(func(e *Entry) { e.Path = "a//b" }), "empty component"},
		{"trailing slash", file(func(e *Entry) { e.Path = "a/" }), "empty component"},
		{"dot", file(func(e *Entry) { e.Path = "a/./b" }), `"." component`},
		{"lone dot", file(func(e *Entry) { e.Path = "." }), `"." component`},
		{"nul", file(func(e *Entry) { e.Path = "a\x00b" }), "NUL"},
		{"long component", file(func(e *Entry) { e.Path = strings.Repeat("x", 256) }), "component of 256"},
		{"long path", file(func(e *Entry) { e.Path = strings.Repeat("abc/", 1024) }), "longer than 4095"},
		{"root is a file", file(func(e *Entry) { e.Path = "" }), "root"},
		{"type 0", file(func(e *Entry) { e.Type = 0 }), "unknown entry type"},
		{"type 9", file(func(e *Entry) { e.Type = 9 }), "unknown entry type"},
		{"mode with type bits", file(func(e *Entry) { e.Mode = 0o100644 }), "outside 07777"},
		{"negative size", file(func(e *Entry) { e.Size = -1 }), "negative size"},
		{"time before year 1", file(func(e *Entry) { e.Mtime = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) }), "mtime"},
		{"time after 9999", file(func(e *Entry) { e.Ctime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), "ctime"},
		{"rdev on file", file(func(e *Entry) { e.Rdev = 1 }), "device number"},
		{"target on file", file(func(e *Entry) { e.Target = "x" }), "has a target"},
		{"symlink without target", file(func(e *Entry) { e.Type = EntrySymlink }), "symlink target"},
		{"symlink nul target", file(func(e *Entry) { e.Type, e.Target = EntrySymlink, "a\x00" }), "symlink target"},
		{"hard link to later path", file(func(e *Entry) { e.Type, e.Target = EntryHardLink, "b" }), "does not come before"},
		{"hard link to itself", file(func(e *Entry) { e.Type, e.Target = EntryHardLink, "a/b" }), "does not come before"},
		{"hard link bad target", file(func(e *Entry) { e.Type, e.Target = EntryHardLink, "/a" }), "absolute"},
		{"hard link ok", file(func(e *Entry) { e.Type, e.Target = EntryHardLink, "a" }), ""},
		{"xattr empty name", file(func(e *Entry) { e.Xattrs = map[string][]byte{"": nil} }), "attribute name"},
		{"xattr big value", file(func(e *Entry) { e.Xattrs = map[string][]byte{"user.x": make([]byte, MaxXattrValueLen+1)} }), "at most"},
		{"chunks on dir", file(func(e *Entry) { e.Type, e.Chunks = EntryDir, []ChunkRef{{Size: 1}} }), "only regular files"},
		{"chunk size 0", file(func(e *Entry) { e.Chunks = []ChunkRef{{Size: 0}} }), "size 0"},
		{"chunk too big", file(func(e *Entry) { e.Size, e.Chunks = 1<<30, []ChunkRef{{Size: MaxChunkSize + 1}} }), "must be 1 to"},
		{"chunks overlap", file(func(e *Entry) { e.Chunks = []ChunkRef{{Size: 10}, {Offset: 9, Size: 10}} }), "overlaps"},
		{"chunks unsorted", file(func(e *Entry) { e.Chunks = []ChunkRef{{Offset: 50, Size: 10}, {Offset: 0, Size: 10}} }), "overlaps or precedes"},
		{"chunk past size", file(func(e *Entry) { e.Chunks = []ChunkRef{{Offset: 95, Size: 10}} }), "ends after the file size"},
		{"chunk at end", file(func(e *Entry) { e.Chunks = []ChunkRef{{Offset: 90, Size: 10}} }), ""},
		{"zero chunk with digest", file(func(e *Entry) { e.Chunks = []ChunkRef{{Size: 10, Zero: true, Digest: [32]byte{1}}} }), "has a digest"},
	}
	for _, e := range sampleEntries() {
		tests = append(tests, struct {
			name string
			e    Entry
			want string
		}{"sample " + e.Path, e, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("valid entry rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	e := sampleGoldenEntry()
	good := EncodeEntry(nil, &e)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"cut short", good[:len(good)-1]},
		{"length beyond limit", []byte{1, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"non-minimal length", append([]byte{1, 0x80 | good[1], 0x00}, good[2:]...)},
		{"trailing bytes in body", func() []byte {
			body := append(appendEntryBody(nil, &e), 0)
			return append([]byte{1, byte(len(body))}, body...)
		}()},
		{"invalid entry", func() []byte {
			bad := e
			bad.Path = "../x"
			return EncodeEntry(nil, &bad)
		}()},
		{"xattrs out of order", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte("user.a"))
			copy(b[i:], "user.c")
			return b
		}()},
		{"huge xattr count", func() []byte {
			bad := e
			bad.Xattrs, bad.Chunks = nil, nil
			b := EncodeEntry(nil, &bad)
			// The last two bytes are the xattr and chunk counts (0, 0).
			b = append(b[:len(b)-2], 0xff, 0x1f, 0)
			b[1] += 1
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeEntry(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
	if _, _, err := DecodeEntry(good[:len(good)-3]); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut short: %v, want io.ErrUnexpectedEOF as well", err)
	}
}

func TestComparePaths(t *testing.T) {
	ordered := []string{"", "a", "a/b", "a/b/c", "a/c", "a.txt", "a0", "ab", "b", "b/a", "é"}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := ComparePaths(a, b); got != want {
				t.Errorf("ComparePaths(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestSnapshotName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"daily/2026-11-25T17:00:00Z", true},
		{"vm-100.disk_0/2026-11-25T17:00:00Z", true},
		{"_x/0001-01-01T00:00:00Z", true},
		{"daily/2026-11-25T17:00:00.5Z", false},
		{"daily/2026-11-25T17:00:00+01:00", false},
		{"daily/2026-11-25T17:00:00z", false},
		{"daily/2026-13-25T17:00:00Z", false},
		{"daily/2026-11-25 17:00:00Z", false},
		{"/2026-11-25T17:00:00Z", false},
		{".hidden/2026-11-25T17:00:00Z", false},
		{"-x/2026-11-25T17:00:00Z", false},
		{"a/b/2026-11-25T17:00:00Z", false},
		{"a b/2026-11-25T17:00:00Z", false},
		{strings.Repeat("g", MaxGroupLen) + "/2026-11-25T17:00:00Z", true},
		{strings.Repeat("g", MaxGroupLen+1) + "/2026-11-25T17:00:00Z", false},
		{"daily", false},
		{"", false},
	}
	for _, tt := range tests {
		err := ValidateSnapshotName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateSnapshotName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	at := time.Date(2026, 11, 25, 18, 0, 0, 999, time.FixedZone("CET", 3600))
	name := SnapshotName("daily", at)
	if name != "daily/2026-11-25T17:00:00Z" {
		t.Errorf("SnapshotName = %q", name)
	}
	g, tm, err := ParseSnapshotName(name)
	if err != nil || g != "daily" || !tm.Equal(at.Truncate(time.Second)) {
		t.Errorf("ParseSnapshotName(%q) = %q, %v, %v", name, g, tm, err)
	}
}

func testSnapshotHeader(part int) SnapshotArchiveHeader {
	return SnapshotArchiveHeader{Set: testSet, Snapshot: "daily/2026-11-25T17:00:00Z", Part: part}
}

// readSnapshotArchive reads the snapshot archive at the drive's position
// to its end and returns the reader, the entries and the final error.
func readSnapshotArchive(t *testing.T, d device.Drive) (*SnapshotArchiveReader, []Entry, error) {
	t.Helper()
	fr, err := NewFileReader(context.Background(), d, 0)
	if err != nil {
		t.Fatalf("NewFileReader: %v", err)
	}
	r, err := NewSnapshotArchiveReader(fr)
	if err != nil {
		t.Fatalf("NewSnapshotArchiveReader: %v", err)
	}
	var got []Entry
	for {
		e, err := r.Next()
		if err != nil {
			return r, got, err
		}
		got = append(got, e)
	}
}

func TestSnapshotArchiveRoundTrip(t *testing.T) {
	d := &memDrive{}
	entries := sampleEntries()
	w, err := NewSnapshotArchiveWriter(context.Background(), d, MinBlockSize, testSnapshotHeader(0), uuid.UUID{5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		if err := w.Add(&entries[i]); err != nil {
			t.Fatalf("Add %q: %v", entries[i].Path, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d.pos = 0
	r, got, err := readSnapshotArchive(t, d)
	if err != io.EOF {
		t.Fatalf("read: %v, want io.EOF", err)
	}
	if r.Header() != testSnapshotHeader(0) || !r.Final() {
		t.Errorf("header %+v final %v", r.Header(), r.Final())
	}
	if len(got) != len(entries) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(entries))
	}
	for i := range got {
		sameEntry(t, got[i], entries[i])
	}
}

func TestSnapshotArchiveAddRejects(t *testing.T) {
	w, err := NewSnapshotArchiveWriter(context.Background(), &memDrive{}, 0, testSnapshotHeader(0), uuid.UUID{6})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(&Entry{Path: "b", Type: EntryDir}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{
		{Path: "a", Type: EntryDir},       // before b
		{Path: "b", Type: EntryDir},       // repeated
		{Path: "c/../d", Type: EntryFile}, // invalid
	} {
		if err := w.Add(&e); err == nil {
			t.Errorf("Add %q succeeded", e.Path)
		}
	}
	for _, h := range []SnapshotArchiveHeader{
		{Snapshot: "daily/2026-11-25T17:00:00Z"},
		{Set: testSet, Snapshot: "daily"},
		{Set: testSet, Snapshot: "daily/2026-11-25T17:00:00Z", Part: -1},
	} {
		if _, err := NewSnapshotArchiveWriter(context.Background(), &memDrive{}, 0, h, uuid.UUID{7}); err == nil {
			t.Errorf("NewSnapshotArchiveWriter accepted header %+v", h)
		}
	}
}

// TestSnapshotArchiveParts splits a tree at early warning into parts on
// two tapes and reads it back whole.
func TestSnapshotArchiveParts(t *testing.T) {
	const bs = MinBlockSize
	var entries []Entry
	for i := range 3000 {
		entries = append(entries, Entry{
			Path: "dir/" + strings.Repeat("f", 40) + string(rune('a'+i/1000)) + string(rune('a'+i/100%10)) + string(rune('a'+i%100/10)) + string(rune('a'+i%10)),
			Type: EntryFile, Mode: 0o644, Size: 1, Mtime: entryTime,
			Chunks: []ChunkRef{{Digest: newChunk([]byte{byte(i)}).digest, Size: 1}},
		})
	}
	tapes := []*memDrive{{earlyWarning: 2 * bs}, {}}
	next := 0
	for part, d := range tapes {
		w, err := NewSnapshotArchiveWriter(context.Background(), d, bs, testSnapshotHeader(part), uuid.UUID{8, byte(part)})
		if err != nil {
			t.Fatal(err)
		}
		for next < len(entries) && !w.EarlyWarning() {
			if err := w.Add(&entries[next]); err != nil {
				t.Fatal(err)
			}
			next++
		}
		if next < len(entries) {
			err = w.CloseContinued()
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if next != len(entries) {
		t.Fatalf("wrote %d of %d entries on two tapes", next, len(entries))
	}
	var got []Entry
	for part, d := range tapes {
		d.pos = 0
		r, es, err := readSnapshotArchive(t, d)
		if err != io.EOF {
			t.Fatalf("part %d: %v", part, err)
		}
		if r.Header().Part != part || r.Final() != (part == 1) {
			t.Errorf("part %d: header %+v, final %v", part, r.Header(), r.Final())
		}
		if len(es) == 0 {
			t.Errorf("part %d is empty", part)
		}
		got = append(got, es...)
	}
	if len(got) != len(entries) {
		t.Fatalf("read %d entries, want %d", len(got), len(entries))
	}
	for i := range got {
		if got[i].Path != entries[i].Path {
			t.Fatalf("entry %d is %q, want %q", i, got[i].Path, entries[i].Path)
		}
	}
}

func TestSnapshotArchiveDamage(t *testing.T) {
	entries := sampleEntries()[:4]
	write := func(end func(w *SnapshotArchiveWriter) error) (*memDrive, *SnapshotArchiveWriter) {
		d := &memDrive{}
		w, err := NewSnapshotArchiveWriter(context.Background(), d, MinBlockSize, testSnapshotHeader(0), uuid.UUID{9})
		if err != nil {
			t.Fatal(err)
		}
		for i := range entries {
			if err := w.Add(&entries[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := end(w); err != nil {
			t.Fatal(err)
		}
		d.pos = 0
		return d, w
	}

	t.Run("aborted", func(t *testing.T) {
		d, _ := write((*SnapshotArchiveWriter).Abort)
		_, got, err := readSnapshotArchive(t, d)
		if !errors.Is(err, ErrIncomplete) || len(got) != len(entries) {
			t.Errorf("read %d entries, then %v; want %d, ErrIncomplete", len(got), err, len(entries))
		}
	})
	t.Run("damaged entry is skipped", func(t *testing.T) {
		d, w := write((*SnapshotArchiveWriter).Close)
		// Entry 1's mode (0o1777 = 0xff 0x07) becomes 0xff 0x47: too large.
		enc := EncodeEntry(nil, &entries[0])
		e1 := EncodeEntry(nil, &entries[1])
		i := bytes.Index(e1, []byte{0xff, 0x07})
		damageStream(d, 0, int64(w.w.hdrLen+len(enc)+i+1), 0x40)
		r, got, err := readSnapshotArchive(t, d)
		if !errors.Is(err, ErrCorrupt) || len(got) != 1 {
			t.Fatalf("read %d entries, then %v; want 1, ErrCorrupt", len(got), err)
		}
		var rest []string
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after the damaged entry: %v", err)
			}
			rest = append(rest, e.Path)
		}
		if len(rest) != 2 || rest[0] != entries[2].Path {
			t.Errorf("entries after the damaged one: %q", rest)
		}
	})
	t.Run("bad tag is sticky", func(t *testing.T) {
		d, w := write((*SnapshotArchiveWriter).Close)
		damageStream(d, 0, int64(w.w.hdrLen), 0x40)
		r, got, err := readSnapshotArchive(t, d)
		if !errors.Is(err, ErrCorrupt) || len(got) != 0 {
			t.Fatalf("read %d entries, then %v", len(got), err)
		}
		if _, err2 := r.Next(); err2 != err {
			t.Errorf("second Next: %v, want the same error", err2)
		}
	})
	t.Run("end marker count", func(t *testing.T) {
		d, w := write((*SnapshotArchiveWriter).Close)
		var n int
		for i := range entries {
			n += len(EncodeEntry(nil, &entries[i]))
		}
		damageStream(d, 0, int64(w.w.hdrLen+n+2), 0x01)
		_, got, err := readSnapshotArchive(t, d)
		if !errors.Is(err, ErrCorrupt) || len(got) != len(entries) || !strings.Contains(err.Error(), "counts") {
			t.Fatalf("read %d entries, then %v", len(got), err)
		}
	})
}

// BenchmarkEntryRoundTrip encodes and decodes a regular file entry with
// eight chunk references and an ACL.
func BenchmarkEntryRoundTrip(b *testing.B) {
	e := sampleEntries()[3]
	for i := range 4 {
		e.Chunks = append(e.Chunks, ChunkRef{Digest: [32]byte{byte(i)}, Offset: int64(6+i) << 20, Size: 1 << 20})
	}
	var buf []byte
	for b.Loop() {
		buf = EncodeEntry(buf[:0], &e)
		if _, _, err := DecodeEntry(buf); err != nil {
			b.Fatal(err)
		}
	}
}
