package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// SchemaVersion is the catalog schema this package reads and writes. Open
// refuses a catalog with a higher version and upgrades one with a lower
// version (1: every snapshot's tree stored entry by entry; 2: trees of
// content-addressed directories, shared between the snapshots of a media
// set).
const SchemaVersion = 2

// Keys. See doc.go for the schema.
const (
	// schemaKey holds the schema version as decimal ASCII. It sits outside
	// the versioned namespaces so that any tapefs can read it.
	schemaKey = "tapefs/schema-version"

	// mediaPrefix + media UUID (canonical lower-case text) → media record.
	mediaPrefix = "v1/media/"
	// labelPrefix + label text → label reference (the media UUID).
	labelPrefix = "v1/label/"

	// Media sets, chunk index, snapshots, snapshot file trees and markers
	// of unfinished snapshot commits; see doc.go.
	setPrefix     = "v1/set/"
	chunkPrefix   = "v1/chunk/"
	snapPrefix    = "v1/snap/"
	treePrefix    = "v1/tree/"
	pendingPrefix = "v1/pending/"
)

// valueV1 is the format byte that starts every value written by schema 1
// (except the schema key). A value format change gets a new byte; decoders
// refuse bytes they do not know.
const valueV1 byte = 1

func mediaKey(id uuid.UUID) []byte { return []byte(mediaPrefix + id.String()) }

func labelKey(label string) []byte { return []byte(labelPrefix + label) }

func encodeSchemaVersion(v uint64) []byte { return strconv.AppendUint(nil, v, 10) }

// decodeSchemaVersion parses the schema key's value: canonical decimal ASCII,
// at least 1. Errors wrap ErrCorrupt.
func decodeSchemaVersion(b []byte) (uint64, error) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || v == 0 || !bytes.Equal(encodeSchemaVersion(v), b) {
		return 0, fmt.Errorf("schema version %q is not a positive decimal number: %w", b, ErrCorrupt)
	}
	return v, nil
}

// mediaRecord is the stored JSON form of Media. Its field names are the
// catalog format: renaming one needs a new value format byte.
type mediaRecord struct {
	UUID      uuid.UUID      `json:"uuid"`
	Label     string         `json:"label"`
	Ctime     time.Time      `json:"ctime"`
	Pool      string         `json:"pool,omitempty"`
	Set       *setRecord     `json:"set,omitempty"`
	Status    MediaStatus    `json:"status"`
	Location  locationRecord `json:"location"`
	BytesUsed uint64         `json:"bytes_used"`
	Updated   time.Time      `json:"updated"`
}

type setRecord struct {
	UUID  uuid.UUID `json:"uuid"`
	Seq   uint64    `json:"seq"`
	Ctime time.Time `json:"ctime"`
	Pool  string    `json:"pool"`
}

type locationRecord struct {
	Kind    LocationKind `json:"kind"`
	Changer string       `json:"changer,omitempty"`
	Slot    int          `json:"slot,omitempty"`
	Vault   string       `json:"vault,omitempty"`
}

// encodeMedia returns the stored value of m: valueV1 followed by the JSON
// mediaRecord. m is normalized and validated first; errors wrap ErrInvalid.
func encodeMedia(m Media) ([]byte, error) {
	m = m.normalize()
	if err := m.validate(); err != nil {
		return nil, err
	}
	r := mediaRecord{
		UUID:      m.UUID,
		Label:     m.LabelText,
		Ctime:     m.Ctime,
		Pool:      m.Pool,
		Status:    m.Status,
		Location:  locationRecord(m.Location),
		BytesUsed: m.BytesUsed,
		Updated:   m.Updated,
	}
	if m.Set != nil {
		s := setRecord(*m.Set)
		r.Set = &s
	}
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode media %s: %v: %w", m.UUID, err, ErrInvalid)
	}
	return append([]byte{valueV1}, js...), nil
}

// decodeMedia parses a stored media value. It accepts only what encodeMedia
// can produce: the known format byte, one JSON object without unknown
// fields, and an entry that passes validation. Errors wrap ErrCorrupt.
func decodeMedia(b []byte) (Media, error) {
	if len(b) == 0 {
		return Media{}, fmt.Errorf("media value is empty: %w", ErrCorrupt)
	}
	if b[0] != valueV1 {
		return Media{}, fmt.Errorf("media value has unknown format %d: %w", b[0], ErrCorrupt)
	}
	var r mediaRecord
	if err := decodeStrictJSON(b[1:], &r); err != nil {
		return Media{}, fmt.Errorf("media value: %v: %w", err, ErrCorrupt)
	}
	m := Media{
		UUID:      r.UUID,
		LabelText: r.Label,
		Ctime:     r.Ctime,
		Pool:      r.Pool,
		Status:    r.Status,
		Location:  Location(r.Location),
		BytesUsed: r.BytesUsed,
		Updated:   r.Updated,
	}
	if r.Set != nil {
		s := MediaSetRef(*r.Set)
		m.Set = &s
	}
	m = m.normalize()
	if err := m.validate(); err != nil {
		return Media{}, fmt.Errorf("media value: %v: %w", err, ErrCorrupt)
	}
	return m, nil
}

// decodeStrictJSON decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeStrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON object")
	}
	return nil
}

// encodeLabelRef returns the value of a label key: valueV1 and the 16 bytes
// of the media UUID.
func encodeLabelRef(id uuid.UUID) []byte {
	return append([]byte{valueV1}, id[:]...)
}

// decodeLabelRef parses a label key's value. Errors wrap ErrCorrupt.
func decodeLabelRef(b []byte) (uuid.UUID, error) {
	if len(b) != 1+len(uuid.UUID{}) || b[0] != valueV1 {
		return uuid.Nil, fmt.Errorf("label reference %x is not format %d + 16-byte UUID: %w", b, valueV1, ErrCorrupt)
	}
	id := uuid.UUID(b[1:])
	if id == uuid.Nil {
		return uuid.Nil, fmt.Errorf("label reference holds the zero UUID: %w", ErrCorrupt)
	}
	return id, nil
}

// encodeJSONValue returns valueV1 followed by the JSON encoding of r.
func encodeJSONValue(r any) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %v: %w", r, err, ErrInvalid)
	}
	return append([]byte{valueV1}, js...), nil
}

// decodeJSONValue checks the format byte of a JSON value and decodes its
// payload strictly into r. Errors wrap ErrCorrupt.
func decodeJSONValue(b []byte, r any) error {
	if len(b) == 0 {
		return fmt.Errorf("value is empty: %w", ErrCorrupt)
	}
	if b[0] != valueV1 {
		return fmt.Errorf("value has unknown format %d: %w", b[0], ErrCorrupt)
	}
	if err := decodeStrictJSON(b[1:], r); err != nil {
		return fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return nil
}
