package catalog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// A full filesystem must never crash a process that has the catalog open.
//
// Badger writes its memtable write-ahead log, its value log and new tables
// (memtable flushes, compactions) through writable memory mappings of
// files it makes with ftruncate, which leaves them sparse: the blocks are
// taken from the filesystem when a page is first written. When the
// filesystem has no block left, that write is a SIGBUS, which the Go
// runtime cannot turn into an error ("fatal error: fault"), and a
// read-write badger.Open on a full filesystem dies the same way (it
// writes the header of a new write-ahead log). Badger has no option to
// allocate those files up front.
//
// So the catalog keeps room for Badger itself:
//
//   - writeRoom (at most RoomNeeded) must be free on the catalog's
//     filesystem before every write, and openRoom before Badger opens
//     read-write or closes (which flushes the memtables into tables):
//     both follow what the write-ahead logs hold; a write
//     (or an Open) that would start with less fails with an error that
//     wraps syscall.ENOSPC and names the filesystem, and Badger never
//     touches a page it cannot get;
//   - a reserve file (reserveSize, fallocated, reserveName) holds that
//     room and more while the filesystem fills up: when less than needed
//     is free, the reserve is removed and the catalog goes on in the room
//     it held; it is made again once there is room for it and for Badger;
//   - the catalog's own neighbours in the state directory (the staging
//     store of incoming/) leave KeepFree free (engine), so they cannot
//     take the room the catalog needs, nor the room the reserve gave
//     back.
//
// Other programs writing to the same filesystem can still take the last
// blocks between the check and Badger's write; the reserve makes that a
// window of one write instead of the whole time the filesystem is full.

// openRoom is the free space Badger needs to open the catalog in dir
// read-write, or to close it: the tables the memtables in its write-ahead
// logs are flushed to (about as large as what the logs hold past their
// header page: the blocks they have allocated), and headroom for the
// header of a new write-ahead log and the manifest.
func openRoom(dir string) int64 {
	room := int64(256 << 10)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	for _, p := range logs {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			room += max(0, st.Blocks*512-4096)
		}
	}
	return room
}

// writeRoom is the free space the catalog in dir needs before a write:
// the room to close and open it again (openRoom) after the write-ahead
// log grew by what one write adds (a transaction is at most 15% of
// memTableSize; a bulk write checks again every roomCheckEvery bytes),
// while the table of a memtable being flushed (memTableSize at most) is
// written before its log is removed.
func writeRoom(dir string) int64 {
	return openRoom(dir) + memTableSize + 2*roomCheckEvery
}

// RoomNeeded is the most writeRoom can ask: the write-ahead logs of all
// memtables full (a full memtable waits for its flush in its log).
const RoomNeeded = numMemtables*memTableSize + 256<<10 + memTableSize + 2*roomCheckEvery

// reserveSize is the size of the reserve file: given back when the
// filesystem is full, it lets the catalog write reserveSize more (the
// chunk index and trees of the commit that frees the staging space,
// media destroy, ...).
const reserveSize = 64 << 20

// KeepFree is the free space the catalog's neighbours on its filesystem
// (the staging store of incoming/) leave to it: its room and the room
// its reserve holds, so that a commit on a filesystem they filled can
// still write its catalog records, and the room a reserve gives back
// (when another program filled the filesystem) goes to the catalog.
const KeepFree = RoomNeeded + reserveSize

// reserveName is the reserve file in the catalog directory.
const reserveName = "space-reserve"

// ErrNoRoom: the catalog's filesystem has less free than it needs even
// without the reserve; nothing was written. It wraps syscall.ENOSPC.
var ErrNoRoom = fmt.Errorf("no room for the catalog: %w", syscall.ENOSPC)

// space keeps the catalog's room: the reserve file and the free-space
// check before Badger writes. Its methods are called with writeMu held
// (or before the database opens), so one at a time.
type space struct {
	dir    string
	logger *slog.Logger
	// statfs reports the free bytes of the filesystem of dir (a
	// variable for tests).
	statfs func(dir string) (int64, error)
	// since counts the bytes queued by a bulk write since the last check
	// (wrote).
	since int64
}

// roomCheckEvery is how much a bulk write (a tree, a chunk index) queues
// between two checks of the room: far less than RoomNeeded, so the room
// never runs out within one.
const roomCheckEvery = 4 << 20

// wrote counts n more bytes queued by a bulk write (writeMu held) and
// checks the room again every roomCheckEvery bytes: a long bulk write
// stops with the room error rather than run Badger out of blocks.
func (s *space) wrote(n int) error {
	s.since += int64(n)
	if s.since < roomCheckEvery {
		return nil
	}
	s.since = 0
	return s.ensure(writeRoom(s.dir))
}

func newSpace(dir string, logger *slog.Logger) *space {
	return &space{dir: dir, logger: logger, statfs: freeBytes}
}

// freeBytes is what an unprivileged writer can still allocate on the
// filesystem of dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func (s *space) reservePath() string { return filepath.Join(s.dir, reserveName) }

// ensure makes sure need bytes are free for Badger, giving back the
// reserve when they are not, and makes the reserve again when there is
// room for it and RoomNeeded. It fails (wrapping ErrNoRoom) when the room
// is not there even without the reserve.
func (s *space) ensure(need int64) error {
	free, err := s.statfs(s.dir)
	if err != nil {
		// Not knowing is no reason to refuse a write.
		return nil
	}
	if free >= RoomNeeded+reserveSize {
		s.makeReserve()
		return nil
	}
	if free >= need {
		return nil
	}
	if s.releaseReserve() {
		if free, err = s.statfs(s.dir); err != nil || free >= need {
			return nil
		}
	}
	return noRoom(s.dir, free, need)
}

