package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// LabelInfo is what is written magnetically at the start of a tape: the
// media label (file 0) and the media-set label (file 1).
type LabelInfo struct {
	LabelText    string    `json:"label-text"`
	UUID         uuid.UUID `json:"uuid"`
	Ctime        time.Time `json:"ctime"`
	Pool         string    `json:"pool,omitempty"`
	MediaSetUUID uuid.UUID `json:"media-set-uuid"`
	MediaSetSeq  uint64    `json:"seq-nr"`
	MediaSetTime time.Time `json:"media-set-ctime"`
	// EncryptionKeyFingerprint names the key of an encrypted media set.
	EncryptionKeyFingerprint string `json:"encryption-key-fingerprint,omitempty"`
}

func labelInfo(ml *format.MediaLabel, set *format.MediaSetLabel) *LabelInfo {
	li := &LabelInfo{LabelText: ml.LabelText, UUID: ml.UUID, Ctime: ml.Ctime, Pool: ml.Pool}
	if set != nil {
		li.MediaSetUUID, li.MediaSetSeq, li.MediaSetTime = set.SetUUID, set.Seq, set.Ctime
		li.EncryptionKeyFingerprint = set.EncryptionKeyFingerprint
		if set.Pool != "" {
			li.Pool = set.Pool
		}
	}
	return li
}

// checkPool checks that a pool named by a command exists ("" is no pool).
func (e *Engine) checkPool(pool string) error {
	if pool == "" {
		return nil
	}
	pc, err := e.cfg.LoadPools()
	if err != nil {
		return err
	}
	_, err = pc.Pool(pool)
	return err
}

// Label writes a new media label to the tape in a drive. It refuses a tape
// that contains any data (format it first), a label text that the inventory
// already knows, and, in a library, a cartridge whose barcode differs from
// the label text.
func (e *Engine) Label(ctx context.Context, driveName, labelText, pool string) (*LabelInfo, error) {
	if err := format.ValidateLabelText(labelText); err != nil {
		return nil, classify(ErrInvalid, "%w", err)
	}
	if err := e.checkPool(pool); err != nil {
		return nil, err
	}
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	if old, err := cat.FindLabel(labelText); err == nil {
		return nil, classify(ErrExists, "label text %s is already used by tape %s in the inventory: to relabel that tape, run `tapefs format --label-text %s` first", labelText, old.UUID, labelText)
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, err
	}
	j, release, err := e.useDrive(ctx, driveName, "label "+labelText)
	if err != nil {
		return nil, err
	}
	defer release()
	// In a library the label text of a cartridge must match its barcode:
	// refuse to put a label on the wrong cartridge.
	if j.ch != nil {
		v, err := e.view(ctx, *j.ch)
		if err != nil {
			return nil, err
		}
		del, err := j.driveElement(v)
		if err != nil {
			return nil, err
		}
		if del.Full && del.VolumeTag != "" && del.VolumeTag != labelText {
			return nil, refusedf("the tape in drive %s has barcode %s, not %s: load it first with `tapefs load-media %s`", j.cfg.Name, del.VolumeTag, labelText, labelText)
		}
	}
	return j.writeLabel(ctx, cat, labelText, pool)
}

