package config

import (
	"fmt"
	"strings"
	"time"

	"tapefs/engine/calendar"
	"tapefs/engine/keys"
)

// PoolFile is the name of the media pool configuration file in a
// configuration directory.
const PoolFile = "media-pool.cfg"

// Allocation and retention policy keywords.
const (
	// AllocContinue: keep appending to the current media set (the default).
	AllocContinue = "continue"
	// AllocAlways: every backup job starts a new media set.
	AllocAlways = "always"

	// RetainKeep: never overwrite media of the pool (the default).
	RetainKeep = "keep"
	// RetainOverwrite: media may be overwritten at once.
	RetainOverwrite = "overwrite"
)

// Pool is a media pool: a "pool:" section of media-pool.cfg.
type Pool struct {
	Name string
	// Drive is the drive the pool writes with; optional (empty: the
	// caller's default drive). ValidatePoolDrives checks that it exists.
	Drive string
	// Allocation is the media set allocation policy: "continue" (the
	// default when empty), "always", or a calendar event ("weekly",
	// "mon..fri 18:00") at which a new media set starts.
	Allocation string
	// Retention is the media set retention policy: "keep" (the default when
	// empty), "overwrite", or a time span ("7days", "2 weeks") during which
	// the set's media are protected.
	Retention string
	// Template names media sets (optional).
	Template string
	// Encrypt is the fingerprint of the tape encryption key, 32 hex bytes
	// separated by colons as `tapefs key list` shows it; empty: no
	// encryption.
	Encrypt string
	// Comment is free text on one line.
	Comment string
}

// PoolConfig is the content of media-pool.cfg. The zero value is an empty
// configuration.
type PoolConfig struct {
	Pools []Pool
}

// Pool returns the pool called name, a pointer into c.Pools that may be
// modified in place. The error matches ErrNotFound: "unknown pool 'x'".
func (c *PoolConfig) Pool(name string) (*Pool, error) {
	for i := range c.Pools {
		if c.Pools[i].Name == name {
			return &c.Pools[i], nil
		}
	}
	return nil, notFound("pool", name)
}

// Validate checks the configuration: valid and unique pool names (a
// duplicate matches ErrExists), drive name syntax, allocation "continue",
// "always" or a calendar event, retention "keep", "overwrite" or a time
// span, encryption key fingerprint syntax, and values that fit on one line.
// Whether the drives exist is ValidatePoolDrives' job.
func (c *PoolConfig) Validate() error {
	seen := map[string]bool{}
	for _, p := range c.Pools {
		if err := ValidateName("pool", p.Name); err != nil {
			return err
		}
		if seen[p.Name] {
			return &kindError{msg: fmt.Sprintf("duplicate pool name '%s'", p.Name), err: ErrExists}
		}
		seen[p.Name] = true
		for _, kv := range [...][2]string{
			{"drive", p.Drive}, {"allocation", p.Allocation}, {"retention", p.Retention},
			{"template", p.Template}, {"encrypt", p.Encrypt}, {"comment", p.Comment},
		} {
			if err := checkValue("pool", p.Name, kv[0], kv[1]); err != nil {
				return err
			}
		}
		if p.Drive != "" {
			if err := ValidateName("drive", p.Drive); err != nil {
				return fmt.Errorf("pool '%s': %w", p.Name, err)
			}
		}
		if _, err := p.AllocationPolicy(); err != nil {
			return err
		}
		if _, err := p.RetentionPolicy(); err != nil {
			return err
		}
		if p.Encrypt != "" && !keys.ValidFingerprint(strings.ToLower(p.Encrypt)) {
			return fmt.Errorf("pool '%s': encrypt '%s' is not a key fingerprint (32 hex bytes separated by colons, as `tapefs key list` shows)", p.Name, p.Encrypt)
		}
	}
	return nil
}

// Allocation is a parsed media set allocation policy. The zero value is
// "continue".
type Allocation struct {
	// Always: start a new media set for every backup job.
	Always bool
	// Event, if not nil, starts a new media set when it elapses.
	Event *calendar.Event
}

// AllocationPolicy parses p.Allocation ("" is "continue").
func (p *Pool) AllocationPolicy() (Allocation, error) {
	switch p.Allocation {
	case "", AllocContinue:
		return Allocation{}, nil
	case AllocAlways:
		return Allocation{Always: true}, nil
	}
	ev, err := calendar.ParseEvent(p.Allocation)
	if err != nil {
		return Allocation{}, fmt.Errorf("pool '%s': allocation must be 'continue', 'always' or a calendar event: %w", p.Name, err)
	}
	return Allocation{Event: ev}, nil
}

// Retention is a parsed media set retention policy. The zero value is
// "keep".
type Retention struct {
	// Overwrite: media may be overwritten at once.
	Overwrite bool
	// Span > 0 protects media for that long; with Overwrite false and Span
	// 0 media are kept forever.
	Span time.Duration
}

// RetentionPolicy parses p.Retention ("" is "keep"). A span of 0 means
// overwrite.
func (p *Pool) RetentionPolicy() (Retention, error) {
	switch p.Retention {
	case "", RetainKeep:
		return Retention{}, nil
	case RetainOverwrite:
		return Retention{Overwrite: true}, nil
	}
	d, err := calendar.ParseTimeSpan(p.Retention)
	if err != nil {
		return Retention{}, fmt.Errorf("pool '%s': retention must be 'keep', 'overwrite' or a time span: %w", p.Name, err)
	}
	if d == 0 {
		return Retention{Overwrite: true}, nil
	}
	return Retention{Span: d}, nil
}

// ValidatePoolDrives checks that every drive named by a pool exists in t.
// The error matches ErrNotFound.
func ValidatePoolDrives(p *PoolConfig, t *TapeConfig) error {
	for _, pool := range p.Pools {
		if pool.Drive == "" {
			continue
		}
		if _, err := t.Drive(pool.Drive); err != nil {
			return &kindError{msg: fmt.Sprintf("pool '%s' uses unknown drive '%s'", pool.Name, pool.Drive), err: ErrNotFound}
		}
	}
	return nil
}

// parsePools decodes media-pool.cfg; file names it in errors. The result is
// not validated.
func parsePools(file string, data []byte) (*PoolConfig, error) {
	secs, err := parseSections(file, data)
	if err != nil {
		return nil, err
	}
	c := &PoolConfig{}
	for _, s := range secs {
		if s.typ != "pool" {
			return nil, unknownType(file, s, "pool")
		}
		p := Pool{Name: s.name}
		for _, kv := range s.props {
			field := p.field(kv.key)
			if field == nil {
				return nil, unknownKey(file, s, kv, poolKeys[:]...)
			}
			*field = kv.value
		}
		c.Pools = append(c.Pools, p)
	}
	return c, nil
}

// poolKeys are the keys of a pool section, in the order they are written.
var poolKeys = [...]string{"drive", "allocation", "retention", "template", "encrypt", "comment"}

// field returns the field for a key of a pool section, or nil.
func (p *Pool) field(key string) *string {
	switch key {
	case "drive":
		return &p.Drive
	case "allocation":
		return &p.Allocation
	case "retention":
		return &p.Retention
	case "template":
		return &p.Template
	case "encrypt":
		return &p.Encrypt
	case "comment":
		return &p.Comment
	}
	return nil
}

// formatPools encodes c, pools in slice order.
func formatPools(c *PoolConfig) []byte {
	var secs []section
	for _, p := range c.Pools {
		s := section{typ: "pool", name: p.Name}
		for _, k := range poolKeys {
			s.add(k, *p.field(k))
		}
		secs = append(secs, s)
	}
	return formatSections(secs)
}
