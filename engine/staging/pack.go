package staging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Small files are packed. A file made for writing keeps its data in
// memory while it is written sequentially from offset 0 and stays at most
// PackMax bytes; its Flush (close) appends the data to the store's pack
// file with one write and journals where it is (pack, offset, length)
// with the same record that marks the file complete. So copying in a
// small file costs no file creation on the staging filesystem, one data
// write and one journal write. A file that outgrows PackMax, is written
// out of order, truncated or fallocated while in memory, or fsync'ed,
// moves to its own data file first; so does a packed file that is
// changed later (its data is copied up and the pack's copy dropped).

// PackMax is the largest file kept in memory while written and packed at
// its close. A megabyte keeps the memory of a write session small (the
// kernel sends at most 128 KiB per write, so such a file is eight writes)
// while covering the files for which a file of their own costs more than
// their data: creating, closing and later removing a file on ext4 costs
// as much as writing tens of kilobytes.
const PackMax = 1 << 20

// packRotate is the size past which a new pack file is started: a pack
// is removed only when no live file is in it, so smaller packs free
// their space sooner when files are removed a few at a time. A variable
// for tests.
var packRotate int64 = 64 << 20

// memMax bounds the data held in memory by all files being written; a
// write beyond it moves its file to a data file of its own.
const memMax = 64 << 20

// pack is one append-only pack file.
type pack struct {
	n    uint64
	f    *os.File // nil until opened
	size int64    // bytes appended (the next offset)
	// live counts nodes (in the tree or dropped but pinned by a freeze)
	// whose data is in the pack; users counts reads in progress.
	live, users int
}

func (s *Store) packPath(n uint64) string {
	return filepath.Join(s.dir, "packs", strconv.FormatUint(n, 16))
}

// packRef adds delta to the live count of pack n (0: none) and removes
// the pack once nothing uses it. s.mu is held.
func (s *Store) packRef(n uint64, delta int) {
	if n == 0 {
		return
	}
	p := s.packs[n]
	if p == nil {
		p = &pack{n: n}
		s.packs[n] = p
	}
	p.live += delta
	s.maybeRemovePack(p)
}

// maybeRemovePack removes p when no file is in it and nothing reads it;
// the pack being appended to is emptied instead (truncated to 0). Not
// while the journal is replayed (s.loading). s.mu is held.
func (s *Store) maybeRemovePack(p *pack) {
	if s.loading || p.live > 0 || p.users > 0 {
		return
	}
	if p == s.active {
		if p.size > 0 && p.f != nil && p.f.Truncate(0) == nil {
			p.size = 0
		}
		return
	}
	delete(s.packs, p.n)
	if p.f != nil {
		p.f.Close()
	}
	os.Remove(s.packPath(p.n))
}

// appendPack writes data at the end of the pack being appended to
// (starting a new one when needed) and returns where it is. s.mu is held.
func (s *Store) appendPack(data []byte) (n uint64, off int64, err error) {
	if s.active == nil || s.active.size+int64(len(data)) > packRotate && s.active.size > 0 {
		old := s.active
		n := s.nextPack
		fd, err := unix.Open(s.packPath(n), unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.ENOENT) {
			if err = os.MkdirAll(filepath.Join(s.dir, "packs"), 0o700); err == nil {
				fd, err = unix.Open(s.packPath(n), unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
			}
		}
		if err != nil {
			return 0, 0, s.ioErr("create pack", &os.PathError{Op: "open", Path: s.packPath(n), Err: err})
		}
		s.nextPack++
		s.active = &pack{n: n, f: os.NewFile(uintptr(fd), s.packPath(n))}
		s.packs[n] = s.active
		if old != nil {
			s.maybeRemovePack(old)
		}
	}
	p := s.active
	if err := s.keepFree(int64(len(data))); err != nil {
		return 0, 0, err
	}
	if len(data) > 0 {
		w, err := p.f.WriteAt(data, p.size)
		if err != nil {
			if w > 0 {
				p.f.Truncate(p.size)
			}
			return 0, 0, s.ioErr("write pack", err)
		}
	}
	off = p.size
	p.size += int64(len(data))
	return p.n, off, nil
}

// openPack returns pack n open for reading. s.mu is held.
func (s *Store) openPack(n uint64) (*pack, error) {
	p := s.packs[n]
	if p == nil {
		p = &pack{n: n}
		s.packs[n] = p
	}
	if p.f == nil {
		fd, err := unix.Open(s.packPath(n), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, s.ioErr("open pack", &os.PathError{Op: "open", Path: s.packPath(n), Err: err})
		}
		p.f = os.NewFile(uintptr(fd), s.packPath(n))
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil {
			p.size = max(p.size, st.Size)
		}
	}
	return p, nil
}

// readPacked reads at off of the packed data meta points at, as ReadAt
// does (io.EOF past its end). s.mu is held on entry and exit and released
// during the read.
func (s *Store) readPacked(meta *nodeMeta, b []byte, off int64) (int, error) {
	if off >= meta.PackLen {
		return 0, io.EOF
	}
	p, err := s.openPack(meta.Pack)
	if err != nil {
		return 0, err
	}
	want := b[:min(int64(len(b)), meta.PackLen-off)]
	at := meta.PackOff + off
	p.users++
	s.mu.Unlock()
	k, err := p.f.ReadAt(want, at)
	s.mu.Lock()
	p.users--
	s.maybeRemovePack(p)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("staging %s: pack %d ends before a file in it: %w", s.dir, p.n, io.ErrUnexpectedEOF)
	}
	if err == nil && len(want) < len(b) {
		err = io.EOF
	}
	return k, err
}

