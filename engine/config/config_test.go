package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const exampleTape = `# Tape library in the rack
changer: sl3
	path /dev/tape/by-id/scsi-CC2C52
	export-slots 15,16
	eject-before-unload true

lto: mydrive
	path /dev/tape/by-id/scsi-12345-sg
	changer sl3
	changer-drivenum 1

  # a standalone drive
lto: single
    path   /dev/tape/by-id/scsi-99999-sg  
	changer-drivenum 0
`

const examplePools = `pool: daily
	drive mydrive
	allocation mon..fri 18:00
	retention 7days
	comment Daily backups, kept for a week

pool: monthly
	drive single
	allocation monthly
	retention 1y
	template monthly-%Y-%m
	encrypt 14:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0f

pool: scratch
`

func wantExampleTape() *TapeConfig {
	return &TapeConfig{
		Changers: []Changer{{Name: "sl3", Path: "/dev/tape/by-id/scsi-CC2C52", ExportSlots: []int{15, 16}, EjectBeforeUnload: true}},
		Drives: []Drive{
			{Name: "mydrive", Path: "/dev/tape/by-id/scsi-12345-sg", Changer: "sl3", ChangerDriveNum: 1},
			{Name: "single", Path: "/dev/tape/by-id/scsi-99999-sg"},
		},
	}
}

