package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// taskStatus is `tapefs task status ID --output-format json`.
func (s *sandbox) taskStatus(id string) (state, message string) {
	s.t.Helper()
	var st struct {
		State   string `json:"state"`
		Message string `json:"message"`
	}
	out := s.ok("task", "status", id, "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		s.t.Fatalf("task status %s: %v\n%s", id, err, out)
	}
	return st.State, st.Message
}

// waitTaskState polls a task until it is in state.
func (s *sandbox) waitTaskState(id, state string) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, msg := s.taskStatus(id)
		if st == state {
			return msg
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("task %s is %q (%s), want %q\n%s", id, st, msg, state, s.run(nil, "tapefs", "task", "log", id).stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runBackground starts `backup-job run ID --background` and returns the
// task id it prints.
func (s *sandbox) runBackground(job string) string {
	s.t.Helper()
	out := strings.TrimSpace(s.ok("backup-job", "run", job, "--background").stdout)
	id, ok := strings.CutPrefix(out, "task ")
	if _, err := strconv.Atoi(id); !ok || err != nil {
		s.t.Fatalf("backup-job run --background printed %q", out)
	}
	return id
}

// recorder writes a shell script that appends its arguments (or the
// TAPEFS_ environment) and stdin to log: a stand-in for sendmail or a
// hook command.
func recorder(t *testing.T, script, log string, env bool) {
	t.Helper()
	what := `echo "ARGS: $*"`
	if env {
		what = `env | grep '^TAPEFS_' | sort`
	}
	body := "#!/bin/sh\n{ " + what + "; cat; echo '=== END'; } >> " + log + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the log at p contains want (a stand-in may still be
// writing) and returns it.
func waitLog(t *testing.T, p, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := readLog(t, p)
		if strings.Contains(l, want) || time.Now().After(deadline) {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readLog(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestBackupJobMedia runs backup jobs in the daemon that need a tape that
// is not in the library: the task waits for media with the request in
// words, the request is mailed (sendmail stand-in) and given to the hook,
// `task log --follow` streams the waiting job, and the job goes on when the
// test inserts the tape (`vtape insert` + `changer status`) and mails its
// result with the log. A media timeout ends a job with an error, `task
// stop` ends a waiting one, and a daemon killed with kill -9 leaves the
// running task aborted after the restart.
func TestBackupJobMedia(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "8", "--drives", "1", "--import-export", "1",
		"--cartridges", "2", "--barcode-prefix", "TEST", "--cleaning", "0", "--capacity", "64MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"), "--changer", "sl3", "--changer-drivenum", "0")
	s.ok("pool", "create", "daily", "--drive", "mydrive")
	s.ok("barcode-label", "--pool", "daily")
	// Both tapes leave the library; the inventory notes them offline.
	s.ok("vtape", "remove", lib, "--slot", "1")
	s.ok("vtape", "remove", lib, "--slot", "2")
	s.ok("inventory")

	mailLog, hookLog := filepath.Join(s.root, "mail.log"), filepath.Join(s.root, "hook.log")
	recorder(t, filepath.Join(s.root, "sendmail"), mailLog, false)
	recorder(t, filepath.Join(s.root, "hook"), hookLog, true)
	s.ok("notify", "update", "--sendmail", filepath.Join(s.root, "sendmail"), "--command", filepath.Join(s.root, "hook"), "--mail-from", "tapefs@example.org")
	src := filepath.Join(s.root, "src", "www")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRandomFile(t, filepath.Join(src, "index.html"), 2<<20, 7)
	s.ok("backup-job", "create", "nightly", "--source", src, "--pool", "daily", "--eject-media", "--notify", "ops@example.org")
	host, _ := os.Hostname()

	mnt := s.mount()
	id := s.runBackground("nightly")
	if msg := s.waitTaskState(id, "waiting for media"); msg != "insert a writable tape for pool daily" {
		t.Errorf("media request %q", msg)
	}
	if p := readFile(t, filepath.Join(mnt, "jobs", id, "progress")); !strings.Contains(p, "waiting for media") {
		t.Errorf("jobs/%s/progress:\n%s", id, p)
	}
	mail := waitLog(t, mailLog, "=== END")
	for _, want := range []string{"ARGS: -oi -- ops@example.org", "From: tapefs@example.org", "To: ops@example.org",
		"Subject: tapefs backup job nightly on " + host + ": waiting for media", "insert a writable tape for pool daily"} {
		if !strings.Contains(mail, want) {
			t.Errorf("media request mail lacks %q:\n%s", want, mail)
		}
	}
	if hook := waitLog(t, hookLog, "=== END"); !strings.Contains(hook, "TAPEFS_EVENT=media") || !strings.Contains(hook, "TAPEFS_JOB=nightly") ||
		!strings.Contains(hook, `"message":"insert a writable tape for pool daily"`) {
		t.Errorf("hook of the media request:\n%s", hook)
	}

	follow := s.command(nil, "tapefs", "task", "log", id, "--follow")
	var followOut bytes.Buffer
	follow.Stdout, follow.Stderr = &followOut, &followOut
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followDone := make(chan error, 1)
	go func() { followDone <- follow.Wait() }()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-followDone:
		t.Fatalf("task log --follow ended while the task waits: %v\n%s", err, followOut.String())
	default:
	}

	s.ok("vtape", "insert", lib, "TEST01L8", "--slot", "1")
	s.ok("changer", "status")
	select {
	case err := <-followDone:
		if err != nil {
			t.Errorf("task log --follow: %v", err)
		}
	case <-time.After(90 * time.Second):
		follow.Process.Kill()
		t.Fatalf("the job did not go on after the tape came:\n%s", followOut.String())
	}
	for _, want := range []string{"insert a writable tape for pool daily (waiting for media", "tape TEST01L8 is in changer sl3 now",
		"media request done", "source " + src + ": snapshot www/", "TASK OK"} {
		if !strings.Contains(followOut.String(), want) {
			t.Errorf("followed log lacks %q:\n%s", want, followOut.String())
		}
	}
	if st, _ := s.taskStatus(id); st != "ok" {
		t.Errorf("task %s: %s", id, st)
	}
	if list := s.ok("backup-job", "list").stdout; !strings.Contains(list, "nightly") || !strings.Contains(list, " ok ") {
		t.Errorf("backup-job list:\n%s", list)
	}
	// The result mail comes once the job's state is written.
	waitLog(t, mailLog, "nightly on "+host+": ok")
	mail = waitLog(t, mailLog, "TASK OK\r\n=== END")
	for _, want := range []string{"Subject: tapefs backup job nightly on " + host + ": ok", "Task:        " + id, "Task log (last", "TASK OK"} {
		if !strings.Contains(mail, want) {
			t.Errorf("result mail lacks %q:\n%s", want, mail)
		}
	}
	if hook := waitLog(t, hookLog, "TAPEFS_EVENT=job"); !strings.Contains(hook, "TAPEFS_EVENT=job") || !strings.Contains(hook, "TAPEFS_STATE=ok") {
		t.Errorf("hook of the job's end:\n%s", hook)
	}

	// The tape leaves again; the catalog still has it online: a job
	// asks for that very tape, and gives up after its media timeout.
	s.ok("vtape", "remove", lib, "--slot", "1")
	s.ok("backup-job", "create", "quick", "--source", src, "--group", "quick", "--pool", "daily", "--media-timeout", "1s", "--notify-mode", "never")
	r := s.run(nil, "tapefs", "backup-job", "run", "quick")
	if r.code == 0 || !strings.Contains(r.stderr, "no tape came within 1s") || !strings.Contains(r.stderr, "insert tape TEST01L8 into changer sl3") {
		t.Errorf("job with a media timeout: exit %d\n%s", r.code, r.stderr)
	}

	// task stop ends a job that waits.
	s.ok("backup-job", "create", "patient", "--source", src, "--group", "patient", "--pool", "daily", "--notify-mode", "error")
	id = s.runBackground("patient")
	if msg := s.waitTaskState(id, "waiting for media"); msg != "insert tape TEST01L8 into changer sl3" {
		t.Errorf("media request %q", msg)
	}
	s.ok("task", "stop", id)
	s.waitTaskState(id, "stopped")
	if r := s.run(nil, "tapefs", "task", "stop", id); r.code != 6 {
		t.Errorf("task stop of an ended task: exit %d %s", r.code, r.stderr)
	}

	// kill -9 while a job waits: after the restart its task is aborted.
	id = s.runBackground("patient")
	s.waitTaskState(id, "waiting for media")
	s.killDaemon(mnt)
	mnt = s.mount()
	if st, msg := s.taskStatus(id); st != "aborted" || !strings.Contains(msg, "ended before the task did") {
		t.Errorf("task of the killed daemon: %s: %s", st, msg)
	}
	if show := s.ok("backup-job", "show", "patient").stdout; !strings.Contains(show, "aborted") {
		t.Errorf("backup-job show after kill -9:\n%s", show)
	}
	if log := s.ok("task", "log", id).stdout; !strings.Contains(log, "TASK ABORTED") {
		t.Errorf("log of the aborted task:\n%s", log)
	}
	if ls, err := os.ReadDir(filepath.Join(mnt, "jobs")); err != nil || len(ls) < 5 {
		t.Errorf("jobs/ after the restart: %v %v", ls, err)
	}

	// A drive that asks for cleaning: the hook hears of it once.
	s.ok("vtape", "fault", lib, "--drive", "0", "--cleaning-required")
	s.ok("status", "--drive", "mydrive")
	if hook := waitLog(t, hookLog, "TAPEFS_EVENT=cleaning"); !strings.Contains(hook, "TAPEFS_EVENT=cleaning") || !strings.Contains(hook, "TAPEFS_DRIVE=mydrive") {
		t.Errorf("no cleaning event:\n%s", hook)
	}
}

// TestDaemonWithoutMount runs `tapefs daemon`: commands are forwarded to
// it (the catalog is its), and SIGTERM stops it.
func TestDaemonWithoutMount(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	d := s.command(nil, "tapefs", "daemon")
	var log bytes.Buffer
	d.Stdout, d.Stderr = &log, &log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = d.Wait(); close(done) }()
	t.Cleanup(func() {
		d.Process.Signal(syscall.SIGTERM)
		<-done
	})
	sock := filepath.Join(s.root, "state", "api.sock")
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.ok("barcode-label", "--pool", "daily")
	list := s.ok("task", "list").stdout
	if !strings.Contains(list, "barcode-label --pool daily") || !strings.Contains(list, "ok") {
		t.Errorf("task list:\n%s", list)
	}
	// The daemon holds the catalog: a command that ran in this process
	// instead would fail on its lock.
	if pid := d.Process.Pid; !strings.Contains(s.ok("task", "status", "1").stdout, strconv.Itoa(pid)) {
		t.Errorf("task 1 did not run in the daemon (pid %d)", pid)
	}
	d.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("daemon exit: %v\n%s", waitErr, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not stop on SIGTERM:\n%s", log.String())
	}
}
