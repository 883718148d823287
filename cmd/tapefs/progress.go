package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"tapefs/engine"
)

// console is a command's stderr: log lines and, on a terminal, a progress
// bar kept on the line below them. A log line clears the bar, prints, and
// draws the bar again, so the two never mix on one line. Safe for
// concurrent use (the engine logs from its job goroutines).
type console struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool // w is a terminal: show a bar, not progress lines
	bar *progressbar.ProgressBar
}

func newConsole(w io.Writer) *console {
	c := &console{w: w}
	if f, ok := w.(*os.File); ok {
		c.tty = isatty.IsTerminal(f.Fd())
	}
	return c
}

// logf prints one log line, above the progress bar if one is shown.
func (c *console) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
	fmt.Fprintf(c.w, format+"\n", args...)
	if c.bar != nil {
		// The bar's last drawing, again: the bar itself draws only
		// when progress moves, and at most every throttle period.
		io.WriteString(c.w, c.bar.String())
	}
}

// progress shows a backup's progress on this process's console; in the
// daemon it shows nothing: the task's own progress lines reach the caller
// (engine.WithLog).
func (e *env) progress(opts *engine.BackupOptions) func() {
	if e.shared {
		return func() {}
	}
	return e.console.progress(opts)
}

// progress shows a backup's progress: a bar on a terminal, one log line
// every few seconds otherwise. The returned function ends it.
func (c *console) progress(opts *engine.BackupOptions) func() {
	var last time.Time
	start := time.Now()
	opts.Progress = func(p engine.BackupProgress) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.tty {
			if c.bar == nil && p.Counted && p.TotalBytes > 0 {
				c.bar = progressbar.NewOptions64(p.TotalBytes,
					progressbar.OptionSetWriter(c.w),
					progressbar.OptionShowBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionFullWidth(),
				)
			}
			if c.bar != nil {
				c.bar.Describe(fmt.Sprintf("%d/%d files, tape %s", p.Files, p.TotalFiles, p.Tape))
				_ = c.bar.Set64(p.Bytes)
			}
			return
		}
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		rate := float64(p.Bytes) / time.Since(start).Seconds()
		if p.Tape == "" {
			p.Tape = "-"
		}
		totalBytes, totalFiles := "?", "?"
		if p.Counted {
			totalBytes, totalFiles = humanize.IBytes(uint64(p.TotalBytes)), strconv.FormatInt(p.TotalFiles, 10)
		}
		fmt.Fprintf(c.w, "progress: %s of %s, %d of %s files, %s/s, new on tape %s, tape %s\n",
			humanize.IBytes(uint64(p.Bytes)), totalBytes, p.Files, totalFiles,
			humanize.IBytes(uint64(rate)), humanize.IBytes(uint64(p.NewBytes)), p.Tape)
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.bar != nil {
			_ = c.bar.Finish()
			fmt.Fprintln(c.w)
			c.bar = nil
		}
	}
}
