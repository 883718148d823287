package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/google/uuid"

	"tapefs/internal/errclass"
)

// Sentinel errors of the catalog contract. Errors returned by this package
// wrap them with context; callers test them with errors.Is.
var (
	// ErrNotFound: the requested entry (media UUID, label text) is not in
	// the catalog.
	ErrNotFound = errclass.New(errclass.NotFound, "not found in catalog")

	// ErrLocked: another Catalog (in this or another process) holds the
	// catalog directory. Stop the other tapefs process, or talk to it.
	ErrLocked = errclass.New(errclass.Busy, "catalog is locked")

	// ErrInvalid: the caller passed an entry that breaks the catalog's rules
	// (empty label text, unknown status, ...). Nothing was written.
	ErrInvalid = errors.New("invalid catalog entry")

	// ErrCorrupt: a stored key or value cannot be decoded, or the indexes
	// disagree. The catalog needs a rebuild from tape.
	ErrCorrupt = errors.New("catalog entry is corrupt")

	// ErrSchema: the catalog was written by a newer tapefs (or is not a
	// tapefs catalog); it is left untouched.
	ErrSchema = errors.New("unsupported catalog schema")

	// ErrReadOnly: a write was attempted on a catalog opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("catalog is opened read-only")

	// ErrNeedsRecovery: a read-only Open found the write-ahead log of a
	// writer that did not close cleanly (crash, power loss). Replaying it
	// needs a read-write Open; the data is intact.
	ErrNeedsRecovery = errors.New("catalog needs recovery")

	// ErrClosed: the Catalog was used after Close.
	ErrClosed = errors.New("catalog is closed")
)

// Badger tuning for a catalog: tens of thousands of media entries now, and
// later millions of chunk index entries of roughly 100 bytes each (a few
// hundred MB of keys and values at most). The defaults of Badger are sized for
// a database server (a 64 MiB memtable times 5, a 256 MiB block cache, 1 GiB
// value log files); a catalog shares the machine with a FUSE daemon and a
// tape spool, so it runs with far less:
//
//   - memTableSize 16 MiB, numMemtables 2: at most ~32 MiB of skiplist arenas.
//     Badger limits one transaction to 15% of the memtable (2.4 MiB, about
//     20,000 small entries); bulk loads use a WriteBatch, which splits.
//   - no compression and no block cache: tables are memory-mapped and read in
//     place, so the kernel's page cache does the caching and the Go heap
//     stays small. Catalog values are short JSON or binary records that
//     compress poorly per 4 KiB block anyway.
//   - indexes and bloom filters of all tables stay in memory (IndexCacheSize
//     0): about 1% of the data size, a few MiB for millions of entries.
//   - valueLogFileSize 16 MiB: values below ValueThreshold (1 MiB, Badger's
//     default) live in the LSM tree, so the value log stays nearly empty
//     and value log garbage collection is never needed.
//   - two compactors (Badger refuses one) and no metrics goroutines.
//
// Open replays at most one memtable write-ahead log (16 MiB), so it stays fast
// after a crash, and close does not compact L0.
const (
	memTableSize     = 16 << 20
	numMemtables     = 2
	valueLogFileSize = 16 << 20
	numCompactors    = 2
)

// Options configure Open.
type Options struct {
	// ReadOnly opens the catalog for reading only. Several read-only
	// Catalogs may share a directory; none may coexist with a writer. The
	// catalog must already exist.
	ReadOnly bool

	// Logger receives Badger's warnings and errors (its informational
	// chatter goes to debug level). Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock that stamps Media.Updated. Nil means time.Now.
	Now func() time.Time

	// TreeLink, when set, tells PutSnapshot which tree entries are hard
	// links: it returns the path of the entry that the entry encoded in
	// value is a hard link to, or "" for any other entry, and an error
	// for a value it cannot read. PutSnapshot then stores with every
	// linked entry its number of names (TreeEntry.Links), so that readers
	// get link counts without scanning the tree. The catalog stays blind
	// to the engine's encoding otherwise. It must be safe for concurrent
	// use.
	TreeLink func(value []byte) (string, error)
}