// writeLabel labels the tape in the drive after checking it is blank.
func (j *driveJob) writeLabel(ctx context.Context, cat *catalog.Catalog, labelText, pool string) (*LabelInfo, error) {
	if _, err := j.ready(ctx); err != nil {
		return nil, err
	}
	now := j.e.now()
	ml := format.MediaLabel{LabelText: labelText, UUID: uuid.New(), Ctime: now, Pool: pool}
	set := format.MediaSetLabel{Pool: pool, Ctime: now}
	err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		old, _, err := format.ReadLabels(ctx, dev)
		switch {
		case errors.Is(err, format.ErrBlankTape):
		case err == nil:
			return refusedf("tape in drive %s contains data (it is labelled %s): run `tapefs format` first to erase it", j.cfg.Name, old.LabelText)
		case errors.Is(err, format.ErrNotTapefs):
			return refusedf("tape in drive %s contains data: run `tapefs format` first to erase it", j.cfg.Name)
		default:
			return err
		}
		return format.WriteLabels(ctx, dev, ml, set)
	})
	if err != nil {
		return nil, err
	}
	m := catalog.Media{
		UUID: ml.UUID, LabelText: labelText, Ctime: ml.Ctime, Pool: pool,
		Status: catalog.StatusWritable, Location: j.location(labelText), Updated: now,
	}
	if err := cat.PutMedia(m); err != nil {
		return nil, fmt.Errorf("tape %s is labelled but the inventory could not be updated (run `tapefs inventory --read-labels`): %w", labelText, err)
	}
	j.logf("labelled %s (uuid %s)", labelText, ml.UUID)
	return labelInfo(&ml, &set), nil
}

// location is where the tape in this drive lives: in the drive's library,
// or offline for a standalone drive.
func (j *driveJob) location(barcode string) catalog.Location {
	if j.ch == nil {
		return catalog.Location{Kind: catalog.LocationOffline}
	}
	return catalog.Location{Kind: catalog.LocationOnline, Changer: j.ch.Name}
}

// ReadLabel reads the labels of the tape in a drive. With inventorize, the
// tape is added to (or updated in) the inventory.
func (e *Engine) ReadLabel(ctx context.Context, driveName string, inventorize bool) (*LabelInfo, error) {
	j, release, err := e.useDrive(ctx, driveName, "read-label")
	if err != nil {
		return nil, err
	}
	defer release()
	li, err := j.readLabel(ctx)
	if err != nil {
		return nil, err
	}
	if inventorize {
		cat, err := e.Catalog()
		if err != nil {
			return nil, err
		}
		if err := j.inventorize(cat, li); err != nil {
			return nil, err
		}
	}
	return li, nil
}

func (j *driveJob) readLabel(ctx context.Context) (*LabelInfo, error) {
	if _, err := j.ready(ctx); err != nil {
		return nil, err
	}
	var li *LabelInfo
	err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		ml, set, err := format.ReadLabels(ctx, dev)
		if errors.Is(err, format.ErrBlankTape) {
			return notFoundf("tape in drive %s is empty (not labelled): label it with `tapefs label --label-text TEXT`", j.cfg.Name)
		}
		if errors.Is(err, format.ErrNotTapefs) {
			return notFoundf("tape in drive %s has no tapefs label (it contains other data)", j.cfg.Name)
		}
		if err != nil {
			return err
		}
		li = labelInfo(ml, set)
		// Leave the tape at the beginning, where a user of pmt expects
		// it after looking at the label.
		return dev.Rewind(ctx)
	})
	return li, err
}

// inventorize records a tape whose label was just read.
func (j *driveJob) inventorize(cat *catalog.Catalog, li *LabelInfo) error {
	now := j.e.now()
	err := cat.UpdateMedia(li.UUID, func(m *catalog.Media) error {
		m.LabelText, m.Ctime, m.Pool = li.LabelText, li.Ctime, li.Pool
		m.Location = j.location(li.LabelText)
		m.Updated = now
		return nil
	})
	if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	m := catalog.Media{
		UUID: li.UUID, LabelText: li.LabelText, Ctime: li.Ctime, Pool: li.Pool,
		Status: catalog.StatusWritable, Location: j.location(li.LabelText), Updated: now,
	}
	if li.MediaSetUUID != uuid.Nil {
		m.Set = &catalog.MediaSetRef{UUID: li.MediaSetUUID, Seq: li.MediaSetSeq, Ctime: li.MediaSetTime, Pool: li.Pool}
		m.Status = catalog.StatusUnknown
	}
	return cat.PutMedia(m)
}

