package format

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/device"
)

var (
	// ErrBlankTape: the tape is empty (end of data at BOT), so it has no
	// label.
	ErrBlankTape = errors.New("tape is blank: it has no label yet")

	// ErrNotTapefs: the tape holds data that is not a tapefs media label,
	// written by other software or damaged. The label command refuses such
	// tapes; formatting the tape first erases the data.
	ErrNotTapefs = errors.New("tape holds data that is not a tapefs label (foreign or damaged)")
)

// MediaLabel is file 0 of every tapefs tape. It identifies the cartridge.
type MediaLabel struct {
	// LabelText is the text of the sticky label, usually the barcode
	// (ValidateLabelText).
	LabelText string
	// UUID identifies the cartridge; never all zeros.
	UUID uuid.UUID
	// Ctime is when the tape was labelled.
	Ctime time.Time
	// Pool is the media pool the tape is reserved for; "" means any pool.
	Pool string
}

// MediaSetLabel is file 1 of a tapefs tape. It says which media set the tape
// belongs to and where in the set.
type MediaSetLabel struct {
	// Pool is the pool of the media set.
	Pool string
	// SetUUID identifies the media set. All zeros means the tape is not
	// used by any media set (a freshly labelled or reusable tape).
	SetUUID uuid.UUID
	// Seq is the position of the tape in the set, from 0.
	Seq uint64
	// Ctime is when the media set was created.
	Ctime time.Time
	// EncryptionKeyFingerprint identifies the drive encryption key of the
	// set's data; "" when the set is not encrypted.
	EncryptionKeyFingerprint string
	// EncryptedKey is the optional password-protected key, an opaque JSON
	// value defined by the key management code.
	EncryptedKey json.RawMessage
}

// mediaLabelJSON is the wire form of MediaLabel; see docs/tape-format.md.
type mediaLabelJSON struct {
	LabelText string    `json:"label-text"`
	UUID      uuid.UUID `json:"uuid"`
	Ctime     string    `json:"ctime"`
	Pool      string    `json:"pool,omitempty"`
}

// mediaSetLabelJSON is the wire form of MediaSetLabel.
type mediaSetLabelJSON struct {
	Pool                     string          `json:"pool,omitempty"`
	SetUUID                  uuid.UUID       `json:"media-set-uuid"`
	Seq                      uint64          `json:"seq-nr"`
	Ctime                    string          `json:"media-set-ctime"`
	EncryptionKeyFingerprint string          `json:"encryption-key-fingerprint,omitempty"`
	EncryptedKey             json.RawMessage `json:"encrypted-key,omitempty"`
}

