package chunker

import (
	"errors"
	"strings"
	"testing"
)

func TestSumKnownVectors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := Sum([]byte(tt.in)).String(); got != tt.want {
			t.Errorf("Sum(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseDigest(t *testing.T) {
	d := Sum([]byte("tapefs"))
	tests := []struct {
		name    string
		in      string
		want    Digest
		wantErr bool
	}{
		{"round trip", d.String(), d, false},
		{"upper case", strings.ToUpper(d.String()), d, false},
		{"zero", strings.Repeat("0", 64), Digest{}, false},
		{"empty", "", Digest{}, true},
		{"short", d.String()[:63], Digest{}, true},
		{"long", d.String() + "0", Digest{}, true},
		{"not hex", "g" + d.String()[1:], Digest{}, true},
		{"space", " " + d.String()[1:], Digest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDigest(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadDigest) {
					t.Errorf("ParseDigest(%q) error = %v, want ErrBadDigest", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseDigest(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestIsZero(t *testing.T) {
	for n := range 200 {
		buf := make([]byte, n)
		if !IsZero(buf) {
			t.Fatalf("IsZero(%d zero bytes) = false", n)
		}
		for i := range n {
			buf[i] = 0x80
			if IsZero(buf) {
				t.Fatalf("IsZero(%d bytes with byte %d set) = true", n, i)
			}
			buf[i] = 0
		}
	}
	big := make([]byte, 4<<20)
	if !IsZero(big) {
		t.Error("IsZero(4 MiB of zeros) = false")
	}
	big[len(big)-1] = 1
	if IsZero(big) {
		t.Error("IsZero(4 MiB with the last byte set) = true")
	}
	if !IsZero(nil) {
		t.Error("IsZero(nil) = false")
	}
}
