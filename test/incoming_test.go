package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// shell runs a client program and fails the test if it fails.
func shell(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// snapshots returns the snapshots in the catalog by name prefix "group/",
// with their media set.
func (s *sandbox) snapshots() map[string]string {
	s.t.Helper()
	var rows []struct {
		Snapshot string `json:"snapshot"`
		Set      string `json:"media-set-uuid"`
	}
	r := s.ok("media", "content", "--output-format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		s.t.Fatalf("media content: %v: %s", err, r.stdout)
	}
	out := map[string]string{}
	for _, row := range rows {
		out[row.Snapshot] = row.Set
	}
	return out
}

// restoreGroup restores the one snapshot of group and returns its path.
func (s *sandbox) restoreGroup(group string) string {
	s.t.Helper()
	var name, set string
	for snap, st := range s.snapshots() {
		if strings.HasPrefix(snap, group+"/") {
			if name != "" {
				s.t.Fatalf("more than one snapshot of %s", group)
			}
			name, set = snap, st
		}
	}
	if name == "" {
		s.t.Fatalf("no snapshot of group %s", group)
	}
	target := filepath.Join(s.root, "restore-"+group)
	s.ok("restore", set, target, name)
	return filepath.Join(target, filepath.FromSlash(name))
}

func listNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestIncomingClients copies a tree with every file type into incoming/
// with cp -a, rsync -a (plain, --inplace, --delete over other content) and
// tar -x, checks the staged trees, commits through the control file,
// restores each snapshot and compares it with the source, attribute for
// attribute.
func TestIncomingClients(t *testing.T) {
	needTool(t, "rsync", "rsync")
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 1)
	other := filepath.Join(s.root, "src", "other")
	makeTree(t, other, 2)
	if err := os.WriteFile(filepath.Join(other, "only-in-other"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Same sizes and times as src would pass rsync's quick check.
	shell(t, "find", other, "-exec", "touch", "-h", "{}", "+")
	want := describeTree(t, src)

	shell(t, "cp", "-a", src, in+"/")
	shell(t, "rsync", "-aHX", other+"/", in+"/db/")
	shell(t, "rsync", "-aHX", "--delete", src+"/", in+"/db/")
	shell(t, "rsync", "-aHX", "--inplace", other+"/", in+"/inplace/")
	shell(t, "rsync", "-aHX", "--inplace", "--delete", src+"/", in+"/inplace/")
	tarball := filepath.Join(s.root, "src.tar")
	shell(t, "tar", "--xattrs", "--xattrs-include=*", "-cf", tarball, "-C", src, ".")
	if err := os.Mkdir(filepath.Join(in, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	shell(t, "tar", "--xattrs", "--xattrs-include=*", "-xpf", tarball, "-C", filepath.Join(in, "home"))
	// tar sets the mode and mtime of its root "." from the archive. GNU
	// tar archives hard links of regular files only: "home" must look as
	// the same extraction on the local filesystem does.
	local := filepath.Join(s.root, "tar-local")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	shell(t, "tar", "--xattrs", "--xattrs-include=*", "-xpf", tarball, "-C", local)
	wants := map[string]string{"home": describeTree(t, local)}
	groups := []string{"db", "home", "inplace", "www"}
	for _, g := range groups {
		if wants[g] == "" {
			wants[g] = want
		}
		diffTrees(t, wants[g], describeTree(t, filepath.Join(in, g)))
	}

	if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), ""); e != 0 {
		t.Fatalf("commit: %v\n%s", e, readFile(t, filepath.Join(mnt, "pools/daily/commit")))
	}
	if text := readFile(t, filepath.Join(mnt, "pools/daily/commit")); !strings.Contains(text, "result: ok") || !strings.Contains(text, "www/") {
		t.Errorf("commit file after the commit:\n%s", text)
	}
	if left := listNames(t, in); len(left) != 0 {
		t.Errorf("incoming/ after the commit: %v", left)
	}
	for _, g := range groups {
		diffTrees(t, wants[g], describeTree(t, s.restoreGroup(g)))
	}
	if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), ""); e != syscall.EINVAL {
		t.Errorf("commit of an empty incoming/: errno %v, want EINVAL", e)
	}
	if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), "nosuchgroup"); e != syscall.ENOENT {
		t.Errorf("commit of a missing group: errno %v, want ENOENT", e)
	}
}

