package engine

import (
	"errors"
	"sort"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/format"
	"tapefs/engine/policy"
)

// ContentRow is one row of `media content`: a snapshot on a tape.
type ContentRow struct {
	LabelText    string    `json:"label-text"`
	Pool         string    `json:"pool"`
	MediaSetName string    `json:"media-set-name"`
	Seq          uint64    `json:"seq-nr"`
	Snapshot     string    `json:"snapshot"`
	MediaSet     uuid.UUID `json:"media-set-uuid"`
}

// ContentFilter selects rows of `media content`.
type ContentFilter struct {
	Pool      string
	LabelText string
	Set       uuid.UUID
}

// MediaContent lists which snapshots are on which tapes, from the catalog.
func (e *Engine) MediaContent(f ContentFilter) ([]ContentRow, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Pool: f.Pool, Set: f.Set})
	if err != nil {
		return nil, err
	}
	pools, _ := e.cfg.LoadPools()
	sets := map[uuid.UUID]catalog.MediaSet{}
	var out []ContentRow
	for _, s := range snaps {
		set, ok := sets[s.Set]
		if !ok {
			if set, err = cat.GetMediaSet(s.Set); err != nil {
				return nil, err
			}
			sets[s.Set] = set
		}
		name := e.setName(pools, set)
		tapes, err := snapshotTapes(cat, set, s)
		if err != nil {
			return nil, err
		}
		for _, id := range tapes {
			m, err := cat.GetMedia(id)
			if err != nil {
				continue
			}
			if f.LabelText != "" && m.LabelText != f.LabelText {
				continue
			}
			seq := uint64(0)
			if m.Set != nil {
				seq = m.Set.Seq
			}
			out = append(out, ContentRow{LabelText: m.LabelText, Pool: s.Pool, MediaSetName: name, Seq: seq, Snapshot: s.Name, MediaSet: s.Set})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].LabelText != out[b].LabelText {
			return out[a].LabelText < out[b].LabelText
		}
		return out[a].Snapshot < out[b].Snapshot
	})
	return out, nil
}

