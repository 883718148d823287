package fusefs

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestThreadGroup: a thread maps to its process; an exited process to 0.
func TestThreadGroup(t *testing.T) {
	if got := threadGroup(uint32(syscall.Gettid())); got != uint32(os.Getpid()) {
		t.Errorf("threadGroup(own thread) = %d, want %d", got, os.Getpid())
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got := threadGroup(uint32(cmd.Process.Pid)); got != 0 {
		t.Errorf("threadGroup(exited process) = %d, want 0", got)
	}
}
