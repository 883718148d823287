// Command mktree makes a tree of many small files for make bench-scale:
// N files of 1 byte to 1 KiB (content unique to each file), 1,000 to a
// directory, written by a few goroutines.
//
//	mktree DIR N
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

const perDir = 1000

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mktree DIR N")
		os.Exit(2)
	}
	root := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "mktree: N must be a whole number")
		os.Exit(2)
	}
	dirs := (n + perDir - 1) / perDir
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { fmt.Fprintln(os.Stderr, "mktree:", err); os.Exit(1) })
	}
	for range 4 {
		wg.Go(func() {
			buf := make([]byte, 1024)
			for d := range work {
				dir := filepath.Join(root, fmt.Sprintf("d%05d", d))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					fail(err)
				}
				for i := d * perDir; i < min(n, (d+1)*perDir); i++ {
					// 1..1024 bytes, unique: the file's number, then a
					// pattern from it.
					size := 1 + (i*7919)%1024
					b := strconv.AppendInt(buf[:0], int64(i), 10)
					for len(b) < size {
						b = append(b, byte('a'+(i+len(b))%26))
					}
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%07d", i)), b[:size], 0o644); err != nil {
						fail(err)
					}
				}
			}
		})
	}
	for d := range dirs {
		work <- d
	}
	close(work)
	wg.Wait()
}
