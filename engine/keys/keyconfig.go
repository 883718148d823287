package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"crypto/pbkdf2"
	"crypto/sha256"

	"golang.org/x/crypto/scrypt"
)

// KeySize is the size of a tape encryption key: 256 bits, the key size of
// the AES-256-GCM encryption of LTO-4 and later drives.
const KeySize = 32

// The key derivation functions of a KeyConfig.
const (
	// KDFScrypt: the key is sealed under scrypt(password, Salt, N, R, P).
	KDFScrypt = "scrypt"
	// KDFPBKDF2: the key is sealed under PBKDF2-HMAC-SHA256(password,
	// Salt, Iter), for sites whose rules ask for PBKDF2 (proxmox-tape
	// offers it too).
	KDFPBKDF2 = "pbkdf2"
	// KDFNone: Data is the key itself, unprotected. tapefs never creates
	// such configs (they would put the key in clear on every tape), but
	// reads them.
	KDFNone = "none"
)

// Scrypt cost parameters of new keys: N=2^15, r=8, p=1 are the
// golang.org/x/crypto/scrypt recommendation for interactive use. They cost
// 128·N·r = 32 MiB of memory and a fraction of a second per derivation, paid
// only when a user types the password (create, change-passphrase, restore),
// never per backup. Larger values would slow down brute-forcing a password
// taken from a stolen tape further, but every host that may ever restore the
// key must afford the memory, so we stay at the widely deployed values.
const (
	defaultN = 1 << 15
	defaultR = 8
	defaultP = 1
)

// defaultIter is the PBKDF2 round count of new keys: proxmox-tape's.
const defaultIter = 65535

// Limits ParseKeyConfig enforces, so a crafted label cannot make a restore
// allocate without bound or spin for hours.
const (
	minN          = 1 << 10
	maxN          = 1 << 20
	maxR          = 32
	maxP          = 16
	maxScryptMem  = 256 << 20 // 128·N·r bytes
	minIter       = 10000
	maxIter       = 1 << 24
	minSaltLen    = 16
	maxSaltLen    = 64
	saltLen       = 32
	nonceLen      = 12 // the standard AES-GCM nonce
	maxHintLen    = 256
	sealedKeySize = KeySize + 16 // key plus the GCM tag
)

// kdfParams are the derivation of a sealing: scrypt with N, R, P, or
// PBKDF2-HMAC-SHA256 with Iter rounds when Iter > 0.
type kdfParams struct{ N, R, P, Iter int }

// defaultParams returns the parameters of new sealings with kdf (KDFScrypt
// or KDFPBKDF2).
func defaultParams(kdf string) kdfParams {
	if kdf == KDFPBKDF2 {
		return kdfParams{Iter: defaultIter}
	}
	return kdfParams{N: defaultN, R: defaultR, P: defaultP}
}

// KeyConfig is the password-protected form of a tape encryption key, as
// stored beside the key and written into media-set labels (MarshalJSON).
// A KeyConfig is a value: methods never modify the receiver.
type KeyConfig struct {
	// Fingerprint is Fingerprint(key) of the protected key.
	Fingerprint string
	// Hint reminds the owner of the password; it is stored in clear.
	Hint string
	// Created is when the key was created, Modified when its password or
	// hint last changed.
	Created, Modified time.Time
	// KDF is KDFScrypt, KDFPBKDF2 or KDFNone.
	KDF string
	// N, R, P are the scrypt cost parameters (zero otherwise).
	N, R, P int
	// Iter is the PBKDF2 round count (zero otherwise).
	Iter int
	// Salt is the KDF's salt, Nonce the AES-GCM nonce (empty for KDFNone).
	Salt, Nonce []byte
	// Data is AES-256-GCM(key) with the derived key (the key itself for
	// KDFNone).
	Data []byte
}

// keyConfigJSON is the wire form: docs/cli.md "Encryption keys".
type keyConfigJSON struct {
	KDF         string `json:"kdf"`
	N           int    `json:"n,omitempty"`
	R           int    `json:"r,omitempty"`
	P           int    `json:"p,omitempty"`
	Iter        int    `json:"iter,omitempty"`
	Salt        []byte `json:"salt,omitempty"`
	Nonce       []byte `json:"nonce,omitempty"`
	Data        []byte `json:"data"`
	Created     string `json:"created"`
	Modified    string `json:"modified"`
	Fingerprint string `json:"fingerprint"`
	Hint        string `json:"hint"`
}

// NewKey creates a random key and its KeyConfig sealed with password under
// scrypt. The password and the hint must not be empty (errors wrap
// ErrInvalid). Created and Modified are now.
func NewKey(password []byte, hint string, now time.Time) (key []byte, kc KeyConfig, err error) {
	return newKey(password, hint, now, defaultParams(KDFScrypt))
}

