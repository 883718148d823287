package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/cliapp"
	"tapefs/engine"
	"tapefs/fusefs"
	"tapefs/internal/procs"
)

// readyFDEnv names the file descriptor on which a daemon started in the
// background reports to its parent that the mount is ready ("ok") or why
// it failed ("error CODE MESSAGE").
const readyFDEnv = "TAPEFS_READY_FD"

// lockName is the daemon lock in the state directory: one daemon per state.
const lockName = "daemon.lock"

// logName is where a background daemon writes its log.
const logName = "daemon.log"

// mountOpts are the options of `tapefs mount`.
type mountOpts struct {
	mountpoint string
	foreground bool
	fuse       fusefs.MountOptions
	configDir  string
	stateDir   string
	// stagingSync fsyncs each file written into incoming/ at close, so it
	// survives power loss (slower).
	stagingSync bool
	// adminGroup, when set, may run commands like the daemon's user
	// (access.go).
	adminGroup string
}

func (e *env) mountCommand() *cli.Command {
	return &cli.Command{
		Name:  "mount",
		Usage: "run the daemon: mount the tape library as a filesystem and serve the CLI",
		Description: "tapefs mount MOUNTPOINT, or as a mount helper (mount -t fuse.tapefs) tapefs mount none MOUNTPOINT -o OPTIONS.\n" +
			"Options (-o, comma separated): allow_other, ro, rw, debug, staging-sync, foreground, state-dir=DIR, config-dir=DIR,\n" +
			"admin-group=GROUP (its members may run commands and read the daemon's files in the tree, like its user);\n" +
			"generic mount options (defaults, noauto, nofail, _netdev, dev, suid, exec, x-...) are accepted and ignored.",
		ArgsUsage: "[none] MOUNTPOINT",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "foreground", Aliases: []string{"f"}, Usage: "stay in the foreground (log to stderr); Ctrl-C unmounts"},
			&cli.StringSliceFlag{Name: "o", Usage: "mount options, comma separated (see the description)"},
		},
		Action: func(c *cli.Context) error {
			a := c.Args().Slice()
			if len(a) == 2 {
				a = a[1:] // mount helper form: SOURCE MOUNTPOINT
			}
			if len(a) != 1 {
				return usagef("mount: expected a mount point (tapefs mount MOUNTPOINT)")
			}
			mo := mountOpts{mountpoint: a[0], foreground: c.Bool("foreground"), configDir: e.ConfigDir, stateDir: e.StateDir}
			if err := mo.parse(c.StringSlice("o")); err != nil {
				return err
			}
			abs, err := filepath.Abs(mo.mountpoint)
			if err != nil {
				return usagef("mount: bad mount point %q: %v", mo.mountpoint, err)
			}
			mo.mountpoint = abs
			if mo.foreground || os.Getenv(readyFDEnv) != "" {
				return runDaemon(c.Context, mo, e.stderr)
			}
			return startBackground(mo, e.stderr)
		},
	}
}

// daemonCommand is `tapefs daemon`: the daemon without a filesystem, for
// hosts that want the scheduler and the CLI forwarding but no mount. It
// stays in the foreground (for systemd: see docs/tapefs-daemon.service).
func (e *env) daemonCommand() *cli.Command {
	return &cli.Command{
		Name:  "daemon",
		Usage: "run the daemon without a mount: backup job scheduler and CLI forwarding (foreground)",
		Action: func(c *cli.Context) error {
			return runDaemon(c.Context, mountOpts{configDir: e.ConfigDir, stateDir: e.StateDir, foreground: true}, e.stderr)
		},
	}
}

// parse applies -o options.
func (mo *mountOpts) parse(opts []string) error {
	for _, o := range opts {
		key, val, hasVal := strings.Cut(strings.TrimSpace(o), "=")
		switch {
		case key == "":
		case key == "allow_other":
			mo.fuse.AllowOther = true
		case key == "ro":
			mo.fuse.ReadOnly = true
		case key == "rw":
			mo.fuse.ReadOnly = false
		case key == "debug":
			mo.fuse.Debug = true
		case key == "staging-sync":
			mo.stagingSync = true
		case key == "foreground":
			mo.foreground = true
		case key == "state-dir" && hasVal:
			mo.stateDir = val
		case key == "config-dir" && hasVal:
			mo.configDir = val
		case key == "admin-group" && hasVal:
			mo.adminGroup = val
		case strings.HasPrefix(key, "x-") || key == "comment":
		case slices.Contains(ignoredMountOptions, key):
		default:
			return usagef("mount: unknown mount option %q (known: allow_other, ro, rw, debug, staging-sync, foreground, state-dir=DIR, config-dir=DIR, admin-group=GROUP)", o)
		}
	}
	return nil
}

