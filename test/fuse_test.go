package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needFUSE skips a test when /dev/fuse is missing, unless
// TAPEFS_TEST_REQUIRE_FUSE=1 (CI) turns the skip into a failure. Without
// root, mounting and unmounting go through fusermount3: a missing one
// fails the test and names the package to install.
func needFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("TAPEFS_TEST_REQUIRE_FUSE") == "1" {
			t.Fatal("/dev/fuse is missing and TAPEFS_TEST_REQUIRE_FUSE=1")
		}
		t.Skip("/dev/fuse is missing")
	}
	if os.Geteuid() != 0 {
		needTool(t, "fusermount3", "fuse3")
	}
}

// needTool fails the test when program is not installed, naming the
// Debian package that has it (README, Set-up).
func needTool(t *testing.T, program, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("this test needs %s: install it (apt-get install %s)", program, pkg)
	}
}

// isMounted reports whether dir is a mount point in /proc/self/mountinfo.
func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	_, ok := mountType(t, dir)
	return ok
}

// mountType returns the filesystem type dir is mounted with
// (/proc/self/mountinfo), and whether it is a mount point.
func mountType(t *testing.T, dir string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) <= 4 || f[4] != dir {
			continue
		}
		for i, x := range f {
			if x == "-" && i+1 < len(f) {
				return f[i+1], true
			}
		}
		return "", true
	}
	return "", false
}

// mount runs `tapefs mount` (in the background, as a user would) on a
// new directory and unmounts it at cleanup, failing on a leftover mount.
func (s *sandbox) mount() string {
	s.t.Helper()
	needFUSE(s.t)
	mnt := filepath.Join(s.root, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		s.t.Fatal(err)
	}
	s.ok("mount", mnt)
	s.t.Cleanup(func() { s.unmount(mnt) })
	return mnt
}

// unmount unmounts mnt (as umount does for root, else with fusermount3 -u)
// and waits until the daemon released the state.
func (s *sandbox) unmount(mnt string) {
	s.t.Helper()
	if isMounted(s.t, mnt) {
		if os.Geteuid() == 0 {
			if err := syscall.Unmount(mnt, 0); err != nil {
				s.t.Errorf("umount %s: %v", mnt, err)
			}
		} else if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
			s.t.Errorf("fusermount3 -u %s: %v: %s", mnt, err, out)
		}
	}
	if isMounted(s.t, mnt) {
		s.t.Errorf("%s is still mounted", mnt)
		syscall.Unmount(mnt, syscall.MNT_DETACH)
	}
	s.waitDaemonGone()
}

