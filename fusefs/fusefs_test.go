package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

func TestErrno(t *testing.T) {
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{fmt.Errorf("x: %w", engine.ErrInvalid), syscall.EINVAL},
		{fmt.Errorf("x: %w", config.ErrNotFound), syscall.ENOENT},
		{fmt.Errorf("x: %w", engine.ErrNoKey), syscall.ENOKEY},
		{fmt.Errorf("x: %w", engine.ErrBusy), syscall.EBUSY},
		{fmt.Errorf("x: %w", device.ErrNoMedium), syscall.ENOMEDIUM},
		{fmt.Errorf("x: %w", engine.ErrNoSpace), syscall.ENOSPC},
		{fmt.Errorf("x: %w", engine.ErrExists), syscall.EEXIST},
		{fmt.Errorf("x: %w", engine.ErrRefused), syscall.EPERM},
		{fmt.Errorf("x: %w", context.Canceled), syscall.EINTR},
		{fmt.Errorf("x: %w", device.ErrMediumError), syscall.EIO},
		{errors.New("anything"), syscall.EIO},
		{syscall.EROFS, syscall.EROFS},
	}
	for _, tt := range tests {
		if got := Errno(tt.err); got != tt.want {
			t.Errorf("Errno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"TEST01L8 --pool daily\n", []string{"TEST01L8", "--pool", "daily"}, false},
		{`'a b' "c d" e\ f`, []string{"a b", "c d", "e f"}, false},
		{`"say \"hi\""`, []string{`say "hi"`}, false},
		{"'open", nil, true},
		{`"open`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

type vtOpener struct{}

func (vtOpener) OpenDrive(p string) (device.Drive, error) {
	d, err := vtape.OpenDrive(p)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (vtOpener) OpenChanger(p string) (device.Changer, error) {
	c, err := vtape.OpenChanger(p)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (vtOpener) ScanDrives() ([]device.ScanEntry, error)   { return nil, nil }
func (vtOpener) ScanChangers() ([]device.ScanEntry, error) { return nil, nil }

// fakeRunner records command lines and answers with a chosen error.
type fakeRunner struct {
	mu   sync.Mutex
	args [][]string
	err  error
}

func (f *fakeRunner) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.args = append(f.args, args)
	fmt.Fprintln(stdout, "ran", strings.Join(args, " "))
	return f.err
}

func (f *fakeRunner) last() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.args) == 0 {
		return nil
	}
	return f.args[len(f.args)-1]
}

// mountTest mounts a tree over an engine with one changer (sl3) and one
// drive (d0) on a virtual library, with a fake runner.
func mountTest(t *testing.T) (string, *fakeRunner) {
	t.Helper()
	return mountTestAdmin(t, nil)
}

// mountTestAdmin is mountTest with an admin group (nil for none).
func mountTestAdmin(t *testing.T, adminGID *uint32) (string, *fakeRunner) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("TAPEFS_TEST_REQUIRE_FUSE") == "1" {
			t.Fatal("/dev/fuse is missing and TAPEFS_TEST_REQUIRE_FUSE=1")
		}
		t.Skip("/dev/fuse is missing")
	}
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 2, Cleaning: 1})
	cfg, state := t.TempDir(), t.TempDir()
	eng, err := engine.New(engine.Options{ConfigDir: cfg, StateDir: state, Opener: vtOpener{}, RefreshAfterJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if err := eng.ChangerCreate("sl3", lib, nil); err != nil {
		t.Fatal(err)
	}
	if err := eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0), Changer: "sl3"}); err != nil {
		t.Fatal(err)
	}
	if err := eng.PoolCreate(config.Pool{Name: "p0", Drive: "d0"}); err != nil {
		t.Fatal(err)
	}
	if err := eng.RefreshStatus(); err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	root, err := New(Options{Engine: eng, Run: fr.run, MountPoint: "test", AdminGID: adminGID})
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	server, err := Mount(mnt, root, MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		b, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(b), " "+mnt+" ") {
			t.Errorf("%s is still mounted", mnt)
		}
	})
	return mnt, fr
}

