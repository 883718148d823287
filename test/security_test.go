package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The security tests act as a local unprivileged user (nobody, uid and
// gid 65534) against a daemon and CLI run by root, as the README and
// docs/fuse.md set them up.

// asUserEnv makes the test binary run asUserMain instead of the tests.
const asUserEnv = "TAPEFS_TEST_AS_USER"

const nobody = 65534

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// asNobody is a command that runs the test binary as nobody, in
// asUserMain with args. The binary is copied where nobody can run it
// (go test's work directory is private).
func asNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	attr := nobodyAttr(t) // sets helperPath
	cmd := exec.Command(helperPath, args...)
	cmd.Env = []string{asUserEnv + "=1", "PATH=" + os.Getenv("PATH")}
	cmd.Dir = "/"
	cmd.SysProcAttr = attr
	return cmd
}

// nobodyAttr runs a process as nobody, without supplementary groups; the
// built binaries and the test binary (as-user) are made runnable by it.
func nobodyAttr(t *testing.T) *syscall.SysProcAttr {
	t.Helper()
	helperOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			helperErr = err
			return
		}
		helperPath = filepath.Join(binDir, "as-user")
		if helperErr = os.Chmod(binDir, 0o755); helperErr != nil {
			return
		}
		helperErr = copyFile(self, helperPath, 0o755)
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// asUserMain is what the test binary does as another user:
//
//	connect SOCKET   connect to SOCKET (and, when that works, ask it to
//	                 run `pool list`) until stdin is closed, then print
//	                 "tries N connected N ran N"
//	probe r:PATH w:PATH ...
//	                 open each PATH for reading (then read, list or flock
//	                 it) or writing, and print "PATH\tresult" per PATH:
//	                 "denied" when the open fails with EACCES or EPERM
func asUserMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "as-user: no mode")
		return 2
	}
	switch args[0] {
	case "connect":
		return connectLoop(args[1])
	case "probe":
		for _, a := range args[1:] {
			how, p, _ := strings.Cut(a, ":")
			fmt.Printf("%s\t%s\n", p, probe(how, p))
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "as-user: unknown mode", args[0])
	return 2
}

func connectLoop(path string) int {
	var stop atomic.Bool
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	var tries, connected, ran int
	for !stop.Load() {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tries++
		if unix.Connect(fd, &unix.SockaddrUnix{Name: path}) == nil {
			connected++
			f := os.NewFile(uintptr(fd), "api")
			f.SetDeadline(time.Now().Add(5 * time.Second))
			f.Write([]byte(`{"args":["pool","list"]}` + "\n"))
			b, _ := io.ReadAll(f)
			// An exit frame with code 0: the command ran.
			if strings.Contains(string(b), `{"code":0`) {
				ran++
			}
			f.Close()
			continue
		}
		unix.Close(fd)
	}
	fmt.Printf("tries %d connected %d ran %d\n", tries, connected, ran)
	return 0
}

func probe(how, p string) string {
	flag := os.O_RDONLY
	if how == "w" {
		flag = os.O_WRONLY
	}
	f, err := os.OpenFile(p, flag, 0)
	if errors.Is(err, fs.ErrPermission) {
		return "denied"
	}
	if err != nil {
		return "open: " + err.Error()
	}
	defer f.Close()
	if how == "w" {
		return "writable"
	}
	var did []string
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		if _, err := f.ReadDir(1); err == nil {
			did = append(did, "listed")
		}
	} else if _, err := f.Read(make([]byte, 1)); err == nil || err == io.EOF {
		did = append(did, "read")
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		did = append(did, "locked")
	}
	return "opened " + strings.Join(did, ",")
}

// probeAsNobody runs probe as nobody and returns the result per path.
func probeAsNobody(t *testing.T, items ...string) map[string]string {
	t.Helper()
	out, err := asNobody(t, append([]string{"probe"}, items...)...).Output()
	if err != nil {
		t.Fatalf("probe as nobody: %v", err)
	}
	res := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		p, r, _ := strings.Cut(sc.Text(), "\t")
		res[p] = r
	}
	return res
}

