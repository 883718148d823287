package chunker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"testing/iotest"
)

// collect returns a Pipeline callback that checks each digest and appends
// a copy of each chunk's description to *got.
func collect(t *testing.T, got *[]chunkInfo, data *[]byte) func([]byte, Digest) error {
	t.Helper()
	return func(b []byte, d Digest) error {
		if Sum(b) != d {
			t.Errorf("chunk %d: digest %s does not match its data", len(*got), d)
		}
		*got = append(*got, chunkInfo{len(b), d})
		*data = append(*data, b...)
		if len(*got)%3 == 0 {
			runtime.Gosched() // let the hashing workers run ahead and finish out of order
		}
		return nil
	}
}

func TestPipelineDeliversInStreamOrder(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		p    Params
	}{
		{"mixed/small", mixedData(100, 6<<20), smallParams},
		{"random/tiny", randomData(101, 1<<20), Params{Min: 64, Avg: 256, Max: 1024}},
		{"mixed/default", mixedData(102, 20<<20), DefaultParams},
		{"empty", nil, smallParams},
		{"short", []byte("tapefs"), smallParams},
	}
	for _, tt := range tests {
		want := chunkAll(t, bytes.NewReader(tt.data), tt.p)
		for _, workers := range []int{0, 1, 2, 8} {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.name, workers), func(t *testing.T) {
				var got []chunkInfo
				var data []byte
				err := ReadAll(context.Background(), Config{Params: tt.p, Workers: workers}, iotest.HalfReader(bytes.NewReader(tt.data)), collect(t, &got, &data))
				if err != nil {
					t.Fatalf("Pipeline with %d workers: %v", workers, err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("Pipeline with %d workers delivered %d chunks that differ from the Chunker's %d", workers, len(got), len(want))
				}
				if !bytes.Equal(data, tt.data) {
					t.Errorf("Pipeline with %d workers: chunks do not add up to the input", workers)
				}
			})
		}
	}
}

func TestPipelineStopsAtCallbackError(t *testing.T) {
	errFull := errors.New("spool full")
	for _, workers := range []int{1, 2, 4} {
		calls := 0
		err := ReadAll(context.Background(), Config{Params: smallParams, Workers: workers}, bytes.NewReader(randomData(110, 2<<20)), func([]byte, Digest) error {
			calls++
			if calls == 5 {
				return errFull
			}
			return nil
		})
		if !errors.Is(err, errFull) {
			t.Errorf("workers %d: Pipeline = %v, want %v", workers, err, errFull)
		}
		if calls != 5 {
			t.Errorf("workers %d: callback ran %d times, want 5 (none after its error)", workers, calls)
		}
	}
}

func TestPipelineReturnsReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	data := randomData(120, 1<<20)
	for _, workers := range []int{1, 3} {
		var got []chunkInfo
		var delivered []byte
		r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(errDisk))
		err := ReadAll(context.Background(), Config{Params: smallParams, Workers: workers}, r, collect(t, &got, &delivered))
		if !errors.Is(err, errDisk) {
			t.Fatalf("workers %d: Pipeline = %v, want an error wrapping %v", workers, err, errDisk)
		}
		// The chunks before the error are the Chunker's, except the one the
		// error cut short.
		want := chunkAll(t, bytes.NewReader(data), smallParams)
		if len(got) == 0 || len(got) >= len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Errorf("workers %d: delivered %d chunks before the error, want a proper prefix of the %d chunks", workers, len(got), len(want))
		}
	}
}

