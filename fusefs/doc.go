// Package fusefs is the FUSE tree of tapefs: a thin adapter that shows the
// engine's drives, changers, media, pools and jobs as directories and files,
// and turns writes to control files into tapefs commands. It holds no tape
// logic: every listing is served from configuration, catalog and the
// engine's cached device status (never from a device), and every control
// file runs the CLI command of the same name through a Runner that the
// command layer supplies, so arguments, options and error messages are
// those of the CLI.
//
// Layering: cmd/tapefs → fusefs → engine. fusefs imports go-fuse's fs API;
// the engine knows nothing about FUSE.
//
// Errors cross into the kernel through one function, Errno. Browse trees
// are read-only: every mutating operation on them returns EROFS, because
// the mount as a whole is writable (control files now, pools' incoming/
// trees later) and the kernel cannot answer for them.
//
// Inode numbers are a 64-bit FNV-1a hash of the node's path in the tree
// (plus, for changer slot entries, what the slot holds, so a slot that
// changes between symlink and file gets a new inode). They are stable
// across lookups and daemon restarts; collisions are improbable, not
// impossible. Snapshot trees (snapshots.go) take their numbers from
// catalog ids instead: the snapshot's id, the entry's directory and its
// rank there, so that a directory's entries are numbered in tape order.
// Their nodes are immutable and cached by the kernel for an hour; file
// content is read through the engine's snapshot reader.
package fusefs
