package main

import (
	"io"
	"testing"

	"tapefs/cmd/internal/clidoc"
)

// TestDocsCoverEveryCommand: the man pages and shell completion come from
// the command tree, whatever commands it has when the test runs.
func TestDocsCoverEveryCommand(t *testing.T) {
	app := newApp(io.Discard, io.Discard, nil)
	for _, m := range clidoc.Check(app, clidoc.ManInfo{Section: 1, SplitCommands: true}) {
		t.Errorf("missing: %s", m)
	}
}
