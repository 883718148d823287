package engine

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
)

// StatusField is one row of a drive's status as `tapefs status` and a
// drive's status file in the mount show it: the name, the text the table
// shows, and the value the JSON form carries (numbers as numbers: sizes in
// bytes, times in seconds).
type StatusField struct {
	Name  string
	Text  string
	Value any
}

// Fields returns the rows of the status in the order the table shows
// them. Rows that do not apply (compression without a tape, the position
// of an unloaded tape, the simulation of a real drive) are left out; the
// JSON form has the same rows. cleanHint is what the cleaning-required
// row tells the user to do when the drive asks for cleaning.
func (s *DriveStatusInfo) Fields(cleanHint string) []StatusField {
	st := s.Status
	var f []StatusField
	add := func(name, text string, v any) { f = append(f, StatusField{name, text, v}) }
	add("blocksize", strconv.FormatUint(uint64(st.BlockSize), 10), st.BlockSize)
	if st.Density != "" {
		add("density", st.Density, st.Density)
	}
	if st.MediumPresent {
		add("compression", strconv.FormatBool(st.Compression), st.Compression)
		add("buffer-mode", strconv.FormatBool(st.BufferMode), st.BufferMode)
		add("encryption", strconv.FormatBool(st.Encryption), st.Encryption)
	}
	add("status", s.Flags, s.Flags)
	if st.Alerts != 0 {
		add("alert-flags", st.Alerts.String(), st.Alerts.String())
	}
	clean := "no"
	if s.CleaningRequired {
		clean = "yes: " + cleanHint
	}
	add("cleaning-required", clean, s.CleaningRequired)
	switch {
	case st.Loaded && st.PositionUnknown:
		// JSON null: the drive does not report its position.
		add("file-number", "unknown (the drive does not report its position)", nil)
		add("block-number", "unknown", nil)
	case st.Loaded:
		add("file-number", strconv.FormatUint(st.Position.File, 10), st.Position.File)
		add("block-number", strconv.FormatUint(st.Position.Record, 10), st.Position.Record)
	}
	if s.Manufactured != "" {
		add("manufactured", s.Manufactured, s.Manufactured)
	}
	if v := s.Volume; v != nil {
		add("bytes-written", humanize.IBytes(v.LifetimeBytesWritten), v.LifetimeBytesWritten)
		add("bytes-read", humanize.IBytes(v.LifetimeBytesRead), v.LifetimeBytesRead)
		passes := v.BeginningOfMediumPasses + v.MiddleOfTapePasses
		add("medium-passes", strconv.FormatUint(passes, 10), passes)
	}
	if sim := st.Sim; sim != nil {
		add("simulated-tape-time", time.Duration(sim.TapeSeconds*float64(time.Second)).Round(time.Millisecond).String(), sim.TapeSeconds)
		add("back-hitches", strconv.FormatUint(sim.BackHitches, 10), sim.BackHitches)
	}
	if s.Job != "" {
		add("job", s.Job, s.Job)
	}
	return f
}

// MarshalJSON writes the status as one object with the rows of Fields, in
// their order: the same shape for `tapefs status --output-format json`
// and a drive's status.json in the mount.
func (s DriveStatusInfo) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range s.Fields("") {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
