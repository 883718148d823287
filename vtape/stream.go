package vtape

import "time"

// Stream directions of the back-hitch model.
const (
	streamIdle  = 0
	streamWrite = 1
	streamRead  = 2
)

// streamState is the drive buffer model that decides when the tape has to
// stop and reposition (a back-hitch). While streaming, the tape moves at
// least at the slowest speed-matching rate: writing drains the buffer at that
// rate, reading fills it. When a slow host lets the buffer run empty
// (writing) or full (reading), the tape stops: one back-hitch. A stopped
// drive starts again once RestartBytes have accumulated (writing) or been
// drained (reading). The host's pace is measured with the wall clock between
// calls.
type streamState struct {
	Dir       int     `json:"dir"`
	Streaming bool    `json:"streaming"`
	Level     float64 `json:"level"`
	LastNanos int64   `json:"last"`
}

// reset stops the stream: positioning, filemarks and unloads empty the
// buffer and leave the tape stopped without a back-hitch being counted.
func (s *streamState) reset() { *s = streamState{} }

// feed accounts for n bytes moved by the host at time now in direction dir
// and reports whether the drive back-hitched since the previous call.
func (s *streamState) feed(t *Timing, dir int, n int64, now time.Time) bool {
	nowNanos := now.UnixNano()
	if s.Dir != dir {
		*s = streamState{Dir: dir, LastNanos: nowNanos}
	}
	gap := float64(nowNanos-s.LastNanos) / 1e9
	if gap < 0 {
		gap = 0
	}
	s.LastNanos = nowNanos
	buf := float64(t.BufferBytes)
	hitch := false
	switch dir {
	case streamWrite:
		if s.Streaming {
			s.Level -= gap * t.MinRate
			if s.Level < 0 {
				hitch = true
				s.Streaming = false
				s.Level = 0
			}
		}
		// A full buffer blocks the host; the data waits in the host.
		s.Level = min(s.Level+float64(n), buf)
		if !s.Streaming && s.Level >= float64(t.RestartBytes) {
			s.Streaming = true
		}
	case streamRead:
		if s.Streaming {
			s.Level += gap * t.MinRate
			if s.Level > buf {
				hitch = true
				s.Streaming = false
				s.Level = buf
			}
		}
		// An empty buffer makes the host wait for the tape.
		s.Level = max(s.Level-float64(n), 0)
		if !s.Streaming && buf-s.Level >= float64(t.RestartBytes) {
			s.Streaming = true
		}
	}
	return hitch
}