// NewKeyKDF is NewKey with the key derivation function kdf: KDFScrypt or
// KDFPBKDF2 (anything else wraps ErrInvalid; a KDFNone config would put
// the key in clear on every tape).
func NewKeyKDF(kdf string, password []byte, hint string, now time.Time) (key []byte, kc KeyConfig, err error) {
	if kdf != KDFScrypt && kdf != KDFPBKDF2 {
		return nil, KeyConfig{}, errorf(ErrInvalid, "key derivation function %q: new keys use %s or %s", kdf, KDFScrypt, KDFPBKDF2)
	}
	return newKey(password, hint, now, defaultParams(kdf))
}

func newKey(password []byte, hint string, now time.Time, sp kdfParams) ([]byte, KeyConfig, error) {
	if err := checkHint(hint); err != nil {
		return nil, KeyConfig{}, err
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, KeyConfig{}, fmt.Errorf("generate tape encryption key: %w", err)
	}
	// Whole seconds: the config is printed on paper keys and typed back.
	now = now.UTC().Truncate(time.Second)
	kc := KeyConfig{Fingerprint: Fingerprint(key), Hint: hint, Created: now, Modified: now}
	kc, err := kc.seal(key, password, sp)
	if err != nil {
		return nil, KeyConfig{}, err
	}
	return key, kc, nil
}

// seal returns kc with KDF, parameters, salt, nonce and data set for key
// under password.
func (kc KeyConfig) seal(key, password []byte, sp kdfParams) (KeyConfig, error) {
	if len(password) == 0 {
		return KeyConfig{}, errorf(ErrInvalid, "the password is empty: a tape encryption key needs a password")
	}
	salt := make([]byte, saltLen)
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return KeyConfig{}, fmt.Errorf("generate salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return KeyConfig{}, fmt.Errorf("generate nonce: %w", err)
	}
	aead, err := deriveAEAD(password, salt, sp)
	if err != nil {
		return KeyConfig{}, err
	}
	if sp.Iter > 0 {
		kc.KDF, kc.N, kc.R, kc.P, kc.Iter = KDFPBKDF2, 0, 0, 0, sp.Iter
	} else {
		kc.KDF, kc.N, kc.R, kc.P, kc.Iter = KDFScrypt, sp.N, sp.R, sp.P, 0
	}
	kc.Salt, kc.Nonce = salt, nonce
	kc.Data = aead.Seal(nil, nonce, key, nil)
	return kc, nil
}

