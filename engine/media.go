package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/internal/procs"
)

// driveJob is a drive reserved for one job, with its changer if it has one.
type driveJob struct {
	e    *Engine
	cfg  config.Drive
	dev  *owner[device.Drive]
	ch   *config.Changer // nil for a standalone drive
	task *task           // the task this job belongs to
	// hold is the drive's reservation (drivewait.go).
	hold *driveHold
}

// useDrive resolves and reserves a drive for a job (waiting while another
// job of this process has it, drivewait.go) and records it in the task of
// ctx, or in a task of its own (its log lines also go to the WithLog sink
// of ctx). Call release when done: it refreshes the cached drive and
// changer status, ends a task of its own and frees the drive.
func (e *Engine) useDrive(ctx context.Context, name, job string) (*driveJob, func(), error) {
	return e.useDriveWith(ctx, name, job, holdOpts{})
}

// useDriveWith is useDrive with how the drive is taken (o.waiting is set
// here: a wait shows in the task's log and status).
func (e *Engine) useDriveWith(ctx context.Context, name, job string, o holdOpts) (*driveJob, func(), error) {
	d, err := e.ResolveDrive(name)
	if err != nil {
		return nil, nil, err
	}
	dj := &driveJob{e: e, cfg: d, dev: e.driveOwner(d.Path)}
	if d.Changer != "" {
		c, err := e.ChangerConfig(d.Changer)
		if err != nil {
			return nil, nil, fmt.Errorf("drive %s: %w", d.Name, err)
		}
		dj.ch = &c
	}
	t := taskOf(ctx)
	implicit := t == nil
	if implicit {
		kind, _, _ := strings.Cut(job, " ")
		if t, err = e.tasks.create(ctx, TaskSpec{Kind: kind, Name: job}); err != nil {
			return nil, nil, err
		}
		// The caller's context is not the task's to cancel.
		t.cancel = func(error) {}
	}
	dj.task = t
	// A wait for the drive shows in the task (its log and status).
	o.waiting = func(line string) {
		e.tasks.update(t, func(i *TaskInfo) { i.Waiting = line })
		dj.logf("%s", line)
	}
	o.waited = func(line string) {
		e.tasks.update(t, func(i *TaskInfo) { i.Waiting = "" })
		dj.logf("%s", line)
	}
	hold, unreserve, err := e.acquireDrive(ctx, d.Name, job, o)
	if err != nil {
		e.tasks.update(t, func(i *TaskInfo) { i.Waiting = "" })
		if implicit {
			if ferr := e.tasks.finish(t, err, ""); ferr != nil {
				e.logf("task %d: %v", t.info.ID, ferr)
			}
		}
		return nil, nil, err
	}
	dj.hold = hold
	e.tasks.update(t, func(i *TaskInfo) {
		if !slices.Contains(i.Drives, d.Name) {
			i.Drives = append(i.Drives, d.Name)
		}
	})
	e.tasks.mu.Lock()
	e.tasks.line(t, fmt.Sprintf("drive %s: %s", d.Name, job))
	e.tasks.mu.Unlock()
	idle := procs.Busy() // a job may run in parallel
	release := func() {
		e.refreshAfterJob(dj)
		if implicit {
			if err := e.tasks.finish(t, nil, TaskDone); err != nil {
				e.logf("task %d: %v", t.info.ID, err)
			}
		}
		idle()
		unreserve()
	}
	return dj, release, nil
}

// useLibrary reserves a drive that belongs to a changer for a job that
// also needs the catalog (inventory, barcode-label, catalog restores).
func (e *Engine) useLibrary(ctx context.Context, name, job string) (*driveJob, *catalog.Catalog, func(), error) {
	cat, err := e.Catalog()
	if err != nil {
		return nil, nil, nil, err
	}
	j, release, err := e.useDrive(ctx, name, job)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := j.needChanger(); err != nil {
		release()
		return nil, nil, nil, err
	}
	return j, cat, release, nil
}

// do runs fn on the drive's owner. Once fn has started, do waits for it
// to return even if ctx ends meanwhile (the tape operation is never tied
// to the caller's context, and fn may change the caller's state), and then
// returns ctx's error: a stopped task ends at its next operation.
func (j *driveJob) do(ctx context.Context, fn func(ctx context.Context, dev device.Drive) error) error {
	return wrapDrive(j.cfg, j.dev.doWait(ctx, fn))
}

