// Package catalog is the tapefs metadata store: a Badger key/value database
// in the state directory that answers every metadata question without
// touching tape. It holds the media inventory (which tapes exist, their label,
// pool, media set, status and location), the media sets, each set's chunk
// index (digest → where the chunk is on tape), and the snapshots with their
// file trees.
//
// Layering: catalog sits below engine (cmd → fusefs → engine → catalog) and
// imports only the standard library, Badger and google/uuid. It knows nothing
// about drives or the on-tape format; the engine decides what to record. File
// tree entries in particular are opaque bytes that the engine encodes and
// decodes.
//
// # Concurrency and durability
//
// A catalog directory is used by one read-write Catalog at a time, or by any
// number of read-only ones; Open fails with ErrLocked otherwise, in this
// process or another. A Catalog is safe for concurrent use. Writes are
// serialized and each returns only after Badger has synced it (SyncWrites),
// so a write that returned survives a crash or power loss. Bulk writes
// (PutChunks, PutSnapshot, DeleteMediaSet) span several Badger transactions;
// each documents what a crash in the middle leaves. After an unclean
// shutdown the next read-write Open removes the log files that power loss
// left shorter than their header (they never held a synced write), replays
// Badger's write-ahead log and removes the partial trees of unfinished
// PutSnapshot calls; a read-only
// Open cannot and fails with ErrNeedsRecovery until that happened.
//
// # Key schema
//
// Keys are byte strings in namespaces that carry the schema version, so a
// future schema can live beside the current one during a migration. <uuid>
// is the canonical lower-case text form, <set16> the 16 raw bytes of a media
// set UUID:
//
//	tapefs/schema-version    decimal ASCII schema version ("2")
//	v1/media/<uuid>          media record of one tape
//	v1/label/<label-text>    label reference: which media UUID carries
//	                         <label-text> (raw text, unique)
//	v1/set/<uuid>            media set record
//	v1/chunk/<set16><digest> chunk index entry; <digest> is the 32-byte
//	                         SHA-256, so a lookup is a point get and a set's
//	                         index is one prefix
//	v1/snap/<uuid>/<name>    snapshot record; <name> is "<group>/<time>"
//	v1/pending/<uuid>/<name> marker of a PutSnapshot that has not finished
//	v1/commit/<set>/<media>/<file>
//	                         a backup's snapshot archive in that tape file
//	                         whose snapshot is not recorded yet (commit.go);
//	                         <file> is 20 decimal digits
//	v2/dir/<set16><hash>     header of one directory listing of the set's
//	                         snapshot trees; <hash> is the 32-byte SHA-256
//	                         of the listing
//	v2/dir/<set16><hash>\x01<first-name>
//	                         one page of that listing, starting at the
//	                         entry <first-name>
//	v2/blob/<set16><hash><part>
//	                         part (4 bytes big endian) of a tree value too
//	                         long to keep in a listing
//
// Snapshot trees are content-addressed (dirtree.go has the layout): a
// directory is stored once per media set however many snapshots hold it
// unchanged, a snapshot record names the hash of its tree's top listing,
// and a path is found one listing page per element. Schema 1 stored every
// entry of every snapshot under v1/tree/<set16><name>\x00...; Open upgrades
// such a catalog in place (tree_v1.go reads the old keys).
//
// The label index is maintained in the same transaction as the media record,
// so a label text names at most one tape. Everything under a media set
// (chunks, snapshots, trees, markers) is found by prefix and removed with
// the set. Directories and blobs no snapshot record of their set reaches
// (left by an unfinished PutSnapshot, or by a replaced snapshot) are swept
// by the put that replaced it, or by the next read-write Open.
//
// Open reads tapefs/schema-version first. A new, empty catalog gets the
// current SchemaVersion. A higher version than this package knows, or a
// non-empty database without the key, is refused with ErrSchema and left
// untouched.
//
// # Value encoding
//
// Every value except the schema version starts with a format byte (1 for
// now); a decoder refuses a format byte it does not know. Format 1 payloads:
//
//   - media record: a JSON object with fields uuid, label, ctime, pool
//     (omitted when empty), set (object with uuid, seq, ctime, pool; omitted
//     when the tape is in no media set), status, location (object with kind,
//     changer, slot, vault; empty ones omitted), bytes_used, updated. Times
//     are RFC 3339 with nanoseconds, in UTC. The decoder refuses unknown
//     fields and trailing data, and validates the entry as PutMedia does.
//     JSON keeps the inventory readable in Dump and cheap to extend: a new
//     field gets a new format byte.
//   - label reference: the 16 bytes of the media UUID.
//   - media set record: JSON with uuid, pool, ctime, media (list of UUIDs by
//     sequence number), closed, last_write.
//   - snapshot record: JSON with set, name, pool, ctime, archives (list of
//     objects with media, file, part), files, bytes, links_counted
//     (true when the tree listings carry link counts; omitted when false),
//     and root (the hex hash of the tree's top listing).
//   - snapshot marker: the format byte alone.
//   - chunk index entry: compact binary, since a set holds millions: the 16
//     bytes of the media UUID, then file, offset and size as minimal
//     unsigned varints (about 25 bytes).
//   - directory header: the number of pages and of entries as unsigned
//     varints; it is written after the pages, so a header means a whole
//     listing.
//   - directory page: entries in name order, each its name (uvarint length
//     and bytes), a flags byte (children, links, blob, no value), the
//     number of names (uvarint, 2 or more, with the links flag), the hash
//     of its own listing (with children), and its value (uvarint length
//     and bytes, up to 8 KiB; or a blob's hash and length). The top listing
//     holds the snapshot root as one entry with an empty name.
//   - blob part: up to 64 KiB of a long value; the value's hash (over
//     "tapefs blob\x00" and the value) is checked when it is read.
//
// Dump writes the whole key space as text in key order; Equal compares two
// catalogs key by key, leaving out fields that a catalog rebuilt from tape
// may legitimately get differently from the live one.
//
// # Chunk lookups
//
// HasChunk is called for every chunk a backup writes. The first call for a
// media set builds an in-memory Bloom filter of the set's digests (10 bits
// per chunk, one key-only scan); misses, the common case for new data, are
// answered from it, and hits are confirmed in Badger. PutChunks keeps the
// filter current; DeleteMediaSet drops it.
//
// # Resources
//
// Badger runs with a 16 MiB memtable (two at most), no block cache, no
// compression and 16 MiB value log files; see the comment on memTableSize
// for the reasoning. Every value stays in the LSM tree, so the value log
// needs no garbage collection.
//
// # A full filesystem
//
// Badger writes through memory mappings of sparse files, which kill the
// process (SIGBUS) when the filesystem has no block left. The catalog
// keeps room for it (space.go): a check before Open, Close and every write
// (every 4 MiB of a bulk write), a reserve file given back when the
// filesystem is full, and a read-only Open when even that is not enough.
// Writes that find no room fail with ErrNoRoom (syscall.ENOSPC); CheckRoom
// asks before a backup writes to tape. KeepFree is what the catalog's
// neighbours on the filesystem leave to it.
package catalog
