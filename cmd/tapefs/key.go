package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/keys"
)

// The password prompts of the reference.
const (
	promptPassword = "Tape Encryption Key Password: "
	promptVerify   = "Verify Password: "
	promptCurrent  = "Current Tape Encryption Key Password: "
	promptNew      = "New Tape Encryption Key Password: "
)

// Paper key markers around the key config JSON; `key restore --key-file`
// reads the JSON between them.
const (
	paperBegin = "-----BEGIN TAPEFS TAPE ENCRYPTION KEY-----"
	paperEnd   = "-----END TAPEFS TAPE ENCRYPTION KEY-----"
)

// passwords reads passwords: from the terminal without echo when stdin is
// one, otherwise one line per prompt from stdin (for scripts and tests).
// Prompts go to stderr.
type passwords struct {
	in     io.Reader
	prompt io.Writer
	lines  *bufio.Reader
}

func (e *env) passwords() *passwords { return &passwords{in: e.stdin, prompt: e.stderr} }

// read prompts for one password. An empty password is a usage error.
func (p *passwords) read(prompt string) ([]byte, error) {
	fmt.Fprint(p.prompt, prompt)
	var pw []byte
	if f, ok := p.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(p.prompt)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		pw = b
	} else {
		if p.lines == nil {
			p.lines = bufio.NewReader(p.in)
		}
		line, err := p.lines.ReadString('\n')
		fmt.Fprintln(p.prompt)
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return nil, usagef("no password on standard input: type it on a terminal, or give one line per prompt")
			}
			return nil, fmt.Errorf("read password: %w", err)
		}
		pw = []byte(strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
	}
	if len(pw) == 0 {
		return nil, usagef("the password is empty: a tape encryption key needs a password; nothing was changed")
	}
	return pw, nil
}

// readNew prompts for a new password twice.
func (p *passwords) readNew(prompt string) ([]byte, error) {
	pw, err := p.read(prompt)
	if err != nil {
		return nil, err
	}
	again, err := p.read(promptVerify)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, usagef("the passwords do not match; nothing was changed")
	}
	return pw, nil
}