// Catalog is the tapefs metadata store, backed by one Badger database in a
// directory that it holds exclusively (or shared, read-only).
//
// All methods are safe for concurrent use. Reads run in Badger read
// transactions and see a consistent snapshot. Writes are serialized by
// writeMu, so a read-modify-write (UpdateMedia) never loses a concurrent
// update, and every write transaction is synced to disk before it returns.
type Catalog struct {
	dir      string
	readOnly bool
	now      func() time.Time
	lock     *dirLock
	treeLink func([]byte) (string, error) // Options.TreeLink
	space    *space                       // room on the filesystem (space.go); nil when read-only
	full     *fullOpen                    // opened read-only for want of room (space.go); guarded by state

	// state guards db against Close: methods hold it for reading while they
	// use db; Close takes it for writing and sets db to nil.
	state sync.RWMutex
	db    *badger.DB

	// writeMu serializes write transactions and bulk writes (WriteBatch).
	// Lock order: state, then writeMu, then filtersMu.
	writeMu sync.Mutex

	// filtersMu guards filters, the chunk filters of the media sets that
	// HasChunk was asked about. A filter is built and changed only with
	// writeMu held (see chunkFilter), and dropped with its set.
	filtersMu sync.RWMutex
	filters   map[uuid.UUID]*chunkFilter

	// beforeSnapshotRecord, when set (by tests), runs in PutSnapshot after
	// the tree is synced and before the snapshot record is written; an
	// error stops PutSnapshot there, as a crash would.
	beforeSnapshotRecord func() error
}

// Open opens (creating it if needed, unless opts.ReadOnly) the catalog in
// directory dir and checks its schema version.
//
// Errors: one wrapping ErrLocked when another Catalog, in this process or
// another, holds dir; ErrSchema when the catalog was written by a newer tapefs
// or is not a tapefs catalog; fs.ErrNotExist when opts.ReadOnly and there is no
// catalog in dir; ErrNeedsRecovery when opts.ReadOnly and the last writer did
// not close the catalog cleanly. Close must be called to release the directory.
func Open(dir string, opts Options) (*Catalog, error) {
	if !opts.ReadOnly {
		if c, err, full := openFull(dir, opts); full {
			return c, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.ReadOnly {
		if _, err := os.Stat(lockPath(dir)); err != nil {
			return nil, fmt.Errorf("open catalog %s read-only: no catalog there: %w", dir, fs.ErrNotExist)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}

	lock, err := acquireDirLock(dir, opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	if err := removeUnsyncedLogs(dir, opts.ReadOnly, logger); err != nil {
		_ = lock.release()
		return nil, err
	}
	var sp *space
	if !opts.ReadOnly {
		sp = newSpace(dir, logger)
		if err := sp.ensure(openRoom(dir)); err != nil {
			_ = lock.release()
			return nil, fmt.Errorf("open catalog: %w", err)
		}
	}

	bopts := badger.DefaultOptions(dir).
		WithReadOnly(opts.ReadOnly).
		WithSyncWrites(true).
		WithLogger(badgerLogger{logger.With("component", "catalog", "dir", dir)}).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithValueLogFileSize(valueLogFileSize).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(numCompactors).
		WithMetricsEnabled(false).
		// Writes are serialized by Catalog.writeMu, so Badger's optimistic
		// conflict tracking would only cost memory.
		WithDetectConflicts(false)
	db, err := badger.Open(bopts)
	if err != nil {
		_ = lock.release()
		if isBadgerLockError(err) {
			return nil, fmt.Errorf("catalog %s is in use by another process (%v): %w", dir, err, ErrLocked)
		}
		if opts.ReadOnly && strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error()) {
			return nil, fmt.Errorf("catalog %s was not closed cleanly; open it read-write once to replay its log: %w", dir, ErrNeedsRecovery)
		}
		return nil, fmt.Errorf("open catalog %s: %w", dir, err)
	}
	c := &Catalog{dir: dir, readOnly: opts.ReadOnly, now: now, lock: lock, db: db, treeLink: opts.TreeLink, space: sp}
	if err := c.checkSchema(); err != nil {
		_ = c.Close()
		return nil, err
	}
	if !opts.ReadOnly {
		if err := c.finishPendingSnapshots(); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("catalog %s: remove unfinished snapshots: %w", dir, err)
		}
	}
	return c, nil
}

// logHeaderSize is the header Badger writes at the start of every memtable
// write-ahead log (*.mem) and value log (*.vlog) file before any entry: an
// 8-byte key id and a 12-byte IV.
const logHeaderSize = 20

// removeUnsyncedLogs removes the write-ahead and value log files in dir that
// are shorter than their header. Badger creates such a file (ftruncate to
// its full size, header written through mmap) and syncs it only with the
// first write it syncs, so a power loss before that sync leaves it empty or
// short; Badger then refuses to open the catalog ("Create a new file"). A
// synced write makes the file at least a header plus an entry long, so a
// file shorter than the header holds nothing that was ever synced, and
// removing it loses no write that returned. Badger creates new log files
// after the highest id it finds. A read-only Open cannot repair, and
// reports ErrNeedsRecovery instead.
func removeUnsyncedLogs(dir string, readOnly bool, logger *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("open catalog %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || (filepath.Ext(name) != ".mem" && filepath.Ext(name) != ".vlog") {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open catalog %s: %w", dir, err)
		}
		if fi.Size() >= logHeaderSize {
			continue
		}
		if readOnly {
			return fmt.Errorf("catalog %s was cut off by a crash or power loss (%s holds %d bytes); open it read-write once to repair it: %w", dir, name, fi.Size(), ErrNeedsRecovery)
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("open catalog %s: remove unsynced log %s: %w", dir, name, err)
		}
		logger.Warn("catalog: removed a log file that a crash or power loss left without any synced entry", "dir", dir, "file", name, "size", fi.Size())
	}
	return nil
}

