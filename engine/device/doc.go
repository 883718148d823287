// Package device is the tape device model of tapefs: what a tape drive and a
// media changer can do, described in terms of the SCSI stream (SSC) and media
// changer (SMC) command sets.
//
// It is a leaf package. The engine programs against the Drive and Changer
// interfaces; the virtual tape library (package vtape) and real hardware over
// SG_IO (package sgio) implement them. Both pass the shared conformance suite
// in package devicetest, so behaviour that works on vtape works on hardware.
//
// The doc comments of this package are the contract: which position follows
// each call, which errors are permanent, and what early warning means. Errors
// are returned wrapped; callers test them with errors.Is against the sentinel
// errors in errors.go.
//
// Positions: a tape holds a sequence of logical objects, each either a record
// (a block of data) or a filemark. Objects are numbered from 0 at beginning
// of tape (BOT). A tape file is the run of records between two filemarks;
// files are numbered from 0. End of data (EOD) is the position after the last
// written object. Writing at position P discards every object at and after P.
//
// Early warning (logical end of medium, LEOM) is a point before the physical
// end of the medium (EOM). Writes after LEOM still succeed but report
// ErrEarlyWarning so the writer can close its archive; at EOM, writes fail
// with ErrEndOfMedium and nothing is written.
package device