// BarcodeResult is one tape handled by barcode-label.
type BarcodeResult struct {
	LabelText string    `json:"label-text"`
	Slot      int       `json:"slot"`
	UUID      uuid.UUID `json:"uuid,omitzero"`
	Pool      string    `json:"pool,omitempty"`
	// Result is "labelled", "already labelled" or why it was skipped.
	Result string `json:"result"`
}

// BarcodeLabel labels every cartridge of the drive's library that is not in
// the inventory yet, using its barcode as label text. Cleaning cartridges
// and tapes in import/export slots are skipped; a tape that already holds a
// tapefs label is added to the inventory as it is; a tape with other data is
// skipped and reported.
func (e *Engine) BarcodeLabel(ctx context.Context, driveName, pool string) ([]BarcodeResult, error) {
	if err := e.checkPool(pool); err != nil {
		return nil, err
	}
	j, cat, release, err := e.useLibrary(ctx, driveName, "barcode-label")
	if err != nil {
		return nil, err
	}
	defer release()
	v, err := e.view(ctx, *j.ch)
	if err != nil {
		return nil, err
	}
	// A cartridge left in this drive (a job stopped before it put the
	// tape back) goes back to its slot first, to be labelled with the
	// others.
	if del, err := j.driveElement(v); err == nil && del.Full {
		if _, err := j.unloadToSlot(ctx, v, 0); err != nil {
			return nil, fmt.Errorf("barcode-label: put %s back from drive %s: %w", orUnknown(del.VolumeTag), j.cfg.Name, err)
		}
		if v, err = e.view(ctx, *j.ch); err != nil {
			return nil, err
		}
	}
	var out []BarcodeResult
	// One in another drive is not this job's to move: say so.
	for _, el := range v.status.Drives {
		if !el.Full || el.ID == j.cfg.ChangerDriveNum || strings.HasPrefix(el.VolumeTag, "CLN") {
			continue
		}
		if _, err := cat.FindLabel(el.VolumeTag); err == nil || el.VolumeTag == "" {
			continue
		}
		out = append(out, BarcodeResult{LabelText: el.VolumeTag, Pool: pool,
			Result: fmt.Sprintf("skipped: in drive number %d of changer %s; unload it and run barcode-label again", el.ID, j.ch.Name)})
	}
	for _, el := range v.status.Slots {
		if !el.Full || v.isExport(el.ID) || strings.HasPrefix(el.VolumeTag, "CLN") {
			continue
		}
		r := BarcodeResult{LabelText: el.VolumeTag, Slot: el.ID, Pool: pool}
		if err := format.ValidateLabelText(el.VolumeTag); err != nil {
			r.Result = "skipped: " + err.Error()
			out = append(out, r)
			continue
		}
		if m, err := cat.FindLabel(el.VolumeTag); err == nil {
			r.UUID, r.Pool, r.Result = m.UUID, m.Pool, "already labelled"
			out = append(out, r)
			continue
		}
		res, err := j.labelSlot(ctx, cat, el, pool)
		if err != nil {
			return out, fmt.Errorf("barcode-label %s: %w", el.VolumeTag, err)
		}
		out = append(out, res)
	}
	if len(out) == 0 {
		j.logf("changer %s has no data cartridges in its storage slots", j.ch.Name)
	}
	return out, nil
}

