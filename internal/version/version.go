// Package version says which build of tapefs, pmt and pmtx is running: the
// release, the commit and the build date, set by the Makefile through
// -ldflags -X, else taken from the version control information the Go
// toolchain records in the binary (runtime/debug.ReadBuildInfo), and the Go
// version that built it. It is a leaf package.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by `go build -ldflags "-X tapefs/internal/version.Version=..."` (the
// Makefile does). Empty means unknown: Get fills in what the binary's build
// information has.
var (
	Version string // release, like 0.3.0, or `git describe` output
	Commit  string // full commit hash
	Date    string // build or commit time, RFC 3339 UTC
)

// Info is what one binary knows about its build.
type Info struct {
	Version  string // "devel" when neither ldflags nor build info name one
	Commit   string // "" when unknown
	Modified bool   // the work tree had changes not in Commit
	Date     string // "" when unknown
	Go       string // runtime.Version()
	Platform string // GOOS/GOARCH
}

// Get returns the build information: the ldflags values first, then what
// debug.ReadBuildInfo records (the module version, vcs.revision, vcs.time,
// vcs.modified), so a plain `go build` in a git checkout still says which
// commit it is.
func Get() Info {
	in := Info{Version: Version, Commit: Commit, Date: Date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fromBuildInfo(&in, bi)
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	return in
}

// fromBuildInfo fills the fields of in that are still empty from bi.
func fromBuildInfo(in *Info, bi *debug.BuildInfo) {
	if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		in.Version = bi.Main.Version
	}
	setByLdflags := in.Commit != ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if in.Commit == "" {
				in.Commit = s.Value
			}
		case "vcs.time":
			if in.Date == "" {
				in.Date = s.Value
			}
		case "vcs.modified":
			if !setByLdflags {
				in.Modified = s.Value == "true"
			}
		}
	}
}

// String is the one line `--version` prints after the program's name:
// "0.3.0 (commit 1a2b3c4d5e6f, built 2026-12-06T07:00:00Z, go1.26.8 linux/amd64)".
func (in Info) String() string {
	s := in.Version + " ("
	if in.Commit != "" {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += "commit " + c
		if in.Modified {
			s += "+changes"
		}
		s += ", "
	}
	if in.Date != "" {
		s += "built " + in.Date + ", "
	}
	return s + fmt.Sprintf("%s %s)", in.Go, in.Platform)
}
