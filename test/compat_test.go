package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// simTime is the simulated tape time of the default drive, from `status`.
func (s *sandbox) simTime() float64 {
	s.t.Helper()
	var st struct {
		Sim *float64 `json:"simulated-tape-time"`
	}
	out := s.ok("status", "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Sim == nil {
		s.t.Fatalf("status json %q: %v", out, err)
	}
	return *st.Sim
}

// TestCompatCleaningAndFormat: `load-media` of a cleaning cartridge is
// refused, as proxmox-tape refuses it, and `format` is fast unless told
// otherwise (proxmox-tape's --fast defaults to true).
func TestCompatCleaningAndFormat(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	r := s.run(nil, "tapefs", "load-media", "CLN001CU")
	if r.code != 6 || !strings.Contains(r.stderr, "cleaning cartridge") {
		t.Errorf("load-media CLN001CU: exit %d, want 6 (refused)\n%s", r.code, r.stderr)
	}
	if st := s.ok("changer", "status", "--output-format", "json").stdout; !strings.Contains(st, `{"entry-kind":"drive","entry-id":0}`) {
		t.Errorf("the cleaning cartridge was loaded:\n%s", st)
	}

	s.ok("load-media", "TEST02L8")
	t0 := s.simTime()
	s.ok("format")
	t1 := s.simTime()
	s.ok("format", "--fast=false")
	t2 := s.simTime()
	if fast, full := t1-t0, t2-t1; fast >= full {
		t.Errorf("plain format took %.1f s of tape time, --fast=false %.1f s: the default is not fast", fast, full)
	}
}

// TestCompatKeys runs proxmox-tape's key options: `key create --kdf
// pbkdf2`, `key change-passphrase --force` (no current password),
// `key paperkey --subject`, `key restore --key JSON`, and `read-label`
// showing the encryption key fingerprint of an encrypted set's tape.
func TestCompatKeys(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	fp := fingerprintRe.FindStringSubmatch(s.okIn("pw\npw\n", "key", "create", "--hint", "office", "--kdf", "pbkdf2").stdout)[1]
	if show := s.ok("key", "show", fp).stdout; !lineHas(show, "kdf", "pbkdf2") {
		t.Errorf("key show:\n%s", show)
	}
	if r := s.runIn("pw\npw\n", "key", "create", "--hint", "x", "--kdf", "none"); r.code != 2 {
		t.Errorf("key create --kdf none: exit %d, want 2", r.code)
	}

	// A forgotten password: only the new one is asked for.
	s.okIn("new\nnew\n", "key", "change-passphrase", fp, "--force")

	paper := s.ok("key", "paperkey", fp, "--output-format", "text", "--subject", "Tape key, office safe").stdout
	if !strings.HasPrefix(paper, "Subject: Tape key, office safe\n") {
		t.Errorf("paperkey --subject:\n%s", paper)
	}
	_, rest, _ := strings.Cut(paper, "-----BEGIN TAPEFS TAPE ENCRYPTION KEY-----")
	keyJSON, _, _ := strings.Cut(rest, "-----END TAPEFS TAPE ENCRYPTION KEY-----")
	s.ok("key", "remove", fp)
	s.okIn("new\n", "key", "restore", "--key", strings.TrimSpace(keyJSON))
	if list := s.ok("key", "list").stdout; !strings.Contains(list, abbrev(fp)) {
		t.Fatalf("key restore --key did not restore the key:\n%s", list)
	}

	s.ok("pool", "update", "daily", "--encrypt", fp)
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	b := s.backup(src, "daily")
	s.ok("load-media", b.Tapes[0])
	var li struct {
		FP string `json:"encryption-key-fingerprint"`
	}
	if err := json.Unmarshal([]byte(s.ok("read-label", "--output-format", "json").stdout), &li); err != nil || li.FP != fp {
		t.Errorf("read-label json: fingerprint %q, %v; want %s", li.FP, err, fp)
	}
	if text := s.ok("read-label").stdout; !lineHas(text, "encryption-key-fingerprint", fp) {
		t.Errorf("read-label does not show the key fingerprint:\n%s", text)
	}
}

