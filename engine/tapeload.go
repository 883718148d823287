// The tape loader shared by backup and restore: gets a given tape into
// a job's drive.

package engine

import (
	"context"
	"fmt"
	"time"

	"tapefs/catalog"
	"tapefs/engine/device"
)

// DefaultMediaRecheck is how often a job waiting for a tape looks at the
// drive again when Options.MediaRecheck is 0.
const DefaultMediaRecheck = 5 * time.Second

// mediaRecheck is the interval of Options.MediaRecheck.
func (e *Engine) mediaRecheck() time.Duration {
	if e.opts.MediaRecheck > 0 {
		return e.opts.MediaRecheck
	}
	return DefaultMediaRecheck
}

// loadTape gets tape m into the drive, to write or to read it: from the
// library, or for a standalone drive by asking the operator and waiting.
func (j *driveJob) loadTape(ctx context.Context, m catalog.Media) error {
	if j.ch != nil {
		return j.loadLabel(ctx, m.LabelText)
	}
	asked := false
	for {
		li, err := j.readLabel(ctx)
		if err == nil && li.UUID == m.UUID {
			return nil
		}
		if !asked {
			j.logf("insert tape %s into drive %s (waiting)", m.LabelText, j.cfg.Name)
			asked = true
		}
		if err == nil {
			_ = j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Unload(ctx) })
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for tape %s in drive %s: %w", m.LabelText, j.cfg.Name, ctx.Err())
		case <-time.After(j.e.mediaRecheck()):
		}
	}
}
