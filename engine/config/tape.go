package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// TapeFile is the name of the drive and changer configuration file in a
// configuration directory.
const TapeFile = "tape.cfg"

// Changer is a media changer (tape library robot): a "changer:" section.
type Changer struct {
	Name string
	// Path is the changer's SCSI generic device, best a stable name under
	// /dev/tape/by-id/. Required, absolute.
	Path string
	// ExportSlots are storage slots used as import/export slots, for
	// libraries without a mail slot ("export-slots 15,16"). Each > 0,
	// no repeats.
	ExportSlots []int
	// EjectBeforeUnload is proxmox-tape's "eject-before-unload": eject
	// the tape from the drive before the changer moves it. tapefs always
	// does (the engine unloads the drive before every move), so the
	// setting is kept for compatibility and changes nothing.
	EjectBeforeUnload bool
}

// Drive is a tape drive: an "lto:" section.
type Drive struct {
	Name string
	// Path is the drive's SCSI generic device. Required, absolute.
	Path string
	// Changer names the changer the drive sits in; empty for a standalone
	// drive.
	Changer string
	// ChangerDriveNum is the drive's number within its changer (data
	// transfer element index), ≥ 0. The default 0 is not written.
	ChangerDriveNum int
}

// TapeConfig is the content of tape.cfg. Changers and drives share one name
// space. The zero value is an empty configuration.
type TapeConfig struct {
	Changers []Changer
	Drives   []Drive
}

// Drive returns the drive called name, a pointer into c.Drives that may be
// modified in place. The error matches ErrNotFound: "unknown drive 'x'".
func (c *TapeConfig) Drive(name string) (*Drive, error) {
	for i := range c.Drives {
		if c.Drives[i].Name == name {
			return &c.Drives[i], nil
		}
	}
	return nil, notFound("drive", name)
}

// Changer returns the changer called name, a pointer into c.Changers. The
// error matches ErrNotFound: "unknown changer 'x'".
func (c *TapeConfig) Changer(name string) (*Changer, error) {
	for i := range c.Changers {
		if c.Changers[i].Name == name {
			return &c.Changers[i], nil
		}
	}
	return nil, notFound("changer", name)
}

// Validate checks the configuration: valid and unique names (across changers
// and drives; a duplicate matches ErrExists), absolute paths, existing
// changers referenced by drives (ErrNotFound), drive numbers ≥ 0 and only
// with a changer, export slots > 0 without repeats, and values that fit on
// one line. It returns the first problem found.
func (c *TapeConfig) Validate() error {
	seen := map[string]string{}
	unique := func(kind, name string) error {
		if err := ValidateName(kind, name); err != nil {
			return err
		}
		if other, ok := seen[name]; ok {
			return &kindError{msg: fmt.Sprintf("duplicate name '%s': used by a %s and a %s", name, other, kind), err: ErrExists}
		}
		seen[name] = kind
		return nil
	}
	for _, ch := range c.Changers {
		if err := unique("changer", ch.Name); err != nil {
			return err
		}
		if err := checkPath("changer", ch.Name, ch.Path); err != nil {
			return err
		}
		slots := map[int]bool{}
		for _, s := range ch.ExportSlots {
			if s <= 0 {
				return fmt.Errorf("changer '%s': export slot %d is invalid; slots are numbered from 1", ch.Name, s)
			}
			if slots[s] {
				return fmt.Errorf("changer '%s': export slot %d is listed twice", ch.Name, s)
			}
			slots[s] = true
		}
	}
	for _, d := range c.Drives {
		if err := unique("drive", d.Name); err != nil {
			return err
		}
		if err := checkPath("drive", d.Name, d.Path); err != nil {
			return err
		}
		if d.ChangerDriveNum < 0 {
			return fmt.Errorf("drive '%s': changer-drivenum %d is negative", d.Name, d.ChangerDriveNum)
		}
		if d.Changer == "" {
			if d.ChangerDriveNum != 0 {
				return fmt.Errorf("drive '%s': changer-drivenum is set but the drive has no changer", d.Name)
			}
			continue
		}
		if _, err := c.Changer(d.Changer); err != nil {
			return &kindError{msg: fmt.Sprintf("drive '%s' refers to unknown changer '%s'", d.Name, d.Changer), err: ErrNotFound}
		}
	}
	return nil
}

func checkPath(kind, name, path string) error {
	if path == "" {
		return fmt.Errorf("%s '%s' has no path", kind, name)
	}
	if err := checkValue(kind, name, "path", path); err != nil {
		return err
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s '%s': path '%s' is not absolute", kind, name, path)
	}
	return nil
}

// parseTape decodes tape.cfg; file names it in errors. The result is not
// validated.
func parseTape(file string, data []byte) (*TapeConfig, error) {
	secs, err := parseSections(file, data)
	if err != nil {
		return nil, err
	}
	c := &TapeConfig{}
	for _, s := range secs {
		switch s.typ {
		case "changer":
			ch := Changer{Name: s.name}
			for _, p := range s.props {
				switch p.key {
				case "path":
					ch.Path = p.value
				case "export-slots":
					if ch.ExportSlots, err = parseSlots(p.value); err != nil {
						return nil, badValue(file, s, p, err)
					}
				case "eject-before-unload":
					if ch.EjectBeforeUnload, err = strconv.ParseBool(p.value); err != nil {
						return nil, badValue(file, s, p, errors.New("not true or false"))
					}
				default:
					return nil, unknownKey(file, s, p, "path", "export-slots", "eject-before-unload")
				}
			}
			c.Changers = append(c.Changers, ch)
		case "lto":
			d := Drive{Name: s.name}
			for _, p := range s.props {
				switch p.key {
				case "path":
					d.Path = p.value
				case "changer":
					d.Changer = p.value
				case "changer-drivenum":
					if d.ChangerDriveNum, err = strconv.Atoi(p.value); err != nil {
						return nil, badValue(file, s, p, errors.New("not a number"))
					}
				default:
					return nil, unknownKey(file, s, p, "path", "changer", "changer-drivenum")
				}
			}
			c.Drives = append(c.Drives, d)
		default:
			return nil, unknownType(file, s, "changer", "lto")
		}
	}
	return c, nil
}

// parseSlots reads a comma separated list of slot numbers.
func parseSlots(v string) ([]int, error) {
	var slots []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(trimBlank(f))
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a slot number", trimBlank(f))
		}
		slots = append(slots, n)
	}
	return slots, nil
}

// formatTape encodes c: changers first, then drives, each in slice order.
func formatTape(c *TapeConfig) []byte {
	var secs []section
	for _, ch := range c.Changers {
		s := section{typ: "changer", name: ch.Name}
		s.add("path", ch.Path)
		if len(ch.ExportSlots) > 0 {
			nums := make([]string, len(ch.ExportSlots))
			for i, n := range ch.ExportSlots {
				nums[i] = strconv.Itoa(n)
			}
			s.add("export-slots", strings.Join(nums, ","))
		}
		if ch.EjectBeforeUnload {
			s.add("eject-before-unload", "true")
		}
		secs = append(secs, s)
	}
	for _, d := range c.Drives {
		s := section{typ: "lto", name: d.Name}
		s.add("path", d.Path)
		s.add("changer", d.Changer)
		if d.ChangerDriveNum != 0 {
			s.add("changer-drivenum", strconv.Itoa(d.ChangerDriveNum))
		}
		secs = append(secs, s)
	}
	return formatSections(secs)
}

// add appends a property unless value is empty (the default).
func (s *section) add(key, value string) {
	if value != "" {
		s.props = append(s.props, property{key: key, value: value})
	}
}
