package format

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func sampleContentHeader() ContentHeader {
	return ContentHeader{
		Type:   ContentMediaSetLabel,
		UUID:   uuid.MustParse("9da37a55-aac7-4deb-91c6-482b3b675f30"),
		Ctime:  time.Date(2021, 1, 13, 13, 55, 55, 5, time.UTC),
		Header: json.RawMessage(`{"seq-nr":0}`),
	}
}

func TestContentHeaderGolden(t *testing.T) {
	b, err := sampleContentHeader().encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "content-header.golden", b)
}

func TestContentHeaderRoundTrip(t *testing.T) {
	for _, h := range []ContentHeader{
		sampleContentHeader(),
		{Type: ContentChunkArchive, UUID: uuid.UUID{15: 1}, Ctime: time.Unix(-5, 7)},
		{Type: 77, UUID: uuid.UUID{15: 1}, Ctime: time.Now(), Header: json.RawMessage(`[1,2,3]`)},
	} {
		b, err := h.encode()
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, "payload"...)
		got, n, err := decodeContentHeader(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", h, err)
		}
		if n != len(b)-len("payload") {
			t.Errorf("decoded length %d, want %d", n, len(b)-len("payload"))
		}
		if got.Type != h.Type || got.UUID != h.UUID || !got.Ctime.Equal(h.Ctime) || string(got.Header) != string(h.Header) {
			t.Errorf("decoded %+v, want %+v", got, h)
		}
		if got.Ctime.Location() != time.UTC {
			t.Errorf("ctime location %v, want UTC", got.Ctime.Location())
		}
	}
}

// resealContent recomputes the content header CRC after a test changed b.
func resealContent(b []byte) {
	n := binary.LittleEndian.Uint32(b[44:])
	crc := crc32c(append(append([]byte(nil), b[:48]...), b[contentFixedSize:contentFixedSize+int(n)]...))
	binary.LittleEndian.PutUint32(b[48:], crc)
}

func TestDecodeContentHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:40] }, "needs 52 bytes"},
		{"magic", func(b []byte) []byte { b[4] = 'R'; return b }, "bad content header magic"},
		{"version", func(b []byte) []byte { b[8] = 9; resealContent(b); return b }, "format version 9"},
		{"reserved", func(b []byte) []byte { b[11] = 1; resealContent(b); return b }, "reserved field"},
		{"type 0", func(b []byte) []byte { clear(b[12:16]); resealContent(b); return b }, "content type 0"},
		{"nil uuid", func(b []byte) []byte { clear(b[16:32]); resealContent(b); return b }, "all zeros"},
		{"nanos", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[40:], 1e9)
			resealContent(b)
			return b
		}, "nanoseconds"},
		{"json too long", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[44:], MaxHeaderJSON+1)
			return b
		}, "exceeds the limit"},
		{"json cut short", func(b []byte) []byte { return b[:len(b)-1] }, "cut short"},
		{"crc", func(b []byte) []byte { b[len(b)-2] ^= 1; return b }, "checksum"},
		{"invalid json", func(b []byte) []byte { b[len(b)-1] = 'x'; resealContent(b); return b }, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := sampleContentHeader().encode()
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = decodeContentHeader(tt.mutate(b))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func TestContentTypeString(t *testing.T) {
	for typ, want := range map[ContentType]string{
		ContentMediaLabel:      "media-label",
		ContentMediaSetLabel:   "media-set-label",
		ContentChunkArchive:    "chunk-archive",
		ContentSnapshotArchive: "snapshot-archive",
		ContentCatalogArchive:  "catalog-archive",
		0:                      "content-type(0)",
		42:                     "content-type(42)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("ContentType(%d).String() = %q, want %q", uint32(typ), got, want)
		}
	}
}
