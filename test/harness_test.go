package test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binDir holds the binaries built once for all tests.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv(asUserEnv) != "" {
		os.Exit(asUserMain(os.Args[1:]))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "tapefs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "tapefs/cmd/tapefs", "tapefs/cmd/pmt", "tapefs/cmd/pmtx")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is one user's machine: its own config and state directories.
type sandbox struct {
	t    *testing.T
	root string
	env  []string
	// umask, when set (e.g. "022"), is the umask the binaries run with.
	umask string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	// A root of fixed length keeps table widths, and so golden files,
	// the same from run to run.
	root := fmt.Sprintf("/tmp/tapefs-e2e-%08x", rand.Uint32())
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return &sandbox{t: t, root: root, env: []string{
		"TAPEFS_CONFIG_DIR=" + filepath.Join(root, "etc"),
		"TAPEFS_STATE_DIR=" + filepath.Join(root, "state"),
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + root,
		"TZ=UTC",
	}}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs one of the built binaries with extra environment entries.
func (s *sandbox) run(extraEnv []string, bin string, args ...string) result {
	s.t.Helper()
	return s.runCmd(s.command(extraEnv, bin, args...))
}

// command is the command run would run, to set up further (Stdin, Dir).
func (s *sandbox) command(extraEnv []string, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	if s.umask != "" {
		cmd = exec.Command("/bin/sh", append([]string{"-c", "umask " + s.umask + ` && exec "$0" "$@"`, cmd.Path}, args...)...)
	}
	cmd.Env = append(append([]string{}, s.env...), extraEnv...)
	return cmd
}

// runCmd runs cmd and returns its output and exit code; a command that
// cannot start fails the test.
func (s *sandbox) runCmd(cmd *exec.Cmd) result {
	s.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs tapefs and fails the test unless it succeeds.
func (s *sandbox) ok(args ...string) result {
	s.t.Helper()
	r := s.run(nil, "tapefs", args...)
	if r.code != 0 {
		s.t.Fatalf("tapefs %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

var (
	uuidRe   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	serialRe = regexp.MustCompile(`\bVT[0-9A-F]{10}`)
	timeRe   = regexp.MustCompile(`(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}\d{1,2} \d\d:\d\d:\d\d \d{4}`)
)

// normalize replaces what changes from run to run (temp paths, uuids,
// times, serials) so outputs can be compared with golden files. Table
// widths stay as they are: the placeholders are padded to the same width.
func (s *sandbox) normalize(out string) string {
	out = strings.ReplaceAll(out, s.root, "/tmp/tapefs-e2e-XXXXXXXX")
	out = uuidRe.ReplaceAllStringFunc(out, func(u string) string {
		if u == "00000000-0000-0000-0000-000000000000" {
			return u
		}
		return "<uuid>" + strings.Repeat(" ", len(u)-len("<uuid>"))
	})
	out = timeRe.ReplaceAllStringFunc(out, func(t string) string {
		return "<time>" + strings.Repeat(" ", len(t)-len("<time>"))
	})
	out = serialRe.ReplaceAllString(out, "VTXXXXXXXXXX")
	return out
}

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
