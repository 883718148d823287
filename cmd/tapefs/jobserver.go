package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"tapefs/cmd/internal/cliapp"
	"tapefs/engine"
)

// Without a daemon, a command runs its engine in its own process and holds
// the catalog and the devices it opened until it ends. So that `media
// list`, `changer status` and the like work beside a long CLI job (a
// backup, a restore) as they do beside the daemon, the process that runs a
// command in-process serves the read-only commands of other tapefs
// processes on a second socket in the state directory, jobSocketName,
// with the daemon's protocol (api.go). One process serves at a time (the
// flock on jobLockName, which also records who serves); other commands run
// in their own process as before, and one that needs the catalog the job
// holds fails naming it (catalog.ErrLocked's message).
const (
	jobSocketName = "job.sock"
	jobLockName   = "job.lock"
)

// serveReadOnly serves the read-only commands of other processes with eng
// (this process's engine) until stop is called, which waits for the
// commands running. It returns a no-op stop when another process serves
// already, or the socket cannot be made (logged to stderr: the command
// itself goes on).
func serveReadOnly(stateDir, configDir string, eng *engine.Engine, stderr io.Writer) (stop func()) {
	nop := func() {}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nop
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, jobLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nop
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nop
	}
	self := strings.Join(os.Args, " ")
	lock.Truncate(0)
	fmt.Fprintf(lock, "pid %d: %s\n", os.Getpid(), self)
	path := filepath.Join(stateDir, jobSocketName)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nop
	}
	ln, err := net.Listen("unix", path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tapefs: other commands cannot reach this one (read-only commands run beside it only with `tapefs mount`): %v\n", err)
		if ln != nil {
			ln.Close()
		}
		lock.Close()
		return nop
	}
	run := func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		argv := append([]string{"tapefs", "--config-dir", configDir, "--state-dir", stateDir}, args...)
		app := newApp(stdout, stderr, eng)
		if commandInfosOf(app).placementOf(commandPath(app, cliapp.Reorder(app, argv))) != readOnly {
			return fmt.Errorf("the catalog and devices are held by another tapefs command (pid %d: %s): run this one when it has finished, or run `tapefs mount` to run commands side by side: %w",
				os.Getpid(), self, engine.ErrBusy)
		}
		ctx = engine.WithLog(ctx, func(line string) { fmt.Fprintln(stderr, line) })
		return cliapp.Run(ctx, app, argv)
	}
	srv := &apiServer{ln: ln, run: run, logf: func(string, ...any) {}}
	go srv.serve()
	return func() {
		srv.close()
		os.Remove(path)
		lock.Close()
	}
}
