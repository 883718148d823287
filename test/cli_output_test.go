package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tapefs/engine"
	"tapefs/vtape"
)

// TestBackupSameSecondDuration backs up one group three times within one
// second of the clock: the snapshot names move on to the next free second,
// and the durations stay what the jobs took (never negative).
func TestBackupSameSecondDuration(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	eng, _ := engineLibrary(t, dir, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 1, Capacity: 64 << 20},
		engine.Options{Now: func() time.Time { return now }}, nil, ptr("pa"))
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		res, err := eng.Backup(context.Background(), engine.BackupOptions{Source: src, Pool: "pa"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[res.Snapshot] {
			t.Errorf("backup %d: snapshot name %s given twice", i, res.Snapshot)
		}
		seen[res.Snapshot] = true
		if res.ElapsedNanos < 0 {
			t.Errorf("backup %d (%s): elapsed %v, negative", i, res.Snapshot, time.Duration(res.ElapsedNanos))
		}
	}
}

// TestNoWritableMediaMessage: a backup into a pool without tapes says so
// once (it said `pool enc: pool 'enc': no writable media`).
func TestNoWritableMediaMessage(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	s.ok("pool", "create", "enc", "--drive", "mydrive")
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	r := s.run(nil, "tapefs", "backup", src, "enc")
	if r.code != 7 {
		t.Fatalf("backup into a pool without tapes: exit %d, want 7\n%s", r.code, r.stderr)
	}
	last := strings.TrimSpace(r.stderr)
	last = last[strings.LastIndex(last, "\n")+1:]
	if !strings.HasPrefix(last, "tapefs: pool 'enc': no writable media: ") || strings.Count(last, "enc") != 3 {
		t.Errorf("error message %q: want it to name the pool once, then say what to do", last)
	}
}

var kebabRe = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// badKeys returns the object keys in a decoded JSON value that are not
// kebab-case, with their paths.
func badKeys(v any, path string) []string {
	var bad []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !kebabRe.MatchString(k) {
				bad = append(bad, path+"."+k)
			}
			bad = append(bad, badKeys(e, path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			bad = append(bad, badKeys(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return bad
}

// tableNames returns the Name column of a Name/Value table.
func tableNames(text string) []string {
	var names []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(line, "│")
		if len(f) == 4 {
			if n := strings.TrimSpace(f[1]); n != "Name" {
				names = append(names, n)
			}
		}
	}
	return names
}

// TestJSONOutputShape runs the commands that print results with
// --output-format json: every key is kebab-case, and `status` (which had
// a nested Go struct under "Status" beside a "status" string) has the
// rows of its text table as keys, in the same order, on an empty and on a
// loaded drive.
func TestJSONOutputShape(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkStatus := func(when string) {
		t.Helper()
		var obj map[string]json.RawMessage
		out := s.ok("status", "--output-format", "json").stdout
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("status json %q: %v", out, err)
		}
		var keys []string
		dec := json.NewDecoder(strings.NewReader(out))
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		names := tableNames(s.ok("status").stdout)
		if strings.Join(keys, ",") != strings.Join(names, ",") {
			t.Errorf("status %s: json keys %v, table rows %v", when, keys, names)
		}
	}
	checkStatus("without a tape")
	s.ok("barcode-label", "--pool", "daily")
	b := s.backup(src, "daily")
	s.ok("load-media", b.Tapes[0])
	checkStatus("with a tape")

	for _, args := range [][]string{
		{"status"}, {"read-label"}, {"media", "list"}, {"media", "content"}, {"changer", "status"},
		{"changer", "config", "sl3"}, {"changer", "list"}, {"changer", "scan"}, {"drive", "list"},
		{"drive", "config", "mydrive"}, {"drive", "scan"}, {"pool", "list"}, {"pool", "config", "daily"},
		{"cartridge-memory"}, {"volume-statistics"}, {"vtape", "list"}, {"inventory"}, {"key", "list"},
		{"restore", b.Set, filepath.Join(s.root, "r"), "--dry-run"}, {"backup", src, "daily"},
		{"export-media-set", "daily"},
	} {
		out := s.ok(append(args, "--output-format", "json")...).stdout
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%v: json %q: %v", args, out, err)
			continue
		}
		if bad := badKeys(v, ""); len(bad) > 0 {
			t.Errorf("%v: keys not in kebab-case: %v", args, bad)
		}
	}
	for _, args := range [][]string{{"pmt", "-f", filepath.Join(lib, "drive0"), "status"}, {"pmtx", "-f", lib, "status"}} {
		r := s.run(nil, args[0], append(args[1:], "--output-format", "json")...)
		var v any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Errorf("%v: exit %d, json %q: %v %s", args, r.code, r.stdout, err, r.stderr)
			continue
		}
		if bad := badKeys(v, ""); len(bad) > 0 {
			t.Errorf("%v: keys not in kebab-case: %v", args, bad)
		}
	}
}

// TestDemoScript runs `make demo`'s script: the whole quickstart, with a
// backup, a restore compared with the source and, with FUSE, the same
// through the mount (it stopped after labelling the tapes).
func TestDemoScript(t *testing.T) {
	script, err := filepath.Abs("../scripts/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "BIN="+binDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	want := []string{"# tapefs backup ", "# tapefs restore ", "restored tree matches the source"}
	if _, err := os.Stat("/dev/fuse"); err == nil {
		want = append(want, "# tapefs mount ", "copy out of the mount matches the source")
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("demo output lacks %q:\n%s", w, out)
		}
	}
}
