// Package catalog is the tapefs metadata store: a Badger key/value database
// in the state directory that answers every metadata question without
// touching tape. It holds the media inventory (which tapes exist, their label,
// pool, media set, status and location); the chunk index, snapshots and file
// trees join it in the same key space.
//
// Layering: catalog sits below engine (cmd → fusefs → engine → catalog) and
// imports only the standard library, Badger and google/uuid. It knows nothing
// about drives or the on-tape format; the engine decides what to record.
//
// # Concurrency and durability
//
// A catalog directory is used by one read-write Catalog at a time, or by any
// number of read-only ones; Open fails with ErrLocked otherwise, in this
// process or another. A Catalog is safe for concurrent use. Writes are
// serialized and each returns only after Badger has synced it (SyncWrites),
// so a write that returned survives a crash or power loss. After an unclean
// shutdown the next read-write Open replays Badger's write-ahead log; a
// read-only Open cannot and fails with ErrNeedsRecovery until that happened.
//
// # Key schema
//
// Keys are byte strings in namespaces that carry the schema version, so a
// future schema can live beside the current one during a migration:
//
//	tapefs/schema-version    decimal ASCII schema version ("1")
//	v1/media/<uuid>          media record of one tape; <uuid> in canonical
//	                         lower-case text form
//	v1/label/<label-text>    label reference: which media UUID carries
//	                         <label-text> (raw text, unique)
//	v1/set/                  reserved: media sets
//	v1/chunk/                reserved: chunk index (digest → media, file,
//	                         record)
//	v1/snap/                 reserved: snapshots
//	v1/tree/                 reserved: snapshot file trees
//
// The label index is maintained in the same transaction as the media record,
// so a label text names at most one tape.
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
//
// The chunk index will use compact binary values behind the same format byte
// scheme, since it holds millions of entries.
//
// Dump writes the whole key space as text in key order; it is the basis for
// comparing a catalog rebuilt from tape with the live one.
//
// # Resources
//
// Badger runs with a 16 MiB memtable (two at most), no block cache, no
// compression and 16 MiB value log files; see the comment on memTableSize
// for the reasoning. Every value stays in the LSM tree, so the value log
// needs no garbage collection.
package catalog
