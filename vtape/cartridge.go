package vtape

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"tapefs/engine/device"
	"tapefs/internal/fileutil"
)

// Cartridge files. data holds the payloads of all records back to back;
// index holds one fixed-size entry per object (record or filemark).
const (
	dataFile  = "data"
	indexFile = "index"
	metaFile  = "meta.json"
	entrySize = 48
)

// Object kinds and flags of an index entry.
const (
	kindRecord   = 1
	kindFilemark = 2

	flagEncrypted = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorruptEntry: an index entry fails its checksum or is malformed.
var errCorruptEntry = errors.New("corrupt index entry")

// entry is one index entry. On disk (little endian):
//
//	0  offset    u64  payload offset in the data file
//	8  length    u32  stored payload length (ciphertext for encrypted)
//	12 kind      u8   1 record, 2 filemark
//	13 flags     u8   bit 0 encrypted
//	14 reserved  u16  zero
//	16 keyID     [8]  key identifier of an encrypted record
//	24 file      u64  number of filemarks before this object
//	32 fileStart u64  object number of the first object of this file
//	40 dataCRC   u32  CRC-32C of the stored payload
//	44 entryCRC  u32  CRC-32C of bytes 0..43
type entry struct {
	Offset    uint64
	Length    uint32
	Kind      uint8
	Flags     uint8
	KeyID     [8]byte
	File      uint64
	FileStart uint64
	DataCRC   uint32
}

func (e *entry) encode() []byte {
	b := make([]byte, entrySize)
	binary.LittleEndian.PutUint64(b[0:], e.Offset)
	binary.LittleEndian.PutUint32(b[8:], e.Length)
	b[12] = e.Kind
	b[13] = e.Flags
	copy(b[16:24], e.KeyID[:])
	binary.LittleEndian.PutUint64(b[24:], e.File)
	binary.LittleEndian.PutUint64(b[32:], e.FileStart)
	binary.LittleEndian.PutUint32(b[40:], e.DataCRC)
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
	return b
}

// decodeEntry parses one index entry, checking its checksum and fields.
func decodeEntry(b []byte) (entry, error) {
	if len(b) != entrySize {
		return entry{}, fmt.Errorf("%w: %d bytes", errCorruptEntry, len(b))
	}
	if crc32.Checksum(b[:44], castagnoli) != binary.LittleEndian.Uint32(b[44:]) {
		return entry{}, fmt.Errorf("%w: checksum mismatch", errCorruptEntry)
	}
	e := entry{
		Offset:    binary.LittleEndian.Uint64(b[0:]),
		Length:    binary.LittleEndian.Uint32(b[8:]),
		Kind:      b[12],
		Flags:     b[13],
		File:      binary.LittleEndian.Uint64(b[24:]),
		FileStart: binary.LittleEndian.Uint64(b[32:]),
		DataCRC:   binary.LittleEndian.Uint32(b[40:]),
	}
	copy(e.KeyID[:], b[16:24])
	switch {
	case b[14] != 0 || b[15] != 0:
		return entry{}, fmt.Errorf("%w: reserved bytes set", errCorruptEntry)
	case e.Kind != kindRecord && e.Kind != kindFilemark:
		return entry{}, fmt.Errorf("%w: kind %d", errCorruptEntry, e.Kind)
	case e.Flags&^flagEncrypted != 0:
		return entry{}, fmt.Errorf("%w: flags %#x", errCorruptEntry, e.Flags)
	case e.Kind == kindFilemark && (e.Length != 0 || e.Flags != 0):
		return entry{}, fmt.Errorf("%w: filemark with payload", errCorruptEntry)
	case e.Length > maxStoredBytes:
		return entry{}, fmt.Errorf("%w: length %d", errCorruptEntry, e.Length)
	case e.Offset > 1<<62:
		return entry{}, fmt.Errorf("%w: offset %d", errCorruptEntry, e.Offset)
	}
	return e, nil
}

// maxStoredBytes bounds a stored payload: the largest record plus the
// encryption overhead.
const maxStoredBytes = maxRecordBytes + 64

func (e *entry) end() uint64 { return e.Offset + uint64(e.Length) }

// follows reports whether e can be the object right after prev (object
// number n of e).
func (e *entry) follows(prev *entry, n uint64) bool {
	if prev == nil {
		return e.Offset == 0 && e.File == 0 && e.FileStart == 0
	}
	file, start := prev.File, prev.FileStart
	if prev.Kind == kindFilemark {
		file, start = file+1, n
	}
	return e.Offset == prev.end() && e.File == file && e.FileStart == start
}

// cartridgeMeta are the lifetime counters kept in the cartridge memory.
type cartridgeMeta struct {
	LoadCount       uint64 `json:"load-count"`
	LifetimeWritten uint64 `json:"lifetime-bytes-written"`
	LifetimeRead    uint64 `json:"lifetime-bytes-read"`
	LastWritten     uint64 `json:"last-load-bytes-written"`
	LastRead        uint64 `json:"last-load-bytes-read"`
	BOMPasses       uint64 `json:"bom-passes"`
	MOTPasses       uint64 `json:"mot-passes"`
	WriteErrors     uint64 `json:"unrecovered-write-errors"`
	ReadErrors      uint64 `json:"unrecovered-read-errors"`
}

func cartridgeDir(lib, barcode string) string {
	return filepath.Join(lib, cartridgesDir, barcode)
}

func createCartridgeFiles(lib, barcode string) error {
	dir := cartridgeDir(lib, barcode)
	if err := os.MkdirAll(dir, fileutil.PrivateDir); err != nil {
		return fmt.Errorf("create cartridge %s: %w", barcode, err)
	}
	for _, name := range []string{dataFile, indexFile} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, fileutil.PrivateFile)
		if err != nil {
			return fmt.Errorf("create cartridge %s: %w", barcode, err)
		}
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, metaFile)); errors.Is(err, os.ErrNotExist) {
		return saveMeta(dir, &cartridgeMeta{})
	}
	return nil
}