// ignoredMountOptions are generic mount(8)/fstab options that mean nothing
// for tapefs; mount passes them to helpers.
var ignoredMountOptions = []string{"defaults", "auto", "noauto", "nofail", "_netdev", "user", "users", "nouser",
	"dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime", "async", "sync"}

// startBackground re-runs the daemon in a new session with its log in the
// state directory, and returns when the mount is ready (or the daemon
// reports why it could not start).
func startBackground(mo mountOpts, stderr io.Writer) error {
	if err := os.MkdirAll(mo.stateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	logPath := filepath.Join(mo.stateDir, logName)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"mount", mo.mountpoint, "--config-dir", mo.configDir, "--state-dir", mo.stateDir}
	var o []string
	if mo.fuse.AllowOther {
		o = append(o, "allow_other")
	}
	if mo.fuse.ReadOnly {
		o = append(o, "ro")
	}
	if mo.fuse.Debug {
		o = append(o, "debug")
	}
	if mo.stagingSync {
		o = append(o, "staging-sync")
	}
	if mo.adminGroup != "" {
		o = append(o, "admin-group="+mo.adminGroup)
	}
	if len(o) > 0 {
		args = append(args, "-o", strings.Join(o, ","))
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start daemon: %w", err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		codeStr, msg, _ := strings.Cut(rest, " ")
		code, _ := strconv.Atoi(codeStr)
		return exitError{code: code, msg: msg}
	}
	return fmt.Errorf("the daemon exited before the mount was ready: see %s", logPath)
}

// exitError carries a background daemon's failure and exit code to main.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// ExitCode is used by cliapp.ExitCode.
func (e exitError) ExitCode() int { return e.code }

// runDaemon mounts and serves until SIGINT/SIGTERM or an external unmount.
func runDaemon(ctx context.Context, mo mountOpts, stderr io.Writer) (err error) {
	var ready *os.File
	if fd := os.Getenv(readyFDEnv); fd != "" {
		n, _ := strconv.Atoi(fd)
		ready = os.NewFile(uintptr(n), "ready")
		os.Unsetenv(readyFDEnv)
		defer func() {
			if err != nil && ready != nil {
				fmt.Fprintf(ready, "error %d %s\n", cliapp.ExitCode(err), strings.ReplaceAll(err.Error(), "\n", " "))
				ready.Close()
			}
		}()
	}
	// Forwarded commands carry the caller's defaults as flags; the
	// daemon's own must not apply to them.
	os.Unsetenv("TAPEFS_DRIVE")
	os.Unsetenv("PROXMOX_TAPE_DRIVE")
	acc, err := newAccess(mo.adminGroup)
	if err != nil {
		return err
	}
	// Until daemon.log can be opened, what is said goes to stderr.
	early := log.New(stderr, "tapefs: ", log.LstdFlags)
	if err := secureStateDir(mo.stateDir, acc, early.Printf); err != nil {
		return err
	}
	dlog := newDaemonLog(stderr, mo.stateDir)
	defer dlog.Close()
	logger := log.New(dlog, "tapefs: ", log.LstdFlags)
	unlock, noteLock, err := lockState(mo.stateDir)
	if err != nil {
		return err
	}
	defer unlock()
	if mo.mountpoint != "" {
		if err := checkMountpoint(mo.mountpoint, logger); err != nil {
			return err
		}
	}

	eng, err := engine.New(engine.Options{
		ConfigDir: mo.configDir, StateDir: mo.stateDir,
		Opener:           (&env{Settings: cliapp.Settings{StateDir: mo.stateDir}}).opener(),
		Logf:             func(format string, args ...any) { logger.Printf(format, args...) },
		RefreshAfterJobs: true,
		StagingSync:      mo.stagingSync,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := eng.Close(); cerr != nil {
			logger.Printf("closing the engine: %v", cerr)
		}
	}()
	// Hold the catalog from the start: CLI commands come through the
	// daemon while it runs.
	if _, err := eng.Catalog(); err != nil {
		return err
	}
	if err := eng.RefreshStatus(); err != nil {
		logger.Printf("reading device status: %v", err)
	}
	// A commit killed between its snapshot archive and its catalog
	// record left an archive on tape that the catalog does not know:
	// void it now, so a catalog rebuilt from the tapes is this one.
	go func() {
		if n, err := eng.VoidInterruptedCommits(context.Background()); n > 0 || err != nil {
			logger.Printf("interrupted commits: %d tapes settled (%v)", n, err)
		}
	}()

	run := func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		ctx = engine.WithLog(ctx, func(line string) { fmt.Fprintln(stderr, line) })
		argv := append([]string{"tapefs", "--config-dir", mo.configDir, "--state-dir", mo.stateDir}, args...)
		return cliapp.Run(ctx, newApp(stdout, stderr, eng), argv)
	}

	ln, err := listenAPI(mo.stateDir, acc)
	if err != nil {
		return err
	}
	api := &apiServer{ln: ln, access: acc, run: run, logf: logger.Printf}
	go api.serve()
	defer func() {
		api.close()
		os.Remove(filepath.Join(mo.stateDir, socketName))
	}()

	// The backup job scheduler runs until the daemon stops; running
	// tasks are stopped by the engine's Close.
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		eng.RunScheduler(schedCtx)
	}()
	defer func() {
		stopSched()
		<-schedDone
	}()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if mo.mountpoint == "" {
		// `tapefs daemon`: the API and the scheduler, no filesystem.
		logger.Printf("daemon running without a mount (state %s, config %s)", mo.stateDir, mo.configDir)
		select {
		case s := <-sigs:
			logger.Printf("%v: stopping", s)
		case <-ctx.Done():
		}
		noteLock("stopping, finishing its running commands")
		return nil
	}

	root, err := fusefs.New(fusefs.Options{Engine: eng, Run: run, MountPoint: mo.mountpoint, Logf: logger.Printf, AdminGID: acc.adminGroup()})
	if err != nil {
		return err
	}
	server, err := fusefs.Mount(mo.mountpoint, root, mo.fuse)
	if err != nil {
		return fmt.Errorf("mount %s: %w", mo.mountpoint, err)
	}
	// The daemon answers requests on one processor while nothing runs in
	// parallel (package procs says why). Not in fusefs.Mount: a process
	// that maps files of its own mount (tests do) would deadlock on one
	// processor, its page fault holding it while the request waits.
	defer procs.Enable()()
	logger.Printf("mounted on %s (state %s, config %s)", mo.mountpoint, mo.stateDir, mo.configDir)
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
		ready = nil
	}

	unmounted := make(chan struct{})
	go func() {
		server.Wait()
		close(unmounted)
	}()
	select {
	case <-unmounted:
		logger.Printf("%s was unmounted", mo.mountpoint)
	case s := <-sigs:
		logger.Printf("%v: unmounting %s", s, mo.mountpoint)
		if err := server.Unmount(); err != nil {
			// Busy (a shell inside the tree): detach it now; the
			// kernel ends the connection when the last user leaves.
			logger.Printf("unmount %s: %v; detaching it (lazy unmount)", mo.mountpoint, err)
			if err := syscall.Unmount(mo.mountpoint, syscall.MNT_DETACH); err != nil {
				logger.Printf("lazy unmount %s: %v", mo.mountpoint, err)
			}
		}
		<-unmounted
	case <-ctx.Done():
		server.Unmount()
		<-unmounted
	}
	logger.Printf("finishing running commands")
	noteLock("unmounted, finishing its running commands")
	return nil
}

