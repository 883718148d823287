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

// chunkCache is a byte-bounded LRU cache of chunk data for snapshot reads.
// Chunks read ahead of any request are "unread" until a read takes them;
// the reader stops reading ahead while unread bytes exceed its budget, so
// read-ahead never evicts its own unread data before it is used. Safe for
// concurrent use.
type chunkCache struct {
	mu     sync.Mutex
	max    int64
	size   int64
	unread int64 // bytes of read-ahead chunks not taken yet
	lru    *list.List
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
	return &chunkCache{max: max, lru: list.New(), items: map[chunkKey]*list.Element{}}
}

// get returns a cached chunk and marks it used.
func (c *chunkCache) get(k chunkKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	it := el.Value.(*cacheItem)
	if it.unread {
		it.unread = false
		c.unread -= int64(len(it.data))
	}
	return it.data, true
}

// has reports whether k is cached, without touching the LRU order.
func (c *chunkCache) has(k chunkKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[k]
	return ok
}

// put adds a chunk (read ahead: unread) and evicts the least recently
// used chunks beyond the bound. A chunk larger than the cache is not kept.
func (c *chunkCache) put(k chunkKey, data []byte, unread bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || int64(len(data)) > c.max {
		return
	}
	it := &cacheItem{key: k, data: data, unread: unread}
	c.items[k] = c.lru.PushFront(it)
	c.size += int64(len(data))
	if unread {
		c.unread += int64(len(data))
	}
	for c.size > c.max {
		el := c.lru.Back()
		old := el.Value.(*cacheItem)
		c.lru.Remove(el)
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
