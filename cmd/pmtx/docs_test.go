package main

import (
	"io"
	"testing"

	"tapefs/cmd/internal/clidoc"
)

// TestDocsCoverEveryCommand: the man pages and shell completion come from
// the command tree, whatever commands it has when the test runs.
func TestDocsCoverEveryCommand(t *testing.T) {
	clidoc.TestTree(t, newApp(io.Discard, io.Discard), false)
}