// isBadgerLockError recognises Badger's own directory lock failure, which it
// reports without a wrapped error value. tapefs takes its own lock first
// (dirLock), so this only fires when a non-tapefs Badger process holds the
// directory.
func isBadgerLockError(err error) bool {
	return strings.Contains(err.Error(), "Cannot acquire directory lock")
}

// Dir returns the directory the catalog lives in.
func (c *Catalog) Dir() string { return c.dir }

// Close flushes and closes the database and releases the directory lock.
// Calls after the first return nil. Operations running concurrently with
// Close finish first; later ones fail with ErrClosed.
func (c *Catalog) Close() error {
	c.state.Lock()
	defer c.state.Unlock()
	if c.db == nil {
		return nil
	}
	if c.space != nil {
		if err := c.space.ensure(openRoom(c.dir)); err != nil {
			// Closing flushes the memtable into a new table: with no
			// room that write would crash the process. Its write-ahead
			// log is synced, so the next Open replays it instead.
			c.db = nil
			_ = c.lock.release()
			return fmt.Errorf("close catalog %s: left for the next open to replay: %w", c.dir, err)
		}
	}
	err := c.db.Close()
	c.db = nil
	if lerr := c.lock.release(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close catalog %s: %w", c.dir, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (c *Catalog) view(fn func(txn *badger.Txn) error) error {
	c.state.RLock()
	defer c.state.RUnlock()
	if c.db == nil {
		return ErrClosed
	}
	return c.db.View(fn)
}

// update runs fn in a write transaction, serialized with all other writes,
// and commits it (synced, as the database runs with SyncWrites).
func (c *Catalog) update(fn func(txn *badger.Txn) error) error {
	unlock, err := c.lockWrite()
	if err != nil {
		return err
	}
	defer unlock()
	return c.db.Update(fn)
}

// checkSchema verifies the schema version key, writing it into a new, empty
// catalog.
func (c *Catalog) checkSchema() error {
	var (
		raw   []byte
		empty bool
	)
	err := c.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(schemaKey))
		if errors.Is(err, badger.ErrKeyNotFound) {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			it.Rewind()
			empty = !it.Valid()
			return nil
		}
		if err != nil {
			return err
		}
		raw, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("read catalog schema version: %w", err)
	}
	if raw == nil {
		if !empty {
			return fmt.Errorf("catalog %s has entries but no schema version; it was not written by tapefs: %w", c.dir, ErrSchema)
		}
		if c.readOnly {
			return fmt.Errorf("catalog %s is empty and has no schema version; open it read-write once: %w", c.dir, ErrSchema)
		}
		err := c.update(func(txn *badger.Txn) error {
			return txn.Set([]byte(schemaKey), encodeSchemaVersion(SchemaVersion))
		})
		if err != nil {
			return fmt.Errorf("write catalog schema version: %w", err)
		}
		return nil
	}
	v, err := decodeSchemaVersion(raw)
	if err != nil {
		return fmt.Errorf("catalog %s: schema version: %w", c.dir, err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("catalog %s has schema version %d, newer than this tapefs supports (%d); upgrade tapefs: %w",
			c.dir, v, SchemaVersion, ErrSchema)
	}
	if v == 1 {
		if c.readOnly {
			return fmt.Errorf("catalog %s has schema version 1; open it read-write once to upgrade it: %w", c.dir, ErrNeedsRecovery)
		}
		if err := c.migrateV1(); err != nil {
			return fmt.Errorf("catalog %s: upgrade from schema version 1: %w", c.dir, err)
		}
	}
	return nil
}

// bulk runs fn with the database for writes that span several transactions
// (WriteBatch), serialized with all other writes. Every batch fn flushes is
// synced (SyncWrites), so when fn returns its writes are durable.
func (c *Catalog) bulk(fn func(db *badger.DB) error) error {
	unlock, err := c.lockWrite()
	if err != nil {
		return err
	}
	defer unlock()
	return fn(c.db)
}

// deletePrefix removes every key that starts with prefix, in batches, and
// returns how many there were. The caller holds writeMu.
func deletePrefix(db *badger.DB, prefix []byte) (int, error) {
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := wb.Flush(); err != nil {
		return 0, err
	}
	return n, nil
}
