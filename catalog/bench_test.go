package catalog

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// fill writes n media entries TAPE000000.. in transactions of 1000, without
// a sync per entry.
func fill(b *testing.B, c *Catalog, n int) {
	b.Helper()
	for start := 0; start < n; start += 1000 {
		err := c.update(func(txn *badger.Txn) error {
			for i := start; i < min(start+1000, n); i++ {
				m := testMedia(fmt.Sprintf("TAPE%06d", i))
				m.Updated = t0
				if err := putMediaTxn(txn, m.normalize()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkOpen measures Open+Close of a catalog holding 50,000 media.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	c, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, c, 50000)
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		c, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutMedia measures one synced upsert.
func BenchmarkPutMedia(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m := testMedia("TEST01L8")
	for b.Loop() {
		m.BytesUsed++
		if err := c.PutMedia(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListMedia measures listing 50,000 media with a filter that
// matches all of them.
func BenchmarkListMedia(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fill(b, c, 50000)
	for b.Loop() {
		list, err := c.ListMedia(MediaFilter{Pool: "daily"})
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != 50000 {
			b.Fatalf("listed %d", len(list))
		}
	}
}

// BenchmarkFindLabel measures a label lookup among 50,000 media.
func BenchmarkFindLabel(b *testing.B) {
	c, err := Open(b.TempDir(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fill(b, c, 50000)
	want := uuid.NewSHA1(uuid.NameSpaceOID, []byte("TAPE012345"))
	for b.Loop() {
		m, err := c.FindLabel("TAPE012345")
		if err != nil || m.UUID != want {
			b.Fatal(m.UUID, err)
		}
	}
}