// loadMeta reads the cartridge memory in dir. A missing memory is a fresh
// one. A memory that cannot be read or decoded (a power loss, a failed MAM
// chip) does not keep the cartridge from loading, as a real drive reads a
// tape whose chip failed: the memory is rebuilt from what the cartridge
// holds (its lifetime bytes written are the bytes on it; the other counters
// restart at zero), and the rebuild is logged.
func loadMeta(dir string) (*cartridgeMeta, error) {
	var m cartridgeMeta
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return &m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err == nil {
		return &m, nil
	}
	m = cartridgeMeta{}
	fi, serr := os.Stat(filepath.Join(dir, dataFile))
	if serr != nil {
		return nil, fmt.Errorf("cartridge memory of %s is unreadable (%v) and the cartridge cannot be read: %w", dir, err, serr)
	}
	m.LifetimeWritten = uint64(fi.Size())
	slog.Warn("cartridge memory unreadable; rebuilt from the cartridge", "cartridge", filepath.Base(dir), "dir", dir, "err", err, "bytes-on-tape", fi.Size())
	return &m, nil
}

// saveMeta replaces the cartridge memory in dir durably (fsync of the file
// and the directory), so the memory a drive wrote survives power loss.
func saveMeta(dir string, m *cartridgeMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cartridge memory: %w", err)
	}
	return fileutil.Replace(dir, metaFile, append(b, '\n'), 0o600)
}

// cartridge is the open medium of a drive: the data and index files and the
// in-memory summary of their consistent prefix. Only the drive that holds
// the cartridge opens it.
type cartridge struct {
	dir         string
	data, index *os.File
	count       uint64 // objects
	dataEnd     int64  // end of the last object's payload
	flushed     int64  // data offset up to which writeback was started
	last        entry  // valid when count > 0
	// [raStart, raEnd) is the data the last read-ahead asked for.
	raStart, raEnd int64
}