// formatTime is the label time format: RFC 3339 in UTC with nanoseconds as
// needed.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// timeInRange reports whether t can be written as RFC 3339.
func timeInRange(t time.Time) bool {
	return t.Unix() >= minCtime && t.Unix() <= maxCtime
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

// MarshalJSON encodes the label in its on-tape JSON form.
func (l MediaLabel) MarshalJSON() ([]byte, error) {
	return json.Marshal(mediaLabelJSON{
		LabelText: l.LabelText,
		UUID:      l.UUID,
		Ctime:     formatTime(l.Ctime),
		Pool:      l.Pool,
	})
}

// UnmarshalJSON decodes the on-tape JSON form. It does not Validate.
func (l *MediaLabel) UnmarshalJSON(b []byte) error {
	var w mediaLabelJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := parseTime("ctime", w.Ctime)
	if err != nil {
		return err
	}
	*l = MediaLabel{LabelText: w.LabelText, UUID: w.UUID, Ctime: t, Pool: w.Pool}
	return nil
}

// Validate checks the label text, a non-zero UUID and a set Ctime.
func (l MediaLabel) Validate() error {
	if err := ValidateLabelText(l.LabelText); err != nil {
		return err
	}
	if l.UUID == uuid.Nil {
		return fmt.Errorf("media label %s: UUID is all zeros", l.LabelText)
	}
	if l.Ctime.IsZero() {
		return fmt.Errorf("media label %s: creation time is not set", l.LabelText)
	}
	if !timeInRange(l.Ctime) {
		return fmt.Errorf("media label %s: creation time %v is outside the years 1 to 9999", l.LabelText, l.Ctime)
	}
	return nil
}

// MarshalJSON encodes the label in its on-tape JSON form.
func (s MediaSetLabel) MarshalJSON() ([]byte, error) {
	return json.Marshal(mediaSetLabelJSON{
		Pool:                     s.Pool,
		SetUUID:                  s.SetUUID,
		Seq:                      s.Seq,
		Ctime:                    formatTime(s.Ctime),
		EncryptionKeyFingerprint: s.EncryptionKeyFingerprint,
		EncryptedKey:             s.EncryptedKey,
	})
}

// UnmarshalJSON decodes the on-tape JSON form. It does not Validate.
func (s *MediaSetLabel) UnmarshalJSON(b []byte) error {
	var w mediaSetLabelJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := parseTime("media-set-ctime", w.Ctime)
	if err != nil {
		return err
	}
	*s = MediaSetLabel{
		Pool:                     w.Pool,
		SetUUID:                  w.SetUUID,
		Seq:                      w.Seq,
		Ctime:                    t,
		EncryptionKeyFingerprint: w.EncryptionKeyFingerprint,
		EncryptedKey:             w.EncryptedKey,
	}
	return nil
}

// maxFingerprintLen bounds the key fingerprint (a SHA-256 in hex with
// colons is 95 characters).
const maxFingerprintLen = 128

// Validate checks a set Ctime, a printable fingerprint, and that a tape in
// no media set (zero SetUUID) has sequence number 0 and no key.
func (s MediaSetLabel) Validate() error {
	if s.Ctime.IsZero() {
		return fmt.Errorf("media-set label: creation time is not set")
	}
	if !timeInRange(s.Ctime) {
		return fmt.Errorf("media-set label: creation time %v is outside the years 1 to 9999", s.Ctime)
	}
	if s.SetUUID == uuid.Nil && (s.Seq != 0 || s.EncryptionKeyFingerprint != "" || len(s.EncryptedKey) > 0) {
		return fmt.Errorf("media-set label: a tape in no media set (all-zero media-set UUID) must have sequence number 0 and no encryption key")
	}
	if len(s.EncryptionKeyFingerprint) > maxFingerprintLen {
		return fmt.Errorf("media-set label: encryption key fingerprint is %d characters, at most %d allowed", len(s.EncryptionKeyFingerprint), maxFingerprintLen)
	}
	for _, c := range []byte(s.EncryptionKeyFingerprint) {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("media-set label: encryption key fingerprint %q contains a character that is not printable ASCII", s.EncryptionKeyFingerprint)
		}
	}
	if len(s.EncryptedKey) > 0 && !json.Valid(s.EncryptedKey) {
		return fmt.Errorf("media-set label: encrypted key is not valid JSON")
	}
	return nil
}

// decodeMediaLabel decodes and validates the JSON header of file 0. Errors
// wrap ErrCorrupt.
func decodeMediaLabel(b []byte) (*MediaLabel, error) {
	var l MediaLabel
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, corruptf("media label: %v", err)
	}
	if err := l.Validate(); err != nil {
		return nil, corruptf("%v", err)
	}
	return &l, nil
}

// decodeMediaSetLabel decodes and validates the JSON header of file 1.
// Errors wrap ErrCorrupt.
func decodeMediaSetLabel(b []byte) (*MediaSetLabel, error) {
	var s MediaSetLabel
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, corruptf("media-set label: %v", err)
	}
	if err := s.Validate(); err != nil {
		return nil, corruptf("%v", err)
	}
	return &s, nil
}

// WriteLabels rewinds and writes file 0 (the media label) and file 1 (the
// media-set label), leaving the tape at end of data after file 1. Whatever
// the tape held is lost: callers check IsBlank or ReadLabels first. Labels
// are always written in plain text, so WriteLabels clears the drive's
// encryption key; set it again before writing encrypted data. Labels use
// DefaultBlockSize.
func WriteLabels(ctx context.Context, d device.Drive, ml MediaLabel, set MediaSetLabel) error {
	if err := ml.Validate(); err != nil {
		return err
	}
	if err := set.Validate(); err != nil {
		return err
	}
	if err := clearKey(ctx, d); err != nil {
		return err
	}
	if err := d.Rewind(ctx); err != nil {
		return fmt.Errorf("write labels: rewind: %w", err)
	}
	js, err := json.Marshal(ml)
	if err != nil {
		return err
	}
	h := ContentHeader{Type: ContentMediaLabel, UUID: ml.UUID, Ctime: ml.Ctime, Header: js}
	if err := writeLabelFile(ctx, d, h); err != nil {
		return fmt.Errorf("write media label %s: %w", ml.LabelText, err)
	}
	return writeSetLabelFile(ctx, d, set)
}

