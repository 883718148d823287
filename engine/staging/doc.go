// Package staging is the durable staging store behind a pool's incoming/
// tree: a small POSIX-like filesystem (directories, regular files,
// symlinks, hard links, device nodes and FIFOs as metadata, modes, owners,
// nanosecond times, extended attributes) kept in the state directory.
//
// Layout of one store directory:
//
//	journal      metadata: an append-only log of framed binary records
//	packs/N      append-only pack files: the data of small files
//	data/XX/ID   the bytes of regular file ID (XX = ID mod 256, hex)
//	             when it is not packed
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
// writes, so copying in a small file costs one journal write.
//
// Small files are packed: a created (or O_TRUNC-opened) file keeps its
// data in memory while it is written sequentially from offset 0 and
// stays at most PackMax (1 MiB); its Flush appends the data to the
// current pack file with one write, and the record that marks the file
// complete says where it is (pack, offset, length). So a small file
// costs no file creation or removal on the staging filesystem. A file
// that grows past PackMax, is written out of order, fallocated or
// fsync'ed while in memory moves to a data file of its own; a packed
// file that is changed later (written in place, truncated) is first
// copied up into its own data file and its pack copy dropped. Reads of
// packed files, and the commit's reads through Frozen.Open, read the
// pack. A pack is never rewritten: each counts the files whose data it
// holds (including unlinked ones a freeze still pins), and once none is
// left (typically when a commit emptied the groups whose files it held)
// it is removed, or truncated to zero if it is the pack being appended
// to. A new pack is started past 64 MiB, so space comes back in pieces
// that size when files are removed a few at a time; pack space held by
// a few live files waits for them. Open removes packs no file uses
// (the unreferenced tail of a write cut short by a crash goes with its
// pack). The data in memory is bounded (64 MiB over all files being
// written) and taken off the free space Statfs reports; a write that
// would not fit what the staging filesystem has left goes to a data file
// of its own, so a full filesystem still fails the write(2).
//
// A write that fails (the staging filesystem is full) marks its file as
// having lost data: the Flush (close) and Sync of a handle writing it fail
// with the same error, so the file stays incomplete (left out of commits,
// removed at the next Open) until the lost range is truncated away or
// the file is emptied. Options.KeepFree keeps file data off the last part
// of the filesystem (the catalog's room, when it shares it).
//
// Power loss is survived only for what was fsync'ed: with Options.Sync the
// journal and the file's data (or its pack) are fsync'ed when a written
// file is flushed (close); otherwise only at compaction. The journal is
// rewritten compactly at Open and after a commit released its entries.
//
// A regular file that was being written when the process died (opened for
// writing, changed, and not yet flushed by its writer or closed) is
// removed at the next Open: a file whose close() returned is complete, and
// nothing half-written stays. "Being written" is per open handle (File):
// each handle that changes the file starts a write session, which its
// Flush or its Close ends; the file is complete when no session is left.
// The FUSE layer calls Flush only for the writer's own close(2), not for
// a copy of the descriptor that a forked child closes.
//
// A commit freezes one group (a top-level directory) with Freeze: a
// consistent copy of its metadata, without the files being written; the
// data of the frozen regular files (data files, pack space) is kept until
// the freeze is released, even if they are unlinked meanwhile. Reading a
// frozen file that changed since the freeze (written in place, truncated)
// fails with ErrChanged rather than return data that is not the frozen
// file's. Frozen.Release removes from the tree exactly the entries that
// did not change since the freeze and are not being written, so files
// written during a commit, or still open for writing, stay.
//
// Layering: engine/staging is a leaf below engine (it imports only
// engine/format for the snapshot path limits); fusefs adapts it to FUSE
// and the engine backs up from a Frozen view.
package staging