// openCartridge opens the cartridge in dir and recovers a consistent tape
// from whatever an interrupted writer left: see recover.
func openCartridge(dir string) (*cartridge, error) {
	data, err := os.OpenFile(filepath.Join(dir, dataFile), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open cartridge: %w", err)
	}
	index, err := os.OpenFile(filepath.Join(dir, indexFile), os.O_RDWR, 0)
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("open cartridge: %w", err)
	}
	c := &cartridge{dir: dir, data: data, index: index}
	if err := c.recover(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// recover drops trailing index entries that are incomplete, fail their
// checksum, do not follow their predecessor, point past the end of the
// data file or whose payload fails its checksum, then cuts both files to
// the surviving objects. Entries before the tail are trusted: a damaged
// one surfaces as a medium error when it is read.
func (c *cartridge) recover() error {
	ifi, err := c.index.Stat()
	if err != nil {
		return fmt.Errorf("recover cartridge: %w", err)
	}
	dfi, err := c.data.Stat()
	if err != nil {
		return fmt.Errorf("recover cartridge: %w", err)
	}
	n := uint64(ifi.Size() / entrySize)
	for n > 0 {
		e, err := c.readEntry(n - 1)
		ok := err == nil && int64(e.end()) <= dfi.Size()
		if ok && n >= 2 {
			// A damaged predecessor is a medium error for its reader,
			// not a reason to drop a good last entry.
			prev, perr := c.readEntry(n - 2)
			ok = perr != nil || e.follows(&prev, n-1)
		} else if ok {
			ok = e.follows(nil, 0)
		}
		if ok && e.Kind == kindRecord {
			_, perr := c.payload(e)
			ok = perr == nil
		}
		if ok {
			c.last = e
			break
		}
		n--
	}
	c.count = n
	c.dataEnd = 0
	if n > 0 {
		c.dataEnd = int64(c.last.end())
	}
	if ifi.Size() != int64(n)*entrySize {
		if err := c.index.Truncate(int64(n) * entrySize); err != nil {
			return fmt.Errorf("recover cartridge: %w", err)
		}
	}
	if dfi.Size() != c.dataEnd {
		if err := c.data.Truncate(c.dataEnd); err != nil {
			return fmt.Errorf("recover cartridge: %w", err)
		}
	}
	return nil
}

func (c *cartridge) readEntry(i uint64) (entry, error) {
	b := make([]byte, entrySize)
	if _, err := c.index.ReadAt(b, int64(i)*entrySize); err != nil {
		return entry{}, fmt.Errorf("read index entry %d: %w", i, err)
	}
	return decodeEntry(b)
}

// entry returns object i (< count); a damaged entry wraps ErrMediumError.
func (c *cartridge) entry(i uint64) (entry, error) {
	if i+1 == c.count {
		return c.last, nil
	}
	e, err := c.readEntry(i)
	if err != nil {
		return entry{}, fmt.Errorf("object %d: %v: %w", i, err, device.ErrMediumError)
	}
	return e, nil
}

// payload reads and checks the stored payload of e.
func (c *cartridge) payload(e entry) ([]byte, error) {
	return c.payloadInto(e, nil)
}

// payloadInto is payload into buf when it is large enough (a new slice
// otherwise), and reads ahead of it.
func (c *cartridge) payloadInto(e entry, buf []byte) ([]byte, error) {
	b := buf
	if len(b) < int(e.Length) {
		b = make([]byte, e.Length)
	}
	b = b[:e.Length]
	c.readAhead(int64(e.Offset))
	if _, err := c.data.ReadAt(b, int64(e.Offset)); err != nil && !(errors.Is(err, io.EOF) && e.Length == 0) {
		return nil, fmt.Errorf("read payload at %d: %v: %w", e.Offset, err, device.ErrMediumError)
	}
	if crc32.Checksum(b, castagnoli) != e.DataCRC {
		return nil, fmt.Errorf("payload at %d fails its checksum: %w", e.Offset, device.ErrMediumError)
	}
	return b, nil
}

// numFilemarks is the number of filemarks on the tape.
func (c *cartridge) numFilemarks() uint64 {
	if c.count == 0 {
		return 0
	}
	if c.last.Kind == kindFilemark {
		return c.last.File + 1
	}
	return c.last.File
}

// fileOf is the file number of object i (i == count is EOD).
func (c *cartridge) fileOf(i uint64) (uint64, error) {
	if i >= c.count {
		return c.numFilemarks(), nil
	}
	e, err := c.entry(i)
	if err != nil {
		return 0, err
	}
	return e.File, nil
}

// startOfFile returns the object number where file f starts (the object
// after the f-th filemark); ok is false when the tape has fewer than f
// filemarks.
func (c *cartridge) startOfFile(f uint64) (uint64, bool, error) {
	if f == 0 {
		return 0, true, nil
	}
	if f > c.numFilemarks() {
		return 0, false, nil
	}
	var ferr error
	i := sort.Search(int(c.count+1), func(i int) bool {
		fi, err := c.fileOf(uint64(i))
		if err != nil && ferr == nil {
			ferr = err
		}
		return fi >= f
	})
	return uint64(i), true, ferr
}

// position describes object p (0..count).
func (c *cartridge) position(p uint64) (device.Position, error) {
	if c.count == 0 {
		return device.Position{}, nil
	}
	if p >= c.count {
		if c.last.Kind == kindFilemark {
			return device.Position{Object: c.count, File: c.last.File + 1}, nil
		}
		return device.Position{Object: c.count, File: c.last.File, Record: c.count - c.last.FileStart}, nil
	}
	e, err := c.entry(p)
	if err != nil {
		return device.Position{Object: p}, err
	}
	return device.Position{Object: p, File: e.File, Record: p - e.FileStart}, nil
}

// offsetOf is the data offset of object p (the head position before it).
func (c *cartridge) offsetOf(p uint64) int64 {
	if p >= c.count {
		return c.dataEnd
	}
	e, err := c.entry(p)
	if err != nil {
		return c.dataEnd
	}
	return int64(e.Offset)
}

// truncate discards object p and everything after it. The index is cut
// first so that an interruption leaves only unreferenced data behind.
func (c *cartridge) truncate(p uint64) error {
	if p >= c.count {
		return nil
	}
	var newLast entry
	end := int64(0)
	if p > 0 {
		e, err := c.readEntry(p - 1)
		if err != nil {
			return fmt.Errorf("object %d: %v: %w", p-1, err, device.ErrMediumError)
		}
		newLast, end = e, int64(e.end())
	}
	if err := c.index.Truncate(int64(p) * entrySize); err != nil {
		return fmt.Errorf("erase from object %d: %w", p, err)
	}
	if err := c.data.Truncate(end); err != nil {
		return fmt.Errorf("erase from object %d: %w", p, err)
	}
	c.count, c.dataEnd, c.last = p, end, newLast
	return nil
}

// appendObject writes an object at the end of the tape: payload first, then
// its index entry, so an entry never points at data that is not there.
func (c *cartridge) appendObject(kind, flags uint8, keyID [8]byte, payload []byte) error {
	e := entry{Offset: uint64(c.dataEnd), Length: uint32(len(payload)), Kind: kind, Flags: flags, KeyID: keyID,
		DataCRC: crc32.Checksum(payload, castagnoli)}
	if c.count > 0 {
		e.File, e.FileStart = c.last.File, c.last.FileStart
		if c.last.Kind == kindFilemark {
			e.File, e.FileStart = e.File+1, c.count
		}
	}
	if len(payload) > 0 {
		if _, err := c.data.WriteAt(payload, c.dataEnd); err != nil {
			return fmt.Errorf("write object %d: %w", c.count, err)
		}
	}
	if _, err := c.index.WriteAt(e.encode(), int64(c.count)*entrySize); err != nil {
		return fmt.Errorf("write object %d: %w", c.count, err)
	}
	c.count++
	c.dataEnd += int64(len(payload))
	c.last = e
	c.startWriteback()
	return nil
}

// writebackChunk is how much written data a cartridge lets pile up in the
// page cache before it starts writing it to disk in the background.
const writebackChunk = 16 << 20

// startWriteback starts asynchronous writeback of the data written since
// the last call, every writebackChunk bytes. A real drive streams to the
// medium as it goes; without this the whole file would wait in the page
// cache for the fsync at the next filemark, which then stalls the writer.
// Durability still comes only from sync.
func (c *cartridge) startWriteback() {
	if c.flushed > c.dataEnd {
		c.flushed = c.dataEnd // the tape was overwritten at an earlier position
	}
	if n := c.dataEnd - c.flushed; n >= writebackChunk {
		// Best effort: an error here shows again at the next sync.
		_ = unix.SyncFileRange(int(c.data.Fd()), c.flushed, n, unix.SYNC_FILE_RANGE_WRITE)
		c.flushed = c.dataEnd
	}
}

// readaheadChunk is how far ahead of a read the cartridge asks the kernel
// for its data. A real drive streams into its buffer ahead of the host;
// without this every record would wait for the disk while the host is
// busy with the last one.
const readaheadChunk = 16 << 20

// readAhead starts reading the data after offset off in the background
// (posix_fadvise WILLNEED), when less than half a chunk of the last
// read-ahead is left.
func (c *cartridge) readAhead(off int64) {
	if off >= c.raStart && off+readaheadChunk/2 <= c.raEnd {
		return
	}
	c.raStart, c.raEnd = off, min(off+2*readaheadChunk, c.dataEnd)
	if c.raEnd > off {
		_ = unix.Fadvise(int(c.data.Fd()), off, c.raEnd-off, unix.FADV_WILLNEED) // a hint
	}
}

// sync makes every written object durable.
func (c *cartridge) sync() error {
	if err := c.data.Sync(); err != nil {
		return fmt.Errorf("sync cartridge data: %w", err)
	}
	if err := c.index.Sync(); err != nil {
		return fmt.Errorf("sync cartridge index: %w", err)
	}
	return nil
}

func (c *cartridge) close() error {
	var errs []error
	if c.data != nil {
		errs = append(errs, c.data.Close())
	}
	if c.index != nil {
		errs = append(errs, c.index.Close())
	}
	c.data, c.index = nil, nil
	return errors.Join(errs...)
}