// printFingerprint prints a fingerprint as the reference does: a JSON
// string, so in quotes.
func (e *env) printFingerprint(fp string) error {
	b, _ := json.Marshal(fp)
	_, err := fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// keyInfo is the JSON form of a key in `key list` and `key show`.
type keyInfo struct {
	Fingerprint string    `json:"fingerprint"`
	Hint        string    `json:"hint"`
	KDF         string    `json:"kdf"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

func newKeyInfo(kc keys.KeyConfig) keyInfo {
	return keyInfo{Fingerprint: kc.Fingerprint, Hint: kc.Hint, KDF: kc.KDF, Created: kc.Created, Modified: kc.Modified}
}

func (e *env) keyCommand() *cli.Command {
	fpArg := func(c *cli.Context) (string, error) {
		a, err := args(c, "FINGERPRINT")
		if err != nil {
			return "", err
		}
		return a[0], nil
	}
	return &cli.Command{
		Name:  "key",
		Usage: "manage tape encryption keys",
		Subcommands: []*cli.Command{
			e.runsHere(&cli.Command{
				Name:  "create",
				Usage: "create a new encryption key (asks for its password)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "hint", Usage: "password hint, stored in clear with the key (required)"},
					&cli.StringFlag{Name: "kdf", Value: keys.KDFScrypt, Usage: "key derivation function: scrypt or pbkdf2 (none is refused, as by proxmox-tape)"},
				},
				Action: func(c *cli.Context) error {
					return e.runKeyCreate(c.String("hint"), c.String("kdf"))
				},
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list encryption keys",
				Action: func(c *cli.Context) error {
					list, err := e.runKeyList()
					if err != nil {
						return err
					}
					return e.print(keyListTable(list), list)
				},
			}),
			e.readOnly(&cli.Command{
				Name:      "show",
				Usage:     "show encryption key details",
				ArgsUsage: "FINGERPRINT",
				Action: func(c *cli.Context) error {
					fp, err := fpArg(c)
					if err != nil {
						return err
					}
					ki, err := e.runKeyShow(fp)
					if err != nil {
						return err
					}
					return e.print(keyShowTable(ki), ki)
				},
			}),
			{
				Name:      "paperkey",
				Usage:     "print a key's password-protected config as a QR code and as text, to keep on paper (default: the only key)",
				ArgsUsage: "[FINGERPRINT]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output-format", Value: "text", Usage: "text or html"},
					&cli.StringFlag{Name: "subject", Usage: "a title printed above the key (who or what it is for)"},
				},
				Action: func(c *cli.Context) error {
					fp, err := e.onlyKey(c)
					if err != nil {
						return err
					}
					return e.runPaperkey(fp, c.String("output-format"), c.String("subject"))
				},
			},
			e.runsHere(&cli.Command{
				Name:      "change-passphrase",
				Usage:     "change the password of an encryption key (tapes already written keep the old password)",
				ArgsUsage: "FINGERPRINT",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "hint", Usage: "new password hint (default: keep the old one)"},
					&cli.BoolFlag{Name: "force", Usage: "set a new password without the current one, from the key in the key store (for a forgotten password)"},
				},
				Action: func(c *cli.Context) error {
					fp, err := fpArg(c)
					if err != nil {
						return err
					}
					return e.runKeyChangePassphrase(fp, optString(c, "hint"), c.Bool("force"))
				},
			}),
			{
				Name:      "remove",
				Usage:     "remove an encryption key",
				ArgsUsage: "FINGERPRINT",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Usage: "remove the key even if a media pool uses it"},
				},
				Action: func(c *cli.Context) error {
					fp, err := fpArg(c)
					if err != nil {
						return err
					}
					return e.runKeyRemove(fp, c.Bool("force"))
				},
			},
			e.runsHere(&cli.Command{
				Name:  "restore",
				Usage: "restore an encryption key from the tape in the drive (asks for its password)",
				Flags: []cli.Flag{
					driveFlag(),
					&cli.StringFlag{Name: "key-file", Usage: "read the key config from `FILE` (a paperkey text or the JSON) instead of the tape"},
					&cli.StringFlag{Name: "key", Usage: "the key config `JSON` itself (as paperkey prints it) instead of the tape"},
				},
				Action: func(c *cli.Context) error {
					kc, err := keyRestoreOptions(c)
					if err != nil {
						return err
					}
					return e.runKeyRestore(c.Context, c.String("drive"), kc)
				},
			}),
			{
				// tape-config is what `key restore` runs on the mount
				// daemon when one holds the drive.
				Name:   "tape-config",
				Usage:  "print the password-protected key config of the tape in the drive",
				Hidden: true,
				Flags:  []cli.Flag{driveFlag()},
				Action: func(c *cli.Context) error {
					kc, err := e.runTapeKeyConfig(c.Context, c.String("drive"))
					if err != nil {
						return err
					}
					b, err := kc.MarshalJSON()
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(e.stdout, "%s\n", b)
					return err
				},
			},
		},
	}
}

// runKeyList lists the keys of the store.
func (e *env) runKeyList() ([]keyInfo, error) {
	list, err := keys.Store{Dir: e.ConfigDir}.List()
	if err != nil {
		return nil, err
	}
	js := make([]keyInfo, 0, len(list))
	for _, kc := range list {
		js = append(js, newKeyInfo(kc))
	}
	return js, nil
}

func keyListTable(list []keyInfo) *output.Table {
	t := &output.Table{Columns: []string{"fingerprint", "hint"}}
	for _, k := range list {
		t.Add(keys.Abbrev(k.Fingerprint), k.Hint)
	}
	return t
}

// runKeyShow is the key with the fingerprint.
func (e *env) runKeyShow(fp string) (keyInfo, error) {
	_, kc, err := keys.Store{Dir: e.ConfigDir}.Get(fp)
	if err != nil {
		return keyInfo{}, err
	}
	return newKeyInfo(kc), nil
}

func keyShowTable(k keyInfo) *output.Table {
	return output.KV(
		[2]string{"kdf", k.KDF},
		[2]string{"created", fmtTime(k.Created)},
		[2]string{"modified", fmtTime(k.Modified)},
		[2]string{"fingerprint", keys.Abbrev(k.Fingerprint)},
		[2]string{"hint", k.Hint},
	)
}

// runKeyRemove removes a key from the store (with force, even if a pool
// uses it).
func (e *env) runKeyRemove(fp string, force bool) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.KeyRemove(fp, force)
}

// keyRestoreOptions is the key config a `key restore` command line gives
// (--key, --key-file), nil for the tape's.
func keyRestoreOptions(c *cli.Context) (*keys.KeyConfig, error) {
	if c.IsSet("key") && c.IsSet("key-file") {
		return nil, usagef("key restore: give --key or --key-file, not both")
	}
	var k keys.KeyConfig
	var err error
	switch {
	case c.IsSet("key"):
		k, err = parseKeyText([]byte(c.String("key")), "--key")
	case c.IsSet("key-file"):
		k, err = readKeyFile(c.String("key-file"))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// runTapeKeyConfig reads the key config of the tape in the drive with this
// process's engine (`key tape-config`, what the daemon runs for `key
// restore`).
func (e *env) runTapeKeyConfig(ctx context.Context, drive string) (keys.KeyConfig, error) {
	eng, err := e.engine()
	if err != nil {
		return keys.KeyConfig{}, err
	}
	return eng.TapeKeyConfig(ctx, drive)
}

func (e *env) runKeyCreate(hint, kdf string) error {
	switch kdf {
	case keys.KDFScrypt, keys.KDFPBKDF2:
	case keys.KDFNone:
		return usagef("--kdf none is refused: the key would be written in clear into the label of every tape of the pool; use --kdf scrypt or pbkdf2")
	default:
		return usagef("invalid --kdf %q: use scrypt or pbkdf2", kdf)
	}
	if strings.TrimSpace(hint) == "" {
		return usagef("key create: --hint is required: a password hint, stored in clear with the key")
	}
	pw, err := e.passwords().readNew(promptPassword)
	if err != nil {
		return err
	}
	key, kc, err := keys.NewKeyKDF(kdf, pw, hint, time.Now())
	if err != nil {
		return err
	}
	if err := (keys.Store{Dir: e.ConfigDir}).Add(key, kc); err != nil {
		return err
	}
	return e.printFingerprint(kc.Fingerprint)
}

// runKeyChangePassphrase seals a key under a new password: opened with the
// current one, or with force from the key in the store (proxmox-tape's
// `--force`, for a forgotten password).
func (e *env) runKeyChangePassphrase(fp string, hint *string, force bool) error {
	store := keys.Store{Dir: e.ConfigDir}
	key, _, err := store.Get(fp)
	if err != nil {
		return err // before asking for passwords
	}
	p := e.passwords()
	var old []byte
	if !force {
		if old, err = p.read(promptCurrent); err != nil {
			return err
		}
	}
	pw, err := p.readNew(promptNew)
	if err != nil {
		return err
	}
	return store.Update(fp, func(kc *keys.KeyConfig) error {
		var n keys.KeyConfig
		var err error
		if force {
			n, err = kc.Reseal(key, pw, time.Now())
		} else {
			n, err = kc.ChangePassword(old, pw, time.Now())
		}
		if err != nil {
			return err
		}
		if hint != nil {
			n.Hint = *hint
		}
		*kc = n
		return nil
	})
}

// runKeyRestore adds the key of a key config to the store, asking for its
// password: the config given (--key, --key-file), or without one the
// config in the label of the tape in the drive.
func (e *env) runKeyRestore(ctx context.Context, drive string, given *keys.KeyConfig) error {
	var kc keys.KeyConfig
	if given != nil {
		kc = *given
	} else {
		var err error
		if kc, err = e.tapeKeyConfig(ctx, drive); err != nil {
			return err
		}
	}
	store := keys.Store{Dir: e.ConfigDir}
	if _, _, err := store.Get(kc.Fingerprint); err == nil {
		fmt.Fprintf(e.stderr, "tape encryption key %s is already in the key store\n", kc.Fingerprint)
		return e.printFingerprint(kc.Fingerprint)
	} else if !errors.Is(err, keys.ErrNotFound) {
		return err
	}
	fmt.Fprintf(e.stderr, "restoring tape encryption key %s (hint: %s)\n", keys.Abbrev(kc.Fingerprint), kc.Hint)
	pw, err := e.passwords().read(promptPassword)
	if err != nil {
		return err
	}
	key, err := kc.Decrypt(pw)
	if err != nil {
		return err
	}
	if err := store.Add(key, kc); err != nil {
		return err
	}
	return e.printFingerprint(kc.Fingerprint)
}

// tapeKeyConfig reads the key config of the tape in the drive: through the
// mount daemon when one runs (it holds the drives), else with this
// process's engine.
func (e *env) tapeKeyConfig(ctx context.Context, drive string) (keys.KeyConfig, error) {
	if !e.shared {
		args := []string{"tapefs", "key", "tape-config", "--state-dir", e.StateDir}
		if drive != "" {
			args = append(args, "--drive", drive)
		}
		var out, errb bytes.Buffer
		if code, ok := forward(ctx, args, &out, &errb); ok {
			if code != 0 {
				msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "tapefs: ")
				return keys.KeyConfig{}, daemonError{code: code, msg: msg}
			}
			return keys.ParseKeyConfig(out.Bytes())
		}
	}
	return e.runTapeKeyConfig(ctx, drive)
}

// daemonError is a failure the daemon reported, with its exit code.
type daemonError struct {
	code int
	msg  string
}

func (d daemonError) Error() string { return d.msg }
func (d daemonError) ExitCode() int { return d.code }

// readKeyFile reads a key config from a file holding the JSON, or a
// paperkey text with the JSON between its markers.
func readKeyFile(path string) (keys.KeyConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return keys.KeyConfig{}, usagef("read key file: %v", err)
	}
	return parseKeyText(b, "key file "+path)
}

