package format

import (
	"testing"
	"time"
)

// TestClampTime checks the bounds of ClampTime.
func TestClampTime(t *testing.T) {
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	for _, tc := range []struct{ in, want time.Time }{
		{time.Unix(0, 0), time.Unix(0, 0)},
		{first, first},
		{first.Add(-1), first},
		{last, last},
		{last.Add(1), last},
		{time.Unix(1<<62, 0), last},
		{time.Unix(-1<<62, 0), first},
	} {
		if got := ClampTime(tc.in); !got.Equal(tc.want) {
			t.Errorf("ClampTime(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
