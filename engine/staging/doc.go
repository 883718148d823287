// Package staging is the durable staging store behind a pool's incoming/
// tree: a small POSIX-like filesystem (directories, regular files,
// symlinks, hard links, device nodes and FIFOs as metadata, modes, owners,
// nanosecond times, extended attributes) kept in the state directory.
//
// Layout of one store directory:
//
//	journal      metadata: an append-only log of framed binary records
//	data/XX/ID   the bytes of regular file ID (XX = ID mod 256, hex)
//	lock         flock'ed by the one process that has the store open
//
// File data is staged by inode id, never by its incoming path, so every
// legal path (up to 4,095 bytes below a group) can be stored. The whole
// tree lives in memory and every metadata change is appended to the
// journal with write(2) before the operation returns: a change that
// returned survives a crash of the process (the page cache keeps it).
// The exception is a file being written (created, or changed since its
// last Flush), which a crash removes anyway: its creation and changes to
// its own metadata (chmod, utimens, xattrs) reach the journal ahead of
// the next other change, at the latest with the record its Flush
// writes, so copying in a small file costs one journal write. The data
// files of new files are created ahead by a goroutine.
// Power loss is survived only for what was fsync'ed: with Options.Sync the
// journal and the file's data are fsync'ed when a written file is flushed
// (close); otherwise only at compaction. The journal is rewritten compactly
// at Open and after a commit released its entries.
//
// A regular file that was being written when the process died (opened for
// writing and not yet closed) is removed at the next Open: a file whose
// close() returned is complete, and nothing half-written stays.
//
// A commit freezes one group (a top-level directory) with Freeze: a
// consistent copy of its metadata; the data files of the frozen regular
// files are kept until the freeze is released, even if they are unlinked
// meanwhile. Frozen.Release removes from the tree exactly the entries that
// did not change since the freeze, so files written during a commit stay.
//
// Layering: engine/staging is a leaf below engine (it imports only
// engine/format for the snapshot path limits); fusefs adapts it to FUSE
// and the engine backs up from a Frozen view.
package staging
