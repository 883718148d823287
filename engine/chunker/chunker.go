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
		end := min(c.p.Avg, n)
		k, h := scanZeros(data[i:end], fp, c.maskS)
		if k >= 0 {
			return i + k, true
		}
		i, fp = end, h
	}
	if i < n {
		k, h := scanZeros(data[i:n], fp, c.maskL)
		if k >= 0 {
			return i + k, true
		}
		i, fp = n, h
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

// zeroFP is where the Gear hash ends up after 64 zero bytes, from any
// value, and stays for as long as zeros follow: fp<<1 + gear[0] = fp.
// (After n zeros fp is fp0<<n + gear[0]*(2^n-1); at n = 64 the first term
// is gone and the second is -gear[0].)
var zeroFP = -gear[0]

// scanZeros is scan, faster over runs of zeros (holes of sparse files,
// zeroed disk images): where data starts with at least 64 zeros and the
// mask finds no boundary at zeroFP, the hash is scanned over the first 64
// (they may hold a boundary) and the rest of the run is skipped, the hash
// staying zeroFP. The result is scan's.
func scanZeros(data []byte, fp, mask uint64) (int, uint64) {
	if zeroFP&mask == 0 || len(data) < 128 || zeroPrefix(data[:64]) < 64 {
		return scan(data, fp, mask)
	}
	if k, _ := scan(data[:64], fp, mask); k >= 0 {
		return k, 0
	}
	z := 64 + zeroPrefix(data[64:])
	if z == len(data) {
		return -1, zeroFP
	}
	k, h := scan(data[z:], zeroFP, mask)
	if k >= 0 {
		return z + k, 0
	}
	return -1, h
}

// zeroPrefix returns the number of zero bytes data starts with.
func zeroPrefix(data []byte) int {
	n := 0
	for len(data)-n >= 64 && IsZero(data[n:n+64]) {
		n += 64
	}
	for n < len(data) && data[n] == 0 {
		n++
	}
	return n
}

// Tables of gear shifted left by 3, 2 and 1 bits, for scan.
var gear3, gear2, gear1 = shiftedGear(3), shiftedGear(2), shiftedGear(1)

func shiftedGear(s uint) (t [256]uint64) {
	for i, g := range gear {
		t[i] = g << s
	}
	return t
}

// scan feeds data to the Gear hash fp (fp = fp<<1 + gear[b] per byte) and
// returns the length of the prefix after which fp&mask is zero for the
// first time, or -1 and the final hash when there is none. mask must have
// bits 61 to 63 clear.
//
// It is the byte-at-a-time loop unrolled four times with a shorter
// dependency chain: h holds the hash after the first byte of a group
// shifted left by 3, so the next three bytes add pre-shifted table entries
// instead of shifting h again, and each test shifts the mask to match.
// (h<<s)&(mask<<s) is zero exactly when h&mask is, because mask has no bits
// among the top s.
func scan(data []byte, fp, mask uint64) (int, uint64) {
	m3, m2, m1 := mask<<3, mask<<2, mask<<1
	t3, t2, t1, t0 := &gear3, &gear2, &gear1, &gear
	p := data
	for len(p) >= 4 {
		h := fp<<4 + t3[p[0]]
		if h&m3 == 0 {
			return len(data) - len(p) + 1, 0
		}
		h += t2[p[1]]
		if h&m2 == 0 {
			return len(data) - len(p) + 2, 0
		}
		h += t1[p[2]]
		if h&m1 == 0 {
			return len(data) - len(p) + 3, 0
		}
		fp = h + t0[p[3]]
		if fp&mask == 0 {
			return len(data) - len(p) + 4, 0
		}
		p = p[4:]
	}
	for i, b := range p {
		fp = fp<<1 + t0[b]
		if fp&mask == 0 {
			return len(data) - len(p) + i + 1, 0
		}
	}
	return -1, fp
}
