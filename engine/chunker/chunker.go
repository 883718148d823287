package chunker

import (
	"fmt"
	"io"
)

// minBuffer is the size of a Chunker's first buffer; it doubles while a
// chunk does not fit, up to Max plus one read block, so that a small input
// costs a small buffer.
const minBuffer = 64 << 10

// maxEmptyReads is how many reads in a row may return no data and no error
// before the Chunker gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// Chunker splits the stream of an io.Reader into content-defined chunks.
// It reads into one buffer that it reuses and that grows, while chunks do
// not fit, from 64 KiB up to Max + max(Max/2, 64 KiB) bytes; at full size
// every refill asks the reader for at least Max/2 bytes. A chunk that Next
// returns is a view of that buffer.
//
// A Chunker is not safe for concurrent use.
type Chunker struct {
	r            io.Reader
	p            Params
	maskS, maskL uint64
	bufSize      int // the size buf grows to

	buf        []byte
	start, end int // buf[start:end] is read but not yet returned
	scanned    int // bytes after start already searched for a boundary
	fp         uint64
	eof        bool
	err        error // sticky: returned by every later Next
	paramErr   error // why p is invalid, or nil
}

// New returns a Chunker that reads r and cuts it with the sizes in p (the
// zero Params means DefaultParams). Invalid Params are reported by the first
// call to Next as an error wrapping ErrInvalidParams.
func New(r io.Reader, p Params) *Chunker {
	c := &Chunker{}
	c.setParams(p)
	c.Reset(r)
	return c
}

func (c *Chunker) setParams(p Params) {
	p = p.orDefault()
	c.p = p
	if c.paramErr = p.Validate(); c.paramErr != nil {
		return
	}
	c.maskS, c.maskL = p.masks()
	c.bufSize = p.Max + max(p.Max/2, minBuffer)
}

// Reset makes c chunk r from its start, keeping its Params and its buffer,
// so that one Chunker can cut many small streams without new allocations.
// Chunks returned before are invalid after Reset.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.start, c.end, c.scanned, c.fp = 0, 0, 0, 0
	c.eof = false
	c.err = c.paramErr
}

// Next returns the next chunk of the stream. The chunk is a view of the
// Chunker's buffer and is valid until the next call to Next or Reset; a
// caller that keeps it must copy it. Every chunk is between Min and Max
// bytes long except the last one, which may be shorter. At the end of the
// stream Next returns io.EOF (at once for an empty stream). A read error is
// returned wrapped, and again by every later call.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	for {
		data := c.buf[c.start:c.end]
		n, ok := c.boundary(data)
		if !ok && c.eof && len(data) > 0 {
			n, ok = len(data), true
		}
		if ok {
			c.start += n
			c.scanned, c.fp = 0, 0
			return data[:n:n], nil
		}
		if c.eof {
			c.err = io.EOF
			return nil, io.EOF
		}
		if err := c.fill(); err != nil {
			c.err = err
			return nil, err
		}
	}
}

// boundary returns the length of the chunk at the front of data and true,
// or false when data ends before a boundary and before Max bytes; it then
// remembers how far it searched, so that the next call goes on from there.
func (c *Chunker) boundary(data []byte) (int, bool) {
	n := len(data)
	full := n >= c.p.Max
	if full {
		n = c.p.Max
		data = data[:n]
	}
	i, fp := c.scanned, c.fp
	// Cut-point skipping: no boundary before Min, so the hash starts there.
	i = max(i, c.p.Min)
	if i < c.p.Avg && i < n {
		maskS := c.maskS
		for j, b := range data[i:min(c.p.Avg, n)] {
			fp = fp<<1 + gear[b]
			if fp&maskS == 0 {
				return i + j + 1, true
			}
		}
		i = min(c.p.Avg, n)
	}
	if i < n {
		maskL := c.maskL
		for j, b := range data[i:] {
			fp = fp<<1 + gear[b]
			if fp&maskL == 0 {
				return i + j + 1, true
			}
		}
		i = n
	}
	if full {
		return n, true
	}
	c.scanned, c.fp = i, fp
	return 0, false
}

// fill moves the unreturned data to the front of the buffer, grows the
// buffer if that data fills it, and reads until the buffer is full or the
// stream ends.
func (c *Chunker) fill() error {
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	if c.end == len(c.buf) {
		grown := make([]byte, min(max(2*len(c.buf), minBuffer), c.bufSize))
		copy(grown, c.buf[:c.end])
		c.buf = grown
	}
	empty := 0
	for c.end < len(c.buf) {
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		switch {
		case err == io.EOF:
			c.eof = true
			return nil
		case err != nil:
			return fmt.Errorf("read input to chunk: %w", err)
		case n > 0:
			empty = 0
		default:
			empty++
			if empty >= maxEmptyReads {
				return fmt.Errorf("read input to chunk: %w", io.ErrNoProgress)
			}
		}
	}
	return nil
}
