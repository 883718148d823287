package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/devices"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/vtape"
)

// testLibrary is an engine on a virtual library for command tests: changer
// sl3, drives d0, d1, ... and pool pa on d0, every tape barcode-labelled
// for pa. The engine is closed when the test ends.
type testLibrary struct {
	t   *testing.T
	eng *engine.Engine
	lib string
	// settings are the engine's configuration and state directories.
	settings cliapp.Settings
}

func newTestLibrary(t *testing.T, lo vtape.LibraryOptions) *testLibrary {
	t.Helper()
	if lo.Cartridges == 0 {
		lo.Cartridges = 2
	}
	lib := vtape.NewTestLibrary(t, lo)
	root := t.TempDir()
	state := filepath.Join(root, "state")
	eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(root, "etc"), StateDir: state, Opener: &devices.Opener{StateDir: state}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Registered as `tapefs vtape create` does, for the scans.
	must((&devices.Opener{StateDir: state}).Register(lib))
	must(eng.ChangerCreate("sl3", lib, nil))
	for n := 0; n < max(lo.Drives, 1); n++ {
		must(eng.DriveCreate(config.Drive{Name: "d" + strconv.Itoa(n), Path: vtape.DrivePath(lib, n), Changer: "sl3", ChangerDriveNum: n}))
	}
	must(eng.PoolCreate(config.Pool{Name: "pa", Drive: "d0"}))
	_, err = eng.BarcodeLabel(context.Background(), "d0", "pa")
	must(err)
	return &testLibrary{t: t, eng: eng, lib: lib, settings: cliapp.Settings{Format: output.Text, ConfigDir: filepath.Join(root, "etc"), StateDir: state}}
}

// env is a command environment on the library's engine printing in
// format; its output is in the returned buffers.
func (l *testLibrary) env(format output.Format) (*env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, console: newConsole(&stderr), eng: l.eng, shared: true, cmds: commandInfos{}, Settings: l.settings}
	e.Format = format
	return e, &stdout, &stderr
}

// run runs a tapefs command line (without the program name) on the
// library's engine, as the daemon runs a forwarded one: flags, the
// command, its output.
func (l *testLibrary) run(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	app := newApp(&out, &errb, l.eng)
	argv := append([]string{"tapefs", "--config-dir", l.settings.ConfigDir, "--state-dir", l.settings.StateDir}, args...)
	err = cliapp.Run(context.Background(), app, argv)
	return out.String(), errb.String(), err
}

// ok runs a command line that must succeed and returns its stdout.
func (l *testLibrary) ok(args ...string) string {
	l.t.Helper()
	out, _, err := l.run(args...)
	if err != nil {
		l.t.Fatalf("%q: %v", args, err)
	}
	return out
}

// exitCase is a command line and the exit code it must end with.
type exitCase struct {
	args []string
	code int
}

// wantExits runs each command line and checks its exit code.
func (l *testLibrary) wantExits(cases []exitCase) {
	l.t.Helper()
	for _, tt := range cases {
		if _, _, err := l.run(tt.args...); cliapp.ExitCode(err) != tt.code {
			l.t.Errorf("%q: %v (exit %d), want exit %d", tt.args, err, cliapp.ExitCode(err), tt.code)
		}
	}
}