// TestPrivateModes: control files, the daemon's status and jobs/ are for
// the daemon's user (and its admin group) only; the rest of the browse
// tree is for everybody.
func TestPrivateModes(t *testing.T) {
	gid := uint32(4321)
	for _, admin := range []*uint32{nil, &gid} {
		mnt, _ := mountTestAdmin(t, admin)
		wantGid := uint32(os.Getgid())
		if admin != nil {
			wantGid = *admin
		}
		for _, tc := range []struct {
			path    string
			mode    os.FileMode // without, with the admin group
			withGrp os.FileMode
			private bool
		}{
			{"status", 0o400, 0o440, true},
			{"status.json", 0o400, 0o440, true},
			{"jobs", os.ModeDir | 0o500, os.ModeDir | 0o550, true},
			{"drives/d0/load", 0o600, 0o660, true},
			{"changers/sl3/inventory", 0o600, 0o660, true},
			{"pools/p0/commit", 0o600, 0o660, true},
			{"drives/d0/status", 0o444, 0o444, false},
			{"drives", os.ModeDir | 0o555, os.ModeDir | 0o555, false},
		} {
			fi, err := os.Stat(filepath.Join(mnt, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.mode
			if admin != nil {
				want = tc.withGrp
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode() != want || st.Uid != uint32(os.Getuid()) || (tc.private && st.Gid != wantGid) {
				t.Errorf("admin group %v: %s: %v uid %d gid %d, want %v uid %d gid %d", admin != nil, tc.path, fi.Mode(), st.Uid, st.Gid, want, os.Getuid(), wantGid)
			}
		}
	}
}

// TestControlFileArgs checks how words written to control files become
// command lines, and that each error class reaches the writer as its errno
// and the reader as the full message.
func TestControlFileArgs(t *testing.T) {
	mnt, fr := mountTest(t)
	tests := []struct {
		file, text string
		err        error
		want       []string
		errno      syscall.Errno
	}{
		{"drives/d0/label", "TEST01L8 --pool daily", nil, []string{"label", "--label-text", "TEST01L8", "--pool", "daily", "--drive", "d0"}, 0},
		{"drives/d0/label", "--label-text X", nil, []string{"label", "--label-text", "X", "--drive", "d0"}, 0},
		{"drives/d0/load", "TEST02L8", fmt.Errorf("drive d0: %w", engine.ErrBusy), []string{"load-media", "TEST02L8", "--drive", "d0"}, syscall.EBUSY},
		{"drives/d0/eject", "", fmt.Errorf("drive d0: %w", device.ErrNoMedium), []string{"eject", "--drive", "d0"}, syscall.ENOMEDIUM},
		{"drives/d0/format", "--fast", fmt.Errorf("tape: %w", engine.ErrRefused), []string{"format", "--fast", "--drive", "d0"}, syscall.EPERM},
		{"changers/sl3/barcode-label", "daily", nil, []string{"barcode-label", "--pool", "daily", "--drive", "d0"}, 0},
		{"changers/sl3/inventory", "--read-labels", fmt.Errorf("slots: %w", engine.ErrNoSpace), []string{"inventory", "--read-labels", "--drive", "d0"}, syscall.ENOSPC},
		{"changers/sl3/transfer", "1 3", nil, []string{"changer", "transfer", "sl3", "--from", "1", "--to", "3"}, 0},
		{"changers/sl3/transfer", "--from 1 --to 3", errors.New("robot jammed"), []string{"changer", "transfer", "sl3", "--from", "1", "--to", "3"}, syscall.EIO},
		{"pools/p0/export", "", nil, []string{"export-media-set", "p0"}, 0},
		{"pools/p0/export", "", fmt.Errorf("changer sl3: %w", engine.ErrNoSpace), []string{"export-media-set", "p0"}, syscall.ENOSPC},
		{"pools/p0/export", "", fmt.Errorf("pool p0: %w", engine.ErrNotFound), []string{"export-media-set", "p0"}, syscall.ENOENT},
		{"pools/p0/eject", "", nil, []string{"eject", "--drive", "d0"}, 0},
	}
	for _, tt := range tests {
		fr.mu.Lock()
		fr.err = tt.err
		fr.mu.Unlock()
		path := filepath.Join(mnt, tt.file)
		err := os.WriteFile(path, []byte(tt.text+"\n"), 0o644)
		var got syscall.Errno
		if err != nil && !errors.As(err, &got) {
			t.Fatalf("write %s: %v", tt.file, err)
		}
		if got != tt.errno {
			t.Errorf("echo %q > %s: errno %v, want %v", tt.text, tt.file, got, tt.errno)
		}
		if args := fr.last(); !reflect.DeepEqual(args, tt.want) {
			t.Errorf("echo %q > %s ran %q, want %q", tt.text, tt.file, args, tt.want)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "usage:") || !strings.Contains(text, "input: "+tt.text) ||
			!strings.Contains(text, "command: tapefs "+strings.Join(tt.want, " ")) {
			t.Errorf("%s after a write:\n%s", tt.file, text)
		}
		if tt.err != nil && !strings.Contains(text, tt.err.Error()) {
			t.Errorf("%s does not show the full error %q:\n%s", tt.file, tt.err, text)
		}
		if tt.err == nil && !strings.Contains(text, "result: ok") {
			t.Errorf("%s does not show success:\n%s", tt.file, text)
		}
	}
}

// TestBrowse lists the tree of an unlabelled library and checks slot
// entries, ENOENT, EROFS and stable inode numbers.
func TestBrowse(t *testing.T) {
	mnt, _ := mountTest(t)
	for _, d := range []string{"", "drives", "drives/d0", "changers", "changers/sl3", "changers/sl3/slots", "changers/sl3/drives", "media", "pools", "jobs"} {
		if _, err := os.ReadDir(filepath.Join(mnt, d)); err != nil {
			t.Errorf("ls %s: %v", d, err)
		}
	}
	es, err := os.ReadDir(filepath.Join(mnt, "changers/sl3/slots"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 {
		t.Errorf("slots/: %d entries, want 5", len(es))
	}
	// Nothing is labelled: the cartridges are files holding their barcode.
	if b, err := os.ReadFile(filepath.Join(mnt, "changers/sl3/slots/1")); err != nil || string(b) != "TEST01L8\n" {
		t.Errorf("slots/1: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "changers/sl3/slots/5")); err != nil || len(b) != 0 {
		t.Errorf("slots/5 (empty): %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "drives/nosuch")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat drives/nosuch: %v, want ENOENT", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "drives/d0/status"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write drives/d0/status: %v, want EROFS", err)
	}
	a, err := os.Lstat(filepath.Join(mnt, "drives/d0/status"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Lstat(filepath.Join(mnt, "drives/d0/status"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino || a.Sys().(*syscall.Stat_t).Ino != ino("drives/d0/status", "") {
		t.Errorf("inode numbers are not stable path hashes")
	}
}

// TestControlFileWritePieces checks that a command written in several
// write() calls runs once with the whole line: pieces without a newline
// wait for the rest, a line the kernel splits (longer than a FUSE write)
// is joined, what has no final newline runs at close (with close's error),
// and more than maxControlInput fails with EINVAL without running.
func TestControlFileWritePieces(t *testing.T) {
	mnt, fr := mountTest(t)
	path := filepath.Join(mnt, "drives/d0/label")
	runs := func() int {
		fr.mu.Lock()
		defer fr.mu.Unlock()
		return len(fr.args)
	}
	write := func(pieces ...string) (writeErr, closeErr error) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pieces {
			if _, err := f.Write([]byte(p)); err != nil {
				f.Close()
				return err, nil
			}
		}
		return nil, f.Close()
	}
	long := strings.Repeat("A", 300000)
	tests := []struct {
		name   string
		pieces []string
		err    error
		want   []string
		errno  syscall.Errno
	}{
		{"two pieces", []string{"TEST0", "1L8 --pool daily\n"}, nil, []string{"label", "--label-text", "TEST01L8", "--pool", "daily", "--drive", "d0"}, 0},
		{"no newline", []string{"TEST02L8"}, nil, []string{"label", "--label-text", "TEST02L8", "--drive", "d0"}, 0},
		{"no newline, error at close", []string{"TEST03", "L8"}, fmt.Errorf("drive d0: %w", engine.ErrBusy), []string{"label", "--label-text", "TEST03L8", "--drive", "d0"}, syscall.EBUSY},
		{"split by the kernel", []string{long + "\n"}, nil, []string{"label", "--label-text", long, "--drive", "d0"}, 0},
	}
	for _, tt := range tests {
		fr.mu.Lock()
		fr.err = tt.err
		fr.mu.Unlock()
		before := runs()
		werr, cerr := write(tt.pieces...)
		if werr != nil {
			t.Errorf("%s: write: %v", tt.name, werr)
		}
		var got syscall.Errno
		if cerr != nil && !errors.As(cerr, &got) {
			t.Fatalf("%s: close: %v", tt.name, cerr)
		}
		if got != tt.errno {
			t.Errorf("%s: close errno %v, want %v", tt.name, got, tt.errno)
		}
		if n := runs() - before; n != 1 {
			t.Errorf("%s: %d commands ran, want 1", tt.name, n)
		}
		if args := fr.last(); !reflect.DeepEqual(args, tt.want) {
			t.Errorf("%s: ran %.200q, want %.200q", tt.name, args, tt.want)
		}
	}
	fr.mu.Lock()
	fr.err = nil
	fr.mu.Unlock()
	before := runs()
	werr, _ := write(strings.Repeat("B", maxControlInput), "\n")
	if !errors.Is(werr, syscall.EINVAL) {
		t.Errorf("write of more than %d bytes: %v, want EINVAL", maxControlInput, werr)
	}
	if n := runs() - before; n != 0 {
		t.Errorf("write of more than %d bytes ran %d commands", maxControlInput, n)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "result: error EINVAL") || !strings.Contains(string(b), "longer than") {
		t.Errorf("label after a too long write:\n%s", b)
	}
}

// TestTransferWords checks how words written to changers/C/transfer become
// the command line, and that a wrong number of bare slot numbers is
// refused with a message saying so (it ran `changer transfer C 1 2 3`,
// which failed with "--from is required").
func TestTransferWords(t *testing.T) {
	var transfer control
	for _, c := range (&Root{}).changerControls("sl3") {
		if c.name == "transfer" {
			transfer = c
		}
	}
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"1 3", []string{"changer", "transfer", "sl3", "--from", "1", "--to", "3"}, ""},
		{"--from 1 --to 3", []string{"changer", "transfer", "sl3", "--from", "1", "--to", "3"}, ""},
		{"1", nil, "expected two slot numbers"},
		{"1 2 3", nil, "expected two slot numbers"},
		{"one two", nil, `unexpected argument "one"`},
	}
	for _, tt := range tests {
		words, err := splitWords(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := transfer.argv(words)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || Errno(err) != syscall.EINVAL {
				t.Errorf("transfer %q: %v, want EINVAL %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("transfer %q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
