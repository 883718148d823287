package catalog

import (
	"context"
	"log/slog"
	"testing"
)

// NewTestCatalog opens a fresh catalog in t.TempDir() for tests of this and
// other packages, and closes it in t.Cleanup (failing the test if Close
// fails). Badger's warnings and errors go to t.Log. It fails the test with
// t.Fatal if the catalog cannot be opened.
func NewTestCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := Open(t.TempDir(), Options{Logger: slog.New(testLogHandler{t})})
	if err != nil {
		t.Fatalf("open test catalog: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close test catalog: %v", err)
		}
	})
	return c
}

// testLogHandler is a slog.Handler that writes warnings and errors to t.Log.
type testLogHandler struct {
	t testing.TB
}

func (h testLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h testLogHandler) Handle(_ context.Context, r slog.Record) error {
	h.t.Log(r.Level.String() + " " + r.Message)
	return nil
}

func (h testLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h testLogHandler) WithGroup(string) slog.Handler { return h }
