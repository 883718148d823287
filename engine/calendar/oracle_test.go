package calendar

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// systemdAnalyze is the oracle: systemd's own implementation of calendar
// events and time spans.
const systemdAnalyze = "/usr/bin/systemd-analyze"

// oracleEvent is what systemd-analyze calendar says about one expression.
type oracleEvent struct {
	valid      bool
	normalized string
	// elapses are "Mon 2006-01-02 15:04:05 MST" strings (seconds only), or
	// a single "never".
	elapses []string
}

// needOracle skips the test when systemd-analyze is not installed.
func needOracle(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(systemdAnalyze); err != nil {
		t.Skipf("oracle %s not available: %v", systemdAnalyze, err)
	}
}

var failedSpec = regexp.MustCompile(`^Failed to parse calendar specification '(.*)': `)

// runCalendarOracle asks systemd-analyze about all exprs in one run, in the
// time zone tz, from base (a systemd timestamp such as
// "2026-03-01 10:00:00 UTC"). No expression may contain a quote or a
// newline.
func runCalendarOracle(t *testing.T, tz, base string, iterations int, exprs []string) map[string]oracleEvent {
	t.Helper()
	args := []string{"calendar", "--base-time=" + base, "--iterations=" + strconv.Itoa(iterations), "--"}
	cmd := exec.Command(systemdAnalyze, append(args, exprs...)...)
	cmd.Env = []string{"TZ=" + tz, "LANG=C", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A non-zero exit only means some expressions were rejected.
	_ = cmd.Run()

	failed := map[string]bool{}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if m := failedSpec.FindStringSubmatch(sc.Text()); m != nil {
			failed[m[1]] = true
		}
	}
	var blocks []oracleEvent
	var cur *oracleEvent
	sc = bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch {
		case key == "Normalized form":
			blocks = append(blocks, oracleEvent{valid: true, normalized: val})
			cur = &blocks[len(blocks)-1]
		case key == "Next elapse" || strings.HasPrefix(key, "Iter. #"):
			if cur == nil {
				t.Fatalf("oracle output out of order: %q", line)
			}
			cur.elapses = append(cur.elapses, val)
		}
	}
	res := map[string]oracleEvent{}
	for _, e := range exprs {
		if failed[e] {
			res[e] = oracleEvent{}
			continue
		}
		if len(blocks) == 0 {
			t.Fatalf("oracle printed no result for %q; stderr: %s", e, stderr.String())
		}
		res[e], blocks = blocks[0], blocks[1:]
	}
	if len(blocks) != 0 {
		t.Fatalf("oracle printed %d results more than expected", len(blocks))
	}
	return res
}
