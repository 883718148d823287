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

// library returns a virtual library of two drives, four storage slots
// (three cartridges) and one import/export slot, with the environment
// cleared of changer and drive defaults.
func library(t *testing.T) string {
	t.Helper()
	for _, v := range []string{"CHANGER", "TAPEFS_DRIVE", "PROXMOX_TAPE_DRIVE", "TAPEFS_CONFIG_DIR", "TAPEFS_STATE_DIR"} {
		t.Setenv(v, "")
	}
	return vtape.NewTestLibrary(t, vtape.LibraryOptions{Drives: 2, Slots: 4, Cartridges: 3, ImportExport: 1})
}

// pmtx runs a pmtx command line with the configuration and state
// directories under dirs.
func pmtx(t *testing.T, dirs string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	argv := append([]string{"pmtx", "--config-dir", filepath.Join(dirs, "etc"), "--state-dir", filepath.Join(dirs, "state")}, args...)
	err := cliapp.Run(context.Background(), newApp(&out, &errb), argv)
	return out.String(), err
}

// status is the changer's element status read from the device.
func status(t *testing.T, lib string) device.ChangerStatus {
	t.Helper()
	ch, err := vtape.OpenChanger(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	st, err := ch.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// configure makes lib changer sl3 with drives d0 and d1 in the
// configuration under dirs.
func configure(t *testing.T, dirs, lib string) {
	t.Helper()
	state := filepath.Join(dirs, "state")
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(dirs, "etc"), StateDir: state, Opener: &devices.Opener{StateDir: state}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.ChangerCreate("sl3", lib, nil); err != nil {
		t.Fatal(err)
	}
	for n, name := range []string{"d0", "d1"} {
		if err := eng.DriveCreate(config.Drive{Name: name, Path: vtape.DrivePath(lib, n), Changer: "sl3", ChangerDriveNum: n}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPmtxMoves loads, unloads and transfers tapes with mtx's syntax and
// tapefs's flags, checking the changer's elements after each. The drives
// are configured, so unload unthreads the tape before the move.
func TestPmtxMoves(t *testing.T) {
	lib := library(t)
	dirs := t.TempDir()
	configure(t, dirs, lib)
	run := func(args ...string) {
		t.Helper()
		if _, err := pmtx(t, dirs, append(args, "--changer", "sl3")...); err != nil {
			t.Fatalf("pmtx %q: %v", args, err)
		}
	}
	run("load", "2", "1")
	st := status(t, lib)
	if !st.Drives[1].Full || st.Drives[1].SourceSlot != 2 || st.Slots[1].Full {
		t.Fatalf("after load 2 1: drives %+v, slots %+v", st.Drives, st.Slots)
	}
	tag := st.Drives[1].VolumeTag
	run("unload", "--drivenum", "1")
	st = status(t, lib)
	if st.Drives[1].Full || !st.Slots[1].Full || st.Slots[1].VolumeTag != tag {
		t.Fatalf("after unload --drivenum 1 (back to its source slot): drives %+v, slots %+v", st.Drives, st.Slots)
	}
	run("load", "1")
	run("unload", "4", "0")
	st = status(t, lib)
	if st.Drives[0].Full || st.Slots[0].Full || !st.Slots[3].Full {
		t.Fatalf("after load 1, unload 4 0: drives %+v, slots %+v", st.Drives, st.Slots)
	}
	// Slot 5 is the import/export slot (mtx numbering).
	run("transfer", "4", "5")
	st = status(t, lib)
	if st.Slots[3].Full || !st.ImportExport[0].Full {
		t.Fatalf("after transfer 4 5: slots %+v, import/export %+v", st.Slots, st.ImportExport)
	}
}

// TestPmtxStatus checks the mtx-style status and its JSON.
func TestPmtxStatus(t *testing.T) {
	lib := library(t)
	dirs := t.TempDir()
	if _, err := pmtx(t, dirs, "load", "3", "--drivenum", "0", "--device", lib); err != nil {
		t.Fatal(err)
	}
	out, err := pmtx(t, dirs, "status", "--device", lib)
	if err != nil {
		t.Fatal(err)
	}
	tag := status(t, lib).Drives[0].VolumeTag
	for _, want := range []string{
		"  Storage Changer " + lib + ":2 Drives, 5 Slots ( 1 Import/Export )\n",
		"Data Transfer Element 0:Full (Storage Element 3 Loaded):VolumeTag = " + tag + "\n",
		"Data Transfer Element 1:Empty\n",
		"      Storage Element 3:Empty\n",
		"      Storage Element 4:Empty\n",
		"      Storage Element 5 IMPORT/EXPORT:Empty\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = pmtx(t, dirs, "--output-format", "json", "status", "--device", lib)
	if err != nil {
		t.Fatal(err)
	}
	var st device.ChangerStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Drives) != 2 || len(st.Slots) != 4 || !st.Drives[0].Full {
		t.Errorf("status json %+v, %v", st, err)
	}
	out, err = pmtx(t, dirs, "inquiry", "--device", lib)
	if err != nil || !strings.Contains(out, "serial") {
		t.Errorf("inquiry (%v):\n%s", err, out)
	}
}

// TestPmtxUsage checks argument errors (exit 2) and refusals.
func TestPmtxUsage(t *testing.T) {
	lib := library(t)
	dirs := t.TempDir()
	for _, args := range [][]string{
		{"load"}, {"load", "0"}, {"load", "x"}, {"load", "1", "1", "1"}, {"load", "1", "5"},
		{"load", "1", "1", "--drivenum", "0"}, {"load", "9"},
		{"unload", "1", "--slot", "2"}, {"transfer", "1"}, {"transfer", "1", "x"},
	} {
		_, err := pmtx(t, dirs, append(args, "--device", lib)...)
		if code := cliapp.ExitCode(err); code != 2 {
			t.Errorf("%q: %v (exit %d), want exit 2", args, err, code)
		}
	}
	if _, err := pmtx(t, dirs, "unload", "--device", lib); cliapp.ExitCode(err) != 5 {
		t.Errorf("unload of an empty drive: %v (exit %d), want exit 5", err, cliapp.ExitCode(err))
	}
	if st := status(t, lib); st.Drives[0].Full || st.Drives[1].Full {
		t.Errorf("a refused command moved a tape: %+v", st.Drives)
	}
}

// TestPmtxChangerSelection checks how the changer is chosen: CHANGER (as
// mtx), a configured changer by name, and the changer of a drive; and that
// unload unthreads a configured drive's tape first.
func TestPmtxChangerSelection(t *testing.T) {
	lib := library(t)
	dirs := t.TempDir()
	t.Setenv("CHANGER", lib)
	if _, err := pmtx(t, dirs, "load", "1"); err != nil {
		t.Fatalf("load with CHANGER: %v", err)
	}
	t.Setenv("CHANGER", "")
	configure(t, dirs, lib)
	out, err := pmtx(t, dirs, "status", "--changer", "sl3")
	if err != nil || !strings.Contains(out, "Data Transfer Element 0:Full") {
		t.Errorf("status --changer sl3 (%v):\n%s", err, out)
	}
	// The changer of drive d0, and its drive number.
	if _, err := pmtx(t, dirs, "unload", "--drive", "d0"); err != nil {
		t.Fatalf("unload --drive d0: %v", err)
	}
	if st := status(t, lib); st.Drives[0].Full || !st.Slots[0].Full {
		t.Errorf("after unload --drive d0: drives %+v, slots %+v", st.Drives, st.Slots)
	}
	if _, err := pmtx(t, dirs, "status", "--changer", "nosuch"); cliapp.ExitCode(err) != 3 {
		t.Errorf("unknown changer: %v (exit %d), want exit 3", err, cliapp.ExitCode(err))
	}
}
