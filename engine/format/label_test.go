package format

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func sampleLabels() (MediaLabel, MediaSetLabel) {
	ml := MediaLabel{
		LabelText: "TEST01L8",
		UUID:      uuid.MustParse("7f42c4dd-9626-4d89-9f2b-c7bc6da7d533"),
		Ctime:     time.Date(2021, 1, 6, 9, 7, 51, 0, time.UTC),
		Pool:      "daily",
	}
	set := MediaSetLabel{Pool: "daily", Ctime: ml.Ctime}
	return ml, set
}

func encryptedSet() MediaSetLabel {
	return MediaSetLabel{
		Pool:                     "daily",
		SetUUID:                  uuid.MustParse("9da37a55-aac7-4deb-91c6-482b3b675f30"),
		Seq:                      3,
		Ctime:                    time.Date(2021, 1, 13, 13, 55, 55, 250, time.UTC),
		EncryptionKeyFingerprint: "aa:bb:cc",
		EncryptedKey:             json.RawMessage(`{"kdf":"scrypt","data":"AAEC"}`),
	}
}

func sameSet(t *testing.T, got *MediaSetLabel, want MediaSetLabel) {
	t.Helper()
	if got == nil {
		t.Fatal("media-set label is nil")
	}
	if got.Pool != want.Pool || got.SetUUID != want.SetUUID || got.Seq != want.Seq || !got.Ctime.Equal(want.Ctime) ||
		got.EncryptionKeyFingerprint != want.EncryptionKeyFingerprint || string(got.EncryptedKey) != string(want.EncryptedKey) {
		t.Errorf("media-set label %+v, want %+v", *got, want)
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	ml, empty := sampleLabels()
	for _, set := range []MediaSetLabel{empty, encryptedSet()} {
		ctx := context.Background()
		d := &memDrive{key: []byte("old key")}
		if err := WriteLabels(ctx, d, ml, set); err != nil {
			t.Fatalf("WriteLabels: %v", err)
		}
		if d.key != nil || d.keySets == 0 {
			t.Errorf("WriteLabels left the drive key set")
		}
		if d.files() != 2 || d.pos != len(d.objs) {
			t.Errorf("after WriteLabels: %d files, at object %d of %d; want 2 files, at end of data", d.files(), d.pos, len(d.objs))
		}
		gotML, gotSet, err := ReadLabels(ctx, d)
		if err != nil {
			t.Fatalf("ReadLabels: %v", err)
		}
		if gotML.LabelText != ml.LabelText || gotML.UUID != ml.UUID || !gotML.Ctime.Equal(ml.Ctime) || gotML.Pool != ml.Pool {
			t.Errorf("media label %+v, want %+v", *gotML, ml)
		}
		sameSet(t, gotSet, set)
		if d.pos != len(d.objs) {
			t.Errorf("ReadLabels left the tape at object %d, want %d (after file 1)", d.pos, len(d.objs))
		}
	}
}

func TestLabelJSON(t *testing.T) {
	ml, empty := sampleLabels()
	tests := []struct {
		v    any
		want string
	}{
		{ml, `{"label-text":"TEST01L8","uuid":"7f42c4dd-9626-4d89-9f2b-c7bc6da7d533","ctime":"2021-01-06T09:07:51Z","pool":"daily"}`},
		{MediaLabel{LabelText: "X", UUID: ml.UUID, Ctime: time.Unix(0, 5).In(time.FixedZone("x", 3600))},
			`{"label-text":"X","uuid":"7f42c4dd-9626-4d89-9f2b-c7bc6da7d533","ctime":"1970-01-01T00:00:00.000000005Z"}`},
		{empty, `{"pool":"daily","media-set-uuid":"00000000-0000-0000-0000-000000000000","seq-nr":0,"media-set-ctime":"2021-01-06T09:07:51Z"}`},
		{encryptedSet(), `{"pool":"daily","media-set-uuid":"9da37a55-aac7-4deb-91c6-482b3b675f30","seq-nr":3,"media-set-ctime":"2021-01-13T13:55:55.00000025Z","encryption-key-fingerprint":"aa:bb:cc","encrypted-key":{"kdf":"scrypt","data":"AAEC"}}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("JSON\n got %s\nwant %s", got, tt.want)
		}
	}
}

func TestReadLabelsBlankAndForeign(t *testing.T) {
	ctx := context.Background()
	chunk := &memDrive{}
	writeFile(t, chunk, MinBlockSize, testHeader(1), []byte("data"))

	tests := []struct {
		name string
		d    *memDrive
		want error
	}{
		{"blank", &memDrive{}, ErrBlankTape},
		{"foreign record", &memDrive{objs: []memObject{{data: []byte("tar archive here")}}}, ErrNotTapefs},
		{"filemark at BOT", &memDrive{objs: []memObject{{filemark: true}}}, ErrNotTapefs},
		{"chunk archive as file 0", chunk, ErrNotTapefs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadLabels(ctx, tt.d)
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadLabels: %v, want %v", err, tt.want)
			}
			blank, err := IsBlank(ctx, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if blank != (tt.want == ErrBlankTape) {
				t.Errorf("IsBlank = %v", blank)
			}
			if tt.d.pos != 0 {
				t.Errorf("IsBlank left the tape at object %d, want BOT", tt.d.pos)
			}
		})
	}
}

func TestReadLabelsMediaLabelOnly(t *testing.T) {
	ctx := context.Background()
	ml, set := sampleLabels()
	d := &memDrive{}
	if err := WriteLabels(ctx, d, ml, set); err != nil {
		t.Fatal(err)
	}
	d.objs = d.objs[:d.record(1, 0)]
	got, gotSet, err := ReadLabels(ctx, d)
	if err != nil || got == nil || gotSet != nil {
		t.Errorf("ReadLabels with file 0 only: %v, %v, %v; want a media label and no set", got, gotSet, err)
	}

	// A damaged file 1 still returns the media label.
	if err := WriteLabels(ctx, d, ml, set); err != nil {
		t.Fatal(err)
	}
	d.objs[d.record(1, 0)].data[200] ^= 0xff
	got, gotSet, err = ReadLabels(ctx, d)
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotTapefs) || got == nil || gotSet != nil {
		t.Errorf("ReadLabels with a damaged file 1: %v, %v, %v", got, gotSet, err)
	}
}

func TestReadLabelsWrongFile1(t *testing.T) {
	ctx := context.Background()
	ml, set := sampleLabels()
	d := &memDrive{}
	if err := WriteLabels(ctx, d, ml, set); err != nil {
		t.Fatal(err)
	}
	d.pos = d.record(1, 0)
	writeFile(t, d, MinBlockSize, testHeader(1), nil)
	if _, _, err := ReadLabels(ctx, d); !errors.Is(err, ErrCorrupt) {
		t.Errorf("file 1 is a chunk archive: %v, want ErrCorrupt", err)
	}
}

func TestReadLabelsUUIDMismatch(t *testing.T) {
	ctx := context.Background()
	ml, _ := sampleLabels()
	js, _ := json.Marshal(ml)
	d := &memDrive{}
	writeFile(t, d, DefaultBlockSize, ContentHeader{Type: ContentMediaLabel, UUID: uuid.UUID{1}, Ctime: ml.Ctime, Header: js}, nil)
	if _, _, err := ReadLabels(ctx, d); !errors.Is(err, ErrNotTapefs) {
		t.Errorf("media label with a different content UUID: %v, want ErrNotTapefs", err)
	}
}

func TestWriteMediaSetLabel(t *testing.T) {
	ctx := context.Background()
	ml, set := sampleLabels()
	d := &memDrive{}
	if err := WriteLabels(ctx, d, ml, set); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d, MinBlockSize, testHeader(1), testData(1, 300000))
	if d.files() != 3 {
		t.Fatalf("setup: %d files", d.files())
	}
	d.key = []byte("data key")
	newSet := encryptedSet()
	if err := WriteMediaSetLabel(ctx, d, newSet); err != nil {
		t.Fatalf("WriteMediaSetLabel: %v", err)
	}
	if d.files() != 2 || d.pos != len(d.objs) {
		t.Errorf("after WriteMediaSetLabel: %d files, at %d of %d; want 2 files, at end of data", d.files(), d.pos, len(d.objs))
	}
	if d.key != nil {
		t.Error("WriteMediaSetLabel left the drive key set")
	}
	gotML, gotSet, err := ReadLabels(ctx, d)
	if err != nil || gotML.UUID != ml.UUID {
		t.Fatalf("ReadLabels: %v, %v", gotML, err)
	}
	sameSet(t, gotSet, newSet)

	// Without a media label in file 0 nothing is written.
	for _, d := range []*memDrive{{}, {objs: []memObject{{data: []byte("foreign")}}}} {
		before := len(d.objs)
		err := WriteMediaSetLabel(ctx, d, newSet)
		if !errors.Is(err, ErrBlankTape) && !errors.Is(err, ErrNotTapefs) {
			t.Errorf("WriteMediaSetLabel without a media label: %v", err)
		}
		if len(d.objs) != before {
			t.Errorf("WriteMediaSetLabel wrote to a tape without a media label")
		}
	}
}

func TestWriteLabelsRejects(t *testing.T) {
	ml, set := sampleLabels()
	tests := []struct {
		name string
		ml   func(*MediaLabel)
		set  func(*MediaSetLabel)
		want string
	}{
		{"bad label text", func(l *MediaLabel) { l.LabelText = "has space" }, nil, "not allowed"},
		{"nil media uuid", func(l *MediaLabel) { l.UUID = uuid.Nil }, nil, "UUID is all zeros"},
		{"no media ctime", func(l *MediaLabel) { l.Ctime = time.Time{} }, nil, "creation time"},
		{"media ctime after 9999", func(l *MediaLabel) { l.Ctime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, nil, "outside the years"},
		{"no set ctime", nil, func(s *MediaSetLabel) { s.Ctime = time.Time{} }, "creation time"},
		{"seq without set", nil, func(s *MediaSetLabel) { s.Seq = 1 }, "sequence number 0"},
		{"key without set", nil, func(s *MediaSetLabel) { s.EncryptionKeyFingerprint = "aa" }, "no encryption key"},
		{"fingerprint with space", nil, func(s *MediaSetLabel) {
			*s = encryptedSet()
			s.EncryptionKeyFingerprint = "aa bb"
		}, "printable"},
		{"fingerprint too long", nil, func(s *MediaSetLabel) {
			*s = encryptedSet()
			s.EncryptionKeyFingerprint = strings.Repeat("a", 129)
		}, "at most 128"},
		{"key not json", nil, func(s *MediaSetLabel) {
			*s = encryptedSet()
			s.EncryptedKey = json.RawMessage("{")
		}, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ml, set := ml, set
			if tt.ml != nil {
				tt.ml(&ml)
			}
			if tt.set != nil {
				tt.set(&set)
			}
			d := &memDrive{}
			err := WriteLabels(context.Background(), d, ml, set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteLabels: %v, want an error containing %q", err, tt.want)
			}
			if len(d.objs) != 0 {
				t.Error("WriteLabels wrote despite invalid labels")
			}
		})
	}
}

func TestValidateLabelText(t *testing.T) {
	tests := []struct {
		s    string
		want string // "" = valid
	}{
		{"TEST01L8", ""},
		{"ABC123L4", ""},
		{"ABC123L9", ""},
		{"ABC123LW", ""},
		{"ABC123LZ", ""},
		{"ABC123M8", ""},
		{"tape-1", ""},
		{"offsite_2026.01", ""},
		{"_x", ""},
		{strings.Repeat("A", 32), ""},
		{"TEST01", ""},
		{"MYTAPE12", ""},
		{"", "empty"},
		{strings.Repeat("A", 33), "at most 32"},
		{"my tape", "position 3"},
		{"a/b", "position 2"},
		{"-tape", "position 1"},
		{".hidden", "position 1"},
		{"..", "position 1"},
		{"tapé", "position 4"},
		{"CLN001L1", "cleaning"},
		{"cln123", "cleaning"},
		{"test01l8", "first six"},
		{"TEST01l8", "upper case"},
		{"TEST_1L8", "first six"},
		{"TEST01L3", "L3 is not supported"},
		{"TEST01LT", "LT is not supported"},
		{"TEST01L0", "L0 is not supported"},
	}
	for _, tt := range tests {
		err := ValidateLabelText(tt.s)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateLabelText(%q): %v", tt.s, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidateLabelText(%q) = %v, want an error containing %q", tt.s, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("ValidateLabelText(%q): error has more than one line", tt.s)
		}
	}
}
