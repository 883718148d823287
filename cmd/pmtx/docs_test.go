package main

import (
	"io"
	"testing"

	"tapefs/cmd/internal/clidoc"
)

// TestDocsCoverEveryCommand: the man page and shell completion come from
// the command tree, whatever commands it has when the test runs.
func TestDocsCoverEveryCommand(t *testing.T) {
	for _, m := range clidoc.Check(newApp(io.Discard, io.Discard), clidoc.ManInfo{Section: 1}) {
		t.Errorf("missing: %s", m)
	}
}