// snapshotTapes returns the tapes that hold part of snapshot s of set:
// its snapshot archive and its files' data, in the set's sequence order.
// Operators pick tapes for a restore by them, so every one is listed.
// The tree is walked only when the set has tapes the archives do not
// name, and only until every tape of the set is found.
func snapshotTapes(cat *catalog.Catalog, set catalog.MediaSet, s catalog.Snapshot) ([]uuid.UUID, error) {
	found := map[uuid.UUID]bool{}
	for _, a := range s.Archives {
		found[a.Media] = true
	}
	members := 0
	for _, id := range set.Media {
		if id != uuid.Nil {
			members++
		}
	}
	if members > len(found) {
		seen := map[[32]byte]bool{}
		var lookErr error
		err := forEachChunkRef(cat, s, func(c format.ChunkRef) bool {
			if seen[c.Digest] {
				return true
			}
			seen[c.Digest] = true
			loc, err := cat.GetChunk(set.UUID, c.Digest)
			if errors.Is(err, catalog.ErrNotFound) {
				return true
			}
			if err != nil {
				lookErr = err
				return false
			}
			found[loc.Media] = true
			return len(found) < members
		})
		if err = errors.Join(err, lookErr); err != nil {
			return nil, err
		}
	}
	var out []uuid.UUID
	for _, id := range set.Media {
		if id != uuid.Nil && found[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// setName renders a media set's name with its pool's template.
func (e *Engine) setName(pools *config.PoolConfig, s catalog.MediaSet) string {
	tmpl := ""
	if pools != nil {
		if p, err := pools.Pool(s.Pool); err == nil {
			tmpl = p.Template
		}
	}
	name, err := policy.SetName(tmpl, s)
	if err != nil {
		name, _ = policy.SetName("", s)
	}
	return name
}

// MediaSetName returns the display name of a media set.
func (e *Engine) MediaSetName(s catalog.MediaSet) string {
	pools, _ := e.cfg.LoadPools()
	return e.setName(pools, s)
}

// MediaDestroy removes a tape from the inventory. A tape that belongs to a
// media set whose data is not expired is refused unless force is set.
func (e *Engine) MediaDestroy(label string, force bool) error {
	cat, err := e.Catalog()
	if err != nil {
		return err
	}
	m, err := cat.FindLabel(label)
	if err != nil {
		return notFoundf("tape %s is not in the inventory", label)
	}
	if m.Set != nil && m.Set.UUID != uuid.Nil && !force && !e.expired(cat, m) {
		return refusedf("tape %s holds data of media set %s that is not expired: use --force to remove it from the inventory anyway", label, m.Set.UUID)
	}
	return cat.DeleteMedia(m.UUID)
}

// expired reports whether a tape's data may be overwritten by its pool's
// rules.
func (e *Engine) expired(cat *catalog.Catalog, m catalog.Media) bool {
	p, err := e.PoolConfig(m.EffectivePool())
	if err != nil {
		return false
	}
	pol, err := policyPool(p)
	if err != nil {
		return false
	}
	sets, err := cat.ListMediaSets(p.Name)
	if err != nil {
		return false
	}
	pm := policy.Media{UUID: m.UUID, Label: m.LabelText, Pool: m.EffectivePool(), Ctime: m.Ctime, Status: m.Status}
	if m.Set != nil {
		pm.Set, pm.Seq = m.Set.UUID, m.Set.Seq
	}
	return policy.Expired(pol, pm, sets, e.now())
}

// MediaSetStatus sets a tape's status: full, damaged, retired, or clear
// (back to writable or full, as its media set says).
func (e *Engine) MediaSetStatus(label, status string) error {
	cat, err := e.Catalog()
	if err != nil {
		return err
	}
	m, err := cat.FindLabel(label)
	if err != nil {
		return notFoundf("tape %s is not in the inventory", label)
	}
	var st catalog.MediaStatus
	switch status {
	case "full":
		st = catalog.StatusFull
	case "damaged":
		st = catalog.StatusDamaged
	case "retired":
		st = catalog.StatusRetired
	case "clear":
		st = catalog.StatusWritable
		if m.Set != nil && m.Set.UUID != uuid.Nil {
			if set, err := cat.GetMediaSet(m.Set.UUID); err == nil && int(m.Set.Seq) < len(set.Media)-1 {
				st = catalog.StatusFull
			}
		}
	default:
		return invalidf("invalid status %q: use full, damaged, retired or clear", status)
	}
	return cat.UpdateMedia(m.UUID, func(mm *catalog.Media) error {
		mm.Status = st
		mm.Updated = e.now()
		return nil
	})
}

// MediaMove records that a tape is in a vault (vault != "") or offline. A
// tape that is in a library must be exported first.
func (e *Engine) MediaMove(label, vault string) error {
	cat, err := e.Catalog()
	if err != nil {
		return err
	}
	m, err := cat.FindLabel(label)
	if err != nil {
		return notFoundf("tape %s is not in the inventory", label)
	}
	if m.Location.Kind == catalog.LocationOnline {
		return refusedf("tape %s is online in changer %s: export it first (`tapefs export-media %s`)", label, m.Location.Changer, label)
	}
	loc := catalog.Location{Kind: catalog.LocationOffline}
	if vault != "" {
		if err := config.ValidateName("vault", vault); err != nil {
			return classify(ErrInvalid, "%w", err)
		}
		loc = catalog.Location{Kind: catalog.LocationVault, Vault: vault}
	}
	return cat.UpdateMedia(m.UUID, func(mm *catalog.Media) error {
		mm.Location = loc
		mm.Updated = e.now()
		return nil
	})
}

// MediaInfo is an inventory entry with what `media list` derives from the
// catalog and the pool's rules.
type MediaInfo struct {
	catalog.Media
	// SetName is the media set's name by the pool's template ("" when
	// the tape is in no set).
	SetName string
	// Expire is when the tape's data may be overwritten; zero when it
	// never expires or holds no set.
	Expire time.Time
	// Expired: the tape's data may be overwritten now (policy.Expired).
	Expired bool
	// Shown is the status `media list` shows, as proxmox-tape shows it:
	// "expired" for an expired tape, "full" for a writable tape of a set
	// that is not its pool's current set any more (nothing is appended to
	// it), else Status. Damaged and retired tapes show as such.
	Shown string
}

// MediaListInfo lists the inventory (optionally of one pool) with media
// set names and expiry times.
func (e *Engine) MediaListInfo(pool string) ([]MediaInfo, error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	list, err := cat.ListMedia(catalog.MediaFilter{Pool: pool})
	if err != nil {
		return nil, err
	}
	pools, _ := e.cfg.LoadPools()
	setsByPool := map[string][]policy.Set{}
	out := make([]MediaInfo, 0, len(list))
	now := e.now()
	for _, m := range list {
		mi := MediaInfo{Media: m, Shown: string(m.Status)}
		if m.Set != nil && m.Set.UUID != uuid.Nil {
			set, err := cat.GetMediaSet(m.Set.UUID)
			if err == nil {
				mi.SetName = e.setName(pools, set)
				ps, ok := setsByPool[set.Pool]
				if !ok {
					if ps, err = cat.ListMediaSets(set.Pool); err != nil {
						return nil, err
					}
					setsByPool[set.Pool] = ps
				}
				if p, err := e.PoolConfig(set.Pool); err == nil {
					if pol, err := policyPool(p); err == nil {
						if t, ok := policy.SetExpireTime(pol, set, ps); ok {
							mi.Expire = t
						}
						pm := policy.Media{UUID: m.UUID, Label: m.LabelText, Pool: m.EffectivePool(), Ctime: m.Ctime,
							Status: m.Status, Set: m.Set.UUID, Seq: m.Set.Seq}
						mi.Expired = policy.Expired(pol, pm, ps, now)
					}
				}
				if cur := policy.CurrentSet(set.Pool, ps); m.Status == catalog.StatusWritable && (cur == nil || cur.UUID != set.UUID) {
					mi.Shown = string(catalog.StatusFull)
				}
				if mi.Expired {
					mi.Shown = "expired"
				}
			}
		}
		out = append(out, mi)
	}
	return out, nil
}
