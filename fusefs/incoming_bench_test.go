package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkIncomingSmallFiles copies 5,000 files of 4 KiB into a group of
// pools/p0/incoming/ with cp -a and reports files per second.
func BenchmarkIncomingSmallFiles(b *testing.B) {
	_, mnt := benchLibrary(b, 1<<30, 0)
	src := filepath.Join(b.TempDir(), "small")
	os.MkdirAll(src, 0o755)
	const files = 5000
	data := make([]byte, 4096)
	for i := range files {
		data[0] = byte(i)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%05d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var rate float64
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if out, err := exec.Command("cp", "-a", src, filepath.Join(mnt, "pools/p0/incoming", fmt.Sprintf("g%d", i))).CombinedOutput(); err != nil {
			b.Fatalf("cp -a: %v\n%s", err, out)
		}
		rate = files / time.Since(start).Seconds()
	}
	b.ReportMetric(rate, "files/s")
}