func wantExamplePools() *PoolConfig {
	return &PoolConfig{Pools: []Pool{
		{Name: "daily", Drive: "mydrive", Allocation: "mon..fri 18:00", Retention: "7days", Comment: "Daily backups, kept for a week"},
		{Name: "monthly", Drive: "single", Allocation: "monthly", Retention: "1y", Template: "monthly-%Y-%m",
			Encrypt: "14:f8:79:b9:f5:13:e5:dc:bf:b6:f9:88:48:51:81:dc:79:bf:a0:22:68:47:d1:73:35:2d:b6:20:e1:7f:f5:0f"},
		{Name: "scratch"},
	}}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestParseTape(t *testing.T) {
	c, err := parseTape("tape.cfg", []byte(exampleTape))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantExampleTape(); !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	out := formatTape(c)
	golden(t, "tape.cfg.golden", out)
	again, err := parseTape("tape.cfg", out)
	if err != nil || !reflect.DeepEqual(again, c) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
}

func TestParsePools(t *testing.T) {
	c, err := parsePools("media-pool.cfg", []byte(examplePools))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantExamplePools(); !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := ValidatePoolDrives(c, wantExampleTape()); err != nil {
		t.Fatal(err)
	}
	out := formatPools(c)
	golden(t, "media-pool.cfg.golden", out)
	again, err := parsePools("media-pool.cfg", out)
	if err != nil || !reflect.DeepEqual(again, c) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
}

func TestEmpty(t *testing.T) {
	for _, data := range []string{"", "\n\n", "# only a comment\n"} {
		tc, err := parseTape("tape.cfg", []byte(data))
		if err != nil || len(tc.Changers)+len(tc.Drives) != 0 {
			t.Errorf("parseTape(%q) = %+v, %v", data, tc, err)
		}
		if out := formatTape(tc); len(out) != 0 {
			t.Errorf("empty config written as %q", out)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
		pools            bool
	}{
		{"unknown key", "lto: d1\n\tpath /dev/x\n\tspeed 9\n", "tape.cfg:3: unknown key 'speed' in lto 'd1' (known keys: path, changer, changer-drivenum)", false},
		{"unknown changer key", "changer: c1\n\tslots 4\n", "tape.cfg:2: unknown key 'slots' in changer 'c1'", false},
		{"unknown pool key", "pool: p1\n\n\n# x\npool: p2\n\tcolor red\n", "media-pool.cfg:6: unknown key 'color' in pool 'p2' (known keys: drive, allocation, retention, template, encrypt, comment)", true},
		{"unknown type", "changer: c1\n\tpath /dev/c\n\ntape: t1\n", "tape.cfg:4: unknown section type 'tape' (known types: changer, lto)", false},
		{"unknown pool type", "lto: d1\n", "media-pool.cfg:1: unknown section type 'lto' (known types: pool)", true},
		{"malformed header", "lto d1\n", "tape.cfg:1: malformed line 'lto d1'", false},
		{"header with blanks", "lto: my drive\n", "tape.cfg:1: malformed line 'lto: my drive'", false},
		{"header without name", "lto:\n", "tape.cfg:1: malformed line 'lto:'", false},
		{"outside section", "lto: d1\n\n\tpath /dev/x\n", "tape.cfg:3: indented line 'path /dev/x' outside of a section", false},
		{"no value", "lto: d1\n\tpath\n", "tape.cfg:2: key 'path' has no value", false},
		{"repeated key", "lto: d1\n\tpath /a\n\tpath /b\n", "tape.cfg:3: key 'path' repeated in lto 'd1' (first on line 2)", false},
		{"bad drivenum", "lto: d1\n\tchanger-drivenum one\n", "tape.cfg:2: invalid changer-drivenum 'one' in lto 'd1': not a number", false},
		{"bad export slots", "changer: c1\n\texport-slots 1,x\n", "tape.cfg:2: invalid export-slots '1,x' in changer 'c1': 'x' is not a slot number", false},
		{"empty export slot", "changer: c1\n\texport-slots 1,,2\n", "'' is not a slot number", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.pools {
				_, err = parsePools("media-pool.cfg", []byte(tt.data))
			} else {
				_, err = parseTape("tape.cfg", []byte(tt.data))
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestValidateTape(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *TapeConfig)
		want   string
		is     error
	}{
		{"ok", func(c *TapeConfig) {}, "", nil},
		{"relative path", func(c *TapeConfig) { c.Drives[0].Path = "dev/nst0" }, "drive 'mydrive': path 'dev/nst0' is not absolute", nil},
		{"no path", func(c *TapeConfig) { c.Changers[0].Path = "" }, "changer 'sl3' has no path", nil},
		{"path with newline", func(c *TapeConfig) { c.Drives[1].Path = "/dev/a\nlto: x" }, "drive 'single': path must not contain control characters", nil},
		{"path with blank end", func(c *TapeConfig) { c.Drives[1].Path = "/dev/a " }, "drive 'single': path must not start or end with blanks", nil},
		{"duplicate drive", func(c *TapeConfig) { c.Drives[1].Name = "mydrive" }, "duplicate name 'mydrive': used by a drive and a drive", ErrExists},
		{"duplicate across kinds", func(c *TapeConfig) { c.Drives[1].Name = "sl3" }, "duplicate name 'sl3': used by a changer and a drive", ErrExists},
		{"unknown changer", func(c *TapeConfig) { c.Drives[0].Changer = "sl4" }, "drive 'mydrive' refers to unknown changer 'sl4'", ErrNotFound},
		{"negative drivenum", func(c *TapeConfig) { c.Drives[0].ChangerDriveNum = -1 }, "drive 'mydrive': changer-drivenum -1 is negative", nil},
		{"drivenum without changer", func(c *TapeConfig) { c.Drives[1].ChangerDriveNum = 2 }, "drive 'single': changer-drivenum is set but the drive has no changer", nil},
		{"export slot 0", func(c *TapeConfig) { c.Changers[0].ExportSlots = []int{0} }, "changer 'sl3': export slot 0 is invalid; slots are numbered from 1", nil},
		{"export slot negative", func(c *TapeConfig) { c.Changers[0].ExportSlots = []int{3, -2} }, "changer 'sl3': export slot -2 is invalid; slots are numbered from 1", nil},
		{"export slot twice", func(c *TapeConfig) { c.Changers[0].ExportSlots = []int{15, 16, 15} }, "changer 'sl3': export slot 15 is listed twice", nil},
		{"bad drive name", func(c *TapeConfig) { c.Drives[0].Name = "x" }, "invalid drive name 'x': must be 2 to 32 characters long", nil},
		{"bad changer name", func(c *TapeConfig) { c.Changers[0].Name = "-sl3"; c.Drives[0].Changer = "-sl3" }, "invalid changer name '-sl3': must not start with '-'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := wantExampleTape()
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not match %v", err, tt.is)
			}
		})
	}
}

func TestValidatePools(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *PoolConfig)
		want   string
		is     error
	}{
		{"ok", func(c *PoolConfig) {}, "", nil},
		{"keywords", func(c *PoolConfig) {
			c.Pools[0].Allocation, c.Pools[0].Retention = "always", "overwrite"
			c.Pools[1].Allocation, c.Pools[1].Retention = "continue", "keep"
		}, "", nil},
		{"bad calendar event", func(c *PoolConfig) { c.Pools[0].Allocation = "mon..xyz 18:00" },
			"pool 'daily': allocation must be 'continue', 'always' or a calendar event: invalid calendar event 'mon..xyz 18:00': unknown weekday 'xyz'", nil},
		{"bad time span", func(c *PoolConfig) { c.Pools[0].Retention = "7 dayz" },
			"pool 'daily': retention must be 'keep', 'overwrite' or a time span: invalid time span '7 dayz': unknown unit 'dayz'", nil},
		{"duplicate pool", func(c *PoolConfig) { c.Pools[2].Name = "daily" }, "duplicate pool name 'daily'", ErrExists},
		{"bad pool name", func(c *PoolConfig) { c.Pools[2].Name = "my pool" }, "invalid pool name 'my pool': only letters, digits, '_', '.' and '-' are allowed", nil},
		{"bad drive name", func(c *PoolConfig) { c.Pools[0].Drive = "d" }, "pool 'daily': invalid drive name 'd': must be 2 to 32 characters long", nil},
		{"bad fingerprint", func(c *PoolConfig) { c.Pools[1].Encrypt = "14:f8:79" }, "pool 'monthly': encrypt '14:f8:79' is not a key fingerprint", nil},
		{"comment with newline", func(c *PoolConfig) { c.Pools[0].Comment = "a\nb" }, "pool 'daily': comment must not contain control characters", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := wantExamplePools()
			tt.change(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not match %v", err, tt.is)
			}
		})
	}
}

