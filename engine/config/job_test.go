package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestJobsRoundTrip(t *testing.T) {
	c := &JobConfig{Jobs: []BackupJob{
		{ID: "nightly", Sources: []JobSource{{Path: "/srv/www"}, {Path: "/srv/my db=1%", Group: "db two"}}, Pool: "daily",
			Drive: "d0", Schedule: "mon..fri 02:00", EjectMedia: true, Notify: "root@example.org, ops@example.org",
			NotifyMode: NotifyError, MediaTimeout: "12h", Comment: "the nightly run"},
		{ID: "weekly", Sources: []JobSource{{Path: "/home"}}, Pool: "weekly", ExportMediaSet: true},
	}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	data := formatJobs(c)
	got, err := parseJobs("backup-job.cfg", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n%+v\nwant\n%+v\nfile:\n%s", got, c, data)
	}
	if g := c.Jobs[0].Sources[1].GroupName(); g != "db two" {
		t.Errorf("group %q", g)
	}
	if g := c.Jobs[0].Sources[0].GroupName(); g != "www" {
		t.Errorf("default group %q", g)
	}
	if a := c.Jobs[0].NotifyAddresses(); !reflect.DeepEqual(a, []string{"root@example.org", "ops@example.org"}) {
		t.Errorf("addresses %q", a)
	}
}

func TestValidateJobs(t *testing.T) {
	ok := BackupJob{ID: "j1", Sources: []JobSource{{Path: "/srv/www"}}, Pool: "daily", Schedule: "daily"}
	for _, tc := range []struct {
		name string
		edit func(*BackupJob)
		want string
	}{
		{"bad schedule", func(j *BackupJob) { j.Schedule = "mon..fri 25:00" }, "schedule"},
		{"no source", func(j *BackupJob) { j.Sources = nil }, "no source"},
		{"relative source", func(j *BackupJob) { j.Sources[0].Path = "srv/www" }, "absolute"},
		{"same group", func(j *BackupJob) { j.Sources = append(j.Sources, JobSource{Path: "/other/www"}) }, "both group 'www'"},
		{"bad pool name", func(j *BackupJob) { j.Pool = "a b" }, "pool"},
		{"bad notify mode", func(j *BackupJob) { j.NotifyMode = "sometimes" }, "notify-mode"},
		{"bad address", func(j *BackupJob) { j.Notify = "root" }, "not a mail address"},
		{"bad timeout", func(j *BackupJob) { j.MediaTimeout = "soon" }, "media-timeout"},
		{"bad id", func(j *BackupJob) { j.ID = "-x" }, "invalid backup job name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := ok
			j.Sources = append([]JobSource(nil), ok.Sources...)
			tc.edit(&j)
			err := (&JobConfig{Jobs: []BackupJob{j}}).Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	dup := &JobConfig{Jobs: []BackupJob{ok, ok}}
	if err := dup.Validate(); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
}

// TestUpdateJobsInvalidLeavesFile: an update that does not validate
// leaves the file as it was.
func TestUpdateJobsInvalidLeavesFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	job := BackupJob{ID: "j1", Sources: []JobSource{{Path: "/srv/www"}}, Pool: "daily", Schedule: "daily"}
	if err := d.UpdateJobs(func(c *JobConfig) error { c.Jobs = append(c.Jobs, job); return nil }); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(d.Path, JobFile))
	if err != nil {
		t.Fatal(err)
	}
	err = d.UpdateJobs(func(c *JobConfig) error { c.Jobs[0].Schedule = "fri 99:00"; return nil })
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid update: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(d.Path, JobFile))
	if string(after) != string(before) {
		t.Errorf("file changed:\n%s", after)
	}
	c, err := d.LoadJobs()
	if err != nil || len(c.Jobs) != 1 || c.Jobs[0].Schedule != "daily" {
		t.Errorf("loaded %+v, %v", c, err)
	}
	// Unknown keys are reported with their line.
	if err := os.WriteFile(filepath.Join(d.Path, JobFile), []byte("backup: j2\n\tsource /x\n\tpool p1\n\tcolour red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadJobs(); err == nil || !strings.Contains(err.Error(), ":4: unknown key 'colour'") {
		t.Errorf("unknown key: %v", err)
	}
}
