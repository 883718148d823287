// Package output renders command results the way proxmox-tape does: box-drawn
// tables for people (--output-format text) and JSON for scripts (json,
// json-pretty). It is shared by the tapefs, pmt and pmtx commands and knows
// nothing about tapes.
package output
