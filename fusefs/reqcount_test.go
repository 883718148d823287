package fusefs

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// reqCounter wraps the bridge and counts the FUSE requests of the kinds
// that browsing a tree and copying files in send, and the entries
// READDIR(PLUS) returned.
type reqCounter struct {
	fuse.RawFileSystem
	mu sync.Mutex
	n  map[string]int
}

func (c *reqCounter) add(op string, k int) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op] += k
	c.mu.Unlock()
}

// snapshot returns the counts so far and resets them.
func (c *reqCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

func fmtCounts(n map[string]int, per int) string {
	var keys []string
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d (%.3f/entry) ", k, n[k], float64(n[k])/float64(per))
	}
	return b.String()
}

func (c *reqCounter) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	c.add("LOOKUP", 1)
	return c.RawFileSystem.Lookup(cancel, h, name, out)
}

func (c *reqCounter) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	c.add("GETATTR", 1)
	return c.RawFileSystem.GetAttr(cancel, in, out)
}

func (c *reqCounter) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	c.add("OPENDIR", 1)
	return c.RawFileSystem.OpenDir(cancel, in, out)
}

func (c *reqCounter) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.add("READDIR", 1)
	c.add("readdir-bytes", int(in.Size))
	return c.RawFileSystem.ReadDir(cancel, in, out)
}

func (c *reqCounter) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.add("READDIRPLUS", 1)
	c.add("readdir-bytes", int(in.Size))
	return c.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (c *reqCounter) Forget(nodeid, nlookup uint64) {
	c.add("FORGET", 1)
	c.RawFileSystem.Forget(nodeid, nlookup)
}

func (c *reqCounter) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	c.add("GETXATTR", 1)
	return c.RawFileSystem.GetXAttr(cancel, h, attr, dest)
}

func (c *reqCounter) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	c.add("ACCESS", 1)
	return c.RawFileSystem.Access(cancel, in)
}

func (c *reqCounter) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	c.add("CREATE", 1)
	return c.RawFileSystem.Create(cancel, in, name, out)
}

func (c *reqCounter) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	c.add("WRITE", 1)
	return c.RawFileSystem.Writev(cancel, in, data)
}

func (c *reqCounter) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	c.add("SETATTR", 1)
	return c.RawFileSystem.SetAttr(cancel, in, out)
}

func (c *reqCounter) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	c.add("SETXATTR", 1)
	return c.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (c *reqCounter) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	c.add("FLUSH", 1)
	return c.RawFileSystem.Flush(cancel, in)
}

func (c *reqCounter) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	c.add("RELEASE", 1)
	c.RawFileSystem.Release(cancel, in)
}
