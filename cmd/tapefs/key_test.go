package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/output"
	"tapefs/engine/keys"
	"tapefs/vtape"
)

// TestKeyCommands creates, shows, reseals, prints, removes and restores a
// key with the key commands, passwords from a non-terminal stdin.
func TestKeyCommands(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	ctx := context.Background()
	e, stdout, stderr := l.env(output.Text)
	e.stdin = strings.NewReader("secret\nsecret\n")
	if err := e.runKeyCreate("the usual", keys.KDFPBKDF2); err != nil {
		t.Fatal(err)
	}
	var fp string
	if err := json.Unmarshal(stdout.Bytes(), &fp); err != nil || fp == "" {
		t.Fatalf("key create printed %q: %v", stdout, err)
	}
	if !strings.Contains(stderr.String(), "assword") {
		t.Errorf("no password prompt on stderr: %q", stderr)
	}

	list, err := e.runKeyList()
	if err != nil || len(list) != 1 || list[0].Fingerprint != fp || list[0].Hint != "the usual" || list[0].KDF != keys.KDFPBKDF2 {
		t.Fatalf("key list: %+v, %v", list, err)
	}
	out, _, err := l.run("key", "list")
	if err != nil || !strings.Contains(out, keys.Abbrev(fp)) || !strings.Contains(out, "the usual") {
		t.Errorf("key list table (%v):\n%s", err, out)
	}
	out, _, err = l.run("key", "show", fp, "--output-format", "json")
	var ki keyInfo
	if err != nil || json.Unmarshal([]byte(out), &ki) != nil || ki.Fingerprint != fp {
		t.Errorf("key show json (%v): %s", err, out)
	}

	// A new password and hint; the old password no longer opens it.
	e.stdin = strings.NewReader("secret\nnewer\nnewer\n")
	if err := e.runKeyChangePassphrase(fp, ptr("the new one"), false); err != nil {
		t.Fatal(err)
	}
	if k, err := e.runKeyShow(fp); err != nil || k.Hint != "the new one" {
		t.Errorf("after change-passphrase: %+v, %v", k, err)
	}
	e.stdin = strings.NewReader("wrong\nx\nx\n")
	if err := e.runKeyChangePassphrase(fp, nil, false); err == nil {
		t.Error("change-passphrase with a wrong current password succeeded")
	}

	stdout.Reset()
	if err := e.runPaperkey(fp, "text", "vault copy"); err != nil {
		t.Fatal(err)
	}
	paper := stdout.String()
	if !strings.Contains(paper, "vault copy") || !strings.Contains(paper, paperBegin) {
		t.Errorf("paperkey:\n%s", paper)
	}
	kc, err := parseKeyText([]byte(paper), "paperkey")
	if err != nil || kc.Fingerprint != fp {
		t.Fatalf("the paperkey text does not parse back: %+v, %v", kc, err)
	}

	if err := e.runKeyRemove(fp, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runKeyShow(fp); cliapp.ExitCode(err) != 3 {
		t.Errorf("removed key: %v (exit %d), want exit 3", err, cliapp.ExitCode(err))
	}
	e.stdin = strings.NewReader("newer\n")
	stdout.Reset()
	if err := e.runKeyRestore(ctx, "", &kc); err != nil {
		t.Fatal(err)
	}
	if k, err := e.runKeyShow(fp); err != nil || k.Fingerprint != fp {
		t.Errorf("restored key: %+v, %v", k, err)
	}

	for _, tt := range []struct {
		run  func() error
		what string
	}{
		{func() error { return e.runKeyCreate("h", keys.KDFNone) }, "kdf none"},
		{func() error { return e.runKeyCreate("h", "md5") }, "unknown kdf"},
		{func() error { return e.runKeyCreate(" ", keys.KDFScrypt) }, "empty hint"},
		{func() error { e.stdin = strings.NewReader("a\nb\n"); return e.runKeyCreate("h", keys.KDFPBKDF2) }, "passwords differ"},
		{func() error { e.stdin = strings.NewReader("\n"); return e.runKeyCreate("h", keys.KDFPBKDF2) }, "empty password"},
		{func() error { e.stdin = strings.NewReader(""); return e.runKeyCreate("h", keys.KDFPBKDF2) }, "no password"},
		{func() error { _, _, err := l.run("key", "restore", "--key", "{}", "--key-file", "f"); return err }, "--key and --key-file"},
		{func() error { _, _, err := l.run("key", "show"); return err }, "show without a fingerprint"},
	} {
		if err := tt.run(); cliapp.ExitCode(err) != 2 {
			t.Errorf("%s: %v (exit %d), want exit 2", tt.what, err, cliapp.ExitCode(err))
		}
	}
	if list, _ := e.runKeyList(); len(list) != 1 {
		t.Errorf("a refused key create added a key: %+v", list)
	}
}
