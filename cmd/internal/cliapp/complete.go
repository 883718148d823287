package cliapp

import (
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/clidoc"
	"tapefs/engine/config"
	"tapefs/engine/keys"
	"tapefs/internal/version"
)

// ExitStatus is the exit code table of tapefs, pmt and pmtx, as their man
// pages print it (markdown).
const ExitStatus = `**0**
: success

**1**
: the operation failed (device error, I/O, anything not below)

**2**
: bad usage or invalid argument (nothing was changed)

**3**
: not found: unknown drive, changer, pool, tape, slot or key

**4**
: busy: the drive, device or catalog is in use

**5**
: no medium: no tape in the drive

**6**
: refused: the operation would destroy data or break a rule

**7**
: no space: no free slot or no writable tape
`

// ConfigValues returns the names of the configured drives, changers,
// pools or encryption keys (kind "drive", "changer", "pool", "key") from
// the configuration directory that flags["config-dir"], TAPEFS_CONFIG_DIR
// or the default names, for shell completion. It reads the files only,
// so it works while a daemon runs. Other kinds and unreadable files give
// nil.
func ConfigValues(kind string, flags map[string]string) []string {
	dir := flags["config-dir"]
	if dir == "" {
		dir = os.Getenv("TAPEFS_CONFIG_DIR")
	}
	if dir == "" {
		dir = "/etc/tapefs"
	}
	cfg := config.Dir{Path: dir}
	switch kind {
	case "drive", "changer":
		t, err := cfg.LoadTape()
		if err != nil {
			return nil
		}
		if kind == "drive" {
			return names(t.Drives, func(d config.Drive) string { return d.Name })
		}
		return names(t.Changers, func(c config.Changer) string { return c.Name })
	case "pool":
		p, err := cfg.LoadPools()
		if err != nil {
			return nil
		}
		return names(p.Pools, func(p config.Pool) string { return p.Name })
	case "key":
		list, err := keys.Store{Dir: dir}.List()
		if err != nil {
			return nil
		}
		return names(list, func(k keys.KeyConfig) string { return k.Fingerprint })
	}
	return nil
}

func names[T any](list []T, name func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = name(x)
	}
	return out
}

// Document attaches shell completion and man page generation (package
// clidoc) to app: values completes live values (nil: ConfigValues), and
// description is the DESCRIPTION of the main man page. With split, every
// top-level command gets a page of its own. Call it last in newApp.
func Document(app *cli.App, values clidoc.Values, description string, split bool, extra ...clidoc.ExtraPage) {
	if values == nil {
		values = ConfigValues
	}
	seeAlso := []string{"tapefs(1)", "pmt(1)", "pmtx(1)", "tapefs.fs(5)"}
	seeAlso = slices.DeleteFunc(seeAlso, func(s string) bool { return s == app.Name+"(1)" })
	clidoc.Attach(app, values, clidoc.ManInfo{
		Section:       1,
		Version:       app.Name + " " + version.Get().Version,
		Description:   description,
		ExitStatus:    ExitStatus,
		SeeAlso:       seeAlso,
		SplitCommands: split,
	}, extra...)
}