func deriveAEAD(password, salt []byte, sp kdfParams) (cipher.AEAD, error) {
	var dk []byte
	var err error
	if sp.Iter > 0 {
		dk, err = pbkdf2.Key(sha256.New, string(password), salt, sp.Iter, KeySize)
	} else {
		dk, err = scrypt.Key(password, salt, sp.N, sp.R, sp.P, KeySize)
	}
	if err != nil {
		return nil, fmt.Errorf("derive key from password: %w", err)
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Decrypt opens the config with password and returns the key. Errors wrap
// ErrWrongPassword (the password, or the sealed data, is wrong), ErrInvalid
// (the config fails Validate) or ErrCorrupt (the opened key does not match
// the fingerprint).
func (kc KeyConfig) Decrypt(password []byte) ([]byte, error) {
	if err := kc.Validate(); err != nil {
		return nil, err
	}
	var key []byte
	switch kc.KDF {
	case KDFNone:
		key = bytes.Clone(kc.Data)
	case KDFScrypt, KDFPBKDF2:
		aead, err := deriveAEAD(password, kc.Salt, kdfParams{kc.N, kc.R, kc.P, kc.Iter})
		if err != nil {
			return nil, err
		}
		key, err = aead.Open(nil, kc.Nonce, kc.Data, nil)
		if err != nil {
			return nil, errorf(ErrWrongPassword, "the password does not open tape encryption key %s (hint: %q)", Abbrev(kc.Fingerprint), kc.Hint)
		}
	}
	if fp := Fingerprint(key); subtle.ConstantTimeCompare([]byte(fp), []byte(kc.Fingerprint)) != 1 {
		return nil, errorf(ErrCorrupt, "the key opened from the key config has fingerprint %s, not %s: the key config is damaged", fp, kc.Fingerprint)
	}
	return key, nil
}

// ChangePassword returns the config sealed with newPassword instead of
// oldPassword, with fresh salt and nonce, the current parameters of its
// KDF (scrypt for a KDFNone config) and Modified set to now. Errors are
// those of Decrypt, and ErrInvalid for an empty new password.
func (kc KeyConfig) ChangePassword(oldPassword, newPassword []byte, now time.Time) (KeyConfig, error) {
	return kc.changePassword(oldPassword, newPassword, now, defaultParams(kc.KDF))
}

func (kc KeyConfig) changePassword(oldPassword, newPassword []byte, now time.Time, sp kdfParams) (KeyConfig, error) {
	if len(newPassword) == 0 {
		return KeyConfig{}, errorf(ErrInvalid, "the new password is empty: a tape encryption key needs a password")
	}
	key, err := kc.Decrypt(oldPassword)
	if err != nil {
		return KeyConfig{}, err
	}
	return kc.reseal(key, newPassword, now, sp)
}

// Reseal returns the config sealed with newPassword, from the key itself
// instead of the old password (`key change-passphrase --force`: the key
// store holds the key, readable by root only). The key must have the
// config's fingerprint (else ErrInvalid). Parameters and Modified are as
// for ChangePassword.
func (kc KeyConfig) Reseal(key, newPassword []byte, now time.Time) (KeyConfig, error) {
	if fp := Fingerprint(key); subtle.ConstantTimeCompare([]byte(fp), []byte(kc.Fingerprint)) != 1 {
		return KeyConfig{}, errorf(ErrInvalid, "the key has fingerprint %s, not %s", fp, kc.Fingerprint)
	}
	if len(newPassword) == 0 {
		return KeyConfig{}, errorf(ErrInvalid, "the new password is empty: a tape encryption key needs a password")
	}
	return kc.reseal(key, newPassword, now, defaultParams(kc.KDF))
}

func (kc KeyConfig) reseal(key, newPassword []byte, now time.Time, sp kdfParams) (KeyConfig, error) {
	out, err := kc.seal(key, newPassword, sp)
	if err != nil {
		return KeyConfig{}, err
	}
	out.Modified = now.UTC().Truncate(time.Second)
	if out.Modified.Before(out.Created) {
		out.Modified = out.Created
	}
	return out, nil
}

// checkHint requires a non-empty one-line printable hint of at most
// maxHintLen bytes.
func checkHint(h string) error {
	if strings.TrimSpace(h) == "" {
		return errorf(ErrInvalid, "the password hint is empty: give one with --hint, it is stored in clear with the key")
	}
	if len(h) > maxHintLen {
		return errorf(ErrInvalid, "the password hint is %d bytes long, at most %d allowed", len(h), maxHintLen)
	}
	if !utf8.ValidString(h) {
		return errorf(ErrInvalid, "the password hint is not valid UTF-8")
	}
	for _, r := range h {
		if !unicode.IsPrint(r) {
			return errorf(ErrInvalid, "the password hint %q contains a control character", h)
		}
	}
	return nil
}

// Validate checks every field: a full fingerprint, a hint as NewKey
// requires, creation and modification times (modified not before
// created), for KDFScrypt parameters within bounds (N a power of two in
// [2^10, 2^20], 1 ≤ r ≤ 32, 1 ≤ p ≤ 16, 128·N·r ≤ 256 MiB), for KDFPBKDF2
// 10,000 to 2^24 rounds, and for both a salt of 16 to 64 bytes, a 12-byte
// nonce and 48 bytes of data; for KDFNone no parameters and 32 bytes of
// data. Errors wrap ErrInvalid.
func (kc KeyConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return errorf(ErrInvalid, "tape encryption key config: "+format, args...)
	}
	if !ValidFingerprint(kc.Fingerprint) {
		return bad("fingerprint %q is not 32 lower-case hex bytes separated by colons", kc.Fingerprint)
	}
	if err := checkHint(kc.Hint); err != nil {
		return bad("%v", err)
	}
	if kc.Created.IsZero() || kc.Modified.IsZero() {
		return bad("creation or modification time is missing")
	}
	if y := kc.Created.Year(); y < 1 || y > 9999 {
		return bad("creation time %v is outside the years 1 to 9999", kc.Created)
	}
	if y := kc.Modified.Year(); y < 1 || y > 9999 {
		return bad("modification time %v is outside the years 1 to 9999", kc.Modified)
	}
	if kc.Modified.Before(kc.Created) {
		return bad("modification time %v is before creation time %v", kc.Modified, kc.Created)
	}
	switch kc.KDF {
	case KDFScrypt:
		if kc.Iter != 0 {
			return bad("kdf scrypt takes no iter")
		}
		if kc.N < minN || kc.N > maxN || kc.N&(kc.N-1) != 0 {
			return bad("scrypt N=%d is not a power of two from %d to %d", kc.N, minN, maxN)
		}
		if kc.R < 1 || kc.R > maxR || kc.P < 1 || kc.P > maxP {
			return bad("scrypt r=%d p=%d out of range (r 1..%d, p 1..%d)", kc.R, kc.P, maxR, maxP)
		}
		if 128*kc.N*kc.R > maxScryptMem {
			return bad("scrypt N=%d r=%d needs %d MiB of memory, at most %d allowed", kc.N, kc.R, 128*kc.N*kc.R>>20, maxScryptMem>>20)
		}
		if err := kc.validateSealed(); err != nil {
			return bad("%v", err)
		}
	case KDFPBKDF2:
		if kc.N != 0 || kc.R != 0 || kc.P != 0 {
			return bad("kdf pbkdf2 takes no scrypt parameters")
		}
		if kc.Iter < minIter || kc.Iter > maxIter {
			return bad("pbkdf2 iter=%d out of range (%d..%d)", kc.Iter, minIter, maxIter)
		}
		if err := kc.validateSealed(); err != nil {
			return bad("%v", err)
		}
	case KDFNone:
		if kc.N != 0 || kc.R != 0 || kc.P != 0 || kc.Iter != 0 || len(kc.Salt) != 0 || len(kc.Nonce) != 0 {
			return bad("kdf none takes no parameters, salt or nonce")
		}
		if len(kc.Data) != KeySize {
			return bad("key is %d bytes, expected %d", len(kc.Data), KeySize)
		}
	default:
		return bad("unknown kdf %q: expected %s, %s or %s", kc.KDF, KDFScrypt, KDFPBKDF2, KDFNone)
	}
	return nil
}

// validateSealed checks the salt, nonce and data sizes of a sealed key.
func (kc KeyConfig) validateSealed() error {
	if len(kc.Salt) < minSaltLen || len(kc.Salt) > maxSaltLen {
		return fmt.Errorf("salt is %d bytes, expected %d to %d", len(kc.Salt), minSaltLen, maxSaltLen)
	}
	if len(kc.Nonce) != nonceLen {
		return fmt.Errorf("nonce is %d bytes, expected %d", len(kc.Nonce), nonceLen)
	}
	if len(kc.Data) != sealedKeySize {
		return fmt.Errorf("sealed key is %d bytes, expected %d", len(kc.Data), sealedKeySize)
	}
	return nil
}

// MarshalJSON returns the config's JSON form, the exact bytes written into
// a media-set label's EncryptedKey: compact, fields in a fixed order, binary
// fields in standard base64, times in RFC 3339 UTC, HTML characters escaped
// as encoding/json does (so json.Marshal of a KeyConfig, or of a label that
// embeds these bytes, gives the same bytes).
func (kc KeyConfig) MarshalJSON() ([]byte, error) {
	w := keyConfigJSON{
		KDF: kc.KDF, N: kc.N, R: kc.R, P: kc.P, Iter: kc.Iter,
		Salt: kc.Salt, Nonce: kc.Nonce, Data: kc.Data,
		Created:     kc.Created.UTC().Format(time.RFC3339Nano),
		Modified:    kc.Modified.UTC().Format(time.RFC3339Nano),
		Fingerprint: kc.Fingerprint, Hint: kc.Hint,
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes and validates a config as ParseKeyConfig does.
func (kc *KeyConfig) UnmarshalJSON(b []byte) error {
	c, err := ParseKeyConfig(b)
	if err != nil {
		return err
	}
	*kc = c
	return nil
}

// ParseKeyConfig decodes the JSON form of a KeyConfig and validates it
// (Validate). Unknown fields and trailing data are rejected. Errors wrap
// ErrInvalid.
func ParseKeyConfig(b []byte) (KeyConfig, error) {
	var w keyConfigJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return KeyConfig{}, errorf(ErrInvalid, "tape encryption key config is not valid JSON: %v", err)
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return KeyConfig{}, errorf(ErrInvalid, "tape encryption key config has data after the JSON object")
	}
	created, err := time.Parse(time.RFC3339Nano, w.Created)
	if err != nil {
		return KeyConfig{}, errorf(ErrInvalid, "tape encryption key config: created %q is not an RFC 3339 time", w.Created)
	}
	modified, err := time.Parse(time.RFC3339Nano, w.Modified)
	if err != nil {
		return KeyConfig{}, errorf(ErrInvalid, "tape encryption key config: modified %q is not an RFC 3339 time", w.Modified)
	}
	kc := KeyConfig{
		Fingerprint: w.Fingerprint, Hint: w.Hint,
		Created: created.UTC(), Modified: modified.UTC(),
		KDF: w.KDF, N: w.N, R: w.R, P: w.P, Iter: w.Iter,
		Salt: w.Salt, Nonce: w.Nonce, Data: w.Data,
	}
	if err := kc.Validate(); err != nil {
		return KeyConfig{}, err
	}
	return kc, nil
}
