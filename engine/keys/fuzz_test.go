package keys

import (
	"bytes"
	"testing"
)

// FuzzParseKeyConfig feeds ParseKeyConfig arbitrary bytes (a key config
// comes from a media-set label, so from any tape put in a drive): it must
// not panic, and whatever it accepts must be valid and survive a
// MarshalJSON/ParseKeyConfig round trip unchanged.
func FuzzParseKeyConfig(f *testing.F) {
	_, kc, err := newKey([]byte("pw"), "tape pw 2020", t0, fastParams)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := kc.MarshalJSON()
	f.Add(good)
	f.Add([]byte(`{"kdf":"none","data":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","created":"2021-01-23T14:47:21Z","modified":"2021-01-23T14:47:21Z","fingerprint":"00","hint":"h"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kc, err := ParseKeyConfig(b)
		if err != nil {
			return
		}
		if err := kc.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		out, err := kc.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		kc2, err := ParseKeyConfig(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, _ := kc2.MarshalJSON()
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the JSON:\n%s\n%s", out, out2)
		}
	})
}
