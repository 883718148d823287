package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tapefs/engine/config"
	"tapefs/engine/device"
)

// DriveInfo is one configured drive with what the device reports about
// itself (empty when offline or held by another process).
type DriveInfo struct {
	Name            string `json:"name"`
	Path            string `json:"path"`
	Changer         string `json:"changer,omitempty"`
	ChangerDriveNum int    `json:"changer-drivenum,omitempty"`
	Vendor          string `json:"vendor,omitempty"`
	Model           string `json:"model,omitempty"`
	Serial          string `json:"serial,omitempty"`
}

// DriveUpdate holds the fields `drive update` may change; nil leaves a
// field alone. Delete names fields to clear ("changer", "changer-drivenum").
type DriveUpdate struct {
	Path            *string
	Changer         *string
	ChangerDriveNum *int
	Delete          []string
}

// DriveCreate adds a drive to tape.cfg.
func (e *Engine) DriveCreate(d config.Drive) error {
	if err := checkPath(d.Path); err != nil {
		return err
	}
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		if _, err := tc.Drive(d.Name); err == nil {
			return classify(ErrExists, "drive %s already exists", d.Name)
		}
		for _, o := range tc.Drives {
			if o.Path == d.Path {
				return classify(ErrExists, "path %s is already configured as drive %s", d.Path, o.Name)
			}
		}
		tc.Drives = append(tc.Drives, d)
		return nil
	})
}

// DriveUpdate changes a drive's settings.
func (e *Engine) DriveUpdate(name string, u DriveUpdate) error {
	if u.Path != nil {
		if err := checkPath(*u.Path); err != nil {
			return err
		}
	}
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		d, err := tc.Drive(name)
		if err != nil {
			return err
		}
		for _, f := range u.Delete {
			switch f {
			case "changer":
				d.Changer, d.ChangerDriveNum = "", 0
			case "changer-drivenum":
				d.ChangerDriveNum = 0
			default:
				return invalidf("cannot delete %q: deletable properties are changer, changer-drivenum", f)
			}
		}
		if u.Path != nil {
			d.Path = *u.Path
		}
		if u.Changer != nil {
			d.Changer = *u.Changer
		}
		if u.ChangerDriveNum != nil {
			d.ChangerDriveNum = *u.ChangerDriveNum
		}
		return nil
	})
}

// DriveRemove deletes a drive from tape.cfg. It refuses while a pool uses
// the drive.
func (e *Engine) DriveRemove(name string) error {
	pc, err := e.cfg.LoadPools()
	if err != nil {
		return err
	}
	for _, p := range pc.Pools {
		if p.Drive == name {
			return refusedf("drive %s is used by pool %s: change the pool's drive first (`tapefs pool update %s --drive OTHER`)", name, p.Name, p.Name)
		}
	}
	return e.cfg.UpdateTape(func(tc *config.TapeConfig) error {
		if _, err := tc.Drive(name); err != nil {
			return err
		}
		tc.Drives = slices.DeleteFunc(tc.Drives, func(d config.Drive) bool { return d.Name == name })
		return nil
	})
}

// DriveConfig returns one drive's configuration.
func (e *Engine) DriveConfig(name string) (config.Drive, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return config.Drive{}, err
	}
	d, err := tc.Drive(name)
	if err != nil {
		return config.Drive{}, err
	}
	return *d, nil
}

// DriveList lists configured drives with their identity when online.
func (e *Engine) DriveList(ctx context.Context) ([]DriveInfo, error) {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return nil, err
	}
	out := make([]DriveInfo, 0, len(tc.Drives))
	for _, d := range tc.Drives {
		di := DriveInfo{Name: d.Name, Path: d.Path, Changer: d.Changer, ChangerDriveNum: d.ChangerDriveNum}
		_ = e.driveOwner(d.Path).do(ctx, func(ctx context.Context, dev device.Drive) error {
			info, err := dev.Info(ctx)
			if err == nil {
				di.Vendor, di.Model, di.Serial = info.Vendor, info.Model, info.Serial
			}
			return err
		})
		out = append(out, di)
	}
	return out, nil
}

// DriveScan lists the tape drives the system can see.
func (e *Engine) DriveScan() ([]device.ScanEntry, error) {
	return e.opts.Opener.ScanDrives()
}

// DriveStatusInfo is what `tapefs status` shows for a drive. Its JSON
// form is the rows of Fields (drivestatus.go), not these fields.
type DriveStatusInfo struct {
	Name   string
	Path   string
	Info   device.Info
	Status device.DriveStatus
	// Flags is the drive state in mt's words (ONLINE, BOT, EOF, EOD,
	// WR_PROT, DRIVE_OPEN, IM_REP_EN).
	Flags string
	// Volume holds the loaded cartridge's statistics, if any.
	Volume *device.VolumeStatistics
	// Manufactured is the cartridge's manufacture date from its memory.
	Manufactured string
	// CleaningRequired: the drive asks for a cleaning cartridge.
	CleaningRequired bool
	// Job is the job that has reserved the drive, if any.
	Job string
}

