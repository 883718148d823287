// The tape loader shared by backup and restore: gets a given tape into
// a job's drive.

package engine

import (
	"context"
	"errors"
	"fmt"

	"tapefs/catalog"
	"tapefs/engine/device"
)

// loadTape gets tape m into the drive, to write or to read it, from the
// library. A tape not in the library, or for a standalone drive a tape not
// in the drive, is a mediaNeeded error with the request to the operator
// (see waitForMedia).
func (j *driveJob) loadTape(ctx context.Context, m catalog.Media) error {
	if j.ch != nil {
		err := j.loadLabel(ctx, m.LabelText)
		if errors.Is(err, ErrNotFound) {
			return needMedia(fmt.Sprintf("insert tape %s into changer %s", m.LabelText, j.ch.Name), err)
		}
		return err
	}
	li, err := j.readLabel(ctx)
	if err == nil && li.UUID == m.UUID {
		return nil
	}
	if err == nil {
		// Another tape: out with it, so the operator can put in the
		// right one.
		_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Unload(ctx) })
		err = fmt.Errorf("drive %s holds tape %s", j.cfg.Name, li.LabelText)
	}
	return needMedia(fmt.Sprintf("insert tape %s into drive %s", m.LabelText, j.cfg.Name), err)
}
