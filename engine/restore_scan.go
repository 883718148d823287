package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/device"
	"tapefs/engine/format"
)

// restoreScan restores a media set that is not in the catalog: it finds the
// set's tapes in the library by their labels, reads each tape once, in
// sequence order and front to back, keeping chunks in a spool directory
// under the target and the snapshot trees in memory, and then assembles
// the selected files from the spool. It needs a changer (a standalone drive
// restores the catalog tape by tape with `tapefs catalog` instead) and
// temporary space for the set's chunks under the target.
func (e *Engine) restoreScan(ctx context.Context, opts RestoreOptions, target string) (*RestoreResult, error) {
	if opts.DryRun {
		return nil, notFoundf("media set %s is not in the catalog, so there is nothing to plan: read its tapes into the catalog first (`tapefs inventory --catalog`)", opts.Set)
	}
	j, release, err := e.useDrive(ctx, opts.Drive, "restore "+opts.Set.String())
	if err != nil {
		return nil, err
	}
	defer release()
	defer e.lockSet(opts.Set)()
	if err := j.needChanger(); err != nil {
		return nil, fmt.Errorf("restoring a media set that is not in the catalog needs a library: %w", err)
	}
	cat, err := e.Catalog()
	if err != nil {
		return nil, err
	}
	tapes, err := j.findSetTapes(ctx, cat, opts.Set)
	if err != nil {
		return nil, err
	}
	spool := filepath.Join(target, ".tapefs-restore-"+opts.Set.String())
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)

	res := &RestoreResult{Plan: RestorePlan{Set: opts.Set}}
	trees := map[string][]*format.Entry{}
	sim := j.sim(ctx)
	for seq, label := range tapes {
		if err := j.loadLabel(ctx, label); err != nil {
			return nil, err
		}
		j.logf("reading tape %s (sequence %d) front to back", label, seq)
		rt := RestoreTape{Label: label, Seq: uint64(seq)}
		err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			return e.spoolTape(ctx, dev, opts.Set, uint64(seq), spool, trees, &rt)
		})
		if err != nil {
			return nil, fmt.Errorf("tape %s: %w", label, err)
		}
		res.Plan.Tapes = append(res.Plan.Tapes, rt)
	}
	end := j.sim(ctx)
	res.TapeSecond, res.Loads = end.TapeSeconds-sim.TapeSeconds, end.Loads-sim.Loads

	r := &restoreJob{target: target, res: res}
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, want := range opts.Snapshots {
		found := false
		for _, n := range names {
			if n == want || strings.HasPrefix(n, strings.TrimSuffix(want, "/")+"/") {
				found = true
			}
		}
		if !found {
			return nil, notFoundf("media set %s has no snapshot %s", opts.Set, want)
		}
	}
	for _, n := range names {
		if len(opts.Snapshots) > 0 && !matchesAny(n, opts.Snapshots) {
			continue
		}
		r.add(n, trees[n], opts.Paths)
	}
	if err := r.unmatched(opts.Paths); err != nil {
		return nil, err
	}
	r.plan(func(d [32]byte) (catalog.ChunkLoc, error) {
		if _, err := os.Stat(spoolPath(spool, d)); err != nil {
			return catalog.ChunkLoc{}, err
		}
		return catalog.ChunkLoc{}, nil
	})
	if err := r.layout(); err != nil {
		return nil, err
	}
	defer r.closeAll()
	for d := range r.needs {
		data, err := os.ReadFile(spoolPath(spool, d))
		if err != nil {
			r.fail(uuid.Nil, err)
			continue
		}
		r.write(d, data)
	}
	return res, r.finish()
}

func matchesAny(name string, sel []string) bool {
	for _, s := range sel {
		if name == s || strings.HasPrefix(name, strings.TrimSuffix(s, "/")+"/") {
			return true
		}
	}
	return false
}

