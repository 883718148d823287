// Package cdcbench compares content-defined chunkers for tapefs on this
// machine, on the same data in one run: restic's Rabin chunker, two Go
// FastCDC libraries from the module proxy, tapefs's own engine/chunker, and
// crypto/sha256 as the baseline that chunking must keep up with.
//
// It is a separate module so that the libraries it measures never enter
// tapefs's go.mod; nothing in tapefs imports it. Run it with
//
//	cd engine/chunker/cdcbench && go test -run . -bench . -benchtime 3x -count 3
//
// Besides the usual wall-clock MB/s, the single-goroutine benchmarks report
// cpuMB/s: bytes per second of the benchmark thread's own CPU time, which
// stays meaningful on a shared, loaded machine. Test checks that each
// candidate's boundaries do not depend on read sizes and survive an insert
// at the front of the stream.
package cdcbench