// parseKeyText parses a key config: the JSON, or a paperkey text with the
// JSON between its markers. from names the source in errors.
func parseKeyText(b []byte, from string) (keys.KeyConfig, error) {
	if _, rest, ok := bytes.Cut(b, []byte(paperBegin)); ok {
		b, _, ok = bytes.Cut(rest, []byte(paperEnd))
		if !ok {
			return keys.KeyConfig{}, usagef("%s: %s has no matching %s", from, paperBegin, paperEnd)
		}
	}
	kc, err := keys.ParseKeyConfig(b)
	if err != nil {
		return keys.KeyConfig{}, fmt.Errorf("%s: %w", from, err)
	}
	return kc, nil
}

// onlyKey returns the fingerprint argument of c, or without one the
// fingerprint of the only key in the store (the reference runs `key
// paperkey` without one). No key is not found (exit 3); several keys
// without an argument is bad usage (exit 2).
func (e *env) onlyKey(c *cli.Context) (string, error) {
	if c.Args().Len() > 0 {
		a, err := args(c, "FINGERPRINT")
		if err != nil {
			return "", err
		}
		return a[0], nil
	}
	list, err := keys.Store{Dir: e.ConfigDir}.List()
	if err != nil {
		return "", err
	}
	switch len(list) {
	case 0:
		return "", kindError{kind: engine.ErrNotFound, msg: "no tape encryption key in the store: create one with `tapefs key create`, or restore one with `tapefs key restore`"}
	case 1:
		return list[0].Fingerprint, nil
	}
	return "", usagef("the store holds %d tape encryption keys: name one (FINGERPRINT, as `tapefs key list` prints it)", len(list))
}

