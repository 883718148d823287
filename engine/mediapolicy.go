// The engine's side of the policy package: pools, media sets and tapes
// as allocation and retention see them, and dropping an expired set.

package engine

import (
	"errors"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/policy"
)

func policyPool(p config.Pool) (policy.Pool, error) {
	alloc, err := p.AllocationPolicy()
	if err != nil {
		return policy.Pool{}, invalidf("pool %s: %v", p.Name, err)
	}
	ret, err := p.RetentionPolicy()
	if err != nil {
		return policy.Pool{}, invalidf("pool %s: %v", p.Name, err)
	}
	return policy.Pool{Name: p.Name, Allocation: alloc, Retention: ret, EncryptKey: p.Encrypt}, nil
}

// policyMedia lists the tapes a pool may use (its own and unassigned ones)
// for the policy package.
func (e *Engine) policyMedia(cat *catalog.Catalog, pool string) ([]policy.Media, error) {
	all, err := cat.ListMedia(catalog.MediaFilter{})
	if err != nil {
		return nil, err
	}
	locked := e.lockedSets()
	var out []policy.Media
	for _, m := range all {
		if m.EffectivePool() != pool && m.EffectivePool() != "" {
			continue
		}
		pm := policy.Media{
			UUID: m.UUID, Label: m.LabelText, Pool: m.EffectivePool(), Ctime: m.Ctime,
			Status: m.Status, Online: m.Location.Kind == catalog.LocationOnline,
		}
		if m.Set != nil {
			pm.Set, pm.Seq = m.Set.UUID, m.Set.Seq
			pm.Locked = locked[m.Set.UUID]
		}
		out = append(out, pm)
	}
	return out, nil
}

// dropMediaSet removes an expired media set from the catalog and frees its
// tapes for reuse.
func (e *Engine) dropMediaSet(cat *catalog.Catalog, id uuid.UUID) error {
	media, err := cat.ListMedia(catalog.MediaFilter{Set: id})
	if err != nil {
		return err
	}
	for _, m := range media {
		err := cat.UpdateMedia(m.UUID, func(mm *catalog.Media) error {
			mm.Set, mm.BytesUsed = nil, 0
			if mm.Status == catalog.StatusFull || mm.Status == catalog.StatusUnknown {
				mm.Status = catalog.StatusWritable
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := cat.DeleteMediaSet(id); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	// Commit records of the set's tapes: the tapes are written over.
	recs, err := cat.ListCommits(id, uuid.Nil)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := cat.DeleteCommit(r.Set, r.Media, r.File); err != nil {
			return err
		}
	}
	return nil
}
