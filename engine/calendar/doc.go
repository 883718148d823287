// Package calendar parses and evaluates systemd-style calendar events and
// time spans, the two small languages of media pool configuration: a pool's
// allocation policy may be a calendar event ("weekly", "mon..fri 18:00") and
// its retention policy a time span ("7days", "2 weeks").
//
// The syntax and the meaning follow systemd.time(7), as Proxmox Backup
// Server uses it for tape media pools; systemd-analyze(1) (commands
// "calendar" and "timespan") serves as the test oracle. Calendar events
// cover the years 1970 to 2199, as in systemd.
//
// It is a leaf package with no dependencies beyond the standard library;
// engine/config validates configuration with it and the engine evaluates
// allocation and retention with it. All functions are pure and safe for
// concurrent use; an *Event is immutable after ParseEvent returns.
package calendar