func (j *driveJob) status(ctx context.Context) (device.DriveStatus, error) {
	var st device.DriveStatus
	err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		var err error
		st, err = dev.Status(ctx)
		return err
	})
	return st, err
}

func (j *driveJob) needChanger() error {
	if j.ch == nil {
		return invalidf("drive %s has no changer: load and remove tapes by hand, or set one with `tapefs drive update %s --changer NAME`", j.cfg.Name, j.cfg.Name)
	}
	return nil
}

// ready makes sure a data cartridge is threaded and returns the status.
func (j *driveJob) ready(ctx context.Context) (device.DriveStatus, error) {
	st, err := j.status(ctx)
	if err != nil {
		return st, err
	}
	if !st.Online {
		return st, wrapDrive(j.cfg, device.ErrOffline)
	}
	if !st.MediumPresent {
		return st, wrapDrive(j.cfg, device.ErrNoMedium)
	}
	if st.Cleaning {
		return st, wrapDrive(j.cfg, fmt.Errorf("%w: a cleaning cartridge is loaded", device.ErrBadCartridge))
	}
	if !st.Loaded {
		if err := j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Load(ctx) }); err != nil {
			return st, err
		}
		return j.status(ctx)
	}
	return st, nil
}

// driveElement returns the changer's element status of this drive.
func (j *driveJob) driveElement(v *changerView) (device.ElementStatus, error) {
	return v.drive(j.cfg.ChangerDriveNum)
}

// unloadToSlot unloads the drive and puts its cartridge into a storage slot:
// target if non-zero, else the slot it came from, else the first free one.
// It returns the slot used, or 0 when the drive was empty.
func (j *driveJob) unloadToSlot(ctx context.Context, v *changerView, target int) (int, error) {
	del, err := j.driveElement(v)
	if err != nil {
		return 0, err
	}
	if !del.Full {
		if target != 0 {
			return 0, wrapDrive(j.cfg, device.ErrNoMedium)
		}
		return 0, nil
	}
	var to device.Element
	if target != 0 {
		el, err := v.slot(target)
		if err != nil {
			return 0, err
		}
		if el.Full {
			return 0, invalidf("slot %d of changer %s is full (holds %s)", target, v.cfg.Name, orUnknown(el.VolumeTag))
		}
		to = el.Element
	} else if src, err := v.slot(del.SourceSlot); err == nil && v.offline(src) && !src.Full {
		// It came from an import/export slot: back there, where the
		// operator left it, and offline again.
		to = src.Element
	} else {
		to, err = v.freeStorageSlot(del.SourceSlot)
		if err != nil {
			return 0, err
		}
	}
	if err := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		err := dev.Unload(ctx)
		if errors.Is(err, device.ErrNoMedium) {
			return nil // already unthreaded and taken by hand in between
		}
		return err
	}); err != nil {
		return 0, err
	}
	if err := j.e.move(ctx, *j.ch, del.Element, to); err != nil {
		return 0, err
	}
	j.logf("unloaded %s from drive %s to slot %d", orUnknown(del.VolumeTag), j.cfg.Name, to.ID)
	moved := device.ElementStatus{Element: to, Full: true, VolumeTag: del.VolumeTag}
	return to.ID, j.e.noteLocation(*j.ch, del.VolumeTag, moved, v)
}

// loadElement puts the cartridge in el into the drive (unloading whatever is
// there first) and threads it.
func (j *driveJob) loadElement(ctx context.Context, v *changerView, el device.ElementStatus) error {
	del, err := j.driveElement(v)
	if err != nil {
		return err
	}
	if del.Full {
		if _, err := j.unloadToSlot(ctx, v, 0); err != nil {
			return err
		}
		if v, err = j.e.view(ctx, *j.ch); err != nil {
			return err
		}
		if del, err = j.driveElement(v); err != nil {
			return err
		}
		if el, err = v.slot(el.ID); err != nil {
			return err
		}
	}
	if err := j.e.move(ctx, *j.ch, el.Element, del.Element); err != nil {
		return err
	}
	j.logf("loaded %s from slot %d into drive %s", orUnknown(el.VolumeTag), el.ID, j.cfg.Name)
	st, err := j.status(ctx)
	if err != nil {
		return err
	}
	if st.MediumPresent && !st.Loaded {
		return j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Load(ctx) })
	}
	return nil
}

