// Package procs is the daemon's runtime policy: how many processors (Go's
// GOMAXPROCS) it runs on, one while it only answers FUSE requests, all of
// them while work that runs in parallel (a job: backup, commit, restore,
// snapshot reads; listing ahead of a walk) is under way; and how often it
// collects garbage.
//
// Why: a FUSE request is a round trip between the calling process and the
// daemon, and copying many small files is nothing but round trips (eight
// per file for cp -a). With several Ps the Go scheduler hands each request
// between threads on different CPUs (a reader thread wakes, another M
// spins up to look for work, parks again), and every such wakeup crosses
// CPUs; on a virtual machine each is an exit to the hypervisor. Measured
// on the 2-CPU test machine, cp -a of 20,000 files of 4 KiB into incoming/
// ran 1.4-2.3 times faster with one P, with half the CPU time per file in
// both the daemon and cp; a find over a snapshot, where the daemon lists
// directories ahead on a goroutine of its own, ran a third slower with one
// P. So the daemon runs on one P by default and raises it to all while
// Busy work runs, and back to one after a second without any.
//
// Garbage collection: a walk over a snapshot makes go-fuse keep a node for
// every entry the kernel holds (about 700 bytes each with ours), and with
// Go's default GOGC of 100 the collector scans that growing heap again
// every time it doubles: a third of the daemon's CPU in the first find
// over a million entries. GOGC 150 cut the CPU per entry by 12% (13.5-14.1
// against 11.5-12.5 µs, alternating runs) for a heap allowed to grow to
// 2.5 times the live data instead of 2.
//
// A GOMAXPROCS or GOGC set in the environment is the user's choice and is
// left alone. The package is a leaf; its state is process-wide.
package procs

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// IdleDelay is how long the processors stay raised after the last Busy
// work ended, so that work coming in bursts (a walk that lists ahead
// directory by directory, a commit after a copy) does not switch back and
// forth: changing GOMAXPROCS stops the world for a moment.
var IdleDelay = time.Second

var (
	enabled atomic.Int32 // Enable calls not yet undone

	mu    sync.Mutex
	full  int // GOMAXPROCS when raised (the value at the first Enable)
	busy  int // Busy work running
	timer *time.Timer
	gen   uint64 // bumps on every Busy; a lowering timer of an older one does nothing
)

// GCPercent is the daemon's GOGC (see the package comment).
const GCPercent = 150

// Enable starts the policy (the daemon calls it when it mounts) and
// returns the function that ends it and restores the processors and the
// collector. Calls nest. The processors are left alone when GOMAXPROCS is
// set in the environment or the machine has one processor, the collector
// when GOGC is set.
func Enable() (disable func()) {
	gc := enableGC()
	if os.Getenv("GOMAXPROCS") != "" {
		return gc
	}
	mu.Lock()
	defer mu.Unlock()
	if enabled.Load() == 0 {
		full = runtime.GOMAXPROCS(0)
	}
	if full <= 1 {
		return gc
	}
	enabled.Add(1)
	if busy == 0 {
		runtime.GOMAXPROCS(1)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if enabled.Add(-1) == 0 {
				stopTimer()
				runtime.GOMAXPROCS(full)
			}
		})
		gc()
	}
}

var (
	gcEnabled int // enableGC calls not undone; mu is held
	gcPrev    int // the percent before the first
)

// enableGC sets GCPercent unless GOGC is set in the environment, and
// returns the function that undoes it. Calls nest.
func enableGC() func() {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if gcEnabled == 0 {
		gcPrev = debug.SetGCPercent(GCPercent)
	}
	gcEnabled++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if gcEnabled--; gcEnabled == 0 {
				debug.SetGCPercent(gcPrev)
			}
		})
	}
}

// Busy marks the start of work that runs on several goroutines at once
// and returns the function that marks its end. Cheap when the policy is
// not enabled.
func Busy() (done func()) {
	if enabled.Load() == 0 {
		return func() {}
	}
	mu.Lock()
	busy++
	gen++
	stopTimer()
	if enabled.Load() > 0 && runtime.GOMAXPROCS(0) != full {
		runtime.GOMAXPROCS(full)
	}
	mu.Unlock()
	var once sync.Once
	return func() { once.Do(idle) }
}

func idle() {
	mu.Lock()
	defer mu.Unlock()
	busy--
	if busy > 0 || enabled.Load() == 0 {
		return
	}
	g := gen
	stopTimer()
	timer = time.AfterFunc(IdleDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if busy == 0 && gen == g && enabled.Load() > 0 {
			runtime.GOMAXPROCS(1)
		}
	})
}

// stopTimer cancels a pending lowering; mu is held.
func stopTimer() {
	if timer != nil {
		timer.Stop()
		timer = nil
	}
}