func TestPipelineCancel(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := ReadAll(ctx, Config{Params: smallParams, Workers: workers}, bytes.NewReader(randomData(130, 4<<20)), func([]byte, Digest) error {
			calls++
			if calls == 3 {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("workers %d: Pipeline = %v, want context.Canceled", workers, err)
		}
		if calls != 3 {
			t.Errorf("workers %d: callback ran %d times, want 3 (none after the cancel)", workers, calls)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ReadAll(ctx, Config{Params: smallParams, Workers: 2}, bytes.NewReader(randomData(131, 1<<20)), func([]byte, Digest) error {
		t.Error("callback ran after the context was cancelled")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Pipeline with a cancelled context = %v, want context.Canceled", err)
	}
}

// blockingReader returns its data and then blocks until release is closed.
type blockingReader struct {
	data    []byte
	release chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.release
	return 0, io.EOF
}

func TestPipelineCancelWhileReadBlocks(t *testing.T) {
	r := &blockingReader{data: randomData(140, 300<<10), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := ReadAll(ctx, Config{Params: smallParams, Workers: 2}, r, func([]byte, Digest) error {
		calls++
		if calls == 2 {
			// The producer is blocked in Read (or soon will be); cancel,
			// then let the Read return as closing the input would.
			cancel()
			close(r.release)
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Pipeline = %v, want context.Canceled", err)
	}
}

func TestPipelineInvalidParams(t *testing.T) {
	err := ReadAll(context.Background(), Config{Params: Params{Min: 10, Avg: 5, Max: 1}, Workers: 2}, bytes.NewReader(nil), func([]byte, Digest) error {
		t.Error("callback ran with invalid Params")
		return nil
	})
	if !errors.Is(err, ErrInvalidParams) {
		t.Errorf("Pipeline = %v, want ErrInvalidParams", err)
	}
}

// TestPipelineStreams chunks several streams in one Pipeline: each is cut
// as the Chunker cuts it alone, its chunks come in order and its end after
// them, and a stream that cannot be opened or read ends with its error
// while the others go on.
func TestPipelineStreams(t *testing.T) {
	errOpen, errRead := errors.New("no such file"), errors.New("bad sector")
	type stream struct {
		name    string
		data    []byte
		openErr error
		readErr error
	}
	streams := []stream{
		{name: "a", data: mixedData(160, 1<<20)},
		{name: "empty"},
		{name: "tiny", data: []byte("x")},
		{name: "gone", openErr: errOpen},
		{name: "b", data: randomData(161, 2<<20)},
		{name: "broken", data: randomData(162, 1<<20), readErr: errRead},
		{name: "c", data: mixedData(163, 512<<10)},
	}
	for _, workers := range []int{1, 2, 4} {
		in := make(chan stream)
		go func() {
			for _, s := range streams {
				in <- s
			}
			close(in)
		}()
		got := map[string][]chunkInfo{}
		var order []string
		ends := map[string]error{}
		err := Pipeline(context.Background(), Config{Params: smallParams, Workers: workers, InFlight: 1 << 20}, in,
			func(s stream) (io.ReadCloser, error) {
				if s.openErr != nil {
					return nil, s.openErr
				}
				var r io.Reader = bytes.NewReader(s.data)
				if s.readErr != nil {
					r = io.MultiReader(r, iotest.ErrReader(s.readErr))
				}
				return io.NopCloser(r), nil
			},
			func(s stream, data []byte, d Digest) error {
				if _, ended := ends[s.name]; ended {
					t.Errorf("chunk of %s after its end", s.name)
				}
				if Sum(data) != d {
					t.Errorf("%s: digest does not match", s.name)
				}
				got[s.name] = append(got[s.name], chunkInfo{len(data), d})
				return nil
			},
			func(s stream, err error) error {
				order = append(order, s.name)
				ends[s.name] = err
				return nil
			})
		if err != nil {
			t.Fatalf("workers %d: %v", workers, err)
		}
		var names []string
		for _, s := range streams {
			names = append(names, s.name)
			switch {
			case s.openErr != nil:
				if !errors.Is(ends[s.name], s.openErr) || len(got[s.name]) > 0 {
					t.Errorf("workers %d: %s ended with %v after %d chunks", workers, s.name, ends[s.name], len(got[s.name]))
				}
			case s.readErr != nil:
				want := chunkAll(t, bytes.NewReader(s.data), smallParams)
				if !errors.Is(ends[s.name], s.readErr) || len(got[s.name]) >= len(want) || !slices.Equal(got[s.name], want[:len(got[s.name])]) {
					t.Errorf("workers %d: %s ended with %v after %d chunks", workers, s.name, ends[s.name], len(got[s.name]))
				}
			default:
				if want := chunkAll(t, bytes.NewReader(s.data), smallParams); ends[s.name] != nil || !slices.Equal(got[s.name], want) {
					t.Errorf("workers %d: %s: %d chunks ending with %v, want the Chunker's %d", workers, s.name, len(got[s.name]), ends[s.name], len(want))
				}
			}
		}
		if !slices.Equal(order, names) {
			t.Errorf("workers %d: ends in order %v, want %v", workers, order, names)
		}
	}
}

// TestPipelineStopsAtEndError: an error from end stops the pipeline and
// is returned; later streams are not opened.
func TestPipelineStopsAtEndError(t *testing.T) {
	errStop := errors.New("unreadable file")
	in := make(chan int, 3)
	in <- 1
	in <- 2
	in <- 3
	close(in)
	opened := 0
	err := Pipeline(context.Background(), Config{Params: smallParams}, in,
		func(i int) (io.ReadCloser, error) {
			opened++
			if i == 2 {
				return nil, errStop
			}
			return io.NopCloser(bytes.NewReader(randomData(uint64(i), 10))), nil
		},
		func(int, []byte, Digest) error { return nil },
		func(i int, err error) error { return err })
	if !errors.Is(err, errStop) {
		t.Fatalf("Pipeline = %v, want %v", err, errStop)
	}
	if opened > 3 {
		t.Errorf("%d streams opened", opened)
	}
}

// TestPipelineZeroUnhashed: with ZeroUnhashed, the chunks of a long run of
// zeros come with the zero Digest, the others with their SHA-256, and the
// chunks are the same as without it.
func TestPipelineZeroUnhashed(t *testing.T) {
	data := slices.Concat(randomData(7, 300<<10), make([]byte, 5<<20), randomData(8, 300<<10))
	var plain, unhashed []Digest
	var lens, lensU []int
	for _, c := range []struct {
		zu   bool
		ds   *[]Digest
		lens *[]int
	}{{false, &plain, &lens}, {true, &unhashed, &lensU}} {
		err := ReadAll(context.Background(), Config{Params: smallParams, Workers: 2, ZeroUnhashed: c.zu}, bytes.NewReader(data), func(b []byte, d Digest) error {
			*c.ds = append(*c.ds, d)
			*c.lens = append(*c.lens, len(b))
			want := Sum(b)
			if c.zu && IsZero(b) {
				want = Digest{}
			}
			if d != want {
				t.Errorf("ZeroUnhashed=%v: chunk %d (%d bytes, zero %v): digest %s, want %s", c.zu, len(*c.ds)-1, len(b), IsZero(b), d, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(lens, lensU) {
		t.Fatalf("chunks differ with ZeroUnhashed: %v against %v", lensU, lens)
	}
	zero := 0
	for _, d := range unhashed {
		if d == (Digest{}) {
			zero++
		}
	}
	if zero == 0 {
		t.Error("no chunk of the zero run came unhashed")
	}
}
