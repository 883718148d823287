package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"tapefs/engine/chunker"
)

// TestPowerLoss cuts the power (powerFS under the config directory, the
// state directory and the virtual library) right after and at random
// points during each operation that writes state: backup, commit through
// the mount (with and without -o staging-sync), restore, label and export.
// After each cut every command works on the first try, every snapshot
// whose command returned restores byte for byte, a label or export that
// returned is still done, and a catalog rebuilt from the tapes equals the
// live one.
//
// TAPEFS_POWERLOSS_ROUNDS (default 1) repeats the operations for a soak;
// TAPEFS_POWERLOSS_SEED replays the random cut points of a run.
func TestPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("power-loss rounds take a minute")
	}
	rounds := 1
	if v := os.Getenv("TAPEFS_POWERLOSS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TAPEFS_POWERLOSS_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("TAPEFS_POWERLOSS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("TAPEFS_POWERLOSS_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("TAPEFS_POWERLOSS_SEED=%d", seed)

	r := newPowerRig(t, seed, rounds)
	r.setUp()
	r.cutAndCheck("after set-up")
	ops := []struct {
		name string
		run  func(cut bool)
	}{
		{"backup", r.backupOp},
		{"commit", func(cut bool) { r.commitOp(false, cut) }},
		{"commit -o staging-sync", func(cut bool) { r.commitOp(true, cut) }},
		{"restore", r.restoreOp},
		{"label", r.labelOp},
		{"export", r.exportOp},
	}
	for round := range rounds {
		for _, op := range ops {
			for _, during := range []bool{false, true} {
				when := "right after"
				if during {
					when = "during"
				}
				op.run(during)
				r.cutAndCheck(fmt.Sprintf("round %d: %s %s", round+1, when, op.name))
				if t.Failed() {
					t.FailNow()
				}
			}
		}
	}
	t.Logf("%d power cuts; %d of them interrupted a command; %d snapshots returned", r.cuts, r.interrupted, len(r.snaps))
}

// powerRig is one machine whose power can fail: config directory, state
// directory and virtual library on a powerFS; sources, restore targets
// and the tapefs mount point outside it.
type powerRig struct {
	t   *testing.T
	s   *sandbox
	pm  *powerMount
	rng *rand.Rand

	pl, lib, mnt string
	rounds       int
	n            int // names sources, groups, targets

	snaps  map[string]map[string]string // group → content of a snapshot whose command returned
	labels []string                     // labels written by a command that returned
	// relabel is the tape of a cut barcode-label: the operator runs it
	// again (the tape may carry its label, the inventory not yet).
	relabel string
	exports []string // tapes exported by a command that returned
	// commit is the last commit through the mount, checked after the cut.
	commit *commitRun

	daemon       *exec.Cmd
	daemonExited chan struct{}
	took         map[string]time.Duration // how long each kind of command ran uncut
	cuts         int
	// interrupted counts cuts that stopped a running command.
	interrupted int
	// cutGroup is the group of a backup or commit that the last cut
	// stopped, cutChunks the chunk digests of its source.
	cutGroup  string
	cutChunks map[string]bool
}

func newPowerRig(t *testing.T, seed uint64, rounds int) *powerRig {
	s := newSandbox(t)
	backing := filepath.Join(s.root, "disk")
	pl := filepath.Join(s.root, "pl")
	for _, d := range []string{backing, pl, filepath.Join(s.root, "src")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &powerRig{t: t, s: s, rounds: rounds, rng: rand.New(rand.NewPCG(seed, 19)), pl: pl,
		lib: filepath.Join(pl, "vlib"), mnt: filepath.Join(s.root, "mnt"),
		snaps: map[string]map[string]string{}, took: map[string]time.Duration{}}
	r.pm = mountPower(t, backing, pl)
	for i, e := range s.env {
		switch {
		case strings.HasPrefix(e, "TAPEFS_CONFIG_DIR="):
			s.env[i] = "TAPEFS_CONFIG_DIR=" + filepath.Join(pl, "etc")
		case strings.HasPrefix(e, "TAPEFS_STATE_DIR="):
			s.env[i] = "TAPEFS_STATE_DIR=" + filepath.Join(pl, "state")
		}
	}
	t.Cleanup(r.stopDaemon)
	return r
}

func (r *powerRig) setUp() {
	r.t.Helper()
	// Each round labels two tapes; an export may move every tape of the
	// pool's set.
	r.s.ok("vtape", "create", r.lib, "--slots", strconv.Itoa(8+4*r.rounds), "--drives", "1",
		"--import-export", strconv.Itoa(4+4*r.rounds),
		"--cartridges", "4", "--cleaning", "0", "--capacity", "64MiB")
	r.s.ok("changer", "create", "sl3", "--path", r.lib)
	r.s.ok("drive", "create", "mydrive", "--path", filepath.Join(r.lib, "drive0"), "--changer", "sl3")
	r.s.ok("pool", "create", "daily", "--drive", "mydrive")
	r.s.ok("barcode-label", "--pool", "daily")
}

// source writes a small tree of random files outside the powerFS and
// returns its directory and content.
func (r *powerRig) source() (group, dir string, content map[string]string) {
	r.n++
	group = fmt.Sprintf("g%02d", r.n)
	dir = filepath.Join(r.s.root, "src", group)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	for i := range 3 + r.rng.IntN(4) {
		name := fmt.Sprintf("f%d", i)
		if i%2 == 1 {
			name = "sub/" + name
		}
		b := make([]byte, r.rng.IntN(1536<<10))
		for j := range b {
			b[j] = byte(r.rng.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	return group, dir, treeContent(r.t, dir)
}

// treeContent maps every path below dir to "dir" or the SHA-256 of the
// file's content.
func treeContent(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// run runs tapefs; with cut, the power fails at a random point while it
// runs. It returns the result and whether the command returned.
func (r *powerRig) run(kind string, cut bool, args ...string) (result, bool) {
	r.t.Helper()
	cmd := r.s.command(nil, "tapefs", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	returned := true
	if cut {
		select {
		case err = <-done:
		case <-time.After(r.cutDelay(kind)):
			r.powerOff()
			cmd.Process.Kill()
			err = <-done
			returned = cmd.ProcessState.Exited()
			if !returned {
				r.interrupted++
			}
		}
	} else {
		err = <-done
		r.took[kind] = time.Since(start)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	res := result{out.String(), errb.String(), code}
	if returned && code != 0 {
		r.t.Fatalf("tapefs %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, res.stdout, res.stderr)
	}
	return res, returned
}

// cutDelay is a random point in the time the kind of command took uncut.
func (r *powerRig) cutDelay(kind string) time.Duration {
	d := r.took[kind]
	if d <= 0 {
		d = time.Second
	}
	return time.Duration(r.rng.Int64N(int64(d) + 1))
}

// powerOff stops the processes on the machine (the daemon; the caller
// stops its command), as a power failure does.
func (r *powerRig) powerOff() {
	if r.daemon != nil {
		r.daemon.Process.Kill()
	}
}

func (r *powerRig) backupOp(cut bool) {
	group, src, content := r.source()
	res, returned := r.run("backup", cut, "backup", src, "daily", "--group", group, "--output-format", "json")
	if returned {
		var b backupJSON
		if err := json.Unmarshal([]byte(res.stdout), &b); err != nil {
			r.t.Fatalf("backup output %q: %v", res.stdout, err)
		}
		r.snaps[group] = content
	} else {
		r.cutGroup, r.cutChunks = group, chunkDigests(r.t, src)
	}
}

// startDaemon runs `tapefs mount -o foreground` on r.mnt and waits until
// the tree is there.
func (r *powerRig) startDaemon(stagingSync bool) {
	r.t.Helper()
	if err := os.MkdirAll(r.mnt, 0o755); err != nil {
		r.t.Fatal(err)
	}
	opts := "foreground"
	if stagingSync {
		opts += ",staging-sync"
	}
	cmd := r.s.command(nil, "tapefs", "mount", r.mnt, "-o", opts)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.daemon, r.daemonExited = cmd, exited
	for range 500 {
		select {
		case <-exited:
			r.daemon = nil
			r.t.Fatalf("tapefs mount exited: %s", errb.String())
		default:
		}
		if _, err := os.Stat(filepath.Join(r.mnt, "pools/daily/commit")); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("tapefs mount did not come up: %s", errb.String())
}

// stopDaemon kills the daemon (if the power did not already) and removes
// its mount.
func (r *powerRig) stopDaemon() {
	if r.daemon == nil {
		return
	}
	r.daemon.Process.Kill()
	<-r.daemonExited
	r.daemon = nil
	if isMounted(r.t, r.mnt) {
		if err := syscall.Unmount(r.mnt, syscall.MNT_DETACH); err != nil {
			r.t.Errorf("unmount %s: %v", r.mnt, err)
		}
	}
}

// unmountDaemon unmounts cleanly and waits for the daemon to exit.
func (r *powerRig) unmountDaemon() {
	r.t.Helper()
	if out, err := exec.Command("fusermount3", "-u", r.mnt).CombinedOutput(); err != nil {
		r.t.Fatalf("fusermount3 -u: %v: %s", err, out)
	}
	select {
	case <-r.daemonExited:
		r.daemon = nil
	case <-time.After(30 * time.Second):
		r.t.Fatal("the daemon did not exit after unmount")
	}
}

// commitOp copies a source into incoming/ through the mount and commits
// it by writing its group to pools/daily/commit.
func (r *powerRig) commitOp(stagingSync, cut bool) {
	kind := "commit"
	if stagingSync {
		kind += " staging-sync"
	}
	r.startDaemon(stagingSync)
	group, src, content := r.source()
	closed := map[string]string{}
	returned := false
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		dst := filepath.Join(r.mnt, "pools/daily/incoming", group)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.Mkdir(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dst, rel), b, 0o644); err != nil {
				return err
			}
			closed[rel] = content[rel]
			return nil
		})
		if err != nil {
			return
		}
		f, err := os.OpenFile(filepath.Join(r.mnt, "pools/daily/commit"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return
		}
		_, err = f.Write([]byte(group + "\n"))
		f.Close()
		returned = err == nil
	}()
	if cut {
		select {
		case <-done:
		case <-time.After(r.cutDelay(kind)):
			r.powerOff()
			r.interrupted++
			r.stopDaemon()
			<-done
		}
	} else {
		<-done
		r.took[kind] = time.Since(start)
		if !returned {
			r.t.Fatalf("commit of %s through the mount failed", group)
		}
	}
	if returned {
		r.snaps[group] = content
	} else {
		r.cutGroup, r.cutChunks = group, chunkDigests(r.t, src)
	}
	r.commit = &commitRun{group: group, stagingSync: stagingSync, returned: returned, closed: closed}
}

// commitRun is a commit through the mount and what it left in incoming/.
type commitRun struct {
	group       string
	stagingSync bool
	returned    bool
	closed      map[string]string // regular files whose close returned, with content
}

// checkIncoming starts the daemon after a cut of c and checks incoming/: a
// group whose commit returned is gone; under -o staging-sync, a group whose
// commit was cut kept every file whose close returned, and its commit
// works; without, what is left of the group reads without errors (and is
// removed).
func (r *powerRig) checkIncoming(c *commitRun, fail func(string, ...any)) {
	r.t.Helper()
	r.startDaemon(c.stagingSync)
	defer r.unmountDaemon()
	dir := filepath.Join(r.mnt, "pools/daily/incoming", c.group)
	_, err := os.Stat(dir)
	switch {
	case c.returned:
		if err == nil {
			fail("incoming/%s, committed before the cut, is back: %v", c.group, treeContent(r.t, dir))
		}
	case c.stagingSync && err != nil:
		if len(c.closed) > 0 {
			fail("incoming/%s, with %d files closed before the cut under -o staging-sync, is gone: %v", c.group, len(c.closed), err)
		}
	case c.stagingSync:
		got := treeContent(r.t, dir)
		// Only written files are promised (fsync at close); a directory
		// with no file closed in it may be gone.
		for p, want := range c.closed {
			if got[p] != want {
				fail("incoming/%s/%s, closed before the cut under -o staging-sync: got %.12q, want %.12q", c.group, p, got[p], want)
			}
		}
		r.t.Logf("incoming/%s after the cut under -o staging-sync: %d files closed before the cut, %d there", c.group, len(c.closed), len(got))
		if errno := writeCtl(r.t, filepath.Join(r.mnt, "pools/daily/commit"), c.group); errno != 0 {
			fail("commit of %s after the cut: %v: %s", c.group, errno, readFile(r.t, filepath.Join(r.mnt, "pools/daily/commit")))
		} else {
			r.snaps[c.group] = got
		}
	case err != nil:
		r.t.Logf("incoming/%s after the cut, without -o staging-sync: gone (%d files were closed before the cut)", c.group, len(c.closed))
	default:
		r.t.Logf("incoming/%s after the cut, without -o staging-sync: %d entries of %d closed files", c.group, len(treeContent(r.t, dir)), len(c.closed))
		if err := os.RemoveAll(dir); err != nil {
			fail("remove incoming/%s: %v", c.group, err)
		}
	}
}

func (r *powerRig) restoreOp(cut bool) {
	r.n++
	target := filepath.Join(r.s.root, fmt.Sprintf("restore-%02d", r.n))
	r.run("restore", cut, "restore", r.anySet(), target)
	os.RemoveAll(target)
}

// anySet returns the media set of a snapshot.
func (r *powerRig) anySet() string {
	r.t.Helper()
	for _, c := range r.content() {
		return c.Set
	}
	r.t.Fatal("no snapshot to restore")
	return ""
}

func (r *powerRig) labelOp(cut bool) {
	r.n++
	label := fmt.Sprintf("PL%04dL8", r.n)
	r.s.ok("vtape", "insert", r.lib, label, "--slot", strconv.Itoa(r.freeSlot()))
	if _, returned := r.run("label", cut, "barcode-label", "--pool", "daily"); returned {
		r.labels = append(r.labels, label)
	} else {
		r.relabel = label
	}
}

// exportOp backs up (so the pool has an open media set) and exports the
// pool's media set. Exported tapes from earlier rounds go back into
// storage slots first, as an operator would, so the import/export slots
// have room.
func (r *powerRig) exportOp(cut bool) {
	r.returnExported()
	r.exports = nil
	r.backupOp(false)
	res, returned := r.run("export", cut, "export-media-set", "daily", "--output-format", "json")
	if returned {
		var out struct {
			Media []string `json:"media"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			r.t.Fatalf("export-media-set output %q: %v", res.stdout, err)
		}
		r.exports = out.Media
	}
}

// returnExported puts the tapes in import/export slots back into storage
// slots, as an operator brings exported tapes back (a tape in an
// import/export slot is offline: jobs do not take it from there).
func (r *powerRig) returnExported() {
	for _, e := range r.changerStatus() {
		if e.Kind == "import-export" && e.Label != "" {
			r.s.ok("vtape", "remove", r.lib, "--slot", strconv.Itoa(e.ID))
			r.s.ok("vtape", "insert", r.lib, e.Label, "--slot", strconv.Itoa(r.freeSlot()))
		}
	}
	r.s.ok("inventory")
}

type changerEntry struct {
	Kind  string `json:"entry-kind"`
	ID    int    `json:"entry-id"`
	Label string `json:"label-text"`
}

func (r *powerRig) changerStatus() []changerEntry {
	r.t.Helper()
	var es []changerEntry
	out := r.s.ok("changer", "status", "sl3", "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		r.t.Fatalf("changer status %q: %v", out, err)
	}
	return es
}

func (r *powerRig) freeSlot() int {
	r.t.Helper()
	for _, e := range r.changerStatus() {
		if e.Kind == "slot" && e.Label == "" {
			return e.ID
		}
	}
	r.t.Fatal("no free slot")
	return 0
}

type contentEntry struct {
	Snapshot string `json:"snapshot"`
	Set      string `json:"media-set-uuid"`
}

func (r *powerRig) content() []contentEntry {
	r.t.Helper()
	var cs []contentEntry
	out := r.s.ok("media", "content", "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		r.t.Fatalf("media content %q: %v", out, err)
	}
	return cs
}

// cutAndCheck fails the power (after the processes stopped), brings it
// back and checks that everything works at the first try.
func (r *powerRig) cutAndCheck(when string) {
	r.t.Helper()
	r.powerOff()
	r.stopDaemon()
	lost := r.pm.cut()
	r.cuts++
	r.t.Logf("%s: power cut; unsynced data lost in %d files: %s", when, len(lost), strings.Join(lost, " "))
	fail := func(format string, args ...any) {
		r.t.Helper()
		r.t.Errorf("%s: "+format, append([]any{when}, args...)...)
	}

	if r.relabel != "" {
		r.s.ok("barcode-label", "--pool", "daily")
		r.labels = append(r.labels, r.relabel)
		r.relabel = ""
	}

	// Every tape a returned label or export command handled is where it
	// put it.
	var media []struct {
		Label string `json:"label-text"`
	}
	out := r.s.ok("media", "list", "--output-format", "json").stdout
	if err := json.Unmarshal([]byte(out), &media); err != nil {
		r.t.Fatalf("%s: media list %q: %v", when, out, err)
	}
	for _, l := range r.labels {
		if !slices.ContainsFunc(media, func(m struct {
			Label string `json:"label-text"`
		}) bool {
			return m.Label == l
		}) {
			fail("tape %s, labelled by a command that returned, is not in the inventory", l)
		}
	}
	status := r.changerStatus()
	for _, l := range r.exports {
		if e := entryOf(status, l); e.Kind != "import-export" {
			fail("tape %s, exported by a command that returned, is not in an import/export slot: %+v", l, e)
		}
	}
	r.exports = nil
	r.returnExported() // the restores below load them

	if r.commit != nil {
		r.checkIncoming(r.commit, fail)
		r.commit = nil
	}

	// Every snapshot whose command returned restores byte for byte; every
	// media set restores without a failure.
	bySet := map[string][]string{}
	where := map[string]string{}
	for _, c := range r.content() {
		bySet[c.Set] = append(bySet[c.Set], c.Snapshot)
		group, _, _ := strings.Cut(c.Snapshot, "/")
		where[group] = c.Snapshot
	}
	for group := range r.snaps {
		if where[group] == "" {
			fail("snapshot of %s, whose command returned, is not in the catalog", group)
		}
	}
	for set := range bySet {
		target := filepath.Join(r.s.root, "check")
		r.s.ok("restore", set, target)
		for group, want := range r.snaps {
			snap := where[group]
			if snap == "" || !slices.Contains(bySet[set], snap) {
				continue
			}
			got := treeContent(r.t, filepath.Join(target, filepath.FromSlash(snap)))
			if !mapsEqual(got, want) {
				fail("snapshot %s restored %v, want %v", snap, got, want)
			}
		}
		os.RemoveAll(target)
	}

	// The catalog rebuilt from the tapes equals the live one. Both are
	// compared in copies outside the powerFS: Badger maps its files, and
	// a page fault of this process on a FUSE mount it serves itself can
	// stop the Go runtime for good.
	catDir := filepath.Join(r.pl, "state", "catalog")
	live, rebuilt := filepath.Join(r.s.root, "catalog-live"), filepath.Join(r.s.root, "catalog-rebuilt")
	copyDir(r.t, catDir, live)
	if err := os.RemoveAll(catDir); err != nil {
		r.t.Fatal(err)
	}
	r.s.ok("inventory", "--catalog")
	copyDir(r.t, catDir, rebuilt)
	if r.cutGroup != "" {
		// A backup or commit cut after it wrote a tape's catalog archive
		// and before the catalog synced what the archive lists: the
		// rebuild finds chunks of the cut source (dead space on tape),
		// and the snapshot if it was whole on tape. Nothing else may
		// differ.
		chunks := dropOnlyIn(r.t, rebuilt, live, func(k string) bool {
			return strings.HasPrefix(k, "v1/chunk/") && r.cutChunks[k[len(k)-32:]]
		})
		// With the snapshot record go the directory listings and blobs
		// that only its tree holds (content-addressed, named by hash).
		snap := dropOnlyIn(r.t, rebuilt, live, func(k string) bool { return strings.Contains(k, "/"+r.cutGroup+"/") })
		tree := 0
		if snap > 0 {
			tree = dropOnlyIn(r.t, rebuilt, live, func(k string) bool {
				return strings.HasPrefix(k, "v2/dir/") || strings.HasPrefix(k, "v2/blob/")
			})
		}
		if chunks+snap+tree > 0 {
			r.t.Logf("%s: the rebuild holds what the cut command of %s put on tape and the live catalog does not: %d chunks, %d snapshot keys, %d tree keys", when, r.cutGroup, chunks, snap, tree)
		}
		r.cutGroup, r.cutChunks = "", nil
	}
	compareCatalogs(r.t, live, rebuilt)
	os.RemoveAll(live)
	os.RemoveAll(rebuilt)
}

// dropOnlyIn deletes from the Badger database in dir the keys that match
// and are not in the one in other, and returns how many it deleted.
func dropOnlyIn(t *testing.T, dir, other string, match func(key string) bool) int {
	t.Helper()
	keys := func(db *badger.DB) map[string]bool {
		out := map[string]bool{}
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				out[string(it.Item().KeyCopy(nil))] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	open := func(dir string) *badger.DB {
		db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	o := open(other)
	theirs := keys(o)
	o.Close()
	db := open(dir)
	defer db.Close()
	n := 0
	err := db.Update(func(txn *badger.Txn) error {
		for k := range keys(db) {
			if !theirs[k] && match(k) {
				n++
				if err := txn.Delete([]byte(k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// chunkDigests returns the digests of the chunks a backup of dir makes, as
// strings of 32 bytes.
func chunkDigests(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		c := chunker.New(f, chunker.DefaultParams)
		for {
			b, err := c.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			sum := chunker.Sum(b)
			out[string(sum[:])] = true
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", from, to, err, out)
	}
}

func entryOf(es []changerEntry, label string) changerEntry {
	for _, e := range es {
		if e.Label == label {
			return e
		}
	}
	return changerEntry{}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