// WriteMediaSetLabel rewinds, reads and checks the media label in file 0,
// and writes set as file 1; every file after it is discarded. It returns
// ErrBlankTape or an ErrNotTapefs-wrapping error if file 0 is not a tapefs
// media label. Like WriteLabels it clears the drive's encryption key.
func WriteMediaSetLabel(ctx context.Context, d device.Drive, set MediaSetLabel) error {
	if err := set.Validate(); err != nil {
		return err
	}
	if err := clearKey(ctx, d); err != nil {
		return err
	}
	if _, err := readMediaLabel(ctx, d); err != nil {
		return err
	}
	return writeSetLabelFile(ctx, d, set)
}

// clearKey clears the drive's encryption key so labels are written plain;
// a drive without encryption support has nothing to clear.
func clearKey(ctx context.Context, d device.Drive) error {
	if err := d.SetEncryptionKey(ctx, nil); err != nil && !errors.Is(err, device.ErrUnsupported) {
		return fmt.Errorf("clear drive encryption key before writing labels: %w", err)
	}
	return nil
}

func writeSetLabelFile(ctx context.Context, d device.Drive, set MediaSetLabel) error {
	js, err := json.Marshal(set)
	if err != nil {
		return err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("write media-set label: %w", err)
	}
	h := ContentHeader{Type: ContentMediaSetLabel, UUID: id, Ctime: set.Ctime, Header: js}
	if err := writeLabelFile(ctx, d, h); err != nil {
		return fmt.Errorf("write media-set label: %w", err)
	}
	return nil
}

// writeLabelFile writes a tape file with no payload: the label is the JSON
// header of its content header.
func writeLabelFile(ctx context.Context, d device.Drive, h ContentHeader) error {
	w, err := NewFileWriter(ctx, d, DefaultBlockSize, h)
	if err != nil {
		return err
	}
	return w.Close()
}

// ReadLabels rewinds and reads the media label (file 0) and the media-set
// label (file 1), leaving the tape after file 1. set is nil when the tape
// ends after file 0. A blank tape gives ErrBlankTape; a tape whose file 0 is
// not a tapefs media label gives an error wrapping ErrNotTapefs (and
// ErrCorrupt when it failed to decode). If file 1 is damaged the error wraps
// ErrCorrupt and the media label is still returned.
func ReadLabels(ctx context.Context, d device.Drive) (*MediaLabel, *MediaSetLabel, error) {
	ml, err := readMediaLabel(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewFileReader(ctx, d, 0)
	if errors.Is(err, device.ErrEndOfData) {
		return ml, nil, nil
	}
	if err != nil {
		return ml, nil, fmt.Errorf("tape %s: file 1: %w", ml.LabelText, err)
	}
	if t := r.Header().Type; t != ContentMediaSetLabel {
		return ml, nil, corruptf("tape %s: file 1 is a %s, expected a media-set label", ml.LabelText, t)
	}
	set, err := decodeMediaSetLabel(r.Header().Header)
	if err != nil {
		return ml, nil, fmt.Errorf("tape %s: file 1: %w", ml.LabelText, err)
	}
	if err := drain(r); err != nil {
		return ml, nil, fmt.Errorf("tape %s: file 1: %w", ml.LabelText, err)
	}
	return ml, set, nil
}

// readMediaLabel rewinds and reads file 0, leaving the tape at the start of
// file 1.
func readMediaLabel(ctx context.Context, d device.Drive) (*MediaLabel, error) {
	if err := d.Rewind(ctx); err != nil {
		return nil, fmt.Errorf("read labels: rewind: %w", err)
	}
	r, err := NewFileReader(ctx, d, 0)
	switch {
	case errors.Is(err, device.ErrEndOfData):
		return nil, ErrBlankTape
	case errors.Is(err, ErrCorrupt):
		return nil, fmt.Errorf("%w: file 0: %w", ErrNotTapefs, err)
	case err != nil:
		return nil, fmt.Errorf("read media label: %w", err)
	}
	if t := r.Header().Type; t != ContentMediaLabel {
		return nil, fmt.Errorf("%w: file 0 is a %s, not a media label", ErrNotTapefs, t)
	}
	ml, err := decodeMediaLabel(r.Header().Header)
	if err != nil {
		return nil, fmt.Errorf("%w: file 0: %w", ErrNotTapefs, err)
	}
	if ml.UUID != r.Header().UUID {
		return nil, fmt.Errorf("%w: file 0: %w", ErrNotTapefs, corruptf("media label UUID %s differs from its content UUID %s", ml.UUID, r.Header().UUID))
	}
	if err := drain(r); err != nil {
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrIncomplete) {
			return nil, fmt.Errorf("%w: file 0: %w", ErrNotTapefs, err)
		}
		return nil, fmt.Errorf("read media label: %w", err)
	}
	return ml, nil
}

