package catalog

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"tapefs/internal/testfs"
)

// TestCatalogFullFilesystem fills the catalog's filesystem (another
// program takes every free block) and goes on writing: no write crashes
// the process (Badger's mmapped files would SIGBUS), the reserve gives the
// catalog room to go on, a write that finds no room fails with ENOSPC
// naming the filesystem, what was written before stays, and the catalog
// opens again on the full filesystem.
func TestCatalogFullFilesystem(t *testing.T) {
	dir, c, set, fill, log := fullCatalog(t)
	written := 0
	full := putUntilFull(c, set, &written)
	if !errors.Is(full, syscall.ENOSPC) || !errors.Is(full, ErrNoRoom) {
		t.Fatalf("writing %d chunks on a full filesystem ended with %v, want ENOSPC", written, full)
	}
	if _, err := os.Stat(filepath.Join(dir, reserveName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the reserve is still there when the catalog ran out of room: %v", err)
	}
	if written < 10000 {
		t.Errorf("only %d chunks written after the filesystem filled: the reserve was not used", written)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Open again on the full filesystem: everything written is there.
	c, err := Open(dir, Options{Logger: log})
	if err != nil {
		t.Fatalf("open on the full filesystem: %v", err)
	}
	for _, i := range []int{0, written / 2, written - 1} {
		if _, err := c.GetChunk(set.UUID, chunkEntryN(i, set).Digest); err != nil {
			t.Errorf("chunk %d of %d: %v", i, written, err)
		}
	}
	// Writes go on in what is left, then stop again with ENOSPC.
	if full := putUntilFull(c, set, &written); !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("writing on after reopening: %v, want ENOSPC", full)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// No room even to open read-write: opened read-only, reads work,
	// writes fail with ENOSPC; with room again the first write reopens
	// it read-write and the reserve comes back.
	fill.Leave(0)
	c, err = Open(dir, Options{Logger: log})
	if err != nil {
		t.Fatalf("open with no room at all: %v, want a read-only catalog", err)
	}
	defer c.Close()
	if _, err := c.GetChunk(set.UUID, chunkEntryN(0, set).Digest); err != nil {
		t.Errorf("read with no room: %v", err)
	}
	if err := c.PutMediaSet(set); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write with no room: %v, want ENOSPC", err)
	}
	fill.Leave(RoomNeeded + reserveSize + 16<<20)
	if err := c.PutChunks(set.UUID, []ChunkEntry{chunkEntryN(written, set)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetChunk(set.UUID, chunkEntryN(written, set).Digest); err != nil {
		t.Errorf("read after reopening read-write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, reserveName)); err != nil {
		t.Errorf("the reserve did not come back with room: %v", err)
	}
}

// fullCatalog opens a catalog (in dir) on a 160 MiB filesystem, checks
// its reserve, puts a media set into it and fills the filesystem.
func fullCatalog(t *testing.T) (dir string, c *Catalog, set MediaSet, fill *testfs.Filler, log *slog.Logger) {
	t.Helper()
	fsdir := testfs.Small(t, 160<<20)
	dir = filepath.Join(fsdir, "catalog")
	log = slog.New(testLogHandler{t})
	c, err := Open(dir, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, reserveName), &st); err != nil || st.Blocks*512 < reserveSize {
		t.Fatalf("reserve: %v, %d bytes allocated, want %d", err, st.Blocks*512, reserveSize)
	}
	set = testSet("full", "daily", t0)
	if err := c.PutMediaSet(set); err != nil {
		t.Fatal(err)
	}
	fill = testfs.NewFiller(t, fsdir)
	fill.Leave(0)
	return dir, c, set, fill, log
}

// putUntilFull indexes chunks *written.. in calls of 2,000 entries (as a
// backup indexes an archive's chunks: about 400 KiB of write-ahead log
// each) until one fails, and returns its error (nil after 1,000,000).
func putUntilFull(c *Catalog, set MediaSet, written *int) error {
	for range 500 {
		batch := make([]ChunkEntry, 2000)
		for i := range batch {
			batch[i] = chunkEntryN(*written+i, set)
		}
		if err := c.PutChunks(set.UUID, batch); err != nil {
			return err
		}
		*written += len(batch)
	}
	return nil
}

func chunkEntryN(i int, set MediaSet) ChunkEntry {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return ChunkEntry{Digest: sha256.Sum256(b[:]), Loc: ChunkLoc{Media: set.Media[0], File: 3, Offset: int64(i) * 4096, Size: 4096}}
}

// TestCatalogFullFilesystemTree writes a snapshot tree larger than what
// is left on a filled filesystem, reserve included, in one call: the room
// is checked while the tree goes in, so the call stops with ENOSPC
// instead of running Badger out of blocks (SIGBUS), and the catalog opens
// again with no trace of the unfinished snapshot.
func TestCatalogFullFilesystemTree(t *testing.T) {
	dir, c, set, _, log := fullCatalog(t)
	// 5,000 files of 16 KiB of distinct attributes: 80 MiB of values.
	tree := []TreeEntry{{Path: "d", Value: []byte("dir")}}
	for i := range 5000 {
		v := make([]byte, 16<<10)
		binary.BigEndian.PutUint64(v, uint64(i))
		tree = append(tree, TreeEntry{Path: fmt.Sprintf("d/f%05d", i), Value: v})
	}
	snap := testSnapshot(set, "g/2026-12-06T08:00:00Z")
	if err := c.PutSnapshot(snap, tree); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a tree larger than the room: %v, want ENOSPC", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.GetSnapshot(set.UUID, snap.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("the snapshot that did not fit: %v, want ErrNotFound", err)
	}
}