// wantDenied fails for every probed path nobody could open.
func wantDenied(t *testing.T, items ...string) {
	t.Helper()
	for p, r := range probeAsNobody(t, items...) {
		if r != "denied" {
			t.Errorf("nobody: %s: %s, want denied", p, r)
		}
	}
}

// TestSocketUnreachableDuringRestarts: while the daemon starts and stops
// over and over, with its state directory made 0755 before each start (as
// an older `vtape create` left it), a user looping connect() on the API
// socket never gets a connection. Bounded in time: it stops early (and
// says after how many restarts) when the machine is slow.
func TestSocketUnreachableDuringRestarts(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	state := filepath.Join(s.root, "state")
	mnt := filepath.Join(s.root, "mnt")
	for _, d := range []string{state, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	attacker := asNobody(t, "connect", filepath.Join(state, "api.sock"))
	stdin, err := attacker.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	attacker.Stdout = &out
	if err := attacker.Start(); err != nil {
		t.Fatal(err)
	}
	restarts, budget := 200, 3*time.Minute
	if testing.Short() {
		restarts, budget = 20, 30*time.Second
	}
	deadline := time.Now().Add(budget)
	done := 0
	for ; done < restarts && time.Now().Before(deadline); done++ {
		if err := os.Chmod(state, 0o755); err != nil {
			t.Fatal(err)
		}
		s.ok("mount", mnt)
		if done == 0 {
			// Nor does the CLI run as nobody reach the daemon.
			cmd := s.command(nil, "tapefs", "media", "list")
			cmd.SysProcAttr = nobodyAttr(t)
			if r := s.runCmd(cmd); r.code == 0 {
				t.Errorf("tapefs media list as nobody succeeded while the daemon ran:\n%s", r.stdout)
			}
		}
		s.unmount(mnt)
	}
	stdin.Close()
	if err := attacker.Wait(); err != nil {
		t.Fatal(err)
	}
	var tries, connected, ran int
	if _, err := fmt.Sscanf(out.String(), "tries %d connected %d ran %d", &tries, &connected, &ran); err != nil {
		t.Fatalf("attacker said %q: %v", out.String(), err)
	}
	t.Logf("%d daemon starts, %d connect attempts by nobody", done, tries)
	if connected != 0 || ran != 0 {
		t.Errorf("nobody connected %d times (ran %d commands) in %d tries over %d daemon starts", connected, ran, tries, done)
	}
	if tries == 0 || done == 0 {
		t.Errorf("nothing was tried: %d starts, %d connects", done, tries)
	}
}

// checkModes walks dir and reports every entry whose permission bits are
// not want(path, mode) says.
func checkModes(t *testing.T, dir string, want func(p string, d fs.DirEntry) os.FileMode) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if w := want(p, d); fi.Mode().Perm() != w {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func privateModes(_ string, d fs.DirEntry) os.FileMode {
	if d.IsDir() {
		return 0o700
	}
	return 0o600
}

// TestFileModes: under umask 000 and 022, everything `vtape create`, `key
// create`, the other CLI commands (with and without a daemon) and the
// daemon create is private to root: state directory and virtual library
// 0700/0600, configuration directory 0755 with 0644 configuration files
// and 0600 keys and locks. Nobody cannot read the cartridges (they hold
// unencrypted backups), take the library's locks or reach the state.
func TestFileModes(t *testing.T) {
	needFUSE(t)
	for _, umask := range []string{"000", "022"} {
		t.Run("umask"+umask, func(t *testing.T) {
			s := newSandbox(t)
			s.umask = umask
			lib := setupLibrary(s)
			s.okIn("secret\nsecret\n", "key", "create", "--hint", "h")
			src := filepath.Join(s.root, "src")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			secret := "only-root-may-read-this-" + umask
			if err := os.WriteFile(filepath.Join(src, "secret"), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			s.ok("barcode-label", "--pool", "daily")
			s.backup(src, "daily") // without a daemon: the CLI's catalog
			mnt := s.mount()
			s.backup(src, "daily") // forwarded: the daemon's files
			state := filepath.Join(s.root, "state")
			etc := filepath.Join(s.root, "etc")

			checkModes(t, state, privateModes)
			checkModes(t, lib, privateModes)
			checkModes(t, etc, func(p string, d fs.DirEntry) os.FileMode {
				switch {
				case d.IsDir():
					return 0o755
				case strings.HasSuffix(p, ".cfg"):
					return 0o644
				}
				return 0o600
			})
			if fi, err := os.Stat(filepath.Join(state, "api.sock")); err != nil || fi.Mode()&fs.ModeSocket == 0 {
				t.Errorf("api.sock: %v %v", fi, err)
			}

			// A cartridge holds the secret in clear (the pool is not
			// encrypted), so only its mode protects it.
			cart := filepath.Join(lib, "cartridges", "TEST01L8")
			if b, err := os.ReadFile(filepath.Join(cart, "data")); err != nil || !strings.Contains(string(b), secret) {
				t.Fatalf("the backup is not in clear on TEST01L8 (%v): the test proves nothing", err)
			}
			items := []string{"r:" + state, "r:" + filepath.Join(state, "api.sock"), "r:" + filepath.Join(state, "daemon.lock")}
			// Even with the directories open, the files hold.
			for _, d := range []string{lib, filepath.Join(lib, "cartridges"), cart, filepath.Join(lib, "drive0")} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"data", "index", "meta.json"} {
				items = append(items, "r:"+filepath.Join(cart, f))
			}
			for _, f := range []string{"library.json", "library.lock", "changer.lock", "drive0/lock", "drive0/state"} {
				items = append(items, "r:"+filepath.Join(lib, f))
			}
			items = append(items, "r:"+filepath.Join(etc, "tape-encryption-keys.json"))
			wantDenied(t, items...)
			s.unmount(mnt)
		})
	}
}

// TestAllowOtherPrivacy: on an allow_other mount, nobody browses the
// snapshots as their modes allow, and cannot read or write control files,
// read the daemon's status or list or read jobs.
func TestAllowOtherPrivacy(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	src := filepath.Join(s.root, "src")
	if err := os.MkdirAll(filepath.Join(src, "closed"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"public": 0o644, "secret": 0o600, "closed/inner": 0o644} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "closed"), 0o700); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(s.root, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	s.ok("mount", mnt, "-o", "allow_other")
	t.Cleanup(func() { s.unmount(mnt) })
	s.ok("barcode-label", "--pool", "daily")
	s.backup(src, "daily")

	var snap string
	filepath.WalkDir(filepath.Join(mnt, "pools/daily/snapshots"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "public" {
			snap = filepath.Dir(p)
		}
		return err
	})
	if snap == "" {
		t.Fatal("no snapshot holds public")
	}
	jobs, err := os.ReadDir(filepath.Join(mnt, "jobs"))
	if err != nil || len(jobs) == 0 {
		t.Fatalf("jobs/: %v %v", jobs, err)
	}
	job := filepath.Join(mnt, "jobs", jobs[0].Name())
	got := probeAsNobody(t, "r:"+filepath.Join(snap, "public"), "r:"+filepath.Join(snap, "secret"), "r:"+filepath.Join(snap, "closed"),
		"r:"+filepath.Join(mnt, "drives/mydrive/status"),
		"r:"+filepath.Join(mnt, "status"), "r:"+filepath.Join(mnt, "status.json"),
		"r:"+filepath.Join(mnt, "jobs"), "r:"+filepath.Join(job, "log"),
		"r:"+filepath.Join(mnt, "drives/mydrive/load"), "w:"+filepath.Join(mnt, "drives/mydrive/load"),
		"r:"+filepath.Join(mnt, "pools/daily/commit"), "w:"+filepath.Join(mnt, "pools/daily/commit"),
		"r:"+filepath.Join(mnt, "changers/sl3/inventory"))
	for p, r := range got {
		want := "denied"
		switch p {
		case filepath.Join(snap, "public"), filepath.Join(mnt, "drives/mydrive/status"):
			want = "opened read"
		}
		if !strings.HasPrefix(r, want) {
			t.Errorf("nobody: %s: %s, want %s", strings.TrimPrefix(p, mnt), r, want)
		}
	}
}

// TestPeerCredentials: should the socket's file be opened up (by hand,
// or a state directory shared by mistake), the daemon still refuses other
// users by their peer credentials: nobody's forwarded command is answered
// "permission denied" with exit code 6 and runs nothing.
func TestPeerCredentials(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := s.mount()
	state := filepath.Join(s.root, "state")
	sock := filepath.Join(state, "api.sock")
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := s.command(nil, "tapefs", "pool", "create", "evil", "--drive", "mydrive")
	cmd.SysProcAttr = nobodyAttr(t)
	r := s.runCmd(cmd)
	if r.code != 6 || !strings.Contains(r.stderr, "permission denied: uid 65534") {
		t.Errorf("forwarded as nobody: exit %d, stderr %q; want 6 and permission denied", r.code, r.stderr)
	}
	if out := s.ok("pool", "list").stdout; strings.Contains(out, "evil") {
		t.Errorf("nobody created a pool:\n%s", out)
	}
	if !isMounted(t, mnt) {
		t.Error("the daemon went away")
	}
}

// TestIncomingKeepsClientModes: the daemon's own umask (077) does not
// touch what clients create in incoming/: a client under umask 0 gets
// exactly the modes it asks for, one under 022 its umask's.
func TestIncomingKeepsClientModes(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	for _, tc := range []struct{ umask, dir, file string }{{"0", "0777", "0666"}, {"022", "0755", "0644"}} {
		g := filepath.Join(in, "u"+tc.umask)
		script := fmt.Sprintf(`umask %s && mkdir %s && mkdir %s/d && : > %s/f && stat -c %%a %s/d %s/f`, tc.umask, g, g, g, g, g)
		out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
		want := strings.TrimPrefix(tc.dir, "0") + "\n" + strings.TrimPrefix(tc.file, "0") + "\n"
		if string(out) != want {
			t.Errorf("under umask %s: modes %q, want %q", tc.umask, out, want)
		}
	}
}

// TestAdminGroup: with admin-group=GROUP, a member of GROUP (nobody, by
// its primary group) runs commands through the daemon and reads the
// private files of an allow_other mount; the state directory is 0710 and
// the socket 0660, both of that group.
func TestAdminGroup(t *testing.T) {
	needFUSE(t)
	s := newSandbox(t)
	setupLibrary(s)
	mnt := filepath.Join(s.root, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	s.ok("mount", mnt, "-o", fmt.Sprintf("allow_other,admin-group=%d", nobody))
	t.Cleanup(func() { s.unmount(mnt) })
	state := filepath.Join(s.root, "state")
	for p, want := range map[string]os.FileMode{state: fs.ModeDir | 0o710, filepath.Join(state, "api.sock"): fs.ModeSocket | 0o660} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want || fi.Sys().(*syscall.Stat_t).Gid != nobody {
			t.Errorf("%s: %v gid %d, want %v gid %d", p, fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid, want, nobody)
		}
	}
	cmd := s.command(nil, "tapefs", "pool", "list")
	cmd.SysProcAttr = nobodyAttr(t)
	if r := s.runCmd(cmd); r.code != 0 || !strings.Contains(r.stdout, "daily") {
		t.Errorf("pool list as a member of the admin group: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := probeAsNobody(t, "r:"+filepath.Join(mnt, "status"), "r:"+filepath.Join(mnt, "jobs"), "w:"+filepath.Join(mnt, "drives/mydrive/load"))
	for p, r := range got {
		if r == "denied" || strings.HasPrefix(r, "open:") {
			t.Errorf("admin group member: %s: %s", strings.TrimPrefix(p, mnt), r)
		}
	}
}