// TestIncomingNames checks names and operations incoming/ refuses, and a
// 4,000-byte path that commits and restores.
func TestIncomingNames(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	errnoOf := func(err error) syscall.Errno {
		var en syscall.Errno
		if errors.As(err, &en) {
			return en
		}
		return 0
	}
	checks := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"file at the top", os.WriteFile(filepath.Join(in, "loose"), nil, 0o644), syscall.EINVAL},
		{"bad group name", os.Mkdir(filepath.Join(in, ".hidden"), 0o755), syscall.EINVAL},
		{"rename into a browse tree", func() error {
			os.Mkdir(filepath.Join(in, "g"), 0o755)
			os.WriteFile(filepath.Join(in, "g/f"), []byte("x"), 0o644)
			return os.Rename(filepath.Join(in, "g/f"), filepath.Join(mnt, "pools/daily/f"))
		}(), syscall.EROFS},
		{"link from a browse tree", os.Link(filepath.Join(mnt, "status"), filepath.Join(in, "g/st")), syscall.EXDEV},
		{"rename from a browse tree", os.Rename(filepath.Join(mnt, "pools/daily/status"), filepath.Join(in, "g/st")), syscall.EROFS},
	}
	for _, c := range checks {
		if got := errnoOf(c.err); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}

	// A 4,000-byte path below the group, made relative to a directory
	// fd (the whole path is longer than PATH_MAX with the mount point).
	dir := filepath.Join(in, "long")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	comp := strings.Repeat("d", 199)
	var rel []string
	for i := 0; i < 19; i++ { // 19 × 200 = 3,800 bytes
		rel = append(rel, comp)
		p := strings.Join(rel, "/")
		if err := syscall.Mkdirat(fd, p, 0o755); err != nil {
			t.Fatalf("mkdir %d bytes: %v", len(p), err)
		}
	}
	name := strings.Join(rel, "/") + "/" + strings.Repeat("f", 199)
	if len(name) != 3999 {
		t.Fatalf("path is %d bytes", len(name))
	}
	ffd, err := syscall.Openat(fd, name, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("create a %d-byte path: %v", len(name), err)
	}
	syscall.Write(ffd, []byte("deep"))
	syscall.Close(ffd)
	syscall.Close(fd)
	if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), "long"); e != 0 {
		t.Fatalf("commit: %v\n%s", e, readFile(t, filepath.Join(mnt, "pools/daily/commit")))
	}
	got := s.restoreGroup("long")
	rfd, err := syscall.Open(got, syscall.O_DIRECTORY|syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rfd)
	f, err := syscall.Openat(rfd, name, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("restored deep file: %v", err)
	}
	buf := make([]byte, 16)
	n, _ := syscall.Read(f, buf)
	syscall.Close(f)
	if string(buf[:n]) != "deep" {
		t.Errorf("restored deep file holds %q", buf[:n])
	}
}

// TestIncomingParallel writes into one pool's incoming/ from several
// goroutines while another pool (on its own drive) commits.
func TestIncomingParallel(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	s.ok("drive", "create", "drive2", "--path", filepath.Join(lib, "drive1"))
	s.ok("drive", "update", "drive2", "--changer", "sl3", "--changer-drivenum", "1")
	s.ok("pool", "create", "weekly", "--drive", "drive2")
	s.ok("barcode-label", "--drive", "mydrive") // unassigned: any pool may take them
	mnt := s.mount()
	weekly := filepath.Join(mnt, "pools/weekly/incoming")
	daily := filepath.Join(mnt, "pools/daily/incoming")
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 3)
	shell(t, "cp", "-a", src, weekly+"/")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(daily, fmt.Sprintf("w%d", w))
			if err := os.Mkdir(dir, 0o755); err != nil {
				errs <- err
				return
			}
			for i := 0; i < 200; i++ {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), []byte(fmt.Sprintf("%d/%d\n", w, i)), 0o644); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	commitErr := make(chan syscall.Errno, 1)
	go func() { commitErr <- writeCtl(t, filepath.Join(mnt, "pools/weekly/commit"), "") }()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e := <-commitErr; e != 0 {
		t.Fatalf("commit of weekly: %v\n%s", e, readFile(t, filepath.Join(mnt, "pools/weekly/commit")))
	}
	for w := 0; w < 4; w++ {
		if n := len(listNames(t, filepath.Join(daily, fmt.Sprintf("w%d", w)))); n != 200 {
			t.Errorf("w%d holds %d files, want 200", w, n)
		}
	}
	diffTrees(t, describeTree(t, src), describeTree(t, s.restoreGroup("www")))
}

