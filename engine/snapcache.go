package engine

import (
	"container/list"
	"sync"

	"github.com/google/uuid"
)

// DefaultSnapshotCacheBytes is the size of the chunk cache of snapshot
// reads when Options.SnapshotCacheBytes is 0.
const DefaultSnapshotCacheBytes = 256 << 20

// chunkKey names a chunk: digests are unique within a media set only
// (dedup never crosses sets).
type chunkKey struct {
	set    uuid.UUID
	digest [32]byte
}

// chunkCache is a byte-bounded cache of chunk data for snapshot reads.
// Chunks read ahead of any request are "unread" until a read takes them;
// the reader stops reading ahead while unread bytes exceed its budget.
// Room is made by evicting used chunks first, least recently used out
// first, and unread ones only when no used chunk is left (oldest first):
// read-ahead is what the readers ask for next, and a read-ahead chunk
// dropped before its read costs a second pass over its archive, while a
// used chunk is rarely read again (the kernel keeps the pages). Safe for
// concurrent use.
type chunkCache struct {
	mu     sync.Mutex
	max    int64
	size   int64
	unread int64      // bytes of read-ahead chunks not taken yet
	used   *list.List // used chunks, most recently used in front
	ahead  *list.List // unread chunks, newest in front
	items  map[chunkKey]*list.Element
}

type cacheItem struct {
	key    chunkKey
	data   []byte
	unread bool
}

func newChunkCache(max int64) *chunkCache {
	if max <= 0 {
		max = DefaultSnapshotCacheBytes
	}
	return &chunkCache{max: max, used: list.New(), ahead: list.New(), items: map[chunkKey]*list.Element{}}
}

// get returns a cached chunk and marks it used.
func (c *chunkCache) get(k chunkKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	it := el.Value.(*cacheItem)
	if it.unread {
		it.unread = false
		c.unread -= int64(len(it.data))
		c.ahead.Remove(el)
		c.items[k] = c.used.PushFront(it)
	} else {
		c.used.MoveToFront(el)
	}
	return it.data, true
}

// has reports whether k is cached, without touching the eviction order.
func (c *chunkCache) has(k chunkKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[k]
	return ok
}

// put adds a chunk (read ahead: unread) and evicts chunks beyond the
// bound, used ones first. A chunk larger than the cache is not kept.
func (c *chunkCache) put(k chunkKey, data []byte, unread bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || int64(len(data)) > c.max {
		return
	}
	it := &cacheItem{key: k, data: data, unread: unread}
	if unread {
		c.items[k] = c.ahead.PushFront(it)
		c.unread += int64(len(data))
	} else {
		c.items[k] = c.used.PushFront(it)
	}
	c.size += int64(len(data))
	for c.size > c.max {
		l := c.used
		if l.Len() == 0 {
			l = c.ahead
		}
		old := l.Remove(l.Back()).(*cacheItem)
		delete(c.items, old.key)
		c.size -= int64(len(old.data))
		if old.unread {
			c.unread -= int64(len(old.data))
		}
	}
}

// unreadBytes returns the bytes read ahead and not used yet.
func (c *chunkCache) unreadBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unread
}
