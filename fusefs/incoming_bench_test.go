package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIncomingSmallFiles copies 20,000 files of 4 KiB (as make
// bench does) into a group of pools/p0/incoming/ with cp -a and reports
// files per second, and the CPU time per file of the daemon (this
// process) and of cp: on a shared machine the rates are noisy, the CPU
// times much less so. "floor" does the same into a filesystem that does
// nothing with what it is sent (floor_bench_test.go): the cost of the
// round trips themselves on this machine.
func BenchmarkIncomingSmallFiles(b *testing.B) {
	src := filepath.Join(b.TempDir(), "small")
	os.MkdirAll(src, 0o755)
	const files = 20000
	data := make([]byte, 4096)
	for i := range files {
		data[0], data[1] = byte(i), byte(i>>8)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%05d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("tapefs", func(b *testing.B) {
		_, mnt := benchLibrary(b, 1<<30, 0)
		benchCopyIn(b, src, files, filepath.Join(mnt, "pools/p0/incoming"))
	})
	b.Run("floor", func(b *testing.B) {
		benchCopyIn(b, src, files, mountFloor(b))
	})
}

// benchCopyIn copies directory src (of files files) with cp -a to a new
// directory in dir per iteration and reports the rate and CPU times.
func benchCopyIn(b *testing.B, src string, files float64, dir string) {
	cpu := func(who int) time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(who, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var rate, self, child float64
	for i := 0; b.Loop(); i++ {
		s0, c0 := cpu(syscall.RUSAGE_SELF), cpu(syscall.RUSAGE_CHILDREN)
		start := time.Now()
		if out, err := exec.Command("cp", "-a", src, filepath.Join(dir, fmt.Sprintf("g%d", i))).CombinedOutput(); err != nil {
			b.Fatalf("cp -a: %v\n%s", err, out)
		}
		rate = files / time.Since(start).Seconds()
		self = float64(cpu(syscall.RUSAGE_SELF)-s0) / float64(time.Microsecond) / files
		child = float64(cpu(syscall.RUSAGE_CHILDREN)-c0) / float64(time.Microsecond) / files
	}
	b.ReportMetric(rate, "files/s")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	b.ReportMetric(self, "daemon-cpu-µs/file")
	b.ReportMetric(child, "cp-cpu-µs/file")
}
