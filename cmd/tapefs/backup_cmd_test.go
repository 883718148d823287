package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/vtape"
)

// sourceTree writes a small directory to back up and returns it.
func sourceTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "home")
	for name, body := range map[string]string{"a.txt": "alpha\n", "sub/b.txt": "bravo\n", "skip.tmp": "x"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// TestBackupCommand runs `tapefs backup` from its flags to its table and
// JSON on a virtual library, and runBackup with options directly.
func TestBackupCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	src := sourceTree(t)

	out, _, err := l.run("backup", "--group", "g1", "--exclude", "*.tmp", src, "pa")
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	for _, want := range []string{"snapshot", "g1/", "files", "media-set-uuid", "TEST01L8"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup table lacks %q:\n%s", want, out)
		}
	}

	out, _, err = l.run("backup", "--output-format", "json", "--group", "g1", src, "pa")
	if err != nil {
		t.Fatalf("backup json: %v", err)
	}
	var res engine.BackupResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("backup json: %v\n%s", err, out)
	}
	// The first backup excluded skip.tmp, this one has it: 3 files and
	// the directories.
	if res.Files < 3 || !strings.HasPrefix(res.Snapshot, "g1/") || len(res.Tapes) != 1 {
		t.Errorf("backup result %+v", res)
	}

	e, stdout, _ := l.env(output.Text)
	r, err := e.runBackup(context.Background(), engine.BackupOptions{Source: src, Pool: "pa", Group: "g2", Exclude: []string{"*.tmp", "sub"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Files >= res.Files || !strings.HasPrefix(r.Snapshot, "g2/") || r.Set != res.Set {
		t.Errorf("runBackup with excludes: %+v (the unexcluded one: %d files, set %s)", r, res.Files, res.Set)
	}
	if stdout.Len() != 0 {
		t.Errorf("runBackup printed %q: printing is the command's", stdout)
	}
}

// TestBackupCommandUsage checks the argument errors of backup: exit code
// 2, nothing run.
func TestBackupCommandUsage(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	for _, args := range [][]string{{"backup"}, {"backup", "/src"}, {"backup", "/src", "pa", "extra"}} {
		_, _, err := l.run(args...)
		if code := cliapp.ExitCode(err); code != 2 {
			t.Errorf("%q: %v (exit %d), want exit 2", args, err, code)
		}
	}
	_, _, err := l.run("backup", t.TempDir(), "nosuchpool")
	if code := cliapp.ExitCode(err); code != 3 {
		t.Errorf("unknown pool: %v (exit %d), want exit 3", err, code)
	}
}

func TestWarningsError(t *testing.T) {
	for n, want := range map[int]string{1: "1 file changed while it was read", 3: "3 files changed while they were read"} {
		err := warningsError{n: n}
		if !strings.Contains(err.Error(), want) || cliapp.ExitCode(err) != 8 {
			t.Errorf("%d warnings: %q (exit %d), want %q, exit 8", n, err, cliapp.ExitCode(err), want)
		}
	}
}
