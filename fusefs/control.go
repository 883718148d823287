package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/engine"
)

// control describes one control file: how to read it and how the words
// written to it become a tapefs command line.
type control struct {
	name string
	// usage is the first part of what reading the file shows.
	usage string
	// argv turns the words written to the file into the arguments of a
	// tapefs command (without the program name).
	argv func(words []string) ([]string, error)
}

// result is the last run of one control file.
type result struct {
	start, end time.Time
	input      string
	args       []string
	output     string
	err        error
}

// controlFile is a writable file that runs a command when written to and
// shows its usage and last result when read.
type controlFile struct {
	readOnly
	ctl control
}

// controlHandle is an open control file: its text as it was at open, and
// what was written to it and has not run yet (a line still being written).
type controlHandle struct {
	data []byte

	mu      sync.Mutex
	pending []byte
}

// maxControlInput is the most a control file takes for one command; more
// fails the write with EINVAL.
const maxControlInput = 1 << 20

func controlEntry(c control) entry {
	return entry{name: c.name, mode: syscall.S_IFREG, make: func(r *Root, p string) fs.InodeEmbedder {
		return &controlFile{readOnly: readOnly{root: r, path: p, private: true}, ctl: c}
	}}
}

func (n *controlFile) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	size := 0
	if h, ok := f.(*controlHandle); ok {
		size = len(h.data)
	} else {
		size = len(n.text())
	}
	n.fillAttr(&out.Attr, syscall.S_IFREG|0o644, size)
	return 0
}

// Setattr accepts what a shell redirection (`>` truncates) and touch do,
// and changes nothing; mode and owner changes are refused.
func (n *controlFile) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetMode(); ok {
		return syscall.EPERM
	}
	if _, ok := in.GetUID(); ok {
		return syscall.EPERM
	}
	if _, ok := in.GetGID(); ok {
		return syscall.EPERM
	}
	return n.Getattr(ctx, f, out)
}

func (n *controlFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &controlHandle{data: n.text()}, fuse.FOPEN_DIRECT_IO, 0
}

func (n *controlFile) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := f.(*controlHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	return readAt(h.data, dest, off), 0
}

// Write runs the command with the written words and returns when it has
// finished. Writes are joined until one ends with a newline, so a line
// written in pieces (printf, a write split by the kernel) runs once, as a
// whole; what is left without a newline runs at close (Flush). The command
// runs on a context that the request's interruption does not cancel: a
// tape operation is never left half done because a writer was interrupted.
func (n *controlFile) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	h, ok := f.(*controlHandle)
	if !ok {
		return 0, syscall.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending)+len(data) > maxControlInput {
		h.pending = nil
		err := errInvalid("%s: input longer than %d bytes", n.ctl.name, maxControlInput)
		n.root.setResult(n.path, &result{start: n.root.now(), end: n.root.now(), input: "(too long)", err: err})
		return 0, n.root.errno(n.path, err)
	}
	h.pending = append(h.pending, data...)
	if !bytes.HasSuffix(h.pending, []byte("\n")) {
		return uint32(len(data)), 0
	}
	if errno := n.runPending(ctx, h); errno != 0 {
		return 0, errno
	}
	return uint32(len(data)), 0
}

// Flush runs what was written without a final newline; its error is the
// error of close().
func (n *controlFile) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno {
	h, ok := f.(*controlHandle)
	if !ok {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) == 0 {
		return 0
	}
	return n.runPending(ctx, h)
}

// runPending runs the handle's pending input as one command; h.mu is held.
func (n *controlFile) runPending(ctx context.Context, h *controlHandle) syscall.Errno {
	input := strings.TrimSpace(string(h.pending))
	h.pending = nil
	if err := n.root.run(context.WithoutCancel(ctx), n.path, n.ctl, input); err != nil {
		return n.root.errno(n.path, err)
	}
	return 0
}

