// Package config reads and writes the tapefs configuration files: tape.cfg
// (tape drives and changers) and media-pool.cfg (media pools), in the
// section-config text format of Proxmox Backup Server:
//
//	changer: sl3
//		path /dev/tape/by-id/scsi-CC2C52
//		export-slots 15,16
//
//	lto: mydrive
//		path /dev/tape/by-id/scsi-12345-sg
//		changer sl3
//		changer-drivenum 1
//
// A section starts with a "type: name" line at the start of a line; its
// properties follow on indented "key value" lines; a blank line ends it.
// Lines whose first non-blank character is '#' are comments. Unknown section
// types, unknown keys and malformed lines are errors that name the file and
// line. Writing keeps the order of sections of each kind and a fixed order of
// keys; comments are not kept when a file is rewritten.
//
// Dir is the configuration directory. Loading needs no lock, because every
// update replaces a file atomically (temporary file, fsync, rename, fsync of
// the directory); updates are serialized across goroutines and processes by
// an exclusive flock(2) on the file ".lock" in the directory, and validate
// the new configuration before anything is written.
//
// The package sits below the engine and the CLI and above the leaf package
// engine/calendar, which it uses to validate the allocation (calendar event)
// and retention (time span) policies of pools.
package config