// packedReader reads one packed file's data; Close ends the read.
type packedReader struct {
	s *Store
	p *pack
	*io.SectionReader
	closed bool
}

func (r *packedReader) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.p.users--
		r.s.maybeRemovePack(r.p)
	}
	return nil
}

// openPacked returns a reader of the packed data meta points at. s.mu is
// held.
func (s *Store) openPacked(meta nodeMeta) (io.ReadCloser, error) {
	p, err := s.openPack(meta.Pack)
	if err != nil {
		return nil, err
	}
	if p.size < meta.PackOff+meta.PackLen {
		return nil, fmt.Errorf("staging %s: pack %d ends before a file in it: %w", s.dir, p.n, io.ErrUnexpectedEOF)
	}
	p.users++
	return &packedReader{s: s, p: p, SectionReader: io.NewSectionReader(p.f, meta.PackOff, meta.PackLen)}, nil
}

// loadPacks checks the packed files after replay: each pack they use
// must hold their data (a file whose pack is gone or short is emptied,
// with a log line), and pack files no live file uses are removed.
// s.mu need not be held (Open).
func (s *Store) loadPacks() error {
	for _, p := range s.packs {
		p.live = 0
	}
	for id, n := range s.nodes {
		if !n.isReg() || n.Pack == 0 {
			continue
		}
		p, err := s.openPack(n.Pack)
		if err == nil && p.size < n.PackOff+n.PackLen {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			s.opts.Logf("staging %s: data of file id %d is missing (pack %d: %v): it is empty now", s.dir, id, n.Pack, err)
			n.Pack, n.PackOff, n.PackLen, n.size = 0, 0, 0, 0
			f, err := s.createData(id)
			if err != nil {
				return err
			}
			f.Close()
			continue
		}
		p.live++
		n.size = n.PackLen
		s.nextPack = max(s.nextPack, n.Pack+1)
	}
	names, err := os.ReadDir(filepath.Join(s.dir, "packs"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("staging packs: %w", err)
	}
	for _, e := range names {
		n, err := strconv.ParseUint(e.Name(), 16, 64)
		if err != nil || n == 0 {
			os.Remove(filepath.Join(s.dir, "packs", e.Name()))
			continue
		}
		s.nextPack = max(s.nextPack, n+1)
		if p := s.packs[n]; p == nil || p.live == 0 {
			if p != nil && p.f != nil {
				p.f.Close()
			}
			delete(s.packs, n)
			os.Remove(filepath.Join(s.dir, "packs", e.Name()))
		}
	}
	for n, p := range s.packs {
		if p.live == 0 {
			delete(s.packs, n)
		}
	}
	return nil
}

// closePacks closes the pack files (Close). s.mu is held.
func (s *Store) closePacks() {
	for _, p := range s.packs {
		if p.f != nil {
			p.f.Close()
			p.f = nil
		}
	}
}

// memRoom reports whether k more bytes may be kept in memory: within
// memMax, and (checked with statfs once the bytes since the last check
// reach half of what was free) within what the staging filesystem can
// still take, so a full filesystem fails the write, not the close.
// s.mu is held.
func (s *Store) memRoom(k int64) bool {
	if s.memBytes+k > memMax {
		return false
	}
	if s.room < k {
		var st unix.Statfs_t
		if err := unix.Statfs(s.dir, &st); err != nil {
			return false
		}
		s.room = (int64(st.Bavail)*int64(st.Bsize)-s.opts.KeepFree)/2 - s.memBytes
		if s.room < k {
			s.room = 0
			return false
		}
	}
	s.room -= k
	return true
}

// keepFree fails with ENOSPC when writing k more bytes of file data would
// leave less than Options.KeepFree free on the staging filesystem (asked
// with statfs once the bytes since the last check reach half of what was
// left above KeepFree). Without KeepFree it always passes: the
// filesystem itself says ENOSPC. s.mu is held.
func (s *Store) keepFree(k int64) error {
	if s.opts.KeepFree <= 0 {
		return nil
	}
	if s.diskRoom < k {
		var st unix.Statfs_t
		if err := unix.Statfs(s.dir, &st); err != nil {
			return nil // not knowing is no reason to refuse
		}
		s.diskRoom = (int64(st.Bavail)*int64(st.Bsize) - s.opts.KeepFree) / 2
		if s.diskRoom < k {
			s.diskRoom = 0
			return s.ioErr("write", syscall.ENOSPC)
		}
	}
	s.diskRoom -= k
	return nil
}
