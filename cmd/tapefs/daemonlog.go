package main

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

// daemonLog is the foreground daemon's log: stderr while it can be
// written, then the state directory's daemon.log. A daemon whose stderr
// reader went away (`make run 2>&1 | tee log`, and Ctrl-C ends tee first)
// goes on logging, and above all goes on to unmount.
type daemonLog struct {
	mu       sync.Mutex
	w        io.Writer
	stateDir string
	file     *os.File // daemon.log, once stderr failed
}

// newDaemonLog returns the log writer over stderr. It catches SIGPIPE for
// the whole process: Go kills a program on a broken pipe on fd 1 or 2
// unless SIGPIPE is caught, and then the write fails with EPIPE instead.
func newDaemonLog(stderr io.Writer, stateDir string) *daemonLog {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	return &daemonLog{w: stderr, stateDir: stateDir}
}

func (l *daemonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		if _, err := l.w.Write(p); err == nil {
			return len(p), nil
		}
		f, err := os.OpenFile(filepath.Join(l.stateDir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			// Nowhere to log: drop the line rather than fail the
			// caller (the daemon must still unmount).
			return len(p), nil
		}
		l.file = f
		io.WriteString(f, "tapefs: stderr is gone (closed pipe?): the log goes on here\n")
	}
	l.file.Write(p)
	return len(p), nil
}

// Close closes daemon.log if the log moved there.
func (l *daemonLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
}