// loadLabel loads the cartridge with barcode label, unless it is already
// in the drive.
func (j *driveJob) loadLabel(ctx context.Context, label string) error {
	if err := j.needChanger(); err != nil {
		return err
	}
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	del, err := j.driveElement(v)
	if err != nil {
		return err
	}
	if del.Full && del.VolumeTag == label {
		_, err := j.ready(ctx)
		return err
	}
	el, err := v.online(label)
	if err != nil {
		return err
	}
	if el.Kind == device.ElementDrive {
		return classify(ErrBusy, "tape %s is in drive number %d of changer %s", label, el.ID, j.ch.Name)
	}
	return j.loadElement(ctx, v, el)
}

// LoadMedia loads the tape with the given label into a drive.
func (e *Engine) LoadMedia(ctx context.Context, driveName, label string) error {
	if strings.HasPrefix(label, "CLN") {
		// As proxmox-tape: a cleaning cartridge loaded as a tape would
		// start a cleaning cycle (or be read as data) outside `clean`.
		return refusedf("tape %s is a cleaning cartridge: clean the drive with `tapefs clean`", label)
	}
	j, release, err := e.useDrive(ctx, driveName, "load-media "+label)
	if err != nil {
		return err
	}
	defer release()
	return j.loadLabel(ctx, label)
}

// LoadFromSlot loads the tape in a slot into a drive.
func (e *Engine) LoadFromSlot(ctx context.Context, driveName string, slot int) error {
	j, release, err := e.useDrive(ctx, driveName, fmt.Sprintf("load-media-from-slot %d", slot))
	if err != nil {
		return err
	}
	defer release()
	if err := j.needChanger(); err != nil {
		return err
	}
	v, err := e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	el, err := v.slot(slot)
	if err != nil {
		return err
	}
	if !el.Full {
		return invalidf("slot %d of changer %s is empty", slot, j.ch.Name)
	}
	return j.loadElement(ctx, v, el)
}

// Unload unloads a drive's tape into a slot (target, or where it came from,
// or the first free one). For a standalone drive it ejects the tape.
func (e *Engine) Unload(ctx context.Context, driveName string, target int) error {
	j, release, err := e.useDrive(ctx, driveName, "unload")
	if err != nil {
		return err
	}
	defer release()
	return j.unload(ctx, target)
}

func (j *driveJob) unload(ctx context.Context, target int) error {
	if j.ch == nil {
		if target != 0 {
			return j.needChanger()
		}
		return j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Unload(ctx) })
	}
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	slot, err := j.unloadToSlot(ctx, v, target)
	if err != nil {
		return err
	}
	if slot == 0 {
		return wrapDrive(j.cfg, device.ErrNoMedium)
	}
	return nil
}

// Eject ejects the tape of a drive: back to its slot in a library, out of
// the drive for a standalone drive.
func (e *Engine) Eject(ctx context.Context, driveName string) error {
	return e.Unload(ctx, driveName, 0)
}

// ExportMedia moves a tape to a free import/export slot so an operator can
// take it out; a tape in the drive is unloaded first. The inventory marks
// the tape offline.
func (e *Engine) ExportMedia(ctx context.Context, driveName, label string) error {
	j, release, err := e.useDrive(ctx, driveName, "export-media "+label)
	if err != nil {
		return err
	}
	defer release()
	if err := j.needChanger(); err != nil {
		return err
	}
	return j.export(ctx, label)
}

