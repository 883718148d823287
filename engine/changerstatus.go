package engine

import "strconv"

// ChangerStatusColumns are the columns of a changer's status as
// `tapefs changer status` and a changer's status file in the mount show
// it, one row per element (ChangerEntry.Cells).
var ChangerStatusColumns = []string{"entry-kind", "entry-id", "changer-id", "loaded-slot"}

// Cells are the element's row under ChangerStatusColumns: the loaded slot
// is empty but for a drive holding a tape.
func (c ChangerEntry) Cells() []string {
	loaded := ""
	if c.LoadedSlot != 0 {
		loaded = strconv.Itoa(c.LoadedSlot)
	}
	return []string{c.Kind, strconv.Itoa(c.ID), c.LabelText, loaded}
}
