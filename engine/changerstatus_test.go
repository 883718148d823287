package engine

import (
	"slices"
	"testing"
)

// TestChangerEntryCells checks the rows of a changer's status, shared by
// the CLI table and the mount's status file.
func TestChangerEntryCells(t *testing.T) {
	for _, tt := range []struct {
		e    ChangerEntry
		want []string
	}{
		{ChangerEntry{Kind: "drive", ID: 0, LabelText: "TEST01L8", LoadedSlot: 3}, []string{"drive", "0", "TEST01L8", "3"}},
		{ChangerEntry{Kind: "drive", ID: 1}, []string{"drive", "1", "", ""}},
		{ChangerEntry{Kind: "slot", ID: 12, LabelText: "CLN001CU"}, []string{"slot", "12", "CLN001CU", ""}},
	} {
		got := tt.e.Cells()
		if !slices.Equal(got, tt.want) || len(got) != len(ChangerStatusColumns) {
			t.Errorf("%+v: cells %q, want %q under %q", tt.e, got, tt.want, ChangerStatusColumns)
		}
	}
}
