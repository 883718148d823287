package test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var fingerprintRe = regexp.MustCompile(`^"([0-9a-f]{2}(:[0-9a-f]{2}){31})"\n$`)

// runIn runs tapefs with stdin fed from a string (piped passwords).
func (s *sandbox) runIn(stdin string, args ...string) result {
	s.t.Helper()
	cmd := s.command(nil, "tapefs", args...)
	cmd.Stdin = strings.NewReader(stdin)
	return s.runCmd(cmd)
}

func (s *sandbox) okIn(stdin string, args ...string) result {
	s.t.Helper()
	r := s.runIn(stdin, args...)
	if r.code != 0 {
		s.t.Fatalf("tapefs %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// keyStore returns a digest of the key store file ("" when missing).
func (s *sandbox) keyStore() string {
	b, err := os.ReadFile(filepath.Join(s.root, "etc", "tape-encryption-keys.json"))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// abbrev shortens a fingerprint as the reference prints it.
func abbrev(fp string) string { return fp[:24] + "..." + fp[len(fp)-18:] }

// TestKeyManagement walks through the reference's "Encryption Key
// Management": create (passwords piped on stdin), list, show, paperkey,
// change-passphrase, restore from a paper key, remove (refused while a
// pool uses the key).
func TestKeyManagement(t *testing.T) {
	s := newSandbox(t)

	r := s.okIn("secret\nsecret\n", "key", "create", "--hint", "tape pw 2020")
	m := fingerprintRe.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("key create printed %q, want a quoted fingerprint", r.stdout)
	}
	fp := m[1]
	if !strings.Contains(r.stderr, "Tape Encryption Key Password: ") || !strings.Contains(r.stderr, "Verify Password: ") {
		t.Errorf("key create prompts: %q", r.stderr)
	}
	st, err := os.Stat(filepath.Join(s.root, "etc", "tape-encryption-keys.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key store: %v, mode %v; want 0600", err, st.Mode().Perm())
	}

	list := s.ok("key", "list").stdout
	for _, want := range []string{"fingerprint", "hint", abbrev(fp), "tape pw 2020"} {
		if !strings.Contains(list, want) {
			t.Errorf("key list lacks %q:\n%s", want, list)
		}
	}
	if js := s.ok("key", "list", "--output-format", "json").stdout; !strings.Contains(js, `"fingerprint":"`+fp+`"`) {
		t.Errorf("key list json: %s", js)
	}

	show := s.ok("key", "show", abbrev(fp)).stdout
	for _, want := range []string{"Name", "Value", "kdf", "scrypt", "created", "modified", abbrev(fp), "tape pw 2020"} {
		if !strings.Contains(show, want) {
			t.Errorf("key show lacks %q:\n%s", want, show)
		}
	}
	if !timeRe.MatchString(show) {
		t.Errorf("key show has no reference-style time:\n%s", show)
	}

	paper := s.ok("key", "paperkey", fp, "--output-format", "text").stdout
	for _, want := range []string{"-----BEGIN TAPEFS TAPE ENCRYPTION KEY-----", `"fingerprint": "` + fp + `"`, `"kdf": "scrypt"`, "-----END TAPEFS TAPE ENCRYPTION KEY-----", "▄▄▄▄▄"} {
		if !strings.Contains(paper, want) {
			t.Errorf("paperkey text lacks %q:\n%s", want, paper)
		}
	}
	paperFile := filepath.Join(s.root, "qrkey.txt")
	if err := os.WriteFile(paperFile, []byte(paper), 0o600); err != nil {
		t.Fatal(err)
	}
	html := s.ok("key", "paperkey", abbrev(fp), "--output-format", "html").stdout
	for _, want := range []string{"<!DOCTYPE html>", `<img alt="QR code of the key config"`, `src="data:image/png;base64,`, fp, "tape pw 2020"} {
		if !strings.Contains(html, want) {
			t.Errorf("paperkey html lacks %q", want)
		}
	}

	r = s.okIn("secret\nnew pw\nnew pw\n", "key", "change-passphrase", abbrev(fp), "--hint", "tape pw 2021")
	if !strings.Contains(r.stderr, "Current Tape Encryption Key Password: ") {
		t.Errorf("change-passphrase prompts: %q", r.stderr)
	}
	if show := s.ok("key", "show", fp).stdout; !strings.Contains(show, "tape pw 2021") {
		t.Errorf("hint not changed:\n%s", show)
	}
	if r := s.runIn("secret\nx\nx\n", "key", "change-passphrase", fp); r.code != 2 || !strings.Contains(r.stderr, "password") {
		t.Errorf("change-passphrase with the old password: exit %d, %q", r.code, r.stderr)
	}

	// Restoring a key that is known changes nothing and succeeds.
	r = s.okIn("", "key", "restore", "--key-file", paperFile)
	if !strings.Contains(r.stderr, "already") || r.stdout != `"`+fp+`"`+"\n" {
		t.Errorf("restore of a known key: %q %q", r.stdout, r.stderr)
	}

	// A pool that uses the key keeps it from being removed.
	s.ok("pool", "create", "secure", "--encrypt", abbrev(fp))
	if cfg := s.ok("pool", "config", "secure").stdout; !strings.Contains(cfg, fp) {
		t.Errorf("pool encrypt not stored in full:\n%s", cfg)
	}
	before := s.keyStore()
	r = s.run(nil, "tapefs", "key", "remove", fp)
	if r.code != 6 || !strings.Contains(r.stderr, "secure") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("key remove of a used key: exit %d, %q; want 6 naming the pool", r.code, r.stderr)
	}
	if s.keyStore() != before {
		t.Error("refused remove changed the key store")
	}
	s.ok("key", "remove", fp, "--force")
	if list := s.ok("key", "list").stdout; strings.Contains(list, abbrev(fp)) {
		t.Errorf("key still listed after remove:\n%s", list)
	}

	// The paper key, made before the password change, opens with the old
	// password.
	r = s.runIn("new pw\n", "key", "restore", "--key-file", paperFile)
	if r.code != 2 || !strings.Contains(r.stderr, "password") {
		t.Errorf("restore with the wrong password: exit %d, %q", r.code, r.stderr)
	}
	if s.keyStore() == before {
		t.Error("key store unexpectedly back to its state before remove")
	}
	r = s.okIn("secret\n", "key", "restore", "--key-file", paperFile)
	if r.stdout != `"`+fp+`"`+"\n" {
		t.Errorf("restore printed %q", r.stdout)
	}
	if show := s.ok("key", "show", fp).stdout; !strings.Contains(show, "tape pw 2020") {
		t.Errorf("restored key:\n%s", show)
	}
}

// TestKeyBadInput: each bad key command exits with the documented code and
// one line on stderr, and leaves the key store alone.
func TestKeyBadInput(t *testing.T) {
	s := newSandbox(t)
	fp := fingerprintRe.FindStringSubmatch(s.okIn("pw\npw\n", "key", "create", "--hint", "h").stdout)[1]
	other := strings.Repeat("00:", 31) + "00"
	notPaper := filepath.Join(s.root, "bad.json")
	if err := os.WriteFile(notPaper, []byte(`{"kdf":"scrypt"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"pw\npw\n", []string{"key", "create"}, 2, "--hint"},
		{"pw\npw\n", []string{"key", "create", "--hint", "h", "--kdf", "none"}, 2, "none"},
		{"pw\npw\n", []string{"key", "create", "--hint", "h", "--kdf", "argon2"}, 2, "argon2"},
		{"pw\nwp\n", []string{"key", "create", "--hint", "h"}, 2, "do not match"},
		{"\n\n", []string{"key", "create", "--hint", "h"}, 2, "empty"},
		{"", []string{"key", "create", "--hint", "h"}, 2, "standard input"},
		{"pw\npw\n", []string{"key", "create", "--hint", "two\tlines"}, 2, "control character"},
		{"", []string{"key", "show", other}, 3, "tapefs key restore"},
		{"", []string{"key", "show", "14:f8"}, 2, "14:f8"},
		{"", []string{"key", "show"}, 2, "FINGERPRINT"},
		{"", []string{"key", "paperkey", fp, "--output-format", "pdf"}, 2, "pdf"},
		{"", []string{"key", "remove", other}, 3, other},
		{"wrong\nx\nx\n", []string{"key", "change-passphrase", fp}, 2, "password"},
		{"pw\nx\ny\n", []string{"key", "change-passphrase", fp}, 2, "do not match"},
		{"", []string{"key", "restore", "--key-file", notPaper}, 2, "key config"},
		{"", []string{"key", "restore", "--key-file", filepath.Join(s.root, "nosuch")}, 2, "nosuch"},
		{"", []string{"pool", "create", "p", "--encrypt", other}, 3, "tapefs key"},
		{"", []string{"pool", "create", "p", "--encrypt", "nonsense"}, 2, "nonsense"},
	}
	before := s.keyStore()
	for _, c := range cases {
		r := s.runIn(c.stdin, c.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code != c.code || !strings.Contains(last, c.want) || !strings.HasPrefix(last, "tapefs: ") {
			t.Errorf("tapefs %s: exit %d, stderr %q; want exit %d and a line with %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
		if s.keyStore() != before {
			t.Fatalf("tapefs %s changed the key store", strings.Join(c.args, " "))
		}
	}
}

// TestKeyRestoreUnencryptedTape: `key restore` reads the media-set label of
// the tape in the drive and refuses a tape whose set carries no key.
func TestKeyRestoreUnencryptedTape(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("load-media", "TEST01L8")
	r := s.runIn("pw\n", "key", "restore", "--drive", "mydrive")
	if r.code != 3 || !strings.Contains(r.stderr, "not labelled") {
		t.Errorf("key restore of a blank tape: exit %d, %q", r.code, r.stderr)
	}
	s.ok("label", "--label-text", "TEST01L8", "--pool", "daily")
	r = s.runIn("pw\n", "key", "restore", "--drive", "mydrive")
	if r.code != 6 || !strings.Contains(r.stderr, "no key to restore") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("key restore of an unencrypted tape: exit %d, %q", r.code, r.stderr)
	}
}

// TestKeyWithDaemon: while a mount daemon holds the drives, the password
// commands still read the caller's stdin, and `key restore` reads the tape
// through the daemon.
func TestKeyWithDaemon(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("load-media", "TEST01L8")
	s.ok("label", "--label-text", "TEST01L8", "--pool", "daily")
	s.mount()
	s.ok("status", "--drive", "mydrive") // the daemon opens the drive
	fp := fingerprintRe.FindStringSubmatch(s.okIn("pw\npw\n", "key", "create", "--hint", "h").stdout)
	if fp == nil {
		t.Fatal("key create printed no fingerprint")
	}
	if list := s.ok("key", "list").stdout; !strings.Contains(list, abbrev(fp[1])) {
		t.Errorf("key list through the daemon:\n%s", list)
	}
	r := s.runIn("pw\n", "key", "restore", "--drive", "mydrive")
	if r.code != 6 || !strings.Contains(r.stderr, "no key to restore") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("key restore through the daemon: exit %d, %q", r.code, r.stderr)
	}
}

// TestEncryptedBackup: a pool with an encryption key writes its data
// encrypted by the drive (the cartridge files hold no plaintext), restores
// with the key, refuses to restore without it and says how to get it back,
// and restores again after `tapefs key restore` from the tape with the
// password; the catalog of an encrypted set rebuilds from tape.
func TestEncryptedBackup(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	r := s.okIn("secret\nsecret\n", "key", "create", "--hint", "tape pw")
	fp := fingerprintRe.FindStringSubmatch(r.stdout)[1]
	s.ok("pool", "update", "daily", "--encrypt", fp)
	s.ok("barcode-label", "--pool", "daily")

	src := filepath.Join(s.root, "src", "secret")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := strings.Repeat("TOP SECRET PAYROLL DATA ", 40000)
	if err := os.WriteFile(filepath.Join(src, "payroll.txt"), []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	b := s.backup(src, "daily")

	// No plaintext on the (virtual) tape.
	leaked := false
	filepath.WalkDir(filepath.Join(lib, "cartridges"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "TOP SECRET PAYROLL") {
				leaked = true
			}
		}
		return nil
	})
	if leaked {
		t.Fatal("plaintext found in a cartridge file: data was not encrypted")
	}

	restore := func(dir string) string {
		t.Helper()
		target := filepath.Join(s.root, dir)
		s.ok("restore", b.Set, target)
		got, _ := os.ReadFile(filepath.Join(target, filepath.FromSlash(b.Snapshot), "payroll.txt"))
		return string(got)
	}
	if restore("r1") != plain {
		t.Fatal("encrypted backup did not restore")
	}

	// Without the key: a clear refusal that says what to do, before any
	// tape is loaded or any file created (it loaded the tape, created the
	// tree and failed every file with the same message), also in a dry
	// run.
	s.ok("key", "remove", fp, "--force")
	s.ok("unload")
	for _, dry := range []bool{true, false} {
		args := []string{"restore", b.Set, filepath.Join(s.root, "r2")}
		if dry {
			args = append(args, "--dry-run")
		}
		r2 := s.run(nil, "tapefs", args...)
		if r2.code != 3 || !strings.Contains(r2.stderr, "key restore") || strings.Count(r2.stderr+r2.stdout, "key restore") != 1 {
			t.Fatalf("restore (dry run %v) without the key: exit %d, want 3 and one message\n%s%s", dry, r2.code, r2.stdout, r2.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(s.root, "r2")); err == nil {
		t.Error("restore without the key created the target")
	}
	if st := s.ok("changer", "status", "--output-format", "json").stdout; !strings.Contains(st, `{"entry-kind":"drive","entry-id":0}`) {
		t.Errorf("restore without the key loaded a tape:\n%s", st)
	}

	// The key comes back from the tape with its password.
	s.ok("load-media", b.Tapes[0])
	s.okIn("secret\n", "key", "restore")
	if restore("r3") != plain {
		t.Fatal("restore after key restore failed")
	}

	// The catalog of an encrypted set rebuilds from its tapes.
	catDir := filepath.Join(s.root, "state", "catalog")
	saved := filepath.Join(s.root, "catalog-live")
	if err := os.Rename(catDir, saved); err != nil {
		t.Fatal(err)
	}
	s.ok("inventory", "--catalog")
	compareCatalogs(t, saved, catDir)
}

// TestKeyPaperkeyOnlyKey runs the reference's `key paperkey --output-format
// text` (no fingerprint): it prints the only key of the store, and says
// what is wrong when the store holds none or several.
func TestKeyPaperkeyOnlyKey(t *testing.T) {
	s := newSandbox(t)
	if r := s.runIn("", "key", "paperkey", "--output-format", "text"); r.code != 3 || !strings.Contains(r.stderr, "tapefs key create") {
		t.Errorf("paperkey with no key: exit %d, %q; want 3 naming `tapefs key create`", r.code, r.stderr)
	}
	fp := fingerprintRe.FindStringSubmatch(s.okIn("pw\npw\n", "key", "create", "--hint", "tape pw 2020").stdout)[1]
	paper := s.okIn("", "key", "paperkey", "--output-format", "text").stdout
	if !strings.Contains(paper, "-----BEGIN TAPEFS TAPE ENCRYPTION KEY-----") || !strings.Contains(paper, fp) {
		t.Errorf("paperkey without a fingerprint does not print the only key %s:\n%s", fp, paper)
	}
	if named := s.okIn("", "key", "paperkey", fp, "--output-format", "text").stdout; named != paper {
		t.Error("paperkey of the only key differs from paperkey FINGERPRINT")
	}
	s.okIn("pw2\npw2\n", "key", "create", "--hint", "second")
	if r := s.runIn("", "key", "paperkey"); r.code != 2 || !strings.Contains(r.stderr, "tapefs key list") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("paperkey with two keys and no fingerprint: exit %d, %q; want 2 naming `tapefs key list`", r.code, r.stderr)
	}
}