// labelSlot loads the cartridge in el, labels it with its barcode if it is
// blank (or inventorizes an existing tapefs label), and puts it back.
func (j *driveJob) labelSlot(ctx context.Context, cat *catalog.Catalog, el device.ElementStatus, pool string) (BarcodeResult, error) {
	r := BarcodeResult{LabelText: el.VolumeTag, Slot: el.ID, Pool: pool}
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return r, err
	}
	if el, err = v.slot(el.ID); err != nil {
		return r, err
	}
	if err := j.loadElement(ctx, v, el); err != nil {
		return r, err
	}
	li, err := j.writeLabel(ctx, cat, el.VolumeTag, pool)
	var res error
	switch {
	case err == nil:
		r.UUID, r.Result = li.UUID, "labelled"
	case errors.Is(err, ErrRefused):
		// Not blank: keep an existing tapefs label, skip anything else.
		if li, rerr := j.readLabel(ctx); rerr == nil && li.LabelText == el.VolumeTag {
			r.UUID, r.Pool, r.Result = li.UUID, li.Pool, "already labelled"
			res = j.inventorize(cat, li)
		} else if rerr == nil {
			r.Result = fmt.Sprintf("skipped: tape holds label %s, not its barcode", li.LabelText)
		} else {
			r.Result = "skipped: tape contains data (run `tapefs format` on it to reuse it)"
		}
		j.logf("%s: %s", el.VolumeTag, r.Result)
	default:
		res = err
	}
	if v, err = j.e.view(ctx, *j.ch); err != nil {
		return r, errors.Join(res, err)
	}
	if _, err := j.unloadToSlot(ctx, v, el.ID); err != nil {
		return r, errors.Join(res, err)
	}
	return r, res
}

// Format erases the tape in a drive. fast writes end of data at the start
// only; otherwise the whole tape is formatted. With labelText, the tape
// must carry that label (or barcode) — a guard for scripts. A tape the
// inventory knows as a member of a media set whose data is not expired is
// refused unless force is set (as `media destroy` refuses it). Once the
// tape is erased, the catalog forgets it (forgetTape): its inventory
// entry, and what its media set held on it.
func (e *Engine) Format(ctx context.Context, driveName, labelText string, fast, force bool) error {
	cat, err := e.Catalog()
	if err != nil {
		return err
	}
	j, release, err := e.useDrive(ctx, driveName, "format")
	if err != nil {
		return err
	}
	defer release()
	barcode := ""
	if j.ch != nil {
		if labelText != "" {
			if err := j.loadLabel(ctx, labelText); err != nil {
				return err
			}
		}
		v, err := e.view(ctx, *j.ch)
		if err != nil {
			return err
		}
		if del, err := j.driveElement(v); err == nil {
			barcode = del.VolumeTag
		}
	}
	if _, err := j.ready(ctx); err != nil {
		return err
	}
	var old *format.MediaLabel
	err = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		ml, _, err := format.ReadLabels(ctx, dev)
		if err == nil {
			old = ml
		}
		return nil
	})
	if err != nil {
		return err
	}
	if labelText != "" && barcode != labelText && (old == nil || old.LabelText != labelText) {
		return refusedf("tape in drive %s is not %s: nothing erased", j.cfg.Name, labelText)
	}
	// The inventory's entry of this tape: by the label on it, else (blank
	// or unreadable) by its barcode.
	var known *catalog.Media
	if old != nil {
		if m, err := cat.GetMedia(old.UUID); err == nil {
			known = &m
		}
	} else if barcode != "" {
		if m, err := cat.FindLabel(barcode); err == nil {
			known = &m
		}
	}
	if known != nil && known.Set != nil && known.Set.UUID != uuid.Nil && !force && !e.expired(cat, *known) {
		return refusedf("tape %s holds data of media set %s that is not expired: nothing erased; use --force to erase it anyway (the catalog then forgets what the tape held)", known.LabelText, known.Set.UUID)
	}
	err = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		if err := dev.Rewind(ctx); err != nil {
			return err
		}
		if fast {
			return dev.Erase(ctx, false)
		}
		return dev.Format(ctx)
	})
	if err != nil {
		return err
	}
	switch {
	case known != nil:
		if err := e.forgetTape(cat, *known, j.logf); err != nil {
			return fmt.Errorf("tape %s erased, but the catalog could not forget it: %w", known.LabelText, err)
		}
		j.logf("erased tape %s (uuid %s)", known.LabelText, known.UUID)
	case old != nil:
		j.logf("erased tape %s (uuid %s)", old.LabelText, old.UUID)
	default:
		j.logf("erased tape in drive %s", j.cfg.Name)
	}
	return nil
}

