// Package engine is the one owner of tapefs's drives, changers, configuration
// and catalog. The command line tool and the FUSE daemon call it; it calls
// engine/device (through an Opener that the command layer supplies, so the
// engine never imports vtape or sgio), engine/format for what goes on tape,
// engine/config for tape.cfg and media-pool.cfg, and catalog for the
// inventory.
//
// Concurrency: every drive and every changer has one owner goroutine that
// runs all operations on that device, one after another, on the engine's own
// context. Callers wait for results on their context; when a caller gives up
// (a FUSE request is interrupted, a CLI is cancelled) the tape operation still
// runs to completion, because a tape must never be left half-positioned by a
// cancelled request. On top of that, a drive is reserved by one job at a time
// (label, clean, backup, ...); a second job on a busy drive waits for it,
// up to a limit, and then fails with an error that matches ErrBusy and says
// which job holds the drive; read-ahead gives the drive up to a job that
// waits (drivewait.go).
package engine
