package main

import (
	"bytes"
	"strings"
	"testing"

	"tapefs/engine"
)

// screen replays what a terminal shows for out: text overwrites from the
// cursor, \r returns to the start of the line, \n starts a new line, and
// ESC [ ... K clears the line (the escapes progress bars use).
func screen(out string) []string {
	lines := []string{""}
	col := 0
	put := func(r rune) {
		l := []rune(lines[len(lines)-1])
		for len(l) < col {
			l = append(l, ' ')
		}
		if col < len(l) {
			l[col] = r
		} else {
			l = append(l, r)
		}
		lines[len(lines)-1] = string(l)
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, "")
			col = 0
		case '\033':
			j := i + 2
			for j < len(rs) && !(rs[j] >= '@' && rs[j] <= '~') {
				j++
			}
			if j < len(rs) && rs[j] == 'K' {
				lines[len(lines)-1] = ""
			}
			i = j
		default:
			put(r)
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// TestConsoleLogAboveBar logs while a backup's progress bar is on the
// terminal: each log line shows whole on a line of its own, and the bar
// is drawn again below it (log lines ran into the bar: `[0s:0s]u` /
// `nloaded ...`).
func TestConsoleLogAboveBar(t *testing.T) {
	var out bytes.Buffer
	c := &console{w: &out, tty: true}
	var opts engine.BackupOptions
	stop := c.progress(&opts)
	opts.Progress(engine.BackupProgress{TotalBytes: 1 << 20, TotalFiles: 10, Counted: true, Bytes: 1 << 18, Files: 2, Tape: "TEST01L8"})
	logs := []string{
		"unloaded TEST01L8 from drive mydrive to slot 1",
		"spool: 32 MiB in memory",
		"loaded TEST02L8 from slot 2 into drive mydrive",
	}
	for _, l := range logs {
		c.logf("%s", l)
	}
	shown := screen(out.String())
	if len(shown) != len(logs)+1 {
		t.Fatalf("terminal shows %d lines, want %d log lines and the bar:\n%s", len(shown), len(logs)+1, strings.Join(shown, "\n"))
	}
	for i, l := range logs {
		if shown[i] != l {
			t.Errorf("line %d: %q, want %q", i, shown[i], l)
		}
	}
	if bar := shown[len(logs)]; !strings.Contains(bar, "2/10 files, tape TEST01L8") {
		t.Errorf("last line %q: want the progress bar", bar)
	}
	stop()
	c.logf("done")
	shown = screen(out.String())
	if got := shown[len(shown)-2]; got != "done" {
		t.Errorf("a line after the bar ended: %q, want \"done\"", got)
	}
}