// forgetTape removes what the catalog holds of tape m, whose data is gone:
// its inventory entry and, when it is a member of a media set, the set's
// part on it. A set with no other known tape is removed; otherwise the
// set is closed and marked incomplete (the tape's sequence number becomes
// unknown, as in a catalog rebuilt from some of its tapes), its chunk
// index forgets the chunks on the tape, and every snapshot that cannot be
// restored in full any more (its snapshot archive or some of its data was
// on the tape) is removed. Snapshots go first, so no listed snapshot ever
// points at forgotten chunks.
func (e *Engine) forgetTape(cat *catalog.Catalog, m catalog.Media, logf func(string, ...any)) error {
	if m.Set != nil && m.Set.UUID != uuid.Nil {
		if err := e.forgetSetMember(cat, m.Set.UUID, m, logf); err != nil {
			return err
		}
	}
	if err := cat.DeleteMedia(m.UUID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return nil
}

func (e *Engine) forgetSetMember(cat *catalog.Catalog, id uuid.UUID, m catalog.Media, logf func(string, ...any)) error {
	set, err := cat.GetMediaSet(id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	others := 0
	for _, t := range set.Media {
		if t != uuid.Nil && t != m.UUID {
			others++
		}
	}
	if others == 0 {
		logf("media set %s had no other tape: removed from the catalog", id)
		return e.dropMediaSet(cat, id)
	}
	gone := map[[32]byte]bool{}
	if err := cat.ListChunks(id, func(c catalog.ChunkEntry) error {
		if c.Loc.Media == m.UUID {
			gone[c.Digest] = true
		}
		return nil
	}); err != nil {
		return err
	}
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: id})
	if err != nil {
		return err
	}
	for _, s := range snaps {
		lost, err := snapshotUses(cat, s, m.UUID, gone)
		if err != nil {
			return err
		}
		if !lost {
			continue
		}
		if err := cat.DeleteSnapshot(id, s.Name); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		logf("snapshot %s of media set %s had data on tape %s: removed from the catalog", s.Name, id, m.LabelText)
	}
	digests := make([][32]byte, 0, len(gone))
	for d := range gone {
		digests = append(digests, d)
	}
	if err := cat.DeleteChunks(id, digests); err != nil {
		return err
	}
	logf("media set %s is incomplete without tape %s: closed", id, m.LabelText)
	return cat.UpdateMediaSet(id, func(s *catalog.MediaSet) error {
		for i, t := range s.Media {
			if t == m.UUID {
				s.Media[i] = uuid.Nil
			}
		}
		s.Closed = true
		return nil
	})
}

// snapshotUses reports whether snapshot s has its snapshot archive on
// tape media or a file whose data includes a chunk of gone.
func snapshotUses(cat *catalog.Catalog, s catalog.Snapshot, media uuid.UUID, gone map[[32]byte]bool) (bool, error) {
	for _, a := range s.Archives {
		if a.Media == media {
			return true, nil
		}
	}
	if len(gone) == 0 {
		return false, nil
	}
	uses := false
	err := forEachChunkRef(cat, s, func(c format.ChunkRef) bool {
		uses = gone[c.Digest]
		return !uses
	})
	return uses, err
}

// forEachChunkRef calls fn for every data chunk (holes left out) of the
// files of snapshot s, in tree order, until fn returns false.
func forEachChunkRef(cat *catalog.Catalog, s catalog.Snapshot, fn func(c format.ChunkRef) bool) error {
	errStop := errors.New("stop")
	err := cat.WalkTree(s.Set, s.Name, func(te catalog.TreeEntry) error {
		ent, _, err := format.DecodeEntry(te.Value)
		if err != nil {
			return fmt.Errorf("snapshot %s: entry %q: %w", s.Name, te.Path, err)
		}
		for _, c := range ent.Chunks {
			if !c.Zero && !fn(c) {
				return errStop
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