// noRoom is the error of the catalog in dir finding free bytes where it
// needs need.
func noRoom(dir string, free, need int64) error {
	return fmt.Errorf("the filesystem of the catalog %s is full (%d MiB free, the catalog needs %d MiB): free space there: %w",
		dir, free>>20, need>>20, ErrNoRoom)
}

// makeReserve allocates the reserve file if it is missing or short. Best
// effort: a filesystem without fallocate gets none (the check before each
// write still holds).
func (s *space) makeReserve() {
	p := s.reservePath()
	if fi, err := os.Stat(p); err == nil && fi.Size() >= reserveSize {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, reserveSize); err != nil {
		f.Close()
		os.Remove(p)
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSPC) {
			s.logger.Warn("catalog: cannot reserve room for the catalog", "file", p, "err", err)
		}
	}
}

// reserved is the space the reserve file holds (0 without one).
func (s *space) reserved() int64 {
	var st unix.Stat_t
	if unix.Stat(s.reservePath(), &st) != nil {
		return 0
	}
	return st.Blocks * 512
}

// releaseReserve removes the reserve file and reports whether there was
// one.
func (s *space) releaseReserve() bool {
	p := s.reservePath()
	if _, err := os.Stat(p); err != nil {
		return false
	}
	if err := os.Remove(p); err != nil {
		return false
	}
	s.logger.Warn(fmt.Sprintf("catalog: the filesystem of %s is nearly full: released the catalog's reserve of %d MiB; free space there", s.dir, reserveSize>>20))
	return true
}

// fullOpen is why a read-write Open gave a read-only Catalog: the room
// check failed (err, wrapping ErrNoRoom) and opts are what it was asked
// for, to open read-write once there is room.
type fullOpen struct {
	err  error
	opts Options
}

// openFull opens the catalog read-only when a read-write Open finds less
// than openRoom free on its filesystem even without the reserve: reads
// (listings, restore plans, browsing) work on a full filesystem, writes
// fail with the room error until there is room again, and the first write
// after that reopens the catalog read-write (Catalog.writable). full
// reports whether it handled the Open; when there is room, Open goes on.
// A catalog that cannot be opened read-only (none yet, or a write-ahead
// log to replay) gives the room error.
func openFull(dir string, opts Options) (c *Catalog, err error, full bool) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false // Open says why
	}
	// Without the lock: nothing changes here (another process may hold
	// the catalog); Open's check under the lock gives back the reserve.
	sp := newSpace(dir, logger)
	need := openRoom(dir)
	free, err := sp.statfs(dir)
	if err != nil || free+sp.reserved() >= need {
		return nil, nil, false
	}
	roomErr := fmt.Errorf("open catalog: %w", noRoom(dir, free, need))
	ro := opts
	ro.ReadOnly = true
	c, err = Open(dir, ro)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, err, true
		}
		return nil, fmt.Errorf("%w (and read-only: %v)", roomErr, err), true
	}
	logger.Warn(fmt.Sprintf("catalog: opened read-only: %v", roomErr))
	c.full = &fullOpen{err: roomErr, opts: opts}
	return c, nil, true
}

// readOnlyErr is the error of a write to a read-only catalog: the room
// error when it was opened read-only for want of room. state is held.
func (c *Catalog) readOnlyErr() error {
	if c.full != nil {
		return c.full.err
	}
	return fmt.Errorf("catalog %s: %w", c.dir, ErrReadOnly)
}

// writable reopens a catalog that Open made read-only for want of room
// read-write, once the room is there; called before a write takes the
// state lock for reading. If the read-write Open fails, the catalog is
// opened read-only again (or stays closed if even that fails: ErrClosed).
func (c *Catalog) writable() {
	c.state.RLock()
	full := c.full
	c.state.RUnlock()
	if full == nil {
		return
	}
	c.state.Lock()
	defer c.state.Unlock()
	if c.full == nil || c.db == nil {
		return
	}
	logger := c.full.opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if newSpace(c.dir, logger).ensure(openRoom(c.dir)) != nil {
		return
	}
	_ = c.db.Close()
	_ = c.lock.release()
	c.db = nil
	n, err := Open(c.dir, c.full.opts)
	if err != nil {
		ro := c.full.opts
		ro.ReadOnly = true
		if n, err = Open(c.dir, ro); err != nil {
			return
		}
		n.full = c.full
	}
	c.db, c.lock, c.readOnly, c.space, c.full = n.db, n.lock, n.readOnly, n.space, n.full
}

// lockWrite takes what a write holds (state for reading, writeMu) once
// the catalog can take it: open read-write (reopened when it was opened
// read-only for want of room and the room is back) with writeRoom free.
// unlock releases both. Errors: the room error (wrapping ErrNoRoom),
// ErrReadOnly, ErrClosed.
func (c *Catalog) lockWrite() (unlock func(), err error) {
	c.writable()
	c.state.RLock()
	if c.db == nil {
		c.state.RUnlock()
		return nil, ErrClosed
	}
	if c.readOnly {
		err := c.readOnlyErr()
		c.state.RUnlock()
		return nil, err
	}
	c.writeMu.Lock()
	if err := c.space.ensure(writeRoom(c.dir)); err != nil {
		c.writeMu.Unlock()
		c.state.RUnlock()
		return nil, err
	}
	return func() { c.writeMu.Unlock(); c.state.RUnlock() }, nil
}

// CheckRoom returns nil when the catalog can take writes now, else the
// error a write would fail with (the room error wrapping ErrNoRoom and
// syscall.ENOSPC, ErrReadOnly, ErrClosed). A backup asks before it writes
// to tape: what it writes there could not be indexed, and would be dead
// space written again by the next one.
func (c *Catalog) CheckRoom() error {
	unlock, err := c.lockWrite()
	if err == nil {
		unlock()
	}
	return err
}
