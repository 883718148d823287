package sgio

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTrace: with TAPEFS_SG_TRACE set, every command of a device is one
// line of the trace file: name, CDB and outcome.
func TestTrace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trace")
	t.Setenv(TraceEnv, file)
	f := newFake(t,
		withIn(readPositionLongCDB(), positionData(0x80, 0, 0, 0)),
		withSense(erase6CDB(false), fixedSense(KeyIllegalRequest, 0x20, 0, 0, 0, false)),
	)
	tr, err := traced(f, "/dev/sg7")
	if err != nil {
		t.Fatal(err)
	}
	tr.Exec(&Command{CDB: readPositionLongCDB(), Dir: DirIn, Data: make([]byte, 32), Timeout: timeoutShort})
	tr.Exec(&Command{CDB: erase6CDB(false), Timeout: timeoutShort})
	if err := tr.Close(); err != nil || !f.closed {
		t.Fatalf("Close = %v, device closed %v", err, f.closed)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\S+Z /dev/sg7 READ POSITION 34 06 00 00 00 00 00 00 00 00 -> GOOD resid 0$`),
		regexp.MustCompile(`^\S+Z /dev/sg7 ERASE\(6\) 19 00 00 00 00 00 -> CHECK CONDITION ILLEGAL REQUEST 20h/00h$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("trace has %d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want /%s/", i, lines[i], re)
		}
	}

	// Unset: the transport is not wrapped.
	t.Setenv(TraceEnv, "")
	if tr, _ := traced(f, "/dev/sg7"); tr != Transport(f) {
		t.Error("traced wrapped the transport with the trace off")
	}
}
