package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// exportSource writes a small tree to back up and returns its directory.
func exportSource(t *testing.T, s *sandbox) string {
	t.Helper()
	src := filepath.Join(s.root, "src", "docs")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("export me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestExportMediaSet exports a pool's current media set with the CLI:
// its tape moves to an import/export slot, the set is closed (the next
// backup starts a new one), and a pool without an open set is refused.
func TestExportMediaSet(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	if r := s.run(nil, "tapefs", "export-media-set", "daily"); r.code != 3 || !strings.Contains(r.stderr, "no open media set") {
		t.Errorf("export of a pool without media sets: exit %d, stderr %q; want 3 and the reason", r.code, r.stderr)
	}
	if r := s.run(nil, "tapefs", "export-media-set"); r.code != 2 || !strings.Contains(r.stderr, "POOL") {
		t.Errorf("export-media-set without POOL: exit %d, stderr %q; want 2 and the usage", r.code, r.stderr)
	}
	src := exportSource(t, s)
	b := s.backup(src, "daily")

	var res struct {
		Set   string   `json:"media-set-uuid"`
		Media []string `json:"media"`
	}
	out := s.ok("export-media-set", "daily", "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("export-media-set output %q: %v", out, err)
	}
	if res.Set != b.Set || !slices.Equal(res.Media, b.Tapes) {
		t.Errorf("exported set %s %q, want the backup's %s %q", res.Set, res.Media, b.Set, b.Tapes)
	}
	status := s.ok("changer", "status", "sl3").stdout
	for _, label := range b.Tapes {
		if !lineHas(status, "import-export", label) {
			t.Errorf("tape %s is not in an import/export slot:\n%s", label, status)
		}
	}
	if b2 := s.backup(src, "daily"); b2.Set == b.Set || slices.ContainsFunc(b2.Tapes, func(l string) bool { return slices.Contains(b.Tapes, l) }) {
		t.Errorf("backup after the export went to set %s on %q; the exported set was %s on %q", b2.Set, b2.Tapes, b.Set, b.Tapes)
	}
}

// TestFuseExportControl exports a pool's media set through the mounted
// pools/<pool>/export control file.
func TestFuseExportControl(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	b := s.backup(exportSource(t, s), "daily")
	mnt := s.mount()
	ctl := filepath.Join(mnt, "pools/daily/export")
	if text := readFile(t, ctl); !strings.Contains(text, "usage: echo > export") || !strings.Contains(text, "last run: none") {
		t.Errorf("export before a run:\n%s", text)
	}
	steps := []struct {
		text string
		want syscall.Errno
		show string
	}{
		{"now", syscall.EINVAL, "takes none"},
		{"", 0, "result: ok"},
		{"", syscall.ENOENT, "no open media set"},
	}
	for _, st := range steps {
		if got := writeCtl(t, ctl, st.text); got != st.want {
			t.Errorf("echo %q > export: errno %v, want %v", st.text, got, st.want)
		}
		text := readFile(t, ctl)
		if !strings.Contains(text, st.show) {
			t.Errorf("after echo %q > export, the file does not show %q:\n%s", st.text, st.show, text)
		}
		if st.want == 0 && (!strings.Contains(text, "command: tapefs export-media-set daily") || !strings.Contains(text, b.Tapes[0])) {
			t.Errorf("export does not show its command and tapes:\n%s", text)
		}
	}
	ie := filepath.Join(mnt, "changers/sl3/import-export")
	ents, err := os.ReadDir(ie)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(ie, e.Name())); err == nil && target == "../../../media/"+b.Tapes[0] {
			found = true
		}
	}
	if !found {
		t.Errorf("changers/sl3/import-export/ has no link to %s: %v", b.Tapes[0], ents)
	}
}

// TestFuseExportMediaControl exports one tape through media/<label>/export
// (`tapefs export-media`; the docs said "not built yet"): it moves to an
// import/export slot and is offline, a second write fails with ENOENT.
func TestFuseExportMediaControl(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	ctl := filepath.Join(mnt, "media/TEST02L8/export")
	if text := readFile(t, ctl); !strings.Contains(text, "usage: echo > export") {
		t.Errorf("media export before a run:\n%s", text)
	}
	if got := writeCtl(t, ctl, "now"); got != syscall.EINVAL {
		t.Errorf("echo now > export: errno %v, want EINVAL", got)
	}
	if got := writeCtl(t, ctl, ""); got != 0 {
		t.Fatalf("echo > export: errno %v\n%s", got, readFile(t, ctl))
	}
	if text := readFile(t, ctl); !strings.Contains(text, "command: tapefs export-media TEST02L8 --drive mydrive") {
		t.Errorf("export does not show its command:\n%s", text)
	}
	if status := s.ok("changer", "status", "sl3").stdout; !lineHas(status, "import-export", "TEST02L8") {
		t.Errorf("TEST02L8 is not in an import/export slot:\n%s", status)
	}
	if info := readFile(t, filepath.Join(mnt, "media/TEST02L8/info")); !strings.Contains(info, "offline") {
		t.Errorf("TEST02L8 is not offline:\n%s", info)
	}
	if got := writeCtl(t, ctl, ""); got != syscall.ENOENT {
		t.Errorf("a second export: errno %v, want ENOENT", got)
	}
}
