// The restore file layout: directories, files, links and attributes
// created under a restore target.

package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"tapefs/engine/chunker"
	"tapefs/engine/format"
)

// writeSparse writes data at off in a new file that already has its size,
// leaving out the blocks of 4 KiB (aligned to the file) that hold only
// zeros: they read as zeros and stay holes, so a sparse file restores as
// sparse as it was even where its holes share a chunk with data.
func writeSparse(w io.WriterAt, data []byte, off int64) error {
	const block = 4 << 10
	for i := 0; i < len(data); {
		end := min(len(data), i+block-int((off+int64(i))%block))
		if chunker.IsZero(data[i:end]) {
			i = end
			continue
		}
		j := end
		for j < len(data) {
			e := min(len(data), j+block)
			if chunker.IsZero(data[j:e]) {
				break
			}
			j = e
		}
		if _, err := w.WriteAt(data[i:j], off+int64(i)); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// joinUnder joins a validated snapshot path (no "..", not absolute) to root.
func joinUnder(root, rel string) string {
	return filepath.Join(root, filepath.FromSlash(rel))
}

// mkdirUnder makes sure dir exists below base, creating missing
// components (mode 0700; selected directories get their mode later) one by
// one and refusing any component that is a symlink or not a directory, so
// tape content can never make a restore write outside the target.
func mkdirUnder(base, dir string) error {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is outside %s", dir, base)
	}
	p := base
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if c == "." || c == "" {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("refusing to restore through symlink %s", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// createEntry creates a directory, symlink or special file; regular files
// are created by the caller. Parents are checked for symlinks first.
func createEntry(root string, ent *format.Entry) error {
	if err := ent.Validate(); err != nil {
		return err
	}
	p := joinUnder(root, ent.Path)
	if ent.Path != "" {
		// Parents that were not selected themselves are created plain.
		if err := mkdirUnder(root, filepath.Dir(p)); err != nil {
			return err
		}
	}
	switch ent.Type {
	case format.EntryDir:
		if ent.Path == "" {
			return nil
		}
		return mkdirUnder(root, p)
	case format.EntrySymlink:
		os.Remove(p)
		return os.Symlink(ent.Target, p)
	case format.EntryCharDev, format.EntryBlockDev, format.EntryFIFO, format.EntrySocket:
		mode := uint32(ent.Mode & 0o7777)
		switch ent.Type {
		case format.EntryCharDev:
			mode |= unix.S_IFCHR
		case format.EntryBlockDev:
			mode |= unix.S_IFBLK
		case format.EntryFIFO:
			mode |= unix.S_IFIFO
		case format.EntrySocket:
			mode |= unix.S_IFSOCK
		}
		os.Remove(p)
		return unix.Mknod(p, mode, int(ent.Rdev))
	}
	return nil
}

// applyAttrs sets ownership, xattrs, mode and times of a restored entry.
func applyAttrs(p string, ent *format.Entry) error {
	var errs []error
	if err := os.Lchown(p, int(ent.UID), int(ent.GID)); err != nil && !errors.Is(err, unix.EPERM) {
		errs = append(errs, err)
	}
	names := make([]string, 0, len(ent.Xattrs))
	for k := range ent.Xattrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := unix.Lsetxattr(p, k, ent.Xattrs[k], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			errs = append(errs, fmt.Errorf("xattr %s: %w", k, err))
		}
	}
	if ent.Type != format.EntrySymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, ent.Mode&0o7777, 0); err != nil {
			errs = append(errs, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(ent.Atime.UnixNano()), unix.NsecToTimespec(ent.Mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
