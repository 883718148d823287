package catalog

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MediaStatus is the state of a tape in the inventory, as in PBS's
// `proxmox-tape media list`.
type MediaStatus string

// Media states.
const (
	// StatusWritable: the tape accepts more data (empty, or the open tail of
	// a media set).
	StatusWritable MediaStatus = "writable"
	// StatusFull: the tape reached early warning; no more writes.
	StatusFull MediaStatus = "full"
	// StatusDamaged: a permanent medium error was seen; never written again.
	StatusDamaged MediaStatus = "damaged"
	// StatusRetired: taken out of service by the operator.
	StatusRetired MediaStatus = "retired"
	// StatusUnknown: the catalog has no reliable state (for example after a
	// rebuild from tape).
	StatusUnknown MediaStatus = "unknown"
)

// Valid reports whether s is one of the defined states.
func (s MediaStatus) Valid() bool {
	switch s {
	case StatusWritable, StatusFull, StatusDamaged, StatusRetired, StatusUnknown:
		return true
	}
	return false
}

// LocationKind says where a tape is.
type LocationKind string

// Location kinds.
const (
	// LocationOnline: in a changer (or a standalone drive) that tapefs can
	// load from.
	LocationOnline LocationKind = "online"
	// LocationOffline: known, but not in any library (shelf, import/export
	// slot, in transit).
	LocationOffline LocationKind = "offline"
	// LocationVault: stored in a named off-site vault.
	LocationVault LocationKind = "vault"
)

// Valid reports whether k is one of the defined kinds.
func (k LocationKind) Valid() bool {
	switch k {
	case LocationOnline, LocationOffline, LocationVault:
		return true
	}
	return false
}

// Location is where a tape is. Changer and Slot are set only for
// LocationOnline, Vault only for LocationVault.
type Location struct {
	Kind LocationKind
	// Changer names the changer (or standalone drive) that holds the tape.
	Changer string
	// Slot is the last known storage slot in Changer, 0 when unknown.
	Slot int
	// Vault names the vault.
	Vault string
}

// String formats l as PBS's media list does: "online-sl3", "offline",
// "vault-NAME". The slot is not part of it.
func (l Location) String() string {
	switch l.Kind {
	case LocationOnline:
		return "online-" + l.Changer
	case LocationVault:
		return "vault-" + l.Vault
	default:
		return string(l.Kind)
	}
}

// ParseLocation is the inverse of Location.String for valid locations (Slot
// is 0 in the result). Errors wrap ErrInvalid.
func ParseLocation(s string) (Location, error) {
	var l Location
	switch {
	case s == string(LocationOffline):
		l = Location{Kind: LocationOffline}
	case strings.HasPrefix(s, "online-"):
		l = Location{Kind: LocationOnline, Changer: strings.TrimPrefix(s, "online-")}
	case strings.HasPrefix(s, "vault-"):
		l = Location{Kind: LocationVault, Vault: strings.TrimPrefix(s, "vault-")}
	default:
		return Location{}, fmt.Errorf("location %q: want offline, online-<changer> or vault-<name>: %w", s, ErrInvalid)
	}
	if err := l.validate(); err != nil {
		return Location{}, err
	}
	return l, nil
}

func (l Location) validate() error {
	switch l.Kind {
	case LocationOnline:
		if err := checkName("location changer", l.Changer); err != nil {
			return err
		}
		if l.Slot < 0 {
			return fmt.Errorf("location slot %d is negative: %w", l.Slot, ErrInvalid)
		}
		if l.Vault != "" {
			return fmt.Errorf("online location has a vault %q: %w", l.Vault, ErrInvalid)
		}
	case LocationOffline, LocationVault:
		if l.Changer != "" || l.Slot != 0 {
			return fmt.Errorf("%s location has changer %q slot %d; only online media are in a changer: %w",
				l.Kind, l.Changer, l.Slot, ErrInvalid)
		}
		if l.Kind == LocationVault {
			return checkName("location vault", l.Vault)
		}
		if l.Vault != "" {
			return fmt.Errorf("offline location has a vault %q: %w", l.Vault, ErrInvalid)
		}
	default:
		return fmt.Errorf("location kind %q: want online, offline or vault: %w", l.Kind, ErrInvalid)
	}
	return nil
}

// MediaSetRef says which media set a tape belongs to and at which position.
type MediaSetRef struct {
	UUID  uuid.UUID
	Seq   uint64 // sequence number of the tape in the set, from 0
	Ctime time.Time
	Pool  string
}