// TestCompatTemplate: media set name templates are checked when a pool is
// created or updated (2 to 64 characters as in proxmox-tape, no unknown
// % conversion, no '/'); they were stored, and sets then silently got the
// default name.
func TestCompatTemplate(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("pool", "update", "daily", "--template", "daily-%Y-%m-%d")
	for _, bad := range []string{"x%q", "a/b", "x", strings.Repeat("y", 65), "50%"} {
		if r := s.run(nil, "tapefs", "pool", "update", "daily", "--template", bad); r.code != 2 || !strings.Contains(r.stderr, "template") {
			t.Errorf("pool update --template %q: exit %d, want 2\n%s", bad, r.code, r.stderr)
		}
		if r := s.run(nil, "tapefs", "pool", "create", "other", "--drive", "mydrive", "--template", bad); r.code != 2 {
			t.Errorf("pool create --template %q: exit %d, want 2\n%s", bad, r.code, r.stderr)
		}
	}
	if cfg := s.ok("pool", "config", "daily").stdout; !lineHas(cfg, "template", "daily-%Y-%m-%d") {
		t.Errorf("a refused template changed the pool:\n%s", cfg)
	}
}

// TestCompatOldSetsFull: the tapes of a media set that is no longer its
// pool's current set show `full` in `media list` (nothing is appended to
// them any more), and `expired` once the pool's retention lets them go, as
// proxmox-tape shows them; they showed `writable`.
func TestCompatOldSetsFull(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("pool", "update", "daily", "--allocation", "always")
	s.ok("barcode-label", "--pool", "daily")
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	b1 := s.backup(src, "daily")
	b2 := s.backup(src, "daily")
	if b1.Set == b2.Set {
		t.Fatal("allocation always did not start a new set")
	}
	status := func() map[string][2]any {
		var list []struct {
			Label   string `json:"label-text"`
			Status  string `json:"status"`
			Expired bool   `json:"expired"`
		}
		if err := json.Unmarshal([]byte(s.ok("media", "list", "--output-format", "json").stdout), &list); err != nil {
			t.Fatal(err)
		}
		m := map[string][2]any{}
		for _, e := range list {
			m[e.Label] = [2]any{e.Status, e.Expired}
		}
		return m
	}
	st := status()
	if got := st[b1.Tapes[0]]; got != [2]any{"full", false} {
		t.Errorf("tape %s of the old set: %v, want full, not expired", b1.Tapes[0], got)
	}
	if got := st[b2.Tapes[0]]; got != [2]any{"writable", false} {
		t.Errorf("tape %s of the current set: %v, want writable", b2.Tapes[0], got)
	}
	if list := s.ok("media", "list").stdout; !lineHas(list, b1.Tapes[0], "full") {
		t.Errorf("media list:\n%s", list)
	}
	s.ok("pool", "update", "daily", "--retention", "overwrite")
	if got := status()[b1.Tapes[0]]; got != [2]any{"expired", true} {
		t.Errorf("tape %s of the old set with retention overwrite: %v, want expired", b1.Tapes[0], got)
	}
}

// TestCompatEjectBeforeUnload: `changer update --eject-before-unload`
// (proxmox-tape's changer option) is accepted, kept in tape.cfg, shown by
// `changer config`, and reset with --delete; loading and unloading work
// with it.
func TestCompatEjectBeforeUnload(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("changer", "update", "sl3", "--eject-before-unload")
	if cfg := s.ok("changer", "config", "sl3").stdout; !lineHas(cfg, "eject-before-unload", "true") {
		t.Errorf("changer config:\n%s", cfg)
	}
	if b, err := os.ReadFile(filepath.Join(s.root, "etc", "tape.cfg")); err != nil || !strings.Contains(string(b), "\teject-before-unload true\n") {
		t.Errorf("tape.cfg: %s %v", b, err)
	}
	s.ok("barcode-label", "--pool", "daily")
	s.ok("load-media", "TEST01L8")
	s.ok("unload")
	s.ok("changer", "update", "sl3", "--delete", "eject-before-unload")
	if cfg := s.ok("changer", "config", "sl3").stdout; strings.Contains(cfg, "eject-before-unload") {
		t.Errorf("changer config after --delete:\n%s", cfg)
	}
}
