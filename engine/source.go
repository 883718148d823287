package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// BackupSource is a tree a backup reads: a directory (the `tapefs backup`
// source) or a frozen group of a pool's staging store (a commit). Paths
// are "/"-separated and relative to the tree's root; "" is the root, which
// is a directory. A backup calls the methods from several goroutines at
// once (the reader, the progress count, the prefetching lookahead).
type BackupSource interface {
	// Stat returns the metadata of the node at rel.
	Stat(rel string) (SourceEntry, error)
	// ReadDir returns the names in directory rel, sorted.
	ReadDir(rel string) ([]string, error)
	// Open opens regular file rel for reading. A read (or Open) that
	// fails with an error wrapping ErrSourceChanged leaves the file (and
	// its other names) out of the snapshot instead of failing the backup.
	Open(rel string) (io.ReadCloser, error)
	// Describe names rel for messages.
	Describe(rel string) string
	// String names the source for messages and the job log.
	String() string
}

// ErrSourceChanged: a file of a BackupSource changed while it was read,
// so what was read is not the file the walk saw (a file of a commit's
// frozen group written meanwhile; it stays in incoming/ for the next
// commit).
var ErrSourceChanged = errors.New("changed while it was read")

// SourceEntry is the metadata of one node of a BackupSource.
type SourceEntry struct {
	// Entry has Type, Mode (07777), UID, GID, times, Size (regular
	// files), Rdev, Target (symlinks) and Xattrs set; the backup fills
	// Path, owner names and chunks.
	Entry format.Entry
	// Links is the number of names of a node other than a directory; Key
	// identifies it among the source's nodes, so a file (or symlink,
	// device, FIFO, socket) with more than one name is stored once and
	// its other names as hard links.
	Links uint64
	Key   [2]uint64
}

// dirSource is a directory of the local filesystem.
type dirSource string

func (d dirSource) String() string { return string(d) }

func (d dirSource) Describe(rel string) string {
	return filepath.Join(string(d), filepath.FromSlash(rel))
}

func (d dirSource) Stat(rel string) (SourceEntry, error) {
	full := d.Describe(rel)
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		return SourceEntry{}, fmt.Errorf("stat %s: %w", full, err)
	}
	se := SourceEntry{Links: uint64(st.Nlink), Key: [2]uint64{st.Dev, st.Ino}}
	e := &se.Entry
	e.Mode, e.UID, e.GID = st.Mode&0o7777, st.Uid, st.Gid
	// Times a snapshot cannot hold (tmpfs and XFS go past the year 9999)
	// are clamped, as copying the file to ext4 would.
	e.Mtime = format.ClampTime(time.Unix(st.Mtim.Sec, st.Mtim.Nsec))
	e.Atime = format.ClampTime(time.Unix(st.Atim.Sec, st.Atim.Nsec))
	e.Ctime = format.ClampTime(time.Unix(st.Ctim.Sec, st.Ctim.Nsec))
	xattrs, err := readXattrs(full)
	if err != nil {
		return SourceEntry{}, err
	}
	e.Xattrs = xattrs
	t, ok := entryType(st.Mode)
	if !ok {
		return SourceEntry{}, fmt.Errorf("%s: unsupported file type %o", full, st.Mode&unix.S_IFMT)
	}
	e.Type = t
	switch t {
	case format.EntrySymlink:
		if e.Target, err = os.Readlink(full); err != nil {
			return SourceEntry{}, err
		}
	case format.EntryCharDev, format.EntryBlockDev:
		e.Rdev = st.Rdev
	case format.EntryFile:
		e.Size = st.Size
	}
	return se, nil
}