// killDaemon kills the daemon with SIGKILL and detaches its dead mount.
func (s *sandbox) killDaemon(mnt string) {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.root, "state", "daemon.lock"))
	if err != nil {
		s.t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(b), "pid %d", &pid); err != nil {
		s.t.Fatalf("daemon.lock %q: %v", b, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	s.waitDaemonGone()
	syscall.Unmount(mnt, syscall.MNT_DETACH)
}

// TestIncomingKill kills the daemon during copy-in and during a commit:
// after a restart every file whose close returned is in incoming/ or in a
// committed snapshot, the file still open is gone, and a commit that
// returned restores.
func TestIncomingKill(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	mnt := s.mount()
	in := filepath.Join(mnt, "pools/daily/incoming")
	if err := os.MkdirAll(filepath.Join(in, "g"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := os.WriteFile(filepath.Join(in, "g", fmt.Sprintf("f%03d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open, err := os.Create(filepath.Join(in, "g", "half-written"))
	if err != nil {
		t.Fatal(err)
	}
	open.Write([]byte("not closed"))
	s.killDaemon(mnt)
	open.Close()
	s.ok("mount", mnt)
	names := listNames(t, filepath.Join(in, "g"))
	if len(names) != 100 || names[0] != "f000" || names[99] != "f099" {
		t.Fatalf("after kill -9 during copy-in incoming/g holds %d files: %v", len(names), names)
	}
	for i := 0; i < 100; i += 33 {
		if got := readFile(t, filepath.Join(in, "g", fmt.Sprintf("f%03d", i))); got != fmt.Sprint(i) {
			t.Errorf("f%03d = %q", i, got)
		}
	}

	// Kill during a commit of a large group: whatever happened, the files
	// are in incoming/ or in a restorable snapshot.
	src := filepath.Join(s.root, "src", "www")
	makeTree(t, src, 4)
	shell(t, "cp", "-a", src, in+"/")
	done := make(chan syscall.Errno, 1)
	go func() {
		f, err := os.OpenFile(filepath.Join(mnt, "pools/daily/commit"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			done <- syscall.EIO
			return
		}
		_, err = f.Write([]byte("www\n"))
		f.Close()
		var en syscall.Errno
		errors.As(err, &en)
		done <- en
	}()
	// Wait until the commit job runs, then kill.
	for i := 0; i < 500; i++ {
		if es, _ := os.ReadDir(filepath.Join(mnt, "jobs")); len(es) > 0 {
			break
		}
		syscall.Nanosleep(&syscall.Timespec{Nsec: 10e6}, nil)
	}
	s.killDaemon(mnt)
	committed := <-done == 0
	s.ok("mount", mnt)
	_, staged := os.Stat(filepath.Join(in, "www"))
	snap := false
	for name := range s.snapshots() {
		snap = snap || strings.HasPrefix(name, "www/")
	}
	switch {
	case committed && !snap:
		t.Fatalf("the commit returned but no snapshot is in the catalog")
	case !snap && staged != nil:
		t.Fatalf("www is neither in incoming/ nor in a snapshot")
	case staged == nil && !snap:
		diffTrees(t, describeTree(t, src), describeTree(t, filepath.Join(in, "www")))
		if e := writeCtl(t, filepath.Join(mnt, "pools/daily/commit"), "www"); e != 0 {
			t.Fatalf("commit after restart: %v\n%s", e, readFile(t, filepath.Join(mnt, "pools/daily/commit")))
		}
	}
	diffTrees(t, describeTree(t, src), describeTree(t, s.restoreGroup("www")))
}
