package fusefs

import (
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// go-fuse keeps a node (its Inode and ours, some 700 bytes) for every
// entry the kernel holds, and the kernel holds every entry a walk has seen
// until memory runs short: a find over 2 million snapshot entries grew the
// daemon by 2 GB that it never gave back. The daemon asks the kernel to
// forget the snapshot entries it handed out longest ago once more than
// maxSnapNodes are out (FUSE_NOTIFY_PRUNE, Linux 6.18 and later): the
// kernel drops those of them nobody uses (not an open file, a working
// directory or the parent of a kept entry), sends FORGET, and go-fuse
// frees their nodes. A pruned entry costs one LOOKUP when it is used
// again; its attributes come back from the listing cache or the catalog.
// On an older kernel nothing is pruned and nodes live as long as the
// kernel keeps the entries.

// maxSnapNodes bounds the snapshot entries handed to the kernel that the
// daemon leaves the kernel to keep: with a batch on its way out, some
// 115 MB of nodes. It must be well
// above the entries of one READDIRPLUS reply (a few hundred): the nodes
// of a reply reach the kernel only once the whole reply is written, and a
// prune of a node the kernel does not know yet does nothing.
const maxSnapNodes = 1 << 17

// pruneBatch is the number of entries of one prune notification. Large:
// while the kernel evicts pruned entries, it takes the attributes of the
// READDIRPLUS replies it reads meanwhile for stale (fuse_iget's eviction
// counter) and asks GETATTR for them on the next stat. Batches of 4,096
// cost a GETATTR for 17% of the entries of a stat walk over a million,
// batches of 32,768 for 8%.
const pruneBatch = 1 << 15

// pruner remembers the snapshot nodes handed to the kernel, oldest
// first, and asks the kernel to forget the oldest beyond its bound. Safe
// for concurrent use; its zero value is ready (with maxSnapNodes).
type pruner struct {
	max, batch int // 0: maxSnapNodes, pruneBatch

	mu     sync.Mutex
	nodes  []*fs.Inode // a ring of handed-out nodes, oldest at head
	head   int
	n      int
	off    bool // the kernel cannot prune
	work   chan []*fs.Inode
	notify func(batch []*fs.Inode) syscall.Errno // tests replace it
}

// add records a node handed to the kernel. When the bound is passed, it
// queues the oldest batch nodes for a prune notification, sent on
// another goroutine: a notification is a write to the FUSE device, which
// must not wait in a request handler.
func (p *pruner) add(n *fs.Inode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return
	}
	if p.nodes == nil {
		if p.max == 0 {
			p.max = maxSnapNodes
		}
		if p.batch == 0 {
			p.batch = pruneBatch
		}
		p.nodes = make([]*fs.Inode, p.max+p.batch)
		p.work = make(chan []*fs.Inode, 4)
		go p.run()
	}
	p.nodes[(p.head+p.n)%len(p.nodes)] = n
	p.n++
	if p.n < len(p.nodes) {
		return
	}
	batch := make([]*fs.Inode, p.batch)
	for i := range batch {
		batch[i] = p.nodes[p.head]
		p.nodes[p.head] = nil
		p.head = (p.head + 1) % len(p.nodes)
	}
	p.n -= p.batch
	select {
	case p.work <- batch:
	default:
		// The goroutine is still busy with earlier batches: these
		// nodes stay until the kernel forgets them by itself, rather
		// than a handler waiting on the FUSE device.
	}
}

func (p *pruner) run() {
	for batch := range p.work {
		notify := p.notify
		if notify == nil {
			notify = func(b []*fs.Inode) syscall.Errno { return b[0].NotifyPrune(b) }
		}
		if errno := notify(batch); errno == syscall.ENOSYS {
			p.mu.Lock()
			p.off = true
			p.nodes, p.n = nil, 0
			p.mu.Unlock()
			return
		}
	}
}
