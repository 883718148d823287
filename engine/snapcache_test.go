package engine

import (
	"testing"
)

func ck(i byte) chunkKey { return chunkKey{digest: [32]byte{i}} }

// TestChunkCacheKeepsReadAhead checks the eviction order: used chunks go
// first (least recently used first), unread read-ahead only when nothing
// used is left (oldest first), and the unread accounting follows.
func TestChunkCacheKeepsReadAhead(t *testing.T) {
	chunk := make([]byte, 10)
	tests := []struct {
		name       string
		steps      func(c *chunkCache)
		kept, gone []byte
		unread     int64
	}{
		{"read-ahead outlives newer used chunks", func(c *chunkCache) {
			c.put(ck(1), chunk, true) // oldest: unread
			c.put(ck(2), chunk, false)
			c.put(ck(3), chunk, false)
			c.put(ck(4), chunk, false) // over the bound: evicts 2, not 1
		}, []byte{1, 3, 4}, []byte{2}, 10},
		{"used chunks in LRU order", func(c *chunkCache) {
			c.put(ck(1), chunk, false)
			c.put(ck(2), chunk, false)
			c.put(ck(3), chunk, false)
			c.get(ck(1))
			c.put(ck(4), chunk, false)
		}, []byte{1, 3, 4}, []byte{2}, 0},
		{"only read-ahead left: oldest out", func(c *chunkCache) {
			for i := byte(1); i <= 4; i++ {
				c.put(ck(i), chunk, true)
			}
		}, []byte{2, 3, 4}, []byte{1}, 30},
		{"a read moves a chunk to the used list", func(c *chunkCache) {
			c.put(ck(1), chunk, true)
			c.put(ck(2), chunk, true)
			c.get(ck(1))
			c.put(ck(3), chunk, true)
			c.put(ck(4), chunk, true) // evicts 1, the only used chunk
		}, []byte{2, 3, 4}, []byte{1}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChunkCache(30)
			tt.steps(c)
			for _, i := range tt.kept {
				if !c.has(ck(i)) {
					t.Errorf("chunk %d was evicted", i)
				}
			}
			for _, i := range tt.gone {
				if c.has(ck(i)) {
					t.Errorf("chunk %d is still cached", i)
				}
			}
			if got := c.unreadBytes(); got != tt.unread {
				t.Errorf("unread bytes = %d, want %d", got, tt.unread)
			}
			if c.size > c.max {
				t.Errorf("size %d over the bound %d", c.size, c.max)
			}
		})
	}
}
