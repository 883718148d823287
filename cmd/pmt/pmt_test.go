package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/devices"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/vtape"
)

// loadedDrive returns a virtual library with one cartridge, loaded in
// drive 0, and that drive's path.
func loadedDrive(t *testing.T) (lib, drive string) {
	t.Helper()
	for _, v := range []string{"TAPE", "TAPEFS_DRIVE", "PROXMOX_TAPE_DRIVE", "TAPEFS_CONFIG_DIR", "TAPEFS_STATE_DIR"} {
		t.Setenv(v, "")
	}
	lib = vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 1})
	ch, err := vtape.OpenChanger(lib)
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Move(context.Background(), device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0})
	ch.Close()
	if err != nil {
		t.Fatal(err)
	}
	return lib, vtape.DrivePath(lib, 0)
}

// pmt runs a pmt command line in a fresh configuration and state
// directory (dirs) and returns its output and error.
func pmt(t *testing.T, dirs string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	argv := append([]string{"pmt", "--config-dir", filepath.Join(dirs, "etc"), "--state-dir", filepath.Join(dirs, "state")}, args...)
	err := cliapp.Run(context.Background(), newApp(&out, &errb), argv)
	return out.String(), errb.String(), err
}

// TestPmtPositioning writes filemarks and moves over them with the mt
// commands, checking the position pmt status reports after each.
func TestPmtPositioning(t *testing.T) {
	_, drive := loadedDrive(t)
	dirs := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, _, err := pmt(t, dirs, append(args, "--device", drive)...)
		if err != nil {
			t.Fatalf("pmt %q: %v", args, err)
		}
		return out
	}
	position := func() string {
		t.Helper()
		out := run("status")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "file number=") {
				f, _, _ := strings.Cut(l, ",")
				return strings.TrimPrefix(f, "file number=")
			}
		}
		t.Fatalf("status has no position:\n%s", out)
		return ""
	}
	run("weof", "3")
	if p := position(); p != "3" {
		t.Errorf("after weof 3: file %s, want 3", p)
	}
	steps := []struct {
		args []string
		file string
	}{
		{[]string{"rewind"}, "0"},
		{[]string{"fsf", "2"}, "2"},
		{[]string{"bsf"}, "1"},
		{[]string{"asf", "1"}, "1"},
		{[]string{"asf", "0"}, "0"},
		{[]string{"fsf"}, "1"},
		{[]string{"eod"}, "3"},
		{[]string{"seod"}, "3"},
	}
	for _, s := range steps {
		run(s.args...)
		if p := position(); p != s.file {
			t.Errorf("after %q: file %s, want %s", s.args, p, s.file)
		}
	}
}

// TestPmtStatus checks the status output, text and JSON, and the tape
// commands that change it (eject).
func TestPmtStatus(t *testing.T) {
	_, drive := loadedDrive(t)
	dirs := t.TempDir()
	out, _, err := pmt(t, dirs, "status", "--device", drive)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"drive " + drive + ":", "file number=0, block number=0", "Tape block size 0 bytes", "General status bits on:", "ONLINE"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, _, err = pmt(t, dirs, "--output-format", "json", "status", "--device", drive)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Drive  string      `json:"drive"`
		Info   device.Info `json:"info"`
		Loaded bool        `json:"loaded"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || js.Drive != drive || !js.Loaded || js.Info.Vendor == "" {
		t.Errorf("status json %+v, %v:\n%s", js, err, out)
	}
	if _, _, err := pmt(t, dirs, "eject", "--device", drive); err != nil {
		t.Fatal(err)
	}
	out, _, err = pmt(t, dirs, "status", "--device", drive)
	if err != nil || !strings.Contains(out, "file number=-1, block number=-1") {
		t.Errorf("status after eject (%v):\n%s", err, out)
	}
	if _, _, err := pmt(t, dirs, "rewind", "--device", drive); cliapp.ExitCode(err) != 5 {
		t.Errorf("rewind without a tape: %v (exit %d), want exit 5", err, cliapp.ExitCode(err))
	}
}

// TestPmtUsage checks argument errors: exit 2 and the drive untouched.
func TestPmtUsage(t *testing.T) {
	_, drive := loadedDrive(t)
	dirs := t.TempDir()
	for _, args := range [][]string{
		{"fsf", "-1"}, {"fsf", "x"}, {"fsf", "1", "2"}, {"weof", "many"}, {"options"},
	} {
		_, _, err := pmt(t, dirs, append(args, "--device", drive)...)
		if code := cliapp.ExitCode(err); code != 2 {
			t.Errorf("%q: %v (exit %d), want exit 2", args, err, code)
		}
	}
	if _, _, err := pmt(t, dirs, "rewind", "--drive", "nosuch"); cliapp.ExitCode(err) != 3 {
		t.Errorf("unknown drive: %v (exit %d), want exit 3", err, cliapp.ExitCode(err))
	}
}

// TestPmtDriveSelection checks how the drive is chosen: TAPE (as mt), a
// configured drive by name, and the only configured drive.
func TestPmtDriveSelection(t *testing.T) {
	_, drive := loadedDrive(t)
	dirs := t.TempDir()
	t.Setenv("TAPE", drive)
	out, _, err := pmt(t, dirs, "status")
	if err != nil || !strings.Contains(out, "drive "+drive+":") {
		t.Errorf("status with TAPE (%v):\n%s", err, out)
	}
	t.Setenv("TAPE", "")
	state := filepath.Join(dirs, "state")
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(dirs, "etc"), StateDir: state, Opener: &devices.Opener{StateDir: state}})
	if err != nil {
		t.Fatal(err)
	}
	err = eng.DriveCreate(config.Drive{Name: "d0", Path: drive})
	eng.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status", "--drive", "d0"}, {"status"}} {
		out, _, err := pmt(t, dirs, args...)
		if err != nil || !strings.Contains(out, "drive d0:") {
			t.Errorf("%q (%v):\n%s", args, err, out)
		}
	}
}

// TestPmtOptions sets the block size and reads it back from status.
func TestPmtOptions(t *testing.T) {
	_, drive := loadedDrive(t)
	dirs := t.TempDir()
	if _, _, err := pmt(t, dirs, "options", "--blocksize", "65536", "--device", drive); err != nil {
		t.Fatal(err)
	}
	out, _, _ := pmt(t, dirs, "status", "--device", drive)
	if !strings.Contains(out, "Tape block size 65536 bytes") {
		t.Errorf("after options --blocksize 65536:\n%s", out)
	}
	if _, _, err := pmt(t, dirs, "options", "--defaults", "--device", drive); err != nil {
		t.Fatal(err)
	}
	out, _, _ = pmt(t, dirs, "status", "--device", drive)
	if !strings.Contains(out, "Tape block size 0 bytes") {
		t.Errorf("after options --defaults:\n%s", out)
	}
}
