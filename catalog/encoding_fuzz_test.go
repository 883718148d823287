package catalog

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// mediaSeeds are valid stored media values for the fuzz corpora.
func mediaSeeds(t testing.TB) [][]byte {
	t.Helper()
	full := testMedia("TEST02L8")
	full.Set = &MediaSetRef{UUID: setDay1, Seq: 3, Ctime: t0, Pool: "weekly"}
	full.Location = Location{Kind: LocationVault, Vault: "bank"}
	full.BytesUsed = 1 << 40
	full.Updated = t0.Add(time.Hour)
	off := testMedia("CLN001L1")
	off.Pool = ""
	off.Location = Location{Kind: LocationOffline}
	var seeds [][]byte
	for _, m := range []Media{testMedia("TEST01L8"), full, off} {
		b, err := encodeMedia(m)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzDecodeMedia: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to a value that decodes to the same entry.
func FuzzDecodeMedia(f *testing.F) {
	for _, s := range mediaSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{valueV1})
	f.Add([]byte("\x01null"))
	f.Add([]byte("\x02{}"))
	f.Add([]byte("\x01{\"uuid\":\"00000000-0000-0000-0000-000000000000\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMedia(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc, err := encodeMedia(m)
		if err != nil {
			t.Fatalf("decoded entry %+v does not encode: %v", m, err)
		}
		back, err := decodeMedia(enc)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v\n%q", err, enc)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", back, m)
		}
		if enc2, _ := encodeMedia(back); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not canonical:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzMediaRoundTrip: every entry that encodes decodes to the same entry
// (after normalization), and every entry the encoder refuses is ErrInvalid.
func FuzzMediaRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), "TEST01L8", int64(0), "daily", []byte{}, uint64(0), int64(0), "", "writable", "online", "sl3", 4, "", uint64(0), int64(0))
	f.Add(setDay1[:], "CLN001", int64(-1), "", setDay1[:], uint64(9), int64(1e18), "p", "full", "vault", "", 0, "bank", uint64(1<<63), int64(-5e18))
	f.Add([]byte("0123456789abcdef"), "a/b", int64(1), "\xff", []byte("x"), uint64(1), int64(2), "\n", "bad", "shelf", "c", -1, "v", uint64(3), int64(4))
	f.Fuzz(func(t *testing.T, id []byte, label string, ctime int64, pool string, set []byte, seq uint64, setCtime int64, setPool, status, kind, changer string, slot int, vault string, used uint64, updated int64) {
		m := Media{
			UUID:      uuidFrom(id),
			LabelText: label,
			Ctime:     time.Unix(0, ctime),
			Pool:      pool,
			Status:    MediaStatus(status),
			Location:  Location{Kind: LocationKind(kind), Changer: changer, Slot: slot, Vault: vault},
			BytesUsed: used,
			Updated:   time.Unix(0, updated),
		}
		if len(set) > 0 {
			m.Set = &MediaSetRef{UUID: uuidFrom(set), Seq: seq, Ctime: time.Unix(0, setCtime), Pool: setPool}
		}
		enc, err := encodeMedia(m)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("encode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		got, err := decodeMedia(enc)
		if err != nil {
			t.Fatalf("encoded entry does not decode: %v\n%q", err, enc)
		}
		if want := m.normalize(); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip changed the entry:\n got %+v\nwant %+v", got, want)
		}
	})
}

func uuidFrom(b []byte) uuid.UUID {
	var id uuid.UUID
	copy(id[:], b)
	return id
}

// FuzzDecodeLabelRef: arbitrary bytes never panic; a decoded reference
// re-encodes to the same bytes.
func FuzzDecodeLabelRef(f *testing.F) {
	f.Add(encodeLabelRef(setDay1))
	f.Add(encodeLabelRef(uuid.Nil))
	f.Add([]byte{})
	f.Add([]byte{valueV1, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodeLabelRef(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if id == uuid.Nil {
			t.Fatal("decoded the zero UUID")
		}
		if enc := encodeLabelRef(id); !bytes.Equal(enc, b) {
			t.Fatalf("round trip: %x -> %s -> %x", b, id, enc)
		}
	})
}

// FuzzDecodeSchemaVersion: arbitrary bytes never panic; a decoded version is
// positive and re-encodes to the same bytes.
func FuzzDecodeSchemaVersion(f *testing.F) {
	for _, s := range []string{"1", "2", "0", "01", "+1", "-1", "18446744073709551615", "18446744073709551616", "", " 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeSchemaVersion(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if v == 0 {
			t.Fatal("decoded version 0")
		}
		if enc := encodeSchemaVersion(v); !bytes.Equal(enc, b) {
			t.Fatalf("round trip: %q -> %d -> %q", b, v, enc)
		}
	})
}

// FuzzParseLocation: arbitrary text never panics; a parsed location formats
// back to the same text.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"offline", "online-sl3", "vault-bank", "online-", "vault-", "online", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLocation(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if got := l.String(); got != s {
			t.Fatalf("ParseLocation(%q).String() = %q", s, got)
		}
		if err := l.validate(); err != nil {
			t.Fatalf("ParseLocation(%q) = %+v, which is invalid: %v", s, l, err)
		}
	})
}
