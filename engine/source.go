package engine

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// BackupSource is a tree a backup reads: a directory (the `tapefs backup`
// source) or a frozen group of a pool's staging store (a commit). Paths
// are "/"-separated and relative to the tree's root; "" is the root, which
// is a directory. A backup calls the methods from one goroutine.
type BackupSource interface {
	// Stat returns the metadata of the node at rel.
	Stat(rel string) (SourceEntry, error)
	// ReadDir returns the names in directory rel, sorted.
	ReadDir(rel string) ([]string, error)
	// Open opens regular file rel for reading.
	Open(rel string) (io.ReadCloser, error)
	// Describe names rel for messages.
	Describe(rel string) string
	// String names the source for messages and the job log.
	String() string
}

// SourceEntry is the metadata of one node of a BackupSource.
type SourceEntry struct {
	// Entry has Type, Mode (07777), UID, GID, times, Size (regular
	// files), Rdev, Target (symlinks) and Xattrs set; the backup fills
	// Path, owner names and chunks.
	Entry format.Entry
	// Links is the number of names of a regular file; Key identifies it
	// among the source's files, so a file with more than one name is
	// stored once and its other names as hard links.
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
	e.Mtime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	e.Atime = time.Unix(st.Atim.Sec, st.Atim.Nsec)
	e.Ctime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	xattrs, err := readXattrs(full)
	if err != nil {
		return SourceEntry{}, err
	}
	e.Xattrs = xattrs
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		e.Type = format.EntryDir
	case unix.S_IFLNK:
		e.Type = format.EntrySymlink
		if e.Target, err = os.Readlink(full); err != nil {
			return SourceEntry{}, err
		}
	case unix.S_IFCHR:
		e.Type, e.Rdev = format.EntryCharDev, st.Rdev
	case unix.S_IFBLK:
		e.Type, e.Rdev = format.EntryBlockDev, st.Rdev
	case unix.S_IFIFO:
		e.Type = format.EntryFIFO
	case unix.S_IFSOCK:
		e.Type = format.EntrySocket
	case unix.S_IFREG:
		e.Type, e.Size = format.EntryFile, st.Size
	default:
		return SourceEntry{}, fmt.Errorf("%s: unsupported file type %o", full, st.Mode&unix.S_IFMT)
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

// DirSource is the BackupSource of a local directory tree (what Backup uses
// for BackupOptions.Source).
func DirSource(dir string) BackupSource { return dirSource(dir) }
