// Package format is the on-tape format of tapefs: the record (block) layer,
// the content header that opens every tape file, the media label (file 0),
// the media-set label (file 1), and the three archive types a backup writes
// after them: chunk archives (deduplicated data chunks), snapshot archives
// (the directory tree of a snapshot with chunk references) and catalog
// archives (this tape's part of the catalog). The byte layouts are
// specified in docs/tape-format.md; FormatVersion names the version this
// package writes.
//
// Layering: format sits under the engine and above the device contract. It
// imports engine/device (to read and write records and filemarks on a
// device.Drive), google/uuid and the standard library, and nothing else of
// tapefs. The archive writers and readers sit on top of FileWriter and
// FileReader; what goes into the archives, and when, is the backup code's
// business (the engine).
//
// A tape file is written by one FileWriter and read by one FileReader. The
// writer turns a byte stream into records of one fixed size (the block
// size), each with a header carrying a sequence number, the payload length,
// flags and a CRC-32C of the payload, and finishes the file with one
// filemark. The reader checks every record and reports damage as errors
// wrapping ErrCorrupt; an archive that was closed early (FileWriter.Abort)
// reads back as its data followed by ErrIncomplete.
//
// Neither FileWriter nor FileReader is safe for concurrent use; like the
// device.Drive under them, they belong to the goroutine that owns the drive.
package format
