package config

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"tapefs/engine/calendar"
)

// JobFile is the name of the backup job configuration file in a
// configuration directory.
const JobFile = "backup-job.cfg"

// Notification modes of a backup job.
const (
	NotifyAlways = "always" // the default when empty
	NotifyError  = "error"
	NotifyNever  = "never"
)

// BackupJob is a scheduled tape backup: a "backup:" section of
// backup-job.cfg.
type BackupJob struct {
	ID string
	// Sources are the directories to back up, each a snapshot group.
	Sources []JobSource
	// Pool is the media pool to write to.
	Pool string
	// Drive overrides the pool's drive (optional).
	Drive string
	// Schedule is a calendar event ("mon..fri 02:00", "daily"); empty:
	// the job runs only with `tapefs backup-job run`.
	Schedule string
	// EjectMedia ejects the tape when the job is done; ExportMediaSet
	// moves the set's tapes to import/export slots.
	EjectMedia, ExportMediaSet bool
	// Notify lists mail addresses, comma separated.
	Notify string
	// NotifyMode is always (the default), error or never.
	NotifyMode string
	// MediaTimeout is how long the job waits for a tape it asked for (a
	// time span); empty: it waits until the tape comes or the task is
	// stopped.
	MediaTimeout string
	Comment      string
}

// JobSource is one source directory of a job and its snapshot group
// (empty: the directory's name).
type JobSource struct {
	Path  string `json:"path"`
	Group string `json:"group,omitempty"`
}

// GroupName is the snapshot group of the source.
func (s JobSource) GroupName() string {
	if s.Group != "" {
		return s.Group
	}
	return path.Base(s.Path)
}

// JobConfig is the content of backup-job.cfg.
type JobConfig struct {
	Jobs []BackupJob
}

// Job returns the job with the id, a pointer into c.Jobs.
func (c *JobConfig) Job(id string) (*BackupJob, error) {
	for i := range c.Jobs {
		if c.Jobs[i].ID == id {
			return &c.Jobs[i], nil
		}
	}
	return nil, notFound("backup job", id)
}

// ScheduleEvent parses the schedule; nil when the job has none.
func (j *BackupJob) ScheduleEvent() (*calendar.Event, error) {
	if j.Schedule == "" {
		return nil, nil
	}
	ev, err := calendar.ParseEvent(j.Schedule)
	if err != nil {
		return nil, fmt.Errorf("backup job '%s': schedule: %w", j.ID, err)
	}
	return ev, nil
}

