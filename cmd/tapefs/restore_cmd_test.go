package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/vtape"
)

// backedUp backs up a source tree into pool pa of l and returns the
// source and the result.
func backedUp(t *testing.T, l *testLibrary) (string, *engine.BackupResult) {
	t.Helper()
	src := sourceTree(t)
	e, _, _ := l.env(output.Text)
	res, err := e.runBackup(context.Background(), engine.BackupOptions{Source: src, Pool: "pa", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	return src, res
}

// TestRestoreCommand runs `tapefs restore` from its flags to its output
// on a virtual library: the plan of --dry-run, a restore of one path, its
// JSON.
func TestRestoreCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	src, b := backedUp(t, l)
	set := b.Set.String()

	target := filepath.Join(t.TempDir(), "plan")
	out, _, err := l.run("restore", "--dry-run", set, target)
	if err != nil {
		t.Fatalf("restore --dry-run: %v", err)
	}
	for _, want := range []string{"snapshots: " + b.Snapshot, "seq-nr", "TEST01L8"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "restored") {
		t.Errorf("dry run says it restored:\n%s", out)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("dry run created %s", target)
	}

	target = filepath.Join(t.TempDir(), "one")
	out, _, err = l.run("restore", "--path", "sub/*", set, target, b.Snapshot)
	if err != nil {
		t.Fatalf("restore --path: %v\n%s", err, out)
	}
	if !strings.Contains(out, "restored 1 files") {
		t.Errorf("restore output:\n%s", out)
	}
	// A snapshot is restored below TARGET/SNAPSHOT.
	target = filepath.Join(target, filepath.FromSlash(b.Snapshot))
	got, err := os.ReadFile(filepath.Join(target, "sub", "b.txt"))
	want, _ := os.ReadFile(filepath.Join(src, "sub", "b.txt"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("restored sub/b.txt: %q, %v; want %q\n%s", got, err, want, out)
	}
	if _, err := os.Stat(filepath.Join(target, "a.txt")); err == nil {
		t.Error("restore --path sub/* restored a.txt")
	}

	out, _, err = l.run("restore", "--output-format", "json", set, filepath.Join(t.TempDir(), "all"))
	if err != nil {
		t.Fatal(err)
	}
	var res engine.RestoreResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("restore json: %v\n%s", err, out)
	}
	if res.Restored != 3 || res.Plan.Set != b.Set || len(res.Plan.Tapes) != 1 {
		t.Errorf("restore json: %+v", res)
	}
}

// TestRestoreOptions checks the argument errors of restore: exit code 2
// before the engine is asked.
func TestRestoreOptions(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	for _, args := range [][]string{{"restore"}, {"restore", uuid.NewString()}, {"restore", "not-a-uuid", "/t"}} {
		_, _, err := l.run(args...)
		if code := cliapp.ExitCode(err); code != 2 {
			t.Errorf("%q: %v (exit %d), want exit 2", args, err, code)
		}
	}
	_, _, err := l.run("restore", uuid.NewString(), t.TempDir())
	if code := cliapp.ExitCode(err); code != 3 {
		t.Errorf("unknown media set: %v (exit %d), want exit 3", err, code)
	}
}

// TestPrintRestore checks the text around the tapes table: offline tapes,
// failed files and the summary, and that a dry run has no summary.
func TestPrintRestore(t *testing.T) {
	res := &engine.RestoreResult{
		Plan: engine.RestorePlan{
			Snapshots: []string{"g/1", "g/2"}, Files: 4, Bytes: 2048,
			Tapes: []engine.RestoreTape{
				{Label: "T1", Seq: 0, Archives: []uint64{2, 5}, Chunks: 3, Bytes: 1024},
				{Label: "T2", Seq: 1, Archives: []uint64{2}, Chunks: 1, Bytes: 1024, Offline: true},
			},
		},
		Restored: 3, Failed: []string{"x: tape T2 is offline"},
	}
	var w bytes.Buffer
	if err := printRestore(&w, output.Text, engine.RestoreOptions{}, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"snapshots: g/1, g/2\nfiles: 4, 2.0 KiB\n",
		"T1", "2,5",
		"tape T2 is not in the library",
		"restored 3 files\n",
		"not restored: x: tape T2 is offline\n",
	} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, w.String())
		}
	}
	w.Reset()
	if err := printRestore(&w, output.Text, engine.RestoreOptions{DryRun: true}, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.String(), "restored") || !strings.Contains(w.String(), "estimated tape time") {
		t.Errorf("dry run output:\n%s", w.String())
	}
	w.Reset()
	if err := printRestore(&w, output.JSON, engine.RestoreOptions{}, res); err != nil {
		t.Fatal(err)
	}
	var back engine.RestoreResult
	if err := json.Unmarshal(w.Bytes(), &back); err != nil || back.Restored != 3 || len(back.Plan.Tapes) != 2 {
		t.Errorf("json output %q: %v", w.String(), err)
	}
}
