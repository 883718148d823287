package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"tapefs/catalog"
	"tapefs/engine/format"
	"tapefs/engine/staging"
)

// stagingDir is where pools' staging stores live in the state directory.
const stagingDir = "incoming"

// Staging returns the staging store of pool (its incoming/ tree), opening
// it on first use; the engine closes it in Close. An unknown pool is
// ErrNotFound; a store held by another process is ErrBusy.
func (e *Engine) Staging(pool string) (*staging.Store, error) {
	if _, err := e.PoolConfig(pool); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.stores[pool]; st != nil {
		return st, nil
	}
	st, err := staging.Open(filepath.Join(e.opts.StateDir, stagingDir, pool), staging.Options{
		Sync: e.opts.StagingSync, Logf: e.opts.Logf, Now: e.opts.Now,
		// The catalog is in the same state directory: copying in never
		// takes the room it needs to commit (catalog/space.go).
		KeepFree: catalog.KeepFree,
	})
	if errors.Is(err, staging.ErrLocked) {
		return nil, classify(ErrBusy, "incoming/ of pool %s is in use by another tapefs process (a daemon?): run the command through it", pool)
	}
	if err != nil {
		return nil, err
	}
	if e.stores == nil {
		e.stores = map[string]*staging.Store{}
	}
	e.stores[pool] = st
	return st, nil
}

// closeStores closes the staging stores (called by Close with e.mu held).
func (e *Engine) closeStores() error {
	var errs []error
	for name, st := range e.stores {
		if err := st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("incoming/ of pool %s: %w", name, err))
		}
	}
	e.stores = nil
	return errors.Join(errs...)
}

// CommitOptions describe one commit of a pool's incoming/ tree.
type CommitOptions struct {
	Pool string
	// Groups are the top-level directories of incoming/ to commit;
	// empty means all of them.
	Groups []string
	// EjectMedia, ExportMediaSet: after the last group, as for Backup.
	EjectMedia, ExportMediaSet bool
	// ForceMediaSet starts a new media set with the first group.
	ForceMediaSet bool
	// Progress, if set, receives each group's backup progress.
	Progress func(BackupProgress)
}

// Commit backs up each group of the pool's incoming/ tree as snapshot
// <group>/<time>, from the staging store directly (no copy), and after
// each snapshot is on tape and in the catalog removes from incoming/ what
// the snapshot holds and did not change since the commit started. The
// metadata a snapshot records is what it was when its group was frozen.
// It returns the results of the groups committed so far, and stops at the
// first error (that group stays in incoming/ untouched).
func (e *Engine) Commit(ctx context.Context, opts CommitOptions) ([]*BackupResult, error) {
	st, err := e.Staging(opts.Pool)
	if err != nil {
		return nil, err
	}
	all := st.Groups()
	groups := opts.Groups
	if len(groups) == 0 {
		groups = all
		if len(groups) == 0 {
			return nil, invalidf("incoming/ of pool %s is empty: copy data into incoming/GROUP/ first", opts.Pool)
		}
	}
	for _, g := range groups {
		if !slices.Contains(all, g) {
			return nil, notFoundf("incoming/%s of pool %s does not exist (groups: %v)", g, opts.Pool, all)
		}
	}
	var out []*BackupResult
	for i, g := range groups {
		last := i == len(groups)-1
		fz, err := st.Freeze(g)
		if err != nil {
			return out, fmt.Errorf("incoming/%s of pool %s: %w", g, opts.Pool, err)
		}
		res, err := e.Backup(ctx, BackupOptions{
			From: stagingSource{fz: fz, pool: opts.Pool}, Pool: opts.Pool, Group: g,
			ForceMediaSet: opts.ForceMediaSet && i == 0,
			EjectMedia:    opts.EjectMedia && last, ExportMediaSet: opts.ExportMediaSet && last,
			Progress: opts.Progress,
		})
		if res == nil {
			fz.Release(false)
			return out, err
		}
		// The snapshot is on tape and in the catalog (a failed eject
		// or export after it does not change that): release its data.
		out = append(out, res)
		kept, rerr := fz.Release(true)
		if rerr != nil {
			return out, errors.Join(err, fmt.Errorf("snapshot %s is on tape, but emptying incoming/%s failed: %w", res.Snapshot, g, rerr))
		}
		if kept > 0 {
			e.logf("commit %s: %d entries of incoming/%s changed during the commit and stay for the next one", res.Snapshot, kept, g)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// stagingSource is a frozen staging group as a BackupSource.
type stagingSource struct {
	fz   *staging.Frozen
	pool string
}

func (s stagingSource) String() string {
	return fmt.Sprintf("pools/%s/incoming/%s", s.pool, s.fz.Group())
}

func (s stagingSource) Describe(rel string) string {
	if rel == "" {
		return s.String()
	}
	return s.String() + "/" + rel
}

func (s stagingSource) entry(rel string) (*staging.FrozenEntry, error) {
	fe := s.fz.Lookup(rel)
	if fe == nil {
		return nil, fmt.Errorf("%s: %w", s.Describe(rel), os.ErrNotExist)
	}
	return fe, nil
}

func (s stagingSource) Stat(rel string) (SourceEntry, error) {
	fe, err := s.entry(rel)
	if err != nil {
		return SourceEntry{}, err
	}
	se := SourceEntry{Links: uint64(fe.Nlink), Key: [2]uint64{0, uint64(fe.ID)}}
	e := &se.Entry
	e.Mode, e.UID, e.GID = fe.Mode&0o7777, fe.UID, fe.GID
	// The store clamps times as they are set; a journal written before
	// it did may still hold others.
	e.Mtime, e.Atime, e.Ctime = format.ClampTime(fe.Mtime), format.ClampTime(fe.Atime), format.ClampTime(fe.Ctime)
	e.Xattrs = fe.Xattrs
	t, ok := entryType(fe.Mode)
	if !ok {
		return SourceEntry{}, fmt.Errorf("%s: unsupported file type %o", s.Describe(rel), fe.Mode&syscall.S_IFMT)
	}
	e.Type = t
	switch t {
	case format.EntrySymlink:
		e.Target = fe.Target
	case format.EntryCharDev, format.EntryBlockDev:
		e.Rdev = fe.Rdev
	case format.EntryFile:
		e.Size = fe.Size
	}
	return se, nil
}

func (s stagingSource) ReadDir(rel string) ([]string, error) {
	fe, err := s.entry(rel)
	if err != nil {
		return nil, err
	}
	return fe.Names, nil
}

func (s stagingSource) Open(rel string) (io.ReadCloser, error) {
	r, err := s.fz.Open(rel)
	if err != nil {
		return nil, s.readErr(rel, err)
	}
	return frozenFile{r, s, rel}, nil
}

// readErr wraps an error of reading frozen file rel; a file written since
// the freeze is ErrSourceChanged.
func (s stagingSource) readErr(rel string, err error) error {
	if errors.Is(err, staging.ErrChanged) {
		return fmt.Errorf("%s: %w: %w", s.Describe(rel), ErrSourceChanged, err)
	}
	return fmt.Errorf("%s: %w", s.Describe(rel), err)
}

// frozenFile is an open frozen file of a stagingSource.
type frozenFile struct {
	io.ReadCloser
	s   stagingSource
	rel string
}

func (f frozenFile) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = f.s.readErr(f.rel, err)
	}
	return n, err
}