// Validate checks the configuration: unique valid ids, pool and drive name
// syntax, at least one source with an absolute path and distinct groups,
// calendar event, notification mode and addresses, media timeout.
// Whether the pool, the drive and the sources exist is the engine's check.
func (c *JobConfig) Validate() error {
	seen := map[string]bool{}
	for _, j := range c.Jobs {
		if err := ValidateName("backup job", j.ID); err != nil {
			return err
		}
		if seen[j.ID] {
			return &kindError{msg: fmt.Sprintf("duplicate backup job '%s'", j.ID), err: ErrExists}
		}
		seen[j.ID] = true
		for _, kv := range [...][2]string{
			{"pool", j.Pool}, {"drive", j.Drive}, {"schedule", j.Schedule}, {"notify", j.Notify},
			{"notify-mode", j.NotifyMode}, {"media-timeout", j.MediaTimeout}, {"comment", j.Comment},
		} {
			if err := checkValue("backup job", j.ID, kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := ValidateName("pool", j.Pool); err != nil {
			return fmt.Errorf("backup job '%s': %w", j.ID, err)
		}
		if j.Drive != "" {
			if err := ValidateName("drive", j.Drive); err != nil {
				return fmt.Errorf("backup job '%s': %w", j.ID, err)
			}
		}
		if len(j.Sources) == 0 {
			return fmt.Errorf("backup job '%s' has no source: give one with --source DIR", j.ID)
		}
		groups := map[string]string{}
		for _, s := range j.Sources {
			if !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path {
				return fmt.Errorf("backup job '%s': source '%s' must be an absolute, clean path", j.ID, s.Path)
			}
			g := s.GroupName()
			if g == "/" || g == "." || g == ".." || strings.ContainsAny(g, "/\x00") {
				return fmt.Errorf("backup job '%s': invalid snapshot group '%s' for source '%s'", j.ID, g, s.Path)
			}
			if other, ok := groups[g]; ok {
				return fmt.Errorf("backup job '%s': sources '%s' and '%s' are both group '%s': give one --group NAME", j.ID, other, s.Path, g)
			}
			groups[g] = s.Path
		}
		if _, err := j.ScheduleEvent(); err != nil {
			return err
		}
		switch j.NotifyMode {
		case "", NotifyAlways, NotifyError, NotifyNever:
		default:
			return fmt.Errorf("backup job '%s': notify-mode '%s': must be always, error or never", j.ID, j.NotifyMode)
		}
		if err := checkAddresses(fmt.Sprintf("backup job '%s': notify", j.ID), j.Notify); err != nil {
			return err
		}
		if j.MediaTimeout != "" {
			if _, err := calendar.ParseTimeSpan(j.MediaTimeout); err != nil {
				return fmt.Errorf("backup job '%s': media-timeout: %w", j.ID, err)
			}
		}
	}
	return nil
}

// NotifyAddresses are the mail addresses of Notify.
func (j *BackupJob) NotifyAddresses() []string {
	return splitAddresses(j.Notify)
}

// jobKeys are the keys of a backup section, in the order they are written.
var jobKeys = [...]string{"source", "pool", "drive", "schedule", "eject-media", "export-media-set",
	"notify", "notify-mode", "media-timeout", "comment"}

// encodeSources writes sources as one value: space separated items PATH or
// PATH=GROUP, with '%', '=' and blanks %-escaped.
func encodeSources(ss []JobSource) string {
	esc := func(s string) string {
		r := strings.NewReplacer("%", "%25", "=", "%3D", " ", "%20", "\t", "%09")
		return r.Replace(s)
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = esc(s.Path)
		if s.Group != "" {
			parts[i] += "=" + esc(s.Group)
		}
	}
	return strings.Join(parts, " ")
}

func decodeSources(v string) ([]JobSource, error) {
	var out []JobSource
	for _, item := range strings.Fields(v) {
		p, g, _ := strings.Cut(item, "=")
		dp, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		dg, err := url.PathUnescape(g)
		if err != nil {
			return nil, err
		}
		out = append(out, JobSource{Path: dp, Group: dg})
	}
	return out, nil
}

func parseBool(v string) (bool, error) {
	switch v {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("expected true or false")
}

// parseJobs decodes backup-job.cfg; file names it in errors. The result
// is not validated.
func parseJobs(file string, data []byte) (*JobConfig, error) {
	secs, err := parseSections(file, data)
	if err != nil {
		return nil, err
	}
	c := &JobConfig{}
	for _, s := range secs {
		if s.typ != "backup" {
			return nil, unknownType(file, s, "backup")
		}
		j := BackupJob{ID: s.name}
		for _, kv := range s.props {
			var err error
			switch kv.key {
			case "source":
				j.Sources, err = decodeSources(kv.value)
			case "pool":
				j.Pool = kv.value
			case "drive":
				j.Drive = kv.value
			case "schedule":
				j.Schedule = kv.value
			case "eject-media":
				j.EjectMedia, err = parseBool(kv.value)
			case "export-media-set":
				j.ExportMediaSet, err = parseBool(kv.value)
			case "notify":
				j.Notify = kv.value
			case "notify-mode":
				j.NotifyMode = kv.value
			case "media-timeout":
				j.MediaTimeout = kv.value
			case "comment":
				j.Comment = kv.value
			default:
				return nil, unknownKey(file, s, kv, jobKeys[:]...)
			}
			if err != nil {
				return nil, badValue(file, s, kv, err)
			}
		}
		c.Jobs = append(c.Jobs, j)
	}
	return c, nil
}

// formatJobs encodes c, jobs in slice order.
func formatJobs(c *JobConfig) []byte {
	var secs []section
	for _, j := range c.Jobs {
		s := section{typ: "backup", name: j.ID}
		boolStr := func(b bool) string {
			if b {
				return "true"
			}
			return ""
		}
		for _, kv := range [...][2]string{
			{"source", encodeSources(j.Sources)}, {"pool", j.Pool}, {"drive", j.Drive}, {"schedule", j.Schedule},
			{"eject-media", boolStr(j.EjectMedia)}, {"export-media-set", boolStr(j.ExportMediaSet)},
			{"notify", j.Notify}, {"notify-mode", j.NotifyMode}, {"media-timeout", j.MediaTimeout}, {"comment", j.Comment},
		} {
			s.add(kv[0], kv[1])
		}
		secs = append(secs, s)
	}
	return formatSections(secs)
}

// LoadJobs reads and validates backup-job.cfg. A missing file is an empty
// configuration.
func (d Dir) LoadJobs() (*JobConfig, error) {
	return loadFile(d, JobFile, parseJobs, (*JobConfig).Validate)
}

// UpdateJobs changes backup-job.cfg the way UpdateTape changes tape.cfg.
// fn may call LoadTape and LoadPools to check the job's pool and drive.
func (d Dir) UpdateJobs(fn func(*JobConfig) error) error {
	return updateFile(d, JobFile, parseJobs, formatJobs, (*JobConfig).Validate, fn)
}
