package fusefs

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/posixtest"
	"golang.org/x/sys/unix"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/vtape"
)

// mountIncoming mounts a tree over an engine with one pool (daily) on a
// virtual library and returns the pool's incoming/ directory.
func mountIncoming(t *testing.T) string {
	t.Helper()
	return mountIncomingWith(t, MountOptions{})
}

// mountIncomingWith mounts a tree with pool daily and returns its
// incoming/ directory.
func mountIncomingWith(t *testing.T, mo MountOptions) string {
	t.Helper()
	return mountIncomingWrap(t, mo, nil)
}

// mountIncomingWrap is mountIncomingWith with the bridge wrapped by wrap
// (nil: not wrapped).
func mountIncomingWrap(t *testing.T, mo MountOptions, wrap func(fuse.RawFileSystem) fuse.RawFileSystem) string {
	t.Helper()
	return mountIncomingRoot(t, mo, wrap, nil)
}

// mountIncomingRoot is mountIncomingWrap with the root changed by adjust
// (when not nil) before it is mounted.
func mountIncomingRoot(t *testing.T, mo MountOptions, wrap func(fuse.RawFileSystem) fuse.RawFileSystem, adjust func(*Root)) string {
	t.Helper()
	needFuse(t)
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 2})
	cfg, state := t.TempDir(), t.TempDir()
	eng, err := engine.New(engine.Options{ConfigDir: cfg, StateDir: state, Opener: vtOpener{}})
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
	if err := eng.PoolCreate(config.Pool{Name: "daily", Drive: "d0"}); err != nil {
		t.Fatal(err)
	}
	root, err := New(Options{Engine: eng, Run: (&fakeRunner{}).run, MountPoint: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(root)
	}
	mnt := t.TempDir()
	server, err := mount(mnt, root, mo, wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return filepath.Join(mnt, "pools/daily/incoming")
}

// posixSkipped are the posixtest cases incoming/ does not pass by design,
// with the reason (docs/fuse.md, "POSIX behaviour of incoming/").
var posixSkipped = map[string]string{
	"FcntlFlockLocksFile": "expects a read lock on a second descriptor of the same process to conflict with the " +
		"process's write lock, which POSIX record locks never do (go-fuse's own run skips it too); " +
		"incoming/ leaves record locks to the kernel, and FcntlFlockSetLk passes",
}

// TestIncomingPosix runs go-fuse's posixtest suite against a group
// directory of incoming/: each case in a fresh group.
func TestIncomingPosix(t *testing.T) {
	in := mountIncoming(t)
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			why, listed := posixSkipped[name]
			if listed {
				t.Skip(why)
			}
			// A case that skips itself found something incoming/ lacks:
			// that must be listed above and in the docs.
			defer func() {
				if t.Skipped() {
					t.Errorf("%s skipped itself; fix incoming/ or list it in posixSkipped", name)
				}
			}()
			group := filepath.Join(in, "posix-"+name)
			if err := os.Mkdir(group, 0o755); err != nil {
				t.Fatal(err)
			}
			posixtest.All[name](t, group)
		})
	}
}

// TestIncomingFallocate checks fallocate on a file just created (its
// handle is the file's, not its directory's) and on a reopened one, and
// fstat of an open directory removed by rmdir.
func TestIncomingFallocate(t *testing.T) {
	in := mountIncoming(t)
	group := filepath.Join(in, "g")
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		off, size int64
		mode      uint32
		want      int64
		wantErr   error
	}{
		{"grow", 0, 100, 0, 100, nil},
		{"grow past 4096", 4000, 200, 0, 4200, nil},
		{"keep size", 0, 8192, unix.FALLOC_FL_KEEP_SIZE, 0, nil},
		{"collapse", 0, 4096, unix.FALLOC_FL_COLLAPSE_RANGE, 0, syscall.EOPNOTSUPP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(group, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = unix.Fallocate(int(f.Fd()), tt.mode, tt.off, tt.size)
			if !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
				t.Fatalf("fallocate: %v, want %v", err, tt.wantErr)
			}
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			if st.Size != tt.want || st.Mode&unix.S_IFMT != unix.S_IFREG {
				t.Errorf("after fallocate: size %d mode %o, want size %d of a regular file", st.Size, st.Mode, tt.want)
			}
		})
	}

	dir := filepath.Join(group, "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat of an open removed directory: %v", err)
	}
	if st.Mode != unix.S_IFDIR|0o700 || st.Nlink != 0 {
		t.Errorf("fstat of an open removed directory: mode %o nlink %d, want %o and 0", st.Mode, st.Nlink, unix.S_IFDIR|0o700)
	}
}

// TestIncomingTmpfileLink gives an O_TMPFILE file a name with linkat, as
// tools that publish a finished file atomically do.
func TestIncomingTmpfileLink(t *testing.T) {
	in := mountIncoming(t)
	group := filepath.Join(in, "g")
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(group, unix.O_TMPFILE|unix.O_WRONLY, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte("published")); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(group, "published")
	if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		t.Fatalf("linkat: %v", err)
	}
	if err := unix.Close(fd); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil || string(b) != "published" {
		t.Errorf("read %s: %q, %v", name, b, err)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode() != 0o640 {
		t.Errorf("stat %s: %v, %v, want mode 0640", name, fi, err)
	}
	if es, err := os.ReadDir(group); err != nil || len(es) != 1 {
		t.Errorf("group lists %v, %v, want the one linked file", es, err)
	}
}

// TestIncomingNullMode: a file or directory whose permission bits are all
// clear shows them so (go-fuse's bridge turns 0000 into 0644 or 0755
// unless told not to): created with mode 0 and chmod-ed to 0.
func TestIncomingNullMode(t *testing.T) {
	in := mountIncoming(t)
	g := filepath.Join(in, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(filepath.Join(g, "created"), unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL, 0)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if got := st.Mode & 0o7777; got != 0 {
		t.Errorf("fstat of a file created with mode 0: mode %#o", got)
	}
	if err := unix.Mkdir(filepath.Join(g, "dir"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g, "chmod"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(g, "chmod"), 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"created", "dir", "chmod"} {
		if err := unix.Lstat(filepath.Join(g, name), &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mode & 0o7777; got != 0 {
			t.Errorf("%s: mode %#o, want 0", name, got)
		}
	}
}