// findSetTapes loads the data cartridges of the library's storage slots
// that may hold the set to read their labels, and returns the labels of
// the set's tapes by sequence number. A tape the inventory knows as a
// member of another set, or of none, is not loaded: the inventory knows
// every labelled tape's set, so a set no known tape claims (a mistyped
// UUID) fails at once when the library holds no unknown tape. Every
// sequence number up to the highest must be found.
func (j *driveJob) findSetTapes(ctx context.Context, cat *catalog.Catalog, set uuid.UUID) ([]string, error) {
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return nil, err
	}
	candidate := func(tag string) (bool, error) {
		m, err := cat.FindLabel(tag)
		if errors.Is(err, catalog.ErrNotFound) || tag == "" {
			return true, nil // unknown: only its labels can tell
		}
		if err != nil {
			return false, err
		}
		return m.Set != nil && m.Set.UUID == set, nil
	}
	n := 0
	for _, el := range v.all() {
		if !el.Full || strings.HasPrefix(el.VolumeTag, "CLN") || v.offline(el) {
			continue
		}
		ok, err := candidate(el.VolumeTag)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	if n == 0 {
		return nil, notFoundf("no tape of media set %s is in the library: the inventory knows the set of every tape there and none belongs to it (check the UUID: `tapefs media list` shows the sets; run `tapefs inventory --read-all-labels` if tapes were changed outside tapefs)", set)
	}
	found := map[uint64]string{}
	check := func() error {
		return j.do(ctx, func(ctx context.Context, dev device.Drive) error {
			ml, sl, err := format.ReadLabels(ctx, dev)
			if err != nil {
				return nil // blank or foreign: not ours
			}
			if sl != nil && sl.SetUUID == set {
				found[sl.Seq] = ml.LabelText
			}
			return nil
		})
	}
	for _, el := range v.all() {
		if !el.Full || strings.HasPrefix(el.VolumeTag, "CLN") || v.offline(el) {
			continue
		}
		if ok, err := candidate(el.VolumeTag); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		if el.Kind == device.ElementDrive {
			if el.ID == j.cfg.ChangerDriveNum {
				if _, err := j.ready(ctx); err == nil {
					if err := check(); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		cur, err := j.e.view(ctx, *j.ch)
		if err != nil {
			return nil, err
		}
		if err := j.loadElement(ctx, cur, el); err != nil {
			return nil, err
		}
		if err := check(); err != nil {
			return nil, err
		}
	}
	if len(found) == 0 {
		return nil, notFoundf("no tape of media set %s is in the library", set)
	}
	max := uint64(0)
	for s := range found {
		if s > max {
			max = s
		}
	}
	out := make([]string, max+1)
	var missing []string
	for s := uint64(0); s <= max; s++ {
		if found[s] == "" {
			missing = append(missing, fmt.Sprint(s))
		}
		out[s] = found[s]
	}
	if len(missing) > 0 {
		return nil, notFoundf("media set %s: tapes with sequence number %s are not in the library", set, strings.Join(missing, ", "))
	}
	return out, nil
}

func spoolPath(dir string, d [32]byte) string {
	h := hex.EncodeToString(d[:])
	return filepath.Join(dir, h[:2], h)
}

// spoolTape reads one tape of the set front to back: chunks go to the
// spool, snapshot trees into trees.
func (e *Engine) spoolTape(ctx context.Context, dev device.Drive, set uuid.UUID, seq uint64, spool string, trees map[string][]*format.Entry, rt *RestoreTape) error {
	ml, sl, err := format.ReadLabels(ctx, dev)
	if err != nil {
		return err
	}
	if sl == nil || sl.SetUUID != set || sl.Seq != seq {
		return fmt.Errorf("tape %s is not sequence %d of media set %s", ml.LabelText, seq, set)
	}
	if err := e.readKey(ctx, dev, sl); err != nil {
		return err
	}
	// ReadLabels leaves the tape after file 1, where the archives start.
	return walkArchives(ctx, dev, archiveVisitor{
		archive: func(file uint64, _ format.ContentType) { rt.Archives = append(rt.Archives, file) },
		chunk: func(_ uint64, d [32]byte, _ int64, data []byte) error {
			p := spoolPath(spool, d)
			if _, err := os.Stat(p); err == nil {
				return nil
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			rt.Chunks++
			rt.Bytes += int64(len(data))
			return nil
		},
		snapshot: func(_ uint64, ts *tapeSnapshot, name string) error {
			trees[name] = append(trees[name], ts.entries...)
			return nil
		},
	})
}
