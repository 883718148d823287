package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-06T07:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name string
		in   Info
		want string
	}{
		{"build info only", Info{Go: "go1.26.8", Platform: "linux/amd64"},
			"devel (commit 0123456789ab+changes, built 2026-12-06T07:00:00Z, go1.26.8 linux/amd64)"},
		{"ldflags win", Info{Version: "1.2.3", Commit: "fedcba9876543210", Date: "2026-12-01T00:00:00Z", Go: "go1.26.8", Platform: "linux/amd64"},
			"1.2.3 (commit fedcba987654, built 2026-12-01T00:00:00Z, go1.26.8 linux/amd64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			fromBuildInfo(&in, bi)
			if in.Version == "" {
				in.Version = "devel"
			}
			if got := in.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGetNamesGo(t *testing.T) {
	s := Get().String()
	if !strings.Contains(s, "go1.") {
		t.Errorf("version %q does not name the Go version", s)
	}
}
