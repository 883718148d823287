package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"tapefs/cmd/internal/cliapp"
)

// TestLockStateMessage checks what a second daemon is told about the one
// holding the state directory: while mounted, to unmount it; once it has
// unmounted and only finishes its commands, to wait (it said to unmount
// what was no longer mounted).
func TestLockStateMessage(t *testing.T) {
	dir := t.TempDir()
	unlock, note, err := lockState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	pid := fmt.Sprintf("pid %d", os.Getpid())
	tests := []struct {
		state string
		want  string
	}{
		{"", "another tapefs daemon (" + pid + ") holds state directory " + dir + ": unmount it first"},
		{"unmounted, finishing its running commands", "another tapefs daemon (" + pid + ", unmounted, finishing its running commands) holds state directory " + dir + ": wait until it exits"},
	}
	for _, tt := range tests {
		if tt.state != "" {
			note(tt.state)
		}
		_, _, err := lockState(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || cliapp.ExitCode(err) != 4 {
			t.Errorf("state %q: second lock: %v (exit %d), want %q, exit 4", tt.state, err, cliapp.ExitCode(err), tt.want)
		}
	}
}