func (d dirSource) ReadDir(rel string) ([]string, error) {
	f, err := os.Open(d.Describe(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func (d dirSource) Open(rel string) (io.ReadCloser, error) { return os.Open(d.Describe(rel)) }

// changeChecker is a BackupSource that can tell whether a file changed
// since the walk saw it as e (tar's "file changed as we read it").
type changeChecker interface {
	// changedSince says what moved (size, mtime, ctime), "" if nothing.
	changedSince(rel string, e *format.Entry) string
}

// changedSince compares one lstat of the file with e (no xattr reads: it
// runs once per file read).
func (d dirSource) changedSince(rel string, e *format.Entry) string {
	var st unix.Stat_t
	if err := unix.Lstat(d.Describe(rel), &st); err != nil {
		return "gone: " + err.Error()
	}
	switch {
	case st.Size != e.Size:
		return fmt.Sprintf("size %d, was %d", st.Size, e.Size)
	case !format.ClampTime(time.Unix(st.Mtim.Sec, st.Mtim.Nsec)).Equal(e.Mtime):
		return "modified"
	case !format.ClampTime(time.Unix(st.Ctim.Sec, st.Ctim.Nsec)).Equal(e.Ctime):
		return "status changed"
	}
	return ""
}

// DirSource is the BackupSource of a local directory tree (what Backup uses
// for BackupOptions.Source).
func DirSource(dir string) BackupSource { return dirSource(dir) }

// entryType maps the file type bits of a mode (st_mode) to a snapshot
// entry type; false for types a snapshot cannot hold.
func entryType(mode uint32) (format.EntryType, bool) {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return format.EntryDir, true
	case unix.S_IFLNK:
		return format.EntrySymlink, true
	case unix.S_IFCHR:
		return format.EntryCharDev, true
	case unix.S_IFBLK:
		return format.EntryBlockDev, true
	case unix.S_IFIFO:
		return format.EntryFIFO, true
	case unix.S_IFSOCK:
		return format.EntrySocket, true
	case unix.S_IFREG:
		return format.EntryFile, true
	}
	return 0, false
}

// treeFilter narrows a local directory source: paths matching an exclude
// pattern are left out, and unless allFS is set the walk stays on the
// filesystem of the source's root (a mount point inside it is kept, as an
// empty directory, as tar --one-file-system and proxmox-backup-client
// keep it).
type treeFilter struct {
	dirSource
	exclude []string
	allFS   bool
	rootDev uint64
	logf    func(format string, args ...any)

	mu     sync.Mutex
	logged map[string]bool // mount points reported (the walk, the count and the lookahead all list them)
}

// newTreeFilter checks the exclude patterns (path.Match syntax; see
// excluded) and returns the filtered source of dir.
func newTreeFilter(dir dirSource, exclude []string, allFS bool, logf func(string, ...any)) (*treeFilter, error) {
	var pats []string
	for _, p := range exclude {
		c := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
		if c == "" {
			return nil, invalidf("--exclude %q matches nothing", p)
		}
		if _, err := path.Match(c, ""); err != nil {
			return nil, invalidf("--exclude %q: %v", p, err)
		}
		if strings.HasPrefix(p, "/") && !strings.Contains(c, "/") {
			c = "/" + c // anchored at the root: see excluded
		}
		pats = append(pats, c)
	}
	var st unix.Stat_t
	if err := unix.Lstat(string(dir), &st); err != nil {
		return nil, invalidf("backup source: %v", err)
	}
	return &treeFilter{dirSource: dir, exclude: pats, allFS: allFS, rootDev: st.Dev, logf: logf, logged: map[string]bool{}}, nil
}

// excluded reports whether rel matches a pattern: a pattern with a slash
// (or one given with a leading slash) matches the path from the source's
// root, one without matches a name at any depth.
func (f *treeFilter) excluded(rel string) bool {
	base := path.Base(rel)
	for _, p := range f.exclude {
		var ok bool
		switch {
		case strings.HasPrefix(p, "/"):
			ok, _ = path.Match(p[1:], rel)
		case strings.Contains(p, "/"):
			ok, _ = path.Match(p, rel)
		default:
			ok, _ = path.Match(p, base)
		}
		if ok {
			return true
		}
	}
	return false
}

func (f *treeFilter) ReadDir(rel string) ([]string, error) {
	if !f.allFS && rel != "" {
		var st unix.Stat_t
		full := f.Describe(rel)
		if err := unix.Lstat(full, &st); err != nil {
			return nil, fmt.Errorf("stat %s: %w", full, err)
		}
		if st.Dev != f.rootDev {
			f.mu.Lock()
			if !f.logged[rel] {
				f.logged[rel] = true
				f.logf("%s is another filesystem: not backed up (only its mount point directory; use --all-file-systems to include it)", full)
			}
			f.mu.Unlock()
			return nil, nil
		}
	}
	names, err := f.dirSource.ReadDir(rel)
	if err != nil || len(f.exclude) == 0 {
		return names, err
	}
	out := names[:0]
	for _, n := range names {
		if !f.excluded(path.Join(rel, n)) {
			out = append(out, n)
		}
	}
	return out, nil
}