func TestValidatePoolDrives(t *testing.T) {
	pools := wantExamplePools()
	tape := wantExampleTape()
	tape.Drives = tape.Drives[:1] // drop "single", used by pool monthly
	err := ValidatePoolDrives(pools, tape)
	if err == nil || err.Error() != "pool 'monthly' uses unknown drive 'single'" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("ValidatePoolDrives = %v", err)
	}
}

func TestLookup(t *testing.T) {
	tape, pools := wantExampleTape(), wantExamplePools()
	d, err := tape.Drive("mydrive")
	if err != nil || d.Changer != "sl3" {
		t.Fatalf("Drive(mydrive) = %+v, %v", d, err)
	}
	d.Path = "/dev/other" // a pointer into the configuration
	if tape.Drives[0].Path != "/dev/other" {
		t.Error("Drive does not return a pointer into Drives")
	}
	if c, err := tape.Changer("sl3"); err != nil || c.Path != "/dev/tape/by-id/scsi-CC2C52" {
		t.Fatalf("Changer(sl3) = %+v, %v", c, err)
	}
	if p, err := pools.Pool("daily"); err != nil || p.Drive != "mydrive" {
		t.Fatalf("Pool(daily) = %+v, %v", p, err)
	}
	for _, err := range []error{
		func() error { _, err := tape.Drive("x"); return err }(),
		func() error { _, err := tape.Changer("x"); return err }(),
		func() error { _, err := pools.Pool("x"); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "unknown ") || !strings.HasSuffix(err.Error(), " 'x'") {
			t.Errorf("lookup error %v", err)
		}
	}
	if _, err := tape.Drive("x"); err.Error() != "unknown drive 'x'" {
		t.Errorf("Drive(x) error %q", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"d0", "mydrive", "Pool_1.daily-A", "_x", "0123456789abcdef0123456789abcdef"} {
		if err := ValidateName("drive", ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "x", ".x", "-x", "a b", "a/b", "a:b", "ä1", "0123456789abcdef0123456789abcdef0"} {
		err := ValidateName("drive", bad)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid drive name '"+bad+"': ") {
			t.Errorf("ValidateName(%q) = %v", bad, err)
		}
	}
}

func TestPolicies(t *testing.T) {
	p := Pool{Name: "p1"}
	if a, err := p.AllocationPolicy(); err != nil || a.Always || a.Event != nil {
		t.Errorf("default allocation %+v, %v", a, err)
	}
	if r, err := p.RetentionPolicy(); err != nil || r.Overwrite || r.Span != 0 {
		t.Errorf("default retention %+v, %v", r, err)
	}
	p.Allocation, p.Retention = "weekly", "2 weeks"
	a, err := p.AllocationPolicy()
	if err != nil || a.Event == nil || a.Event.String() != "Mon *-*-* 00:00:00" {
		t.Errorf("weekly allocation %+v, %v", a, err)
	}
	if r, err := p.RetentionPolicy(); err != nil || r.Span.Hours() != 14*24 {
		t.Errorf("2 weeks retention %+v, %v", r, err)
	}
	p.Retention = "0"
	if r, err := p.RetentionPolicy(); err != nil || !r.Overwrite {
		t.Errorf("retention 0: %+v, %v", r, err)
	}
}
