package procs

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// setup gives the test two processors and a short idle delay, and puts
// both back afterwards.
func setup(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	prev := runtime.GOMAXPROCS(2)
	delay := IdleDelay
	IdleDelay = 20 * time.Millisecond
	t.Cleanup(func() {
		IdleDelay = delay
		runtime.GOMAXPROCS(prev)
	})
}

func waitProcs(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.GOMAXPROCS(0) != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS = %d, want %d", runtime.GOMAXPROCS(0), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdleOneBusyAll(t *testing.T) {
	setup(t)
	disable := Enable()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("after Enable: GOMAXPROCS = %d, want 1", got)
	}
	done := Busy()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("while busy: GOMAXPROCS = %d, want 2", got)
	}
	done2 := Busy()
	done()
	done() // a second call of the same done counts once
	time.Sleep(3 * IdleDelay)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("one of two busy works left: GOMAXPROCS = %d, want 2", got)
	}
	done2()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("right after the last work: GOMAXPROCS = %d, want 2 until the idle delay", got)
	}
	waitProcs(t, 1)
	disable()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("after disable: GOMAXPROCS = %d, want 2", got)
	}
}

// Work that starts within the idle delay keeps the processors: the timer
// of the earlier work must not lower them under it.
func TestBusyWithinIdleDelay(t *testing.T) {
	setup(t)
	defer Enable()()
	Busy()()
	done := Busy()
	time.Sleep(5 * IdleDelay)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS = %d under running work, want 2", got)
	}
	done()
	waitProcs(t, 1)
}

func TestNested(t *testing.T) {
	setup(t)
	d1 := Enable()
	d2 := Enable()
	d1()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("one Enable left: GOMAXPROCS = %d, want 1", got)
	}
	d2()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("all undone: GOMAXPROCS = %d, want 2", got)
	}
	// Busy without the policy changes nothing.
	done := Busy()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("disabled Busy: GOMAXPROCS = %d", got)
	}
	done()
}

func TestEnvironmentWins(t *testing.T) {
	setup(t)
	t.Setenv("GOMAXPROCS", "2")
	defer Enable()()
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS set in the environment: changed to %d", got)
	}
}

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestGCPercent(t *testing.T) {
	setup(t)
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	d1 := Enable()
	d2 := Enable()
	if got := gcPercent(); got != GCPercent {
		t.Fatalf("after Enable: GOGC %d, want %d", got, GCPercent)
	}
	d1()
	d1()
	if got := gcPercent(); got != GCPercent {
		t.Fatalf("one Enable left: GOGC %d, want %d", got, GCPercent)
	}
	d2()
	if got := gcPercent(); got != 100 {
		t.Fatalf("all undone: GOGC %d, want 100 back", got)
	}
	t.Setenv("GOGC", "300")
	debug.SetGCPercent(300)
	defer Enable()()
	if got := gcPercent(); got != 300 {
		t.Fatalf("GOGC set in the environment: changed to %d", got)
	}
}
