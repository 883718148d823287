package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fastParams keeps the scrypt cost of tests low; TestNewKeyDefaults covers
// the real parameters once.
var fastParams = kdfParams{N: minN, R: 8, P: 1}

var t0 = time.Date(2021, 1, 23, 14, 47, 21, 0, time.UTC)

func newTestKey(t *testing.T, password, hint string) ([]byte, KeyConfig) {
	t.Helper()
	key, kc, err := newKey([]byte(password), hint, t0, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	return key, kc
}

func TestFingerprint(t *testing.T) {
	// SHA-256 of 32 zero bytes.
	got := Fingerprint(make([]byte, 32))
	want := "66:68:7a:ad:f8:62:bd:77:6c:8f:c1:8b:8e:9f:8e:20:08:97:14:85:6e:e2:33:b3:90:2a:59:1d:0d:5f:29:25"
	if got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if !ValidFingerprint(got) {
		t.Errorf("ValidFingerprint(%s) = false", got)
	}
	if a, want := Abbrev(got), "66:68:7a:ad:f8:62:bd:77:...:59:1d:0d:5f:29:25"; a != want {
		t.Errorf("Abbrev = %s, want %s", a, want)
	}
	for _, bad := range []string{"", "66", strings.ToUpper(got), got[:len(got)-3], got + ":00", strings.Replace(got, ":", "-", 1), strings.Replace(got, "6", "g", 1)} {
		if ValidFingerprint(bad) {
			t.Errorf("ValidFingerprint(%q) = true", bad)
		}
	}
}

func TestResolve(t *testing.T) {
	a := "14:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0f"
	b := "14:f8:79:b9:f5:13:e5:dc:00:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0f"
	c := "99:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0e"
	fps := []string{a, b, c}
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{a, a, nil},
		{strings.ToUpper(a), a, nil},
		{"14:f8:79:b9:f5:13:e5:dc:bf:...:b6:20:e1:7f:f5:0f", a, nil},
		{"14:f8:79:b9:f5:13:e5:dc:bf ... b6:20:e1:7f:f5:0f", a, nil},
		{"99:...:0e", c, nil},
		{Abbrev(a), "", ErrAmbiguous}, // a and b share the first 8 and last 6 bytes
		{"14:f8:79:b9:f5:13:e5:dc: ... :b6:20:e1:7f:f5:0f", "", ErrAmbiguous},
		{"14:...:0e", "", ErrNotFound},
		{"14:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:01", "", ErrNotFound},
		{"14:f8", "", ErrInvalid},
		{"...", "", ErrInvalid},
		{"14:...", "", ErrInvalid},
		{"zz:...:0f", "", ErrInvalid},
		{"1:...:0f", "", ErrInvalid},
		{a + "...:0f", "", ErrInvalid},
		{"", "", ErrInvalid},
	}
	for _, tt := range tests {
		got, err := resolve(tt.in, fps)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("resolve(%q) = %q, %v; want %v", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNewKeyDefaults(t *testing.T) {
	key, kc, err := NewKey([]byte("secret"), "tape pw 2020", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize || kc.Fingerprint != Fingerprint(key) {
		t.Fatalf("key of %d bytes with fingerprint %s, config says %s", len(key), Fingerprint(key), kc.Fingerprint)
	}
	if kc.KDF != KDFScrypt || kc.N != 1<<15 || kc.R != 8 || kc.P != 1 {
		t.Errorf("kdf %s N=%d r=%d p=%d, want scrypt 32768 8 1", kc.KDF, kc.N, kc.R, kc.P)
	}
	if !kc.Created.Equal(t0) || !kc.Modified.Equal(t0) || kc.Hint != "tape pw 2020" {
		t.Errorf("config %+v", kc)
	}
	got, err := kc.Decrypt([]byte("secret"))
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("Decrypt = %x, %v; want %x", got, err, key)
	}
	if _, err := kc.Decrypt([]byte("Secret")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("Decrypt with the wrong password = %v, want ErrWrongPassword", err)
	}
	_, kc2, err := NewKey([]byte("secret"), "tape pw 2020", t0)
	if err != nil {
		t.Fatal(err)
	}
	if kc2.Fingerprint == kc.Fingerprint || bytes.Equal(kc2.Salt, kc.Salt) {
		t.Error("two new keys share a fingerprint or salt")
	}
}

func TestNewKeyRefuses(t *testing.T) {
	for _, tt := range []struct{ pw, hint string }{
		{"", "hint"}, {"pw", ""}, {"pw", "  "}, {"pw", "two\nlines"}, {"pw", strings.Repeat("x", 300)}, {"pw", "bad\xff"},
	} {
		if _, _, err := newKey([]byte(tt.pw), tt.hint, t0, fastParams); !errors.Is(err, ErrInvalid) {
			t.Errorf("newKey(%q, %q) = %v, want ErrInvalid", tt.pw, tt.hint, err)
		}
	}
}

func TestRoundTripJSON(t *testing.T) {
	key, kc := newTestKey(t, "pw", `hint with "quotes" & <html>`)
	b, err := kc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// Embedding the bytes in another JSON document (the media-set label)
	// must not change them.
	if outer, _ := json.Marshal(struct{ K json.RawMessage }{b}); !bytes.Contains(outer, b) {
		t.Errorf("json.Marshal changes the embedded key config:\n%s\n%s", b, outer)
	}
	kc2, err := ParseKeyConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := kc2.MarshalJSON()
	if !bytes.Equal(b, b2) {
		t.Errorf("JSON changed in a round trip:\n%s\n%s", b, b2)
	}
	got, err := kc2.Decrypt([]byte("pw"))
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("Decrypt after round trip = %x, %v", got, err)
	}
}

func TestChangePassword(t *testing.T) {
	key, kc := newTestKey(t, "old", "h")
	later := t0.Add(time.Hour)
	if _, err := kc.changePassword([]byte("wrong"), []byte("new"), later, fastParams); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("change with the wrong old password = %v", err)
	}
	if _, err := kc.changePassword([]byte("old"), nil, later, fastParams); !errors.Is(err, ErrInvalid) {
		t.Errorf("change to an empty password = %v", err)
	}
	kc2, err := kc.changePassword([]byte("old"), []byte("new"), later, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	if !kc2.Created.Equal(t0) || !kc2.Modified.Equal(later) || kc2.Fingerprint != kc.Fingerprint || bytes.Equal(kc2.Salt, kc.Salt) {
		t.Errorf("changed config %+v", kc2)
	}
	if _, err := kc2.Decrypt([]byte("old")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("old password still opens the key: %v", err)
	}
	if got, err := kc2.Decrypt([]byte("new")); err != nil || !bytes.Equal(got, key) {
		t.Errorf("Decrypt with the new password = %x, %v", got, err)
	}
	// The receiver is not modified.
	if got, err := kc.Decrypt([]byte("old")); err != nil || !bytes.Equal(got, key) {
		t.Errorf("original config changed: %v", err)
	}
}

func TestTamperedConfig(t *testing.T) {
	_, kc := newTestKey(t, "pw", "h")
	_, other := newTestKey(t, "pw", "h")
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[0] ^= 1; return b }
	tests := []struct {
		name   string
		change func(*KeyConfig)
		want   error
	}{
		{"data", func(c *KeyConfig) { c.Data = flip(c.Data) }, ErrWrongPassword},
		{"nonce", func(c *KeyConfig) { c.Nonce = flip(c.Nonce) }, ErrWrongPassword},
		{"salt", func(c *KeyConfig) { c.Salt = flip(c.Salt) }, ErrWrongPassword},
		{"r", func(c *KeyConfig) { c.R = 4 }, ErrWrongPassword},
		{"fingerprint", func(c *KeyConfig) { c.Fingerprint = other.Fingerprint }, ErrCorrupt},
		{"short data", func(c *KeyConfig) { c.Data = c.Data[:40] }, ErrInvalid},
		{"kdf", func(c *KeyConfig) { c.KDF = "pbkdf2" }, ErrInvalid},
		{"huge N", func(c *KeyConfig) { c.N = 1 << 30 }, ErrInvalid},
		{"N not a power of two", func(c *KeyConfig) { c.N = 3000 }, ErrInvalid},
		{"memory", func(c *KeyConfig) { c.N, c.R = 1<<20, 8 }, ErrInvalid},
		{"modified before created", func(c *KeyConfig) { c.Modified = c.Created.Add(-time.Second) }, ErrInvalid},
		{"no created", func(c *KeyConfig) { c.Created = time.Time{} }, ErrInvalid},
	}
	for _, tt := range tests {
		c := kc
		tt.change(&c)
		if _, err := c.Decrypt([]byte("pw")); !errors.Is(err, tt.want) {
			t.Errorf("%s: Decrypt = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestKDFNone(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	kc := KeyConfig{Fingerprint: Fingerprint(key), Hint: "plain", Created: t0, Modified: t0, KDF: KDFNone, Data: key}
	b, err := kc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	kc2, err := ParseKeyConfig(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got, err := kc2.Decrypt(nil); err != nil || !bytes.Equal(got, key) {
		t.Errorf("Decrypt = %x, %v", got, err)
	}
	kc2.Salt = []byte("0123456789abcdef")
	if err := kc2.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("kdf none with a salt: %v", err)
	}
}

func TestParseKeyConfigRejects(t *testing.T) {
	_, kc := newTestKey(t, "pw", "h")
	good, _ := kc.MarshalJSON()
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	mutate := func(k string, v any) string {
		c := map[string]any{}
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	for _, in := range []string{
		"", "null", "[]", "{}", string(good) + "x", string(good) + "{}",
		mutate("extra", 1),
		mutate("created", "yesterday"),
		mutate("modified", nil),
		mutate("fingerprint", "14:f8"),
		mutate("hint", ""),
		mutate("salt", "not base64!"),
		mutate("nonce", "AAAA"),
		mutate("n", -1),
		mutate("p", 0),
		mutate("kdf", "Scrypt"),
		mutate("created", "0000-01-01T00:00:00Z"),
	} {
		if _, err := ParseKeyConfig([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseKeyConfig(%.80s) = %v, want ErrInvalid", in, err)
		}
	}
	if _, err := ParseKeyConfig(append(append([]byte(" "), good...), "\n"...)); err != nil {
		t.Errorf("surrounding white space: %v", err)
	}
}

func TestStore(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "etc")}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v, %v", list, err)
	}
	if _, _, err := s.Get(Fingerprint(nil)); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "tapefs key restore") {
		t.Errorf("Get on an empty store = %v", err)
	}
	k1, c1 := newTestKey(t, "pw1", "first")
	k2, c2 := newTestKey(t, "pw2", "second")
	c2.Created, c2.Modified = t0.Add(-time.Hour), t0.Add(-time.Hour)
	if err := s.Add(k1, c1); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(k2, c2); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(k1, c1); !errors.Is(err, ErrExists) {
		t.Errorf("second Add = %v, want ErrExists", err)
	}
	if err := s.Add(k2, c1); !errors.Is(err, ErrInvalid) {
		t.Errorf("Add with another key's config = %v, want ErrInvalid", err)
	}
	st, err := os.Stat(filepath.Join(s.Dir, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v, want 0600", st.Mode().Perm())
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Hint != "second" || list[1].Hint != "first" {
		t.Fatalf("List = %+v, %v; want second then first", list, err)
	}
	key, kc, err := s.Get(Abbrev(c1.Fingerprint))
	if err != nil || !bytes.Equal(key, k1) || kc.Hint != "first" {
		t.Errorf("Get(abbrev) = %x, %+v, %v", key, kc, err)
	}

	// A failing update changes nothing, byte for byte.
	before, _ := os.ReadFile(filepath.Join(s.Dir, StoreFile))
	boom := errors.New("boom")
	if err := s.Update(c1.Fingerprint, func(c *KeyConfig) error { c.Hint = "changed"; return boom }); err != boom {
		t.Errorf("Update returned %v, want fn's error", err)
	}
	if err := s.Update(c1.Fingerprint, func(c *KeyConfig) error { c.Hint = ""; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Update to an invalid config = %v", err)
	}
	if err := s.Update(c1.Fingerprint, func(c *KeyConfig) error { c.Fingerprint = c2.Fingerprint; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Update of the fingerprint = %v", err)
	}
	if err := s.Remove("00:...:00"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove unknown = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(s.Dir, StoreFile))
	if !bytes.Equal(before, after) {
		t.Error("failed updates changed the store file")
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	if err := s.Update(c1.Fingerprint, func(c *KeyConfig) error { c.Hint = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, kc, _ := s.Get(c1.Fingerprint); kc.Hint != "renamed" {
		t.Errorf("hint after Update = %q", kc.Hint)
	}
	if err := s.Remove(c2.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(c2.Fingerprint); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
}

func TestStoreDamaged(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	k1, c1 := newTestKey(t, "pw", "h")
	if err := s.Add(k1, c1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir, StoreFile)
	b, _ := os.ReadFile(path)
	for name, content := range map[string][]byte{
		"truncated": b[:len(b)/2],
		"other key": bytes.Replace(b, []byte(fmt.Sprintf("%x", k1)), []byte(strings.Repeat("00", 32)), 1),
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: List = %v, want ErrCorrupt", name, err)
		}
		if err := s.Add(k1, c1); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Add = %v, want ErrCorrupt", name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Errorf("%s: a failed Add rewrote the damaged file", name)
		}
	}
}

func TestStoreConcurrentAdds(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	const n = 8
	keys := make([][]byte, n)
	cfgs := make([]KeyConfig, n)
	for i := range n {
		keys[i], cfgs[i] = newTestKey(t, "pw", fmt.Sprintf("key %d", i))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every key twice: one Add wins, the other gets ErrExists.
			for range 2 {
				if err := s.Add(keys[i], cfgs[i]); err != nil && !errors.Is(err, ErrExists) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != n {
		t.Fatalf("List after concurrent Adds: %d keys, %v; want %d", len(list), err, n)
	}
	for i := range n {
		if key, _, err := s.Get(cfgs[i].Fingerprint); err != nil || !bytes.Equal(key, keys[i]) {
			t.Errorf("key %d: %v", i, err)
		}
	}
}

// TestPBKDF2AndReseal creates a key under PBKDF2 (`key create --kdf
// pbkdf2`), opens it, changes its password (it stays PBKDF2), reseals it
// from the key alone (`key change-passphrase --force`), and checks the
// JSON form round-trips and Validate's bounds.
func TestPBKDF2AndReseal(t *testing.T) {
	key, kc, err := NewKeyKDF(KDFPBKDF2, []byte("pw"), "hint", t0)
	if err != nil {
		t.Fatal(err)
	}
	if kc.KDF != KDFPBKDF2 || kc.Iter != defaultIter || kc.N != 0 {
		t.Fatalf("kdf %s iter %d N %d", kc.KDF, kc.Iter, kc.N)
	}
	b, err := kc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kdf":"pbkdf2","iter":65535`) {
		t.Errorf("json %s", b)
	}
	back, err := ParseKeyConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := back.Decrypt([]byte("pw")); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Decrypt = %x, %v", got, err)
	}
	if _, err := back.Decrypt([]byte("wrong")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	later := t0.Add(time.Hour)
	kc2, err := kc.ChangePassword([]byte("pw"), []byte("new"), later)
	if err != nil || kc2.KDF != KDFPBKDF2 {
		t.Fatalf("ChangePassword: %s, %v", kc2.KDF, err)
	}
	kc3, err := kc2.Reseal(key, []byte("forced"), later)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kc3.Decrypt([]byte("forced")); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("resealed key: %x, %v", got, err)
	}
	if _, err := kc3.Reseal(make([]byte, KeySize), []byte("x"), later); !errors.Is(err, ErrInvalid) {
		t.Errorf("Reseal with another key: %v, want ErrInvalid", err)
	}
	if _, _, err := NewKeyKDF(KDFNone, []byte("pw"), "hint", t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewKeyKDF(none): %v, want ErrInvalid", err)
	}
	for _, iter := range []int{minIter - 1, maxIter + 1} {
		bad := kc
		bad.Iter = iter
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("iter %d: %v, want ErrInvalid", iter, err)
		}
	}
	mixed := kc
	mixed.N = minN
	if err := mixed.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("pbkdf2 with scrypt N: %v, want ErrInvalid", err)
	}
}