// MTFlags renders a drive status the way mt's status line does.
func MTFlags(st device.DriveStatus) string {
	var f []string
	if !st.MediumPresent {
		f = append(f, "DRIVE_OPEN")
	} else if st.Loaded {
		f = append(f, "ONLINE")
		switch {
		case st.PositionUnknown:
		case st.AtBOT:
			f = append(f, "BOT")
		case st.Position.Record == 0 && st.Position.File > 0:
			f = append(f, "EOF")
		}
		if st.AtEOD {
			f = append(f, "EOD")
		}
		if st.PastEarlyWarning {
			f = append(f, "EOT")
		}
		if st.WriteProtected {
			f = append(f, "WR_PROT")
		}
	}
	if st.BufferMode {
		f = append(f, "IM_REP_EN")
	}
	return strings.Join(f, " | ")
}

// busyStatusWait is how long Status waits for a drive a job is using
// before it answers from the last status read.
const busyStatusWait = 2 * time.Second

// Status reads a drive's status, with the loaded cartridge's statistics.
// For a drive a job holds it waits at most busyStatusWait for the device
// and then returns the last status read (or only the name, path and job
// when there is none), with the job.
func (e *Engine) Status(ctx context.Context, driveName string) (*DriveStatusInfo, error) {
	d, err := e.ResolveDrive(driveName)
	if err != nil {
		return nil, err
	}
	out := &DriveStatusInfo{Name: d.Name, Path: d.Path}
	job := e.Jobs()[d.Name]
	if job != "" {
		// A job's tape operation (writing a whole archive) may hold the
		// drive for long: wait a moment, then show the last status read,
		// with the job.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, busyStatusWait)
		defer cancel()
	}
	err = e.driveOwner(d.Path).do(ctx, func(ctx context.Context, dev device.Drive) error {
		info, err := dev.Info(ctx)
		if err != nil {
			return err
		}
		out.Info = info
		st, err := dev.Status(ctx)
		if err != nil {
			return err
		}
		out.Status = st
		out.Flags = MTFlags(st)
		out.CleaningRequired = st.Alerts.CleaningRequired()
		if st.MediumPresent && !st.Cleaning {
			if vs, err := dev.VolumeStatistics(ctx); err == nil {
				out.Volume = &vs
			}
			if mam, err := dev.CartridgeMemory(ctx); err == nil {
				for _, a := range mam {
					if a.ID == MAMManufactureDate {
						out.Manufactured = a.Value
					}
				}
			}
		}
		return nil
	})
	if job != "" && errors.Is(err, context.DeadlineExceeded) {
		if c, cerr := e.CachedDriveStatus(d.Name); cerr == nil && c.Status != nil {
			return c.Status, nil
		}
		out.Job = job
		return out, nil
	}
	if err != nil {
		err = fmt.Errorf("drive %s: %w", d.Name, err)
		e.cacheDrive(d.Name, nil, err)
		return nil, err
	}
	e.cacheDrive(d.Name, out, nil)
	out.Job = e.Jobs()[d.Name]
	return out, nil
}

// MAMManufactureDate is the MAM attribute holding the manufacture date.
const MAMManufactureDate = 0x0406

// CartridgeMemory reads the cartridge memory of the tape in a drive.
func (e *Engine) CartridgeMemory(ctx context.Context, driveName string) ([]device.MAMAttribute, error) {
	d, err := e.ResolveDrive(driveName)
	if err != nil {
		return nil, err
	}
	var out []device.MAMAttribute
	err = e.driveOwner(d.Path).do(ctx, func(ctx context.Context, dev device.Drive) error {
		out, err = dev.CartridgeMemory(ctx)
		return err
	})
	return out, wrapDrive(d, err)
}

// VolumeStatistics reads the volume statistics of the tape in a drive.
func (e *Engine) VolumeStatistics(ctx context.Context, driveName string) (*device.VolumeStatistics, error) {
	d, err := e.ResolveDrive(driveName)
	if err != nil {
		return nil, err
	}
	var out device.VolumeStatistics
	err = e.driveOwner(d.Path).do(ctx, func(ctx context.Context, dev device.Drive) error {
		out, err = dev.VolumeStatistics(ctx)
		return err
	})
	if err != nil {
		return nil, wrapDrive(d, err)
	}
	return &out, nil
}

// wrapDrive adds the drive name and, for a missing tape, what to do.
func wrapDrive(d config.Drive, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, device.ErrNoMedium) {
		if d.Changer != "" {
			return fmt.Errorf("drive %s: %w: load one with `tapefs load-media LABEL`", d.Name, err)
		}
		return fmt.Errorf("drive %s: %w: insert a tape", d.Name, err)
	}
	return fmt.Errorf("drive %s: %w", d.Name, err)
}