// Media is the inventory entry of one tape, keyed by its media UUID.
type Media struct {
	UUID      uuid.UUID
	LabelText string
	Ctime     time.Time // label time
	Pool      string    // pool the tape was labelled for ("" = any pool)
	// Set is the media set the tape belongs to. Nil or a zero UUID means
	// none (PBS shows an all-zero media-set-uuid); the catalog stores and
	// returns that as nil.
	Set       *MediaSetRef
	Status    MediaStatus
	Location  Location
	BytesUsed uint64
	// Updated is when the entry was last written. PutMedia and UpdateMedia
	// set it from the catalog clock (Options.Now); a caller's value is
	// overwritten.
	Updated time.Time
}

// EffectivePool is the pool the tape belongs to: its media set's pool when
// it is in a set, else the pool it was labelled for.
func (m Media) EffectivePool() string {
	if m.Set != nil {
		return m.Set.Pool
	}
	return m.Pool
}

// normalize returns m in stored form: times in UTC without monotonic clock
// reading, a zero set reference as nil, Set deep-copied.
func (m Media) normalize() Media {
	m.Ctime = m.Ctime.UTC()
	m.Updated = m.Updated.UTC()
	if m.Set == nil || m.Set.UUID == uuid.Nil {
		m.Set = nil
	} else {
		s := *m.Set
		s.Ctime = s.Ctime.UTC()
		m.Set = &s
	}
	return m
}

// validate checks the catalog's rules for a media entry. Errors wrap
// ErrInvalid.
func (m Media) validate() error {
	if m.UUID == uuid.Nil {
		return fmt.Errorf("media UUID is zero: %w", ErrInvalid)
	}
	if err := checkLabelText(m.LabelText); err != nil {
		return err
	}
	if err := checkOptionalName("pool", m.Pool); err != nil {
		return err
	}
	if !m.Status.Valid() {
		return fmt.Errorf("media status %q: want writable, full, damaged, retired or unknown: %w", m.Status, ErrInvalid)
	}
	if err := m.Location.validate(); err != nil {
		return err
	}
	if err := checkTime("ctime", m.Ctime); err != nil {
		return err
	}
	if err := checkTime("updated", m.Updated); err != nil {
		return err
	}
	if m.Set != nil && m.Set.UUID != uuid.Nil {
		if err := checkName("media set pool", m.Set.Pool); err != nil {
			return err
		}
		if err := checkTime("media set ctime", m.Set.Ctime); err != nil {
			return err
		}
	}
	return nil
}

// maxLabelLen bounds label text: it names a directory (media/<label-text>) in
// the FUSE tree, and barcodes are far shorter.
const maxLabelLen = 255

// checkLabelText accepts label texts that can be a single path element:
// printable UTF-8, no '/', not "." or "..".
func checkLabelText(s string) error {
	if err := checkName("label text", s); err != nil {
		return err
	}
	if len(s) > maxLabelLen {
		return fmt.Errorf("label text is %d bytes, more than %d: %w", len(s), maxLabelLen, ErrInvalid)
	}
	if strings.ContainsRune(s, '/') || s == "." || s == ".." {
		return fmt.Errorf("label text %q cannot name a directory: %w", s, ErrInvalid)
	}
	return nil
}

// checkName accepts non-empty printable UTF-8 text.
func checkName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", field, ErrInvalid)
	}
	return checkOptionalName(field, s)
}

// checkOptionalName accepts empty or printable UTF-8 text.
func checkOptionalName(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8: %w", field, s, ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s %q contains a control character: %w", field, s, ErrInvalid)
		}
	}
	return nil
}

// checkTime accepts times that RFC 3339 can carry (years 0 to 9999).
func checkTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%s %v is outside years 0-9999: %w", field, t, ErrInvalid)
	}
	return nil
}

// MediaFilter selects media in ListMedia. Zero fields match everything.
type MediaFilter struct {
	Pool     string       // matches Media.EffectivePool
	Status   MediaStatus  // matches Media.Status
	Location LocationKind // matches Media.Location.Kind
	Set      uuid.UUID    // matches Media.Set.UUID
}

func (f MediaFilter) match(m Media) bool {
	if f.Pool != "" && m.EffectivePool() != f.Pool {
		return false
	}
	if f.Status != "" && m.Status != f.Status {
		return false
	}
	if f.Location != "" && m.Location.Kind != f.Location {
		return false
	}
	if f.Set != uuid.Nil && (m.Set == nil || m.Set.UUID != f.Set) {
		return false
	}
	return true
}
