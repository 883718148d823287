package clidoc

import (
	"testing"

	"github.com/urfave/cli/v2"
)

// TestTree fails t for everything Check finds missing in app's man pages
// and completion: the test each program runs on its real command tree.
func TestTree(t testing.TB, app *cli.App, split bool) {
	t.Helper()
	for _, m := range Check(app, ManInfo{Section: 1, SplitCommands: split}) {
		t.Errorf("missing: %s", m)
	}
}
