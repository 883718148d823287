package scsilab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSCSILab builds tapefs, pmt, pmtx and sgio's test binary statically,
// runs the lab (lab.sh) and reports every step the guest printed. It skips
// only when QEMU is not installed, unless TAPEFS_TEST_REQUIRE_SCSI_LAB=1
// (.ci/run), which makes that a failure. TAPEFS_SCSILAB_OUT=DIR keeps the
// console log and the other outputs in DIR.
func TestSCSILab(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		msg := "qemu-system-x86_64 not found: install Debian's qemu-system-x86 qemu-block-extra busybox-static cpio tgt (or run test/scsilab/lab.sh --install)"
		if os.Getenv("TAPEFS_TEST_REQUIRE_SCSI_LAB") == "1" {
			t.Fatal(msg + ", or unset TAPEFS_TEST_REQUIRE_SCSI_LAB")
		}
		t.Skip(msg)
	}
	if testing.Short() {
		t.Skip("the SCSI lab boots a guest for a minute or more; not in -short")
	}
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	bin := t.TempDir()
	out := os.Getenv("TAPEFS_SCSILAB_OUT")
	if out == "" {
		out = t.TempDir()
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Static binaries: the guest has no C library. Without the caller's
	// GOFLAGS (-race needs cgo).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") && !strings.HasPrefix(kv, "CGO_ENABLED=") {
			env = append(env, kv)
		}
	}
	env = append(env, "CGO_ENABLED=0")
	start := time.Now()
	for _, args := range [][]string{
		{"build", "-o", bin + "/", "./cmd/tapefs", "./cmd/pmt", "./cmd/pmtx"},
		{"test", "-c", "-o", filepath.Join(bin, "sgio.test"), "./sgio"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = root, env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	t.Logf("static binaries built in %s", time.Since(start).Round(time.Second))

	start = time.Now()
	cmd := exec.CommandContext(ctx, "bash", "lab.sh", bin, out)
	cmd.Env = append(os.Environ(), "SCSILAB_TIMEOUT=900")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	runErr := cmd.Run()
	t.Logf("lab ran in %s (%s)", time.Since(start).Round(time.Second), stageTimes(filepath.Join(out, "times")))
	if code := cmd.ProcessState.ExitCode(); code == 2 {
		t.Fatalf("the lab could not be set up: %s", stderr.String())
	}

	console, err := os.ReadFile(filepath.Join(out, "console.log"))
	if err != nil {
		t.Fatalf("lab.sh: %v: %s; no console log: %v", runErr, stderr.String(), err)
	}
	var ok, failed int
	var commands []string
	done := false
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "SCSILAB ok "):
			ok++
		case strings.HasPrefix(line, "SCSILAB FAIL "):
			failed++
			t.Error(strings.TrimPrefix(line, "SCSILAB FAIL "))
		case strings.HasPrefix(line, "SCSILAB DONE"):
			done = true
		case strings.HasPrefix(line, "SCSILAB command "):
			commands = append(commands, strings.TrimPrefix(line, "SCSILAB command "))
		case strings.HasPrefix(line, "SCSILAB ") && strings.Contains(line, " took "):
			t.Log(strings.TrimPrefix(line, "SCSILAB "))
		}
	}
	t.Logf("%d steps passed, %d failed; SCSI commands sent through the kernel (TAPEFS_SG_TRACE):\n%s", ok, failed, strings.Join(commands, "\n"))
	if len(commands) == 0 {
		t.Error("the guest traced no SCSI command")
	}
	if !done {
		t.Errorf("the guest did not finish its steps: %v\n%s", runErr, stderr.String())
	}
	if failed > 0 || !done || runErr != nil {
		t.Errorf("lab.sh: %v; console log (%s):\n%s", runErr, filepath.Join(out, "console.log"), console)
	}
	if ok < 40 {
		t.Errorf("only %d steps passed; the guest skipped part of the session", ok)
	}
}

// stageTimes reads lab.sh's times file (stage, Unix time) and says how
// long each stage took.
func stageTimes(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no times"
	}
	var parts []string
	var prev float64
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var name string
		var at float64
		if _, err := fmt.Sscan(line, &name, &at); err != nil {
			continue
		}
		if i > 0 {
			parts = append(parts, name+" "+time.Duration((at-prev)*float64(time.Second)).Round(100*time.Millisecond).String())
		}
		prev = at
	}
	return strings.Join(parts, ", ")
}
