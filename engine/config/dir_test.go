package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// files returns the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLoadMissing(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "etc")}
	tc, err := d.LoadTape()
	if err != nil || len(tc.Changers)+len(tc.Drives) != 0 {
		t.Fatalf("LoadTape = %+v, %v", tc, err)
	}
	pc, err := d.LoadPools()
	if err != nil || len(pc.Pools) != 0 {
		t.Fatalf("LoadPools = %+v, %v", pc, err)
	}
}

func TestUpdateTape(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "etc", "tapefs")}
	err := d.UpdateTape(func(c *TapeConfig) error {
		*c = *wantExampleTape()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.LoadTape()
	if err != nil {
		t.Fatal(err)
	}
	if want := wantExampleTape(); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(d.Path, TapeFile))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tape.cfg.golden", data)
	if names := files(t, d.Path); !reflect.DeepEqual(names, []string{LockFile, TapeFile}) {
		t.Errorf("directory holds %v; temporary files left?", names)
	}
	st, err := os.Stat(filepath.Join(d.Path, TapeFile))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}

	// A later update changes one drive and keeps the rest.
	err = d.UpdateTape(func(c *TapeConfig) error {
		dr, err := c.Drive("single")
		if err != nil {
			return err
		}
		dr.Path = "/dev/nst1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = d.LoadTape()
	if err != nil || got.Drives[1].Path != "/dev/nst1" || got.Drives[0].Path != "/dev/tape/by-id/scsi-12345-sg" {
		t.Fatalf("after update: %+v, %v", got, err)
	}
}

// TestUpdateFailureKeepsFile checks that a failing fn or a failing
// validation leaves the file byte-identical (comments included).
func TestUpdateFailureKeepsFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	tapePath, poolPath := filepath.Join(d.Path, TapeFile), filepath.Join(d.Path, PoolFile)
	if err := os.WriteFile(tapePath, []byte(exampleTape), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(poolPath, []byte(examplePools), 0o640); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	tapeTests := []struct {
		name string
		fn   func(*TapeConfig) error
		want string
	}{
		{"fn fails", func(c *TapeConfig) error { c.Drives = nil; return errBoom }, "boom"},
		{"unknown changer", func(c *TapeConfig) error { c.Drives[0].Changer = "nope"; return nil },
			tapePath + " not changed: drive 'mydrive' refers to unknown changer 'nope'"},
		{"duplicate", func(c *TapeConfig) error {
			c.Drives = append(c.Drives, Drive{Name: "sl3", Path: "/dev/x"})
			return nil
		}, tapePath + " not changed: duplicate name 'sl3': used by a changer and a drive"},
		{"no change", func(c *TapeConfig) error { return nil }, ""},
	}
	for _, tt := range tapeTests {
		err := d.UpdateTape(tt.fn)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
			t.Errorf("%s: UpdateTape = %v, want %q", tt.name, err, tt.want)
		}
		if tt.name == "fn fails" && !errors.Is(err, errBoom) {
			t.Errorf("fn's error not returned: %v", err)
		}
		if data, _ := os.ReadFile(tapePath); string(data) != exampleTape {
			t.Errorf("%s: tape.cfg changed to\n%s", tt.name, data)
		}
	}
	poolTests := []struct {
		name string
		fn   func(*PoolConfig) error
		want string
	}{
		{"fn fails", func(c *PoolConfig) error { c.Pools = nil; return errBoom }, "boom"},
		{"bad event", func(c *PoolConfig) error { c.Pools[0].Allocation = "sometimes"; return nil },
			poolPath + " not changed: pool 'daily': allocation must be"},
		{"bad span", func(c *PoolConfig) error { c.Pools[0].Retention = "forever"; return nil },
			poolPath + " not changed: pool 'daily': retention must be"},
		{"unknown drive", func(c *PoolConfig) error {
			c.Pools[0].Drive = "gone"
			tape, err := d.LoadTape()
			if err != nil {
				return err
			}
			return ValidatePoolDrives(c, tape)
		}, "pool 'daily' uses unknown drive 'gone'"},
	}
	for _, tt := range poolTests {
		err := d.UpdatePools(tt.fn)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: UpdatePools = %v, want %q", tt.name, err, tt.want)
		}
		if data, _ := os.ReadFile(poolPath); string(data) != examplePools {
			t.Errorf("%s: media-pool.cfg changed to\n%s", tt.name, data)
		}
	}
	if names := files(t, d.Path); !reflect.DeepEqual(names, []string{LockFile, PoolFile, TapeFile}) {
		t.Errorf("directory holds %v", names)
	}

	// A successful update rewrites the file and keeps its mode.
	if err := d.UpdatePools(func(c *PoolConfig) error { c.Pools = c.Pools[:1]; return nil }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(poolPath)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode after update %v, %v", st.Mode(), err)
	}
}

func TestLoadInvalidFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	path := filepath.Join(d.Path, TapeFile)
	bad := "lto: d1\n\tpath /dev/nst0\n\tblocksize 64k\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + ":3: unknown key 'blocksize' in lto 'd1'"
	if _, err := d.LoadTape(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("LoadTape = %v, want %q", err, want)
	}
	called := false
	err := d.UpdateTape(func(*TapeConfig) error { called = true; return nil })
	if err == nil || !strings.HasPrefix(err.Error(), want) || called {
		t.Fatalf("UpdateTape = %v (fn called: %v), want %q", err, called, want)
	}

	// A file that parses but does not validate names the file.
	if err := os.WriteFile(path, []byte("lto: d1\n\tpath nst0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadTape(); err == nil || err.Error() != path+": drive 'd1': path 'nst0' is not absolute" {
		t.Fatalf("LoadTape = %v", err)
	}
}

// addDrives adds n drives named prefix-0 .. prefix-(n-1), one update each.
func addDrives(d Dir, prefix string, n int) error {
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		err := d.UpdateTape(func(c *TapeConfig) error {
			c.Drives = append(c.Drives, Drive{Name: name, Path: "/dev/tape/by-id/" + name})
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func TestUpdateConcurrentGoroutines(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() { errs <- addDrives(d, "g"+strconv.Itoa(w), each) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := d.LoadTape()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Drives) != workers*each {
		t.Fatalf("%d drives, want %d: updates were lost", len(c.Drives), workers*each)
	}
}

// TestHelperAddDrives is not a test: TestUpdateConcurrentProcesses runs the
// test binary with it as a separate process.
func TestHelperAddDrives(t *testing.T) {
	dir := os.Getenv("TAPEFS_CONFIG_TEST_DIR")
	if dir == "" {
		t.Skip("helper process for TestUpdateConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("TAPEFS_CONFIG_TEST_N"))
	if err := addDrives(Dir{Path: dir}, os.Getenv("TAPEFS_CONFIG_TEST_PREFIX"), n); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateConcurrentProcesses(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	const procs, each = 4, 10
	var cmds []*exec.Cmd
	outs := make([]*bytes.Buffer, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAddDrives$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"TAPEFS_CONFIG_TEST_DIR="+d.Path,
			"TAPEFS_CONFIG_TEST_N="+strconv.Itoa(each),
			"TAPEFS_CONFIG_TEST_PREFIX=p"+strconv.Itoa(p))
		outs[p] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[p], outs[p]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// This process competes too.
	if err := addDrives(d, "main", each); err != nil {
		t.Error(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v\n%s", err, outs[i])
		}
	}
	c, err := d.LoadTape()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Drives) != (procs+1)*each {
		t.Fatalf("%d drives, want %d: updates were lost", len(c.Drives), (procs+1)*each)
	}
}