// runPaperkey prints the key config for paper, under subject if one is
// given (proxmox-tape's --subject).
func (e *env) runPaperkey(fp, format, subject string) error {
	if format != "text" && format != "html" {
		return usagef("invalid --output-format %q for paperkey: use text or html", format)
	}
	_, kc, err := keys.Store{Dir: e.ConfigDir}.Get(fp)
	if err != nil {
		return err
	}
	compact, err := kc.MarshalJSON()
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, compact, "", "  "); err != nil {
		return err
	}
	// Medium error correction survives a crease or a stain and keeps the
	// code small enough to scan from a printed page.
	qr, err := qrcode.New(string(compact), qrcode.Medium)
	if err != nil {
		return fmt.Errorf("paperkey: %w", err)
	}
	if format == "text" {
		if subject != "" {
			if _, err := fmt.Fprintf(e.stdout, "Subject: %s\n\n", subject); err != nil {
				return err
			}
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n%s\n%s\n\n%s", paperBegin, pretty.Bytes(), paperEnd, qr.ToSmallString(false))
		return err
	}
	png, err := qr.PNG(512)
	if err != nil {
		return fmt.Errorf("paperkey: %w", err)
	}
	return paperkeyHTML.Execute(e.stdout, map[string]any{
		"Subject":     subject,
		"Fingerprint": kc.Fingerprint,
		"Hint":        kc.Hint,
		"Created":     fmtTime(kc.Created),
		"Begin":       paperBegin,
		"End":         paperEnd,
		"JSON":        pretty.String(),
		"QR":          template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
	})
}

var paperkeyHTML = template.Must(template.New("paperkey").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{{if .Subject}}{{.Subject}}: {{end}}tapefs tape encryption key {{.Fingerprint}}</title>
<style>
body { font-family: sans-serif; }
pre { font-size: 11pt; white-space: pre-wrap; word-break: break-all; }
</style>
</head>
<body>
<h1>{{if .Subject}}{{.Subject}}{{else}}Tape encryption key{{end}}</h1>
<p>Fingerprint: <code>{{.Fingerprint}}</code><br>
Password hint: {{.Hint}}<br>
Created: {{.Created}}</p>
<p>Restore with <code>tapefs key restore --key-file FILE</code> from the text below, or from the QR code, and the key's password.</p>
<img alt="QR code of the key config" width="512" height="512" src="{{.QR}}">
<pre>{{.Begin}}
{{.JSON}}
{{.End}}</pre>
</body>
</html>
`))
