package engine

import (
	"context"

	"github.com/google/uuid"

	"tapefs/catalog"
)

// ExportResult is what ExportMediaSet did.
type ExportResult struct {
	// Set is the exported media set.
	Set uuid.UUID `json:"media-set-uuid"`
	// Labels are its tapes, by sequence number; each is now in an
	// import/export slot (or was already).
	Labels []string `json:"media"`
}

// ExportMediaSet exports the current media set of pool (its newest open
// set, the one backups append to): every tape of the set goes to a free
// import/export slot of the pool's library (a tape in the pool's drive is
// unloaded first), and the set is closed, so the next backup starts a new
// one. It is the step `backup --export-media-set` runs after a backup, on
// its own. The job runs on the pool's drive. A failure part way leaves the
// tapes moved so far in their import/export slots and the set open;
// running it again moves the rest. Errors: not found (no such pool, no
// open media set, a tape not in the library), invalid (pool without a
// drive, drive without a changer), busy (the drive runs another job), no
// space (no free import/export slot), device errors.
func (e *Engine) ExportMediaSet(ctx context.Context, pool string) (ExportResult, error) {
	p, err := e.PoolConfig(pool)
	if err != nil {
		return ExportResult{}, err
	}
	if p.Drive == "" {
		return ExportResult{}, invalidf("pool %s has no drive: set one with `tapefs pool update %s --drive NAME`", pool, pool)
	}
	j, cat, release, err := e.useLibrary(ctx, p.Drive, "export-media-set "+pool)
	if err != nil {
		return ExportResult{}, err
	}
	defer release()
	sets, err := cat.ListMediaSets(pool)
	if err != nil {
		return ExportResult{}, err
	}
	var set *catalog.MediaSet
	for i := len(sets) - 1; i >= 0; i-- {
		if !sets[i].Closed {
			set = &sets[i]
			break
		}
	}
	if set == nil {
		return ExportResult{}, notFoundf("pool %s has no open media set to export: its sets were exported or closed already", pool)
	}
	labels, err := j.exportSet(ctx, cat, *set)
	res := ExportResult{Set: set.UUID, Labels: labels}
	if err != nil {
		return res, err
	}
	j.logf("exported media set %s of pool %s (%d tapes)", set.UUID, pool, len(res.Labels))
	return res, nil
}

// exportSet moves every tape of set to an import/export slot, in sequence
// order, and then closes the set. It returns the labels moved so far.
func (j *driveJob) exportSet(ctx context.Context, cat *catalog.Catalog, set catalog.MediaSet) ([]string, error) {
	if err := j.needChanger(); err != nil {
		return nil, err
	}
	labels := []string{}
	for _, id := range set.Media {
		if id == uuid.Nil {
			continue // a sequence number whose tape the catalog does not know
		}
		m, err := cat.GetMedia(id)
		if err != nil {
			return labels, err
		}
		if err := j.export(ctx, m.LabelText); err != nil {
			return labels, err
		}
		labels = append(labels, m.LabelText)
	}
	return labels, cat.UpdateMediaSet(set.UUID, func(s *catalog.MediaSet) error { s.Closed = true; return nil })
}