func (j *driveJob) export(ctx context.Context, label string) error {
	v, err := j.e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	el, ok := v.find(label)
	if !ok {
		return notFoundf("tape %s is not in changer %s", label, j.ch.Name)
	}
	if v.offline(el) {
		j.logf("tape %s is already in import/export slot %d", label, el.ID)
		return nil
	}
	if el.Kind == device.ElementDrive {
		del, err := j.driveElement(v)
		if err != nil {
			return err
		}
		if del.ID != el.ID {
			return classify(ErrBusy, "tape %s is in drive number %d of changer %s, not in drive %s", label, el.ID, j.ch.Name, j.cfg.Name)
		}
		if _, err := j.unloadToSlot(ctx, v, 0); err != nil {
			return err
		}
		if v, err = j.e.view(ctx, *j.ch); err != nil {
			return err
		}
		if el, ok = v.find(label); !ok {
			return notFoundf("tape %s disappeared from changer %s", label, j.ch.Name)
		}
	}
	to, err := v.freeExportSlot()
	if err != nil {
		return err
	}
	if err := j.e.move(ctx, *j.ch, el.Element, to); err != nil {
		return err
	}
	j.logf("exported %s to import/export slot %d", label, to.ID)
	return j.e.noteLocation(*j.ch, label, device.ElementStatus{Element: to, Full: true, VolumeTag: label}, v)
}

// Rewind rewinds a drive's tape.
func (e *Engine) Rewind(ctx context.Context, driveName string) error {
	j, release, err := e.useDrive(ctx, driveName, "rewind")
	if err != nil {
		return err
	}
	defer release()
	if _, err := j.ready(ctx); err != nil {
		return err
	}
	return j.do(ctx, func(ctx context.Context, dev device.Drive) error { return dev.Rewind(ctx) })
}

// Clean cleans a drive with the library's cleaning cartridge: the current
// tape goes back to its slot, the CLN cartridge is loaded (the drive runs
// its cleaning cycle), and it is put back into its slot.
func (e *Engine) Clean(ctx context.Context, driveName string) error {
	j, release, err := e.useDrive(ctx, driveName, "clean")
	if err != nil {
		return err
	}
	defer release()
	if err := j.needChanger(); err != nil {
		return err
	}
	v, err := e.view(ctx, *j.ch)
	if err != nil {
		return err
	}
	var cln *device.ElementStatus
	for _, el := range v.status.Slots {
		if el.Full && strings.HasPrefix(el.VolumeTag, "CLN") && !v.isExport(el.ID) {
			cln = &el
			break
		}
	}
	if cln == nil {
		return notFoundf("no cleaning cartridge (barcode CLN...) in the storage slots of changer %s", j.ch.Name)
	}
	j.logf("found cleaning cartridge %s in slot %d", cln.VolumeTag, cln.ID)
	if _, err := j.unloadToSlot(ctx, v, 0); err != nil {
		return err
	}
	if v, err = e.view(ctx, *j.ch); err != nil {
		return err
	}
	del, err := j.driveElement(v)
	if err != nil {
		return err
	}
	if err := e.move(ctx, *j.ch, cln.Element, del.Element); err != nil {
		return err
	}
	j.logf("loaded %s into drive %s, cleaning", cln.VolumeTag, j.cfg.Name)
	var alerts device.TapeAlertFlags
	cleanErr := j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		st, err := dev.Status(ctx)
		if err != nil {
			return err
		}
		if !st.Loaded {
			if err := dev.Load(ctx); err != nil {
				return err
			}
		}
		alerts, err = dev.TapeAlerts(ctx)
		if err != nil {
			return err
		}
		return dev.Unload(ctx)
	})
	// Whatever happened, try to put the cleaning cartridge back.
	if err := e.move(ctx, *j.ch, del.Element, cln.Element); err != nil {
		return errors.Join(cleanErr, fmt.Errorf("cleaning cartridge %s is still in drive %s: %w", cln.VolumeTag, j.cfg.Name, err))
	}
	j.logf("unloaded %s back to slot %d", cln.VolumeTag, cln.ID)
	if cleanErr != nil {
		return cleanErr
	}
	if alerts.Has(device.AlertExpiredCleaning) {
		return refusedf("cleaning cartridge %s is expired (no uses left): replace it", cln.VolumeTag)
	}
	if alerts.Has(device.AlertInvalidCleaning) {
		return refusedf("cleaning cartridge %s was rejected by drive %s", cln.VolumeTag, j.cfg.Name)
	}
	if alerts.CleaningRequired() {
		return refusedf("drive %s still asks for cleaning after cleaning with %s", j.cfg.Name, cln.VolumeTag)
	}
	j.logf("drive %s cleaned", j.cfg.Name)
	return nil
}