// drain reads a label file to its end (labels have no payload; a later
// format version may add some) so the tape is after its filemark.
func drain(r *FileReader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// IsBlank rewinds and reports whether the tape is empty (end of data at
// BOT). The tape is left at BOT.
func IsBlank(ctx context.Context, d device.Drive) (bool, error) {
	if err := d.Rewind(ctx); err != nil {
		return false, fmt.Errorf("check for blank tape: rewind: %w", err)
	}
	err := d.Space(ctx, device.SpaceRecords, 1)
	blank := errors.Is(err, device.ErrEndOfData)
	if err != nil && !blank && !errors.Is(err, device.ErrFilemark) {
		return false, fmt.Errorf("check for blank tape: %w", err)
	}
	if err := d.Rewind(ctx); err != nil {
		return false, fmt.Errorf("check for blank tape: rewind: %w", err)
	}
	return blank, nil
}

// MaxLabelTextLen is the longest label text.
const MaxLabelTextLen = 32

// supportedMediaTypes are the LTO media type codes (the last two characters
// of a barcode) of cartridges tapefs can use: LTO-4 to LTO-9, LTO-7 type M,
// and the WORM variants LU (LTO-4) to LZ (LTO-9).
var supportedMediaTypes = []string{"L4", "L5", "L6", "L7", "L8", "L9", "M8", "LU", "LV", "LW", "LX", "LY", "LZ"}

// ValidateLabelText checks a label text. Any label is 1 to 32 characters of
// letters, digits, '_', and '.' or '-' after the first character (it names a
// directory and appears on command lines), and does not start with "CLN",
// which marks cleaning cartridges. A label shaped like an LTO barcode
// (8 characters ending in a media type code such as L8) must be a valid
// barcode: six characters A-Z or 0-9 and a media type of LTO-4 or later.
// The error is one line naming the problem.
func ValidateLabelText(s string) error {
	if s == "" {
		return errors.New("label text is empty")
	}
	if len(s) > MaxLabelTextLen {
		return fmt.Errorf("label text %q is %d characters long; at most %d are allowed", s, len(s), MaxLabelTextLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' ||
			i > 0 && (c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("label text %q: character %q at position %d is not allowed; use letters, digits, '_', and '.' or '-' after the first character", s, c, i+1)
		}
	}
	if strings.HasPrefix(strings.ToUpper(s), "CLN") {
		return fmt.Errorf("label text %q starts with CLN, which marks cleaning cartridges; choose another label", s)
	}
	if !barcodeShaped(s) {
		return nil
	}
	for i := range 6 {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("barcode label %q: the first six characters must be upper-case letters A-Z or digits 0-9", s)
		}
	}
	mt := s[6:]
	if mt != strings.ToUpper(mt) {
		return fmt.Errorf("barcode label %q: media type %q must be upper case", s, mt)
	}
	for _, t := range supportedMediaTypes {
		if mt == t {
			return nil
		}
	}
	return fmt.Errorf("barcode label %q: media type %s is not supported; tapefs needs LTO-4 or later (L4-L9, M8, WORM LU-LZ)", s, mt)
}

// barcodeShaped reports whether s looks like an LTO barcode: 8 characters
// ending in "L" and a digit, "L" and T..Z (WORM), or "M8", in any case.
func barcodeShaped(s string) bool {
	if len(s) != 8 {
		return false
	}
	mt := strings.ToUpper(s[6:])
	return mt == "M8" || mt[0] == 'L' && (mt[1] >= '0' && mt[1] <= '9' || mt[1] >= 'T' && mt[1] <= 'Z')
}
