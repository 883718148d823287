package main

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/staging"
	"tapefs/vtape"
)

// incoming writes file name with body in group of pool pa's incoming/
// tree, as a client of the mount would.
func incoming(t *testing.T, l *testLibrary, group, name, body string) {
	t.Helper()
	s, err := l.eng.Staging("pa")
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Lookup(staging.RootID, group)
	if err != nil {
		g, err = s.Make(staging.RootID, group, syscall.S_IFDIR|0o755, 0, 0, 0, "", false)
		if err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Make(g.ID, name, syscall.S_IFREG|0o644, 0, 0, 0, "", true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenFile(a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(body), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCommitCommand commits groups of a pool's incoming/ tree with
// `tapefs commit` and runCommit, text and JSON.
func TestCommitCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	incoming(t, l, "mail", "a", "alpha")
	incoming(t, l, "web", "b", "bravo")
	incoming(t, l, "db", "c", "charlie")

	out, _, err := l.run("commit", "pa", "mail")
	if err != nil {
		t.Fatalf("commit pa mail: %v", err)
	}
	if !strings.Contains(out, "mail/") || strings.Contains(out, "web/") || !strings.Contains(out, "TEST01L8") {
		t.Errorf("commit pa mail:\n%s", out)
	}
	out, _, err = l.run("commit", "--output-format", "json", "pa", "web")
	if err != nil {
		t.Fatal(err)
	}
	var res []engine.BackupResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || !strings.HasPrefix(res[0].Snapshot, "web/") || res[0].Files < 1 {
		t.Errorf("commit json %+v, %v:\n%s", res, err, out)
	}
	e, stdout, _ := l.env(output.Text)
	rs, err := e.runCommit(context.Background(), engine.CommitOptions{Pool: "pa"})
	if err != nil || len(rs) != 1 || !strings.HasPrefix(rs[0].Snapshot, "db/") {
		t.Errorf("runCommit of the rest: %+v, %v", rs, err)
	}
	if stdout.Len() != 0 {
		t.Errorf("runCommit printed %q", stdout)
	}
	if _, _, err := l.run("commit"); cliapp.ExitCode(err) != 2 {
		t.Errorf("commit without a pool: %v (exit %d), want 2", err, cliapp.ExitCode(err))
	}
	if _, _, err := l.run("commit", "nosuch"); cliapp.ExitCode(err) != 3 {
		t.Errorf("commit of an unknown pool: %v (exit %d), want 3", err, cliapp.ExitCode(err))
	}
}

// TestExportMediaSetCommand exports the media set of a backup into the
// library's import/export slot.
func TestExportMediaSetCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{ImportExport: 1})
	_, b := backedUp(t, l)
	out, _, err := l.run("export-media-set", "pa")
	if err != nil {
		t.Fatalf("export-media-set: %v", err)
	}
	if !strings.Contains(out, b.Set.String()) || !strings.Contains(out, "TEST01L8") {
		t.Errorf("export-media-set:\n%s", out)
	}
	e, _, _ := l.env(output.Text)
	rows, err := e.runChangerStatus(context.Background(), changerOpts{Changer: "sl3"})
	if err != nil {
		t.Fatal(err)
	}
	exported := false
	for _, r := range rows {
		if r.Kind == "import-export" && r.LabelText == "TEST01L8" {
			exported = true
		}
	}
	if !exported {
		t.Errorf("TEST01L8 is not in the import/export slot: %+v", rows)
	}
	for _, args := range [][]string{{"export-media-set"}, {"export-media-set", "pa", "pb"}} {
		if _, _, err := l.run(args...); cliapp.ExitCode(err) != 2 {
			t.Errorf("%q: %v (exit %d), want 2", args, err, cliapp.ExitCode(err))
		}
	}
	// The set is closed: nothing left to export.
	if _, err := e.runExportMediaSet(context.Background(), "pa"); err == nil {
		t.Error("a second export found a media set")
	}
}
