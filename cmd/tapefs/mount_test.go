package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
)

// TestLockStateMessage checks what a second daemon is told about the one
// holding the state directory: while mounted, to unmount it; once it has
// unmounted and only finishes its commands, to wait (it said to unmount
// what was no longer mounted).
func TestLockStateMessage(t *testing.T) {
	dir := t.TempDir()
	unlock, note, err := lockState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	pid := fmt.Sprintf("pid %d", os.Getpid())
	tests := []struct {
		state string
		want  string
	}{
		{"", "another tapefs daemon (" + pid + ") holds state directory " + dir + ": unmount it first"},
		{"unmounted, finishing its running commands", "another tapefs daemon (" + pid + ", unmounted, finishing its running commands) holds state directory " + dir + ": wait until it exits"},
	}
	for _, tt := range tests {
		if tt.state != "" {
			note(tt.state)
		}
		_, _, err := lockState(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || cliapp.ExitCode(err) != 4 {
			t.Errorf("state %q: second lock: %v (exit %d), want %q, exit 4", tt.state, err, cliapp.ExitCode(err), tt.want)
		}
	}
}

// TestMountOptions checks what a mount command line becomes: the mount
// helper form, -o options over the global directories, a relative mount
// point made absolute, and the refusals.
func TestMountOptions(t *testing.T) {
	e := &env{Settings: cliapp.Settings{ConfigDir: "/etc/tapefs", StateDir: "/var/lib/tapefs"}}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	mo, err := e.mountOptions([]string{"none", "/mnt/tape"}, false, []string{"allow_other", "ro", "state-dir=/srv/state", "admin-group=tape", "noauto", "x-systemd.automount", "staging-sync"})
	if err != nil {
		t.Fatal(err)
	}
	if mo.mountpoint != "/mnt/tape" || !mo.fuse.AllowOther || !mo.fuse.ReadOnly || mo.stateDir != "/srv/state" || mo.configDir != "/etc/tapefs" ||
		mo.adminGroup != "tape" || !mo.stagingSync || mo.foreground {
		t.Errorf("helper form: %+v", mo)
	}
	mo, err = e.mountOptions([]string{"mnt"}, true, []string{"ro", "rw", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if mo.mountpoint != wd+"/mnt" || mo.fuse.ReadOnly || !mo.fuse.Debug || !mo.foreground || mo.stateDir != "/var/lib/tapefs" {
		t.Errorf("relative mount point: %+v", mo)
	}
	for _, tt := range []struct {
		args []string
		o    []string
	}{
		{nil, nil},
		{[]string{"a", "b", "c"}, nil},
		{[]string{"/mnt"}, []string{"uid=0"}},
		{[]string{"/mnt"}, []string{"state-dir"}},
	} {
		if _, err := e.mountOptions(tt.args, false, tt.o); cliapp.ExitCode(err) != 2 {
			t.Errorf("%q -o %q: %v (exit %d), want exit 2", tt.args, tt.o, err, cliapp.ExitCode(err))
		}
	}
}