// lockState takes the daemon lock of a state directory. A lock held by
// another daemon is an ErrBusy error naming its pid and, once it has
// unmounted and only finishes its commands, saying so. note records such a
// state of this daemon in the lock file, for that message.
func lockState(stateDir string) (unlock func(), note func(state string), err error) {
	path := filepath.Join(stateDir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("daemon lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, state, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
			if state != "" {
				return nil, nil, kindError{kind: engine.ErrBusy, msg: fmt.Sprintf("another tapefs daemon (%s, %s) holds state directory %s: wait until it exits",
					holder, state, stateDir)}
			}
			return nil, nil, kindError{kind: engine.ErrBusy, msg: fmt.Sprintf("another tapefs daemon (%s) holds state directory %s: unmount it first (fusermount3 -u MOUNTPOINT)",
				holder, stateDir)}
		}
		return nil, nil, fmt.Errorf("daemon lock %s: %w", path, err)
	}
	pid := fmt.Sprintf("pid %d\n", os.Getpid())
	f.Truncate(0)
	f.WriteAt([]byte(pid), 0)
	note = func(state string) {
		f.Truncate(0)
		f.WriteAt([]byte(pid+state+"\n"), 0)
	}
	return func() { f.Close() }, note, nil
}

// checkMountpoint checks the mount point is a directory, and detaches a
// stale tapefs mount left by a daemon that was killed.
func checkMountpoint(dir string, logger *log.Logger) error {
	_, err := os.Stat(dir)
	if errors.Is(err, syscall.ENOTCONN) {
		logger.Printf("%s is a stale mount (its daemon died): detaching it", dir)
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("%s is a stale mount and cannot be detached: %w (run fusermount3 -u %s)", dir, err, dir)
		}
		_, err = os.Stat(dir)
	}
	if err != nil {
		return kindError{kind: engine.ErrNotFound, msg: fmt.Sprintf("mount point: %v", err)}
	}
	return nil
}

// kindError is a daemon start error of an engine error class (for the
// exit code) with its own message.
type kindError struct {
	kind error
	msg  string
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }
