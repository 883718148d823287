// Package policy holds the rules of tapefs media pools, as the reference
// (tape-backup.rst, "Media Pools") states them: the media set allocation
// policy, the retention policy, the events that start a new media set, the
// choice of the tape to write, the expiry of media sets and the protection
// of tapes a restore is reading. Every rule is a pure function over plain
// data (Pool, Set, Media) with the time passed in, so the engine decides
// and tests check each rule with a table and a fixed clock.
//
// # Layering
//
// The package sits inside the engine: the engine converts catalog
// inventory records and changer state into Media and Set values, calls
// StartWrite and NextTape, and carries out the decision. policy imports
// only engine/config (for the parsed allocation and retention policies)
// and, through it, engine/calendar; never the catalog or a device.
//
// # Rules
//
// A media set is "a group of continuously written tapes". "Media sets are
// the basic unit for restore tasks, i.e. you need all tapes in the set to
// restore the media set content", and "data is fully deduplicated inside a
// media set".
//
// Media Set Allocation Policy ("how long backup jobs can append data to a
// media set"), and when the retention period of a set starts (SetExpireTime):
//
//   - continue ("Try to use the current media set"): jobs append to the
//     current set until one of the events below starts a new one.
//     "Retention period starts with the existence of a newer media set":
//     at the creation time of the next set of the pool.
//   - always ("Always create a new media set"): every job starts a new set.
//     "Retention period starts with the creation time of the media set."
//   - a calendar event ("Create a new set when the specified Calendar Event
//     triggers", e.g. weekly): a job starts a new set when the event
//     elapsed since the current set's creation time. "Retention period
//     starts when the calendar event triggers": at the first elapse after
//     the set's creation time.
//
// "Additionally, the following events may allocate a new media set"
// (StartWrite):
//
//   - "Required tape is offline (and you use a tape library)": the last
//     member of the current set is still writable but not online in the
//     library. With a standalone drive the operator inserts it.
//   - The current set contains damaged or retired tapes.
//   - "Media pool encryption changed": the key fingerprint in the set's
//     labels differs from the pool's.
//   - "Database consistency errors, e.g. if the inventory does not contain
//     required media info, or contain conflicting infos": the set lists a
//     tape the inventory lacks, or a tape that claims another set or
//     sequence number, or a tape claims the set but is not listed.
//   - A forced new set (a backup run with a new set requested), and a pool
//     that has no current set yet, or whose current set is closed (it was
//     exported: "you manually trigger new set creation by running a backup
//     job with the --export option").
//
// These are checked before the allocation policy, so the log names the
// reason that matters most.
//
// Retention Policy ("how long we want to keep the data"), from the start
// above (SetExpireTime, Expired):
//
//   - overwrite ("Always overwrite media"): the set expires at the start.
//   - a time span ("Protect data for the duration specified", e.g. 2 weeks):
//     the set expires at start + span.
//   - keep ("Never overwrite data"): the set never expires.
//
// A tape may be overwritten only when its set expired, it is neither
// damaged nor retired, and no restore job is reading its set (Media.Locked).
//
// Tape choice (NextTape), "a backup job only uses tapes from that pool":
// first the tape the set ends on, if it is still writable; then empty tapes
// labelled for the pool, oldest label first; then tapes of expired sets of
// the pool, oldest set first; then tapes labelled without a pool ("You may
// omit the --pool argument to allow the tape to be used by any pool"),
// oldest label first. With a library, only tapes online in it count.
//
// Media set names (SetName) come from the pool's template, strftime-like
// with %id% for the set UUID; without a template a set is named by its
// creation time, as in "Wed Jan 13 13:55:55 2021".
//
// These rules match Proxmox Backup Server's media pool (start of a write
// session, media allocation, media expiry), except where the reference is
// more specific: a set under a calendar policy starts its retention when
// the event triggers even if a newer set was started earlier for another
// reason, which protects its data longer.
package policy