// waitDaemonGone waits until no daemon holds the state directory's lock.
func (s *sandbox) waitDaemonGone() {
	s.t.Helper()
	lock := filepath.Join(s.root, "state", "daemon.lock")
	for i := 0; i < 500; i++ {
		f, err := os.OpenFile(lock, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			s.t.Fatal(err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		f.Close()
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Errorf("the daemon still holds %s", lock)
}

// mountForeground runs `tapefs mount MNT --foreground` with its stdout
// and stderr on out, waits until it has mounted, and unmounts at cleanup.
// The caller ends the daemon.
func (s *sandbox) mountForeground(mnt string, out io.Writer) *exec.Cmd {
	s.t.Helper()
	needFUSE(s.t)
	os.Mkdir(mnt, 0o755)
	cmd := exec.Command(filepath.Join(binDir, "tapefs"), "mount", mnt, "--foreground")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { s.unmount(mnt) })
	for i := 0; i < 500 && !isMounted(s.t, mnt); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !isMounted(s.t, mnt) {
		cmd.Process.Kill()
		cmd.Wait()
		log := "(on the caller's writer)"
		if sb, ok := out.(fmt.Stringer); ok {
			log = sb.String()
		}
		s.t.Fatalf("not mounted; daemon log:\n%s", log)
	}
	return cmd
}

// writeCtl writes text to a control file the way `echo text > file` does
// and returns the errno of the write (0 on success).
func writeCtl(t *testing.T, path, text string) syscall.Errno {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	_, err = f.Write([]byte(text + "\n"))
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if !errors.As(err, &en) {
		t.Fatalf("write %s: %v", path, err)
	}
	return en
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// TestFuseBrowse lists every directory of the tree and reads every file.
func TestFuseBrowse(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--drive", "mydrive", "--pool", "daily")
	mnt := s.mount()

	var dirs, files, links int
	err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs++
		case d.Type()&fs.ModeSymlink != 0:
			links++
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(target, "../../../media/") {
				t.Errorf("%s -> %s, want ../../../media/LABEL", p, target)
			}
			if st, err := os.Stat(p); err != nil || !st.IsDir() {
				t.Errorf("%s -> %s does not resolve to a media directory: %v", p, target, err)
			}
		default:
			files++
			if _, err := os.ReadFile(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if links != 8 {
		t.Errorf("%d slot symlinks, want 8 (the labelled tapes)", links)
	}
	for _, want := range []struct{ path, text string }{
		{"status", "mydrive"},
		{"drives/mydrive/status", "DRIVE_OPEN"},
		{"changers/sl3/status", "TEST01L8"},
		{"changers/sl3/slots/9", "CLN001CU"},
		{"media/TEST01L8/info", "pool:"},
		{"pools/daily/status", "TEST08L8"},
		{"drives/mydrive/label", "usage: echo"},
	} {
		if got := readFile(t, filepath.Join(mnt, want.path)); !strings.Contains(got, want.text) {
			t.Errorf("%s does not contain %q:\n%s", want.path, want.text, got)
		}
	}
	var st struct {
		PID    int `json:"pid"`
		Drives []struct {
			Name string `json:"name"`
		} `json:"drives"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(mnt, "status.json"))), &st); err != nil {
		t.Fatal(err)
	}
	if st.PID == 0 || len(st.Drives) != 1 || st.Drives[0].Name != "mydrive" {
		t.Errorf("status.json: %+v", st)
	}
	// The task history is kept across processes: the barcode-label run
	// before the mount is task 1.
	if es, err := os.ReadDir(filepath.Join(mnt, "jobs")); err != nil || len(es) != 1 || es[0].Name() != "1" {
		t.Errorf("jobs/ of a fresh daemon: %v, %v; want the barcode-label task", es, err)
	} else if st := readFile(t, filepath.Join(mnt, "jobs/1/status")); !regexp.MustCompile(`(?m)^task:\s+barcode-label --drive mydrive --pool daily$`).MatchString(st) ||
		!regexp.MustCompile(`(?m)^state:\s+ok$`).MatchString(st) {
		t.Errorf("jobs/1/status:\n%s", st)
	}
}

// TestFuseControlFiles runs commands through control files and checks
// each errno and what reading the file shows afterwards.
func TestFuseControlFiles(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	mnt := s.mount()
	drv := filepath.Join(mnt, "drives/mydrive")
	chg := filepath.Join(mnt, "changers/sl3")

	steps := []struct {
		file, text string
		want       syscall.Errno
		show       string // in the file's text after the write
	}{
		{chg + "/barcode-label", "daily", 0, "labelled"},
		{chg + "/barcode-label", "--pool nosuchpool", syscall.ENOENT, "nosuchpool"},
		{drv + "/eject", "", syscall.ENOMEDIUM, "no medium"},
		{drv + "/load", "", syscall.EINVAL, "expected 1 argument"},
		{drv + "/load", "NOPE01L8", syscall.ENOENT, "NOPE01L8 is not in the library (changer sl3)"},
		{drv + "/load", "TEST01L8 --drive other", syscall.EINVAL, "--drive is not allowed"},
		{drv + "/load", "TEST01L8", 0, "result: ok"},
		{drv + "/label", "TEST01L8", syscall.EEXIST, "already used"},
		{drv + "/label", "'bad label'", syscall.EINVAL, "result: error EINVAL"},
		{drv + "/read-label", "", 0, "result: ok"},
		{drv + "/unload", "--target-slot x", syscall.EINVAL, "result: error EINVAL"},
		{drv + "/unload", "", 0, "result: ok"},
		{drv + "/clean", "", 0, "cleaned"},
		{chg + "/transfer", "1 10", 0, "result: ok"},
		{chg + "/transfer", "2 3", syscall.EINVAL, "is full"},
		{chg + "/transfer", "--from 10 --to 1", 0, "result: ok"},
		{chg + "/transfer", "one two", syscall.EINVAL, "unexpected argument"},
		{chg + "/inventory", "", 0, "TEST08L8"},
		{chg + "/inventory", "bogus", syscall.EINVAL, `unexpected argument "bogus"`},
		{drv + "/clean", "junk", syscall.EINVAL, `unexpected argument "junk"`},
		{drv + "/load", "TEST02L8", 0, "result: ok"},
		{mnt + "/pools/daily/eject", "now", syscall.EINVAL, "takes none"},
		{mnt + "/pools/daily/eject", "", 0, "result: ok"},
		{mnt + "/pools/daily/eject", "", syscall.ENOMEDIUM, "no medium"},
	}
	for _, st := range steps {
		got := writeCtl(t, st.file, st.text)
		if got != st.want {
			t.Errorf("echo %q > %s: errno %v (%d), want %v (%d)", st.text, strings.TrimPrefix(st.file, mnt), got, got, st.want, st.want)
		}
		if text := readFile(t, st.file); !strings.Contains(text, st.show) {
			t.Errorf("after echo %q > %s, the file does not show %q:\n%s", st.text, strings.TrimPrefix(st.file, mnt), st.show, text)
		}
	}
	if target, err := os.Readlink(chg + "/slots/1"); err != nil || target != "../../../media/TEST01L8" {
		t.Errorf("slots/1 -> %q, %v; want ../../../media/TEST01L8", target, err)
	}
	jobs, err := os.ReadDir(filepath.Join(mnt, "jobs"))
	if err != nil || len(jobs) == 0 {
		t.Fatalf("jobs/: %v, %v", jobs, err)
	}
	if log := readFile(t, filepath.Join(mnt, "jobs", jobs[0].Name(), "log")); !strings.Contains(log, "labelled TEST01L8") {
		t.Errorf("log of the first job (barcode-label) does not say what it labelled:\n%s", log)
	}
	if p := readFile(t, filepath.Join(mnt, "jobs", jobs[0].Name(), "progress")); !regexp.MustCompile(`(?m)^state:\s+ok$`).MatchString(p) {
		t.Errorf("progress of the first job:\n%s", p)
	}
	st := readFile(t, filepath.Join(mnt, "jobs", jobs[0].Name(), "status"))
	for _, re := range []string{`(?m)^state:\s+ok$`, `(?m)^started-by:\s+control file changers/sl3/barcode-label$`, `(?m)^task:\s+barcode-label --drive mydrive --pool daily$`} {
		if !regexp.MustCompile(re).MatchString(st) {
			t.Errorf("status of the first job does not match %s:\n%s", re, st)
		}
	}
}

// TestFuseReadOnly checks that every mutating operation on the browse
// trees fails with EROFS.
func TestFuseReadOnly(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--drive", "mydrive")
	mnt := s.mount()
	p := func(rel string) string { return filepath.Join(mnt, rel) }
	ops := []struct {
		name string
		op   func() error
	}{
		{"write status", func() error { return os.WriteFile(p("status"), []byte("x"), 0o644) }},
		{"create in media", func() error { return os.WriteFile(p("media/new"), []byte("x"), 0o644) }},
		{"mkdir in drives", func() error { return os.Mkdir(p("drives/new"), 0o755) }},
		{"rmdir media dir", func() error { return os.Remove(p("media/TEST01L8")) }},
		{"unlink slot", func() error { return os.Remove(p("changers/sl3/slots/1")) }},
		{"rename media", func() error { return os.Rename(p("media/TEST01L8"), p("media/TEST99L8")) }},
		{"rename across", func() error { return os.Rename(p("media/TEST01L8/info"), p("pools/daily/info")) }},
		{"link", func() error { return os.Link(p("media/TEST01L8/info"), p("media/TEST01L8/info2")) }},
		{"symlink", func() error { return os.Symlink("x", p("pools/daily/x")) }},
		{"chmod", func() error { return os.Chmod(p("status"), 0o600) }},
		{"truncate", func() error { return os.Truncate(p("media/TEST01L8/info"), 0) }},
		{"setxattr", func() error { return syscall.Setxattr(p("status"), "user.x", []byte("1"), 0) }},
	}
	for _, o := range ops {
		if err := o.op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", o.name, err)
		}
	}
}

// TestFuseForwarding checks that CLI commands give the same output and
// exit code through the daemon as without it, and that a second daemon
// for the same state is refused.
func TestFuseForwarding(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--drive", "mydrive", "--pool", "daily")
	drive := []string{"TAPEFS_DRIVE=mydrive"}
	cmds := [][]string{
		{"media", "list"},
		{"pool", "list"},
		{"changer", "status", "sl3"},
		{"load-media", "NOPE01L8"},
		{"drive", "config", "nosuchdrive"},
		{"media", "list", "--output-format", "json"},
	}
	before := make([]result, len(cmds))
	for i, c := range cmds {
		before[i] = s.run(drive, "tapefs", c...)
	}
	mnt := s.mount()
	for i, c := range cmds {
		got := s.run(drive, "tapefs", c...)
		if got != before[i] {
			t.Errorf("tapefs %s through the daemon:\n%+v\nwithout the daemon:\n%+v", strings.Join(c, " "), got, before[i])
		}
	}
	// Forwarded commands change the daemon's state: the tree shows it.
	s.run(drive, "tapefs", "load-media", "TEST02L8")
	if st := readFile(t, filepath.Join(mnt, "drives/mydrive/status")); !strings.Contains(st, "tape:                TEST02L8") {
		t.Errorf("after a forwarded load-media, drives/mydrive/status:\n%s", st)
	}
	other := filepath.Join(s.root, "mnt2")
	os.Mkdir(other, 0o755)
	r := s.run(nil, "tapefs", "mount", other)
	if r.code != 4 || !strings.Contains(r.stderr, "another tapefs daemon") {
		t.Errorf("second mount of the same state: exit %d, stderr %q; want 4 and a message", r.code, r.stderr)
	}
	if isMounted(t, other) {
		t.Errorf("the second mount happened")
		syscall.Unmount(other, syscall.MNT_DETACH)
	}
}

// TestFuseSignal runs the daemon in the foreground and stops it with
// SIGTERM: it unmounts and exits 0.
func TestFuseSignal(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := filepath.Join(s.root, "mnt")
	var stderr strings.Builder
	cmd := s.mountForeground(mnt, &stderr)
	if _, err := os.ReadFile(filepath.Join(mnt, "status")); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("daemon after SIGTERM: %v\n%s", err, stderr.String())
	}
	if isMounted(t, mnt) {
		t.Errorf("%s is still mounted after SIGTERM", mnt)
	}
	if _, err := os.Stat(filepath.Join(s.root, "state", "api.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("API socket left behind: %v", err)
	}
}

// TestFuseForwardingRelativePaths runs forwarded commands with relative
// file names from a directory other than the daemon's: they name the
// caller's files (`tapefs backup . daily` backed up the daemon's working
// directory).
func TestFuseForwardingRelativePaths(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--drive", "mydrive", "--pool", "daily")
	s.mount()
	src := filepath.Join(s.root, "src", "www")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runIn := func(dir string, args ...string) result {
		t.Helper()
		cmd := s.command([]string{"TAPEFS_DRIVE=mydrive"}, "tapefs", args...)
		cmd.Dir = dir
		return s.runCmd(cmd)
	}
	r := runIn(src, "backup", ".", "daily", "--group", "www")
	if r.code != 0 || !strings.Contains(r.stderr, " of "+src+" to pool") || !strings.Contains(r.stderr, "1 files") {
		t.Fatalf("tapefs backup . daily in %s: exit %d\n%s%s", src, r.code, r.stdout, r.stderr)
	}
	set := uuidRe.FindString(r.stdout)
	r = runIn(filepath.Join(s.root, "src"), "restore", set, "restored")
	if r.code != 0 {
		t.Fatalf("tapefs restore %s restored: exit %d\n%s%s", set, r.code, r.stdout, r.stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(s.root, "src", "restored", "*", "*", "index.html"))
	if len(matches) != 1 {
		out, _ := exec.Command("find", filepath.Join(s.root, "src")).CombinedOutput()
		t.Errorf("restore into a relative target: index.html not under %s/src/restored:\n%s\n%s", s.root, out, r.stderr)
	}
}

// TestFuseDaemonStderrGone runs the daemon in the foreground with its
// stderr on a pipe, closes the pipe's reading end (`make run 2>&1 | tee
// log`, and Ctrl-C ends tee too), then interrupts it: the daemon logs on
// into daemon.log, unmounts and exits 0. It died of SIGPIPE writing its
// log and left the mount stale.
func TestFuseDaemonStderrGone(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := filepath.Join(s.root, "mnt")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.mountForeground(mnt, w)
	w.Close()
	r.Close()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("daemon interrupted with its stderr gone: %v", err)
	}
	if isMounted(t, mnt) {
		t.Errorf("%s is still mounted", mnt)
	}
	if log := readFile(t, filepath.Join(s.root, "state", "daemon.log")); !strings.Contains(log, "unmounting "+mnt) {
		t.Errorf("daemon.log does not go on with the log:\n%s", log)
	}
}

// TestRunScriptStaleMount runs `make run`'s script on a mount point whose
// daemon was killed (stat fails with ENOTCONN): it detaches the stale
// mount and mounts the library (it failed at `mkdir -p mnt`).
func TestRunScriptStaleMount(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := filepath.Join(s.root, "mnt")
	os.Mkdir(mnt, 0o755)
	s.ok("mount", mnt)
	var pid int
	if _, err := fmt.Sscanf(readFile(t, filepath.Join(s.root, "state", "daemon.lock")), "pid %d", &pid); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	s.waitDaemonGone()
	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after kill -9 of the daemon, stat %s: %v; want ENOTCONN", mnt, err)
	}
	script, err := filepath.Abs("../scripts/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script)
	cmd.Env = append(append([]string{}, s.env...), "BIN="+binDir, "RUNDIR="+filepath.Join(s.root, "run"), "MNT="+mnt)
	cmd.Dir = s.root
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if isMounted(t, mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var st error
wait:
	for i := 0; i < 1500; i++ {
		if _, st = os.Stat(filepath.Join(mnt, "status")); st == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run.sh exited before it mounted %s: %v\n%s", mnt, err, out.String())
		case <-time.After(20 * time.Millisecond):
			continue wait
		}
	}
	if st != nil {
		cmd.Process.Kill()
		<-done
		t.Fatalf("run.sh did not mount %s: %v\n%s", mnt, st, out.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := <-done; err != nil {
		t.Errorf("run.sh after Ctrl-C: %v\n%s", err, out.String())
	}
	if isMounted(t, mnt) {
		t.Errorf("%s is still mounted after Ctrl-C", mnt)
	}
}
