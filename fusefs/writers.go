package fusefs

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Who closes a file being written.
//
// The kernel sends FLUSH at every close(2) of any copy of a descriptor
// (a child that inherited it and exits, a dup), and RELEASE once, when
// the last copy is gone. A file in incoming/ is complete when its
// writer is done with it, so:
//
//   - a FLUSH from a process that wrote through the handle, when no other
//     live process wrote through it, completes the file (the writer's
//     close: close(2) returns only after that, so a file whose close
//     returned survives a crash of the daemon);
//   - a FLUSH from any other process (a forked child that only inherited
//     the descriptor, a helper of a multi-process writer while the
//     others live) completes nothing: the file is still being written;
//   - RELEASE completes whatever is left (staging.File.Close).
//
// The kernel names the calling thread in each request; threads of one
// process count as one (their thread group, from /proc).

// handleWriters records the processes that wrote through one open file
// handle since it was last completed. Safe for concurrent use.
type handleWriters struct {
	mu   sync.Mutex
	pids []uint32 // calling threads, as the kernel gave them
}

// callerPid is the thread that sent the request (0 if unknown).
func callerPid(ctx context.Context) uint32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Pid
	}
	return 0
}

// wrote records that the caller of ctx changed the file.
func (w *handleWriters) wrote(ctx context.Context) {
	pid := callerPid(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.pids {
		if p == pid {
			return
		}
	}
	w.pids = append(w.pids, pid)
}

// closedByWriter reports whether a FLUSH from the caller of ctx ends the
// writing: the caller's process wrote through the handle (or nobody did)
// and every other thread that wrote is of the same process or gone. It
// then forgets the writers: writing again starts over.
func (w *handleWriters) closedByWriter(ctx context.Context) bool {
	pid := callerPid(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pids) == 0 {
		return true
	}
	tgid := uint32(0)
	mine := false
	for _, p := range w.pids {
		if p == pid {
			mine = true
			continue
		}
		if tgid == 0 {
			tgid = threadGroup(pid)
		}
		t := threadGroup(p)
		switch {
		case t != 0 && t == tgid:
			mine = true
		case t != 0:
			return false // another live process wrote: it may go on
		}
	}
	if !mine {
		return false // the caller only inherited the descriptor
	}
	w.pids = w.pids[:0]
	return true
}

// threadGroup returns the process (thread group id) of thread tid, or 0
// when the thread is gone, a zombie, or unknown.
func threadGroup(tid uint32) uint32 {
	if tid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return 0
	}
	var tgid uint32
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "State":
			if len(v) > 0 && (v[0] == 'Z' || v[0] == 'X') {
				return 0 // exited: its descriptors are closed
			}
		case "Tgid":
			n, err := strconv.ParseUint(string(v), 10, 32)
			if err != nil {
				return 0
			}
			tgid = uint32(n)
		}
	}
	return tgid
}