// text is what reading the control file shows: usage, then the last run.
func (n *controlFile) text() []byte {
	var b bytes.Buffer
	b.WriteString(n.ctl.usage)
	if !strings.HasSuffix(n.ctl.usage, "\n") {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	r := n.root.lastResult(n.path)
	if r == nil {
		b.WriteString("last run: none\n")
		return b.Bytes()
	}
	fmt.Fprintf(&b, "last run: %s\n", r.start.Format(time.RFC3339))
	fmt.Fprintf(&b, "input: %s\n", r.input)
	if r.args != nil {
		fmt.Fprintf(&b, "command: tapefs %s\n", strings.Join(quoteArgs(r.args), " "))
	}
	switch {
	case r.end.IsZero():
		b.WriteString("result: running\n")
	case r.err == nil:
		fmt.Fprintf(&b, "result: ok (%s)\n", r.end.Sub(r.start).Round(time.Millisecond))
	default:
		errno := Errno(r.err)
		fmt.Fprintf(&b, "result: error %s (%s): %v\n", errnoName(errno), errno.Error(), r.err)
	}
	if r.output != "" {
		b.WriteString("output:\n")
		b.WriteString(r.output)
		if !strings.HasSuffix(r.output, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EBUSY:
		return "EBUSY"
	case syscall.ENOMEDIUM:
		return "ENOMEDIUM"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EPERM:
		return "EPERM"
	case syscall.EINTR:
		return "EINTR"
	case syscall.EROFS:
		return "EROFS"
	}
	return "EIO"
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// lockedBuffer collects a command's stdout and stderr (and job log lines,
// which may come from another goroutine) in order.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run runs one write to a control file and records it as the file's last
// result.
func (r *Root) run(ctx context.Context, path string, c control, input string) error {
	res := &result{start: r.now(), input: input}
	var err error
	words, err := splitWords(input)
	if err == nil {
		res.args, err = c.argv(words)
	}
	if err != nil {
		res.end, res.err = r.now(), err
		r.setResult(path, res)
		return err
	}
	r.setResult(path, res)
	var out lockedBuffer
	err = r.opts.Run(engine.WithTaskOrigin(ctx, "control file "+path), res.args, &out, &out)
	done := &result{start: res.start, end: r.now(), input: input, args: res.args, output: out.String(), err: err}
	r.setResult(path, done)
	return err
}

func (r *Root) setResult(path string, res *result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[path] = res
}

func (r *Root) lastResult(path string) *result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[path]
}

// kindError is an error of an engine error class with its own message.
type kindError struct {
	kind error
	msg  string
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }

// errInvalid is an invalid-argument error of a control file's own parsing
// (before the command runs).
func errInvalid(format string, args ...any) error {
	return kindError{kind: engine.ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

// splitWords splits what was written to a control file into words the way
// a shell would for simple quoting: blanks separate words, single quotes
// keep everything, double quotes keep blanks, a backslash escapes the next
// character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errInvalid("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errInvalid("unterminated double quote in %q", s)
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// hasFlag reports whether words set the flag --name (or -name).
func hasFlag(words []string, name string) bool {
	for _, w := range words {
		if w == "--" {
			return false
		}
		f := strings.TrimLeft(w, "-")
		if f != w && (f == name || strings.HasPrefix(f, name+"=")) {
			return true
		}
	}
	return false
}

// driveControls are the control files of drives/<drive>/.
func driveControls(drive string) []control {
	onDrive := func(cmd string) func([]string) ([]string, error) {
		return func(w []string) ([]string, error) {
			if hasFlag(w, "drive") {
				return nil, errInvalid("%s: --drive is not allowed here: this file belongs to drive %s", cmd, drive)
			}
			return append(append([]string{cmd}, w...), "--drive", drive), nil
		}
	}
	use := func(cmd, args, what string) string {
		if args == "" {
			return fmt.Sprintf("usage: echo > %s\n  %s\n  runs: tapefs %s --drive %s", cmd, what, cmd, drive)
		}
		return fmt.Sprintf("usage: echo %q > %s\n  %s\n  runs: tapefs %s %s --drive %s", args, cmd, what, cmd, args, drive)
	}
	return []control{
		{name: "label", usage: fmt.Sprintf("usage: echo \"LABEL-TEXT [--pool POOL]\" > label\n  write a new label to the tape in the drive\n  runs: tapefs label --label-text LABEL-TEXT [--pool POOL] --drive %s", drive),
			argv: func(w []string) ([]string, error) {
				if len(w) > 0 && !strings.HasPrefix(w[0], "-") {
					w = append([]string{"--label-text", w[0]}, w[1:]...)
				}
				return onDrive("label")(w)
			}},
		{name: "load", usage: fmt.Sprintf("usage: echo LABEL-TEXT > load\n  load the tape with this label from the library\n  runs: tapefs load-media LABEL-TEXT --drive %s", drive),
			argv: func(w []string) ([]string, error) { return onDrive("load-media")(w) }},
		{name: "unload", usage: use("unload", "[--target-slot N]", "unload the tape into a slot (default: where it came from)"), argv: onDrive("unload")},
		{name: "eject", usage: use("eject", "", "eject the tape (back to its slot in a library)"), argv: onDrive("eject")},
		{name: "clean", usage: use("clean", "", "clean the drive with the library's cleaning cartridge"), argv: onDrive("clean")},
		{name: "format", usage: use("format", "[--fast] [--label-text LABEL-TEXT]", "erase the tape in the drive (all data is lost)"), argv: onDrive("format")},
		{name: "rewind", usage: use("rewind", "", "rewind the tape"), argv: onDrive("rewind")},
		{name: "read-label", usage: use("read-label", "[--inventorize]", "read the label of the tape in the drive"), argv: onDrive("read-label")},
	}
}

// changerControls are the control files of changers/<changer>/. Commands
// that need a drive use --drive when given, else the changer's first drive
// (see Root.changerDrive).
func (r *Root) changerControls(changer string) []control {
	withDrive := func(cmd string) func([]string) ([]string, error) {
		return func(w []string) ([]string, error) {
			out := append([]string{cmd}, w...)
			if hasFlag(w, "drive") {
				return out, nil
			}
			d, err := r.changerDrive(changer)
			if err != nil {
				return nil, err
			}
			return append(out, "--drive", d), nil
		}
	}
	return []control{
		{name: "barcode-label", usage: fmt.Sprintf("usage: echo \"[POOL] [--drive DRIVE]\" > barcode-label\n  label every unlabelled tape of the library with its barcode\n  runs: tapefs barcode-label [--pool POOL] --drive DRIVE (default: the first drive of %s)", changer),
			argv: func(w []string) ([]string, error) {
				if len(w) > 0 && !strings.HasPrefix(w[0], "-") {
					w = append([]string{"--pool", w[0]}, w[1:]...)
				}
				return withDrive("barcode-label")(w)
			}},
		{name: "inventory", usage: fmt.Sprintf("usage: echo \"[--read-labels] [--read-all-labels] [--drive DRIVE]\" > inventory\n  update the inventory from the library's tapes\n  runs: tapefs inventory [...] --drive DRIVE (default: the first drive of %s)", changer),
			argv: withDrive("inventory")},
		{name: "transfer", usage: fmt.Sprintf("usage: echo \"FROM TO\" > transfer   (or \"--from FROM --to TO\")\n  move a tape from one slot to another\n  runs: tapefs changer transfer %s --from FROM --to TO", changer),
			argv: func(w []string) ([]string, error) {
				if len(w) > 0 && !slices.ContainsFunc(w, func(x string) bool { return strings.HasPrefix(x, "-") }) {
					if len(w) != 2 {
						return nil, errInvalid("transfer: expected two slot numbers, FROM TO, got %d word(s)", len(w))
					}
					w = []string{"--from", w[0], "--to", w[1]}
				}
				for _, x := range w {
					if x != "--" && !strings.HasPrefix(x, "-") && !isNumber(x) {
						return nil, errInvalid("transfer: unexpected argument %q: write \"FROM TO\" or \"--from FROM --to TO\"", x)
					}
				}
				return append([]string{"changer", "transfer", changer}, w...), nil
			}},
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// changerDrive picks the drive a changer's control files use: the drive
// with the lowest changer drive number among the drives of the changer.
func (r *Root) changerDrive(changer string) (string, error) {
	tc, err := r.eng.Config().LoadTape()
	if err != nil {
		return "", err
	}
	best, bestNum := "", 0
	for _, d := range tc.Drives {
		if d.Changer == changer && (best == "" || d.ChangerDriveNum < bestNum) {
			best, bestNum = d.Name, d.ChangerDriveNum
		}
	}
	if best == "" {
		return "", kindError{kind: engine.ErrNotFound, msg: fmt.Sprintf("changer %s has no configured drive: create one with `tapefs drive create NAME --path PATH --changer %s`", changer, changer)}
	}
	return best, nil
}

var errNoRunner = errors.New("fusefs: no command runner")
