package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"tapefs/internal/fileutil"
)

func openT(t *testing.T, dir string, opts Options) *Catalog {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(testLogHandler{t})
	}
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return c
}

func closeT(t *testing.T, c *Catalog) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func dumpT(t *testing.T, c *Catalog) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Dump(&b); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return b.String()
}

func TestReopenPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "catalog")
	c := openT(t, dir, Options{Now: fixedClock()})
	a, b := testMedia("TEST01L8"), testMedia("TEST02L8")
	b.Set = &MediaSetRef{UUID: setDay1, Seq: 2, Ctime: t0, Pool: "daily"}
	mustPut(t, c, a, b)
	if err := c.DeleteMedia(a.UUID); err != nil {
		t.Fatal(err)
	}
	wantList, err := c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantDump := dumpT(t, c)
	closeT(t, c)

	for _, ro := range []bool{false, true} {
		c = openT(t, dir, Options{ReadOnly: ro})
		gotList, err := c.ListMedia(MediaFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotList, wantList) {
			t.Errorf("readOnly=%v: after reopen ListMedia = %+v, want %+v", ro, gotList, wantList)
		}
		if got := dumpT(t, c); got != wantDump {
			t.Errorf("readOnly=%v: after reopen Dump =\n%s\nwant\n%s", ro, got, wantDump)
		}
		closeT(t, c)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})

	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open(readOnly=%v) while a writer holds it = %v, want ErrLocked", ro, err)
		}
		// The writer is this process: the message names it.
		if want := fmt.Sprintf("catalog %s is in use by another tapefs process (pid %d: %s)", dir, os.Getpid(), fileutil.Cmdline(os.Getpid())); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	closeT(t, w)

	// Readers share the catalog and keep a writer out. The lock file
	// still names the last writer, so the message must not blame a
	// process that is not the holder: here a record of a process that
	// does not run its command.
	if err := os.WriteFile(lockPath(dir), []byte("pid 1\ncommand tapefs backup /srv pool\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r1 := openT(t, dir, Options{ReadOnly: true})
	r2 := openT(t, dir, Options{ReadOnly: true})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("writer Open while readers hold it = %v, want ErrLocked", err)
	} else if strings.Contains(err.Error(), "pid") {
		t.Errorf("writer Open while readers hold it = %q: names a process that does not hold it", err)
	}
	closeT(t, r1)
	closeT(t, r2)

	// Once everyone closed, a writer gets in.
	closeT(t, openT(t, dir, Options{}))
}

// TestOpenLockedByBadger covers a Badger process that is not tapefs (so does
// not take tapefs's lock file) holding the directory.
func TestOpenLockedByBadger(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(8 << 20).WithValueLogFileSize(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open on a directory locked by Badger = %v, want ErrLocked", err)
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only Open of a missing catalog = %v, want fs.ErrNotExist", err)
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	m := testMedia("TEST01L8")
	c := openT(t, dir, Options{})
	mustPut(t, c, m)
	closeT(t, c)

	c = openT(t, dir, Options{ReadOnly: true})
	defer closeT(t, c)
	if _, err := c.GetMedia(m.UUID); err != nil {
		t.Fatal(err)
	}
	writes := map[string]error{
		"PutMedia":    c.PutMedia(testMedia("TEST02L8")),
		"UpdateMedia": c.UpdateMedia(m.UUID, func(*Media) error { return nil }),
		"DeleteMedia": c.DeleteMedia(m.UUID),
	}
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only catalog = %v, want ErrReadOnly", name, err)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr error
		wantMsg string
	}{
		{
			name:    "new catalog",
			prepare: func(*testing.T, string) {},
		},
		{
			name: "current version",
			prepare: func(t *testing.T, dir string) {
				closeT(t, openT(t, dir, Options{}))
			},
		},
		{
			name: "newer version",
			prepare: func(t *testing.T, dir string) {
				c := openT(t, dir, Options{})
				err := c.update(func(txn *badger.Txn) error {
					return txn.Set([]byte(schemaKey), encodeSchemaVersion(SchemaVersion+1))
				})
				if err != nil {
					t.Fatal(err)
				}
				closeT(t, c)
			},
			wantErr: ErrSchema,
			wantMsg: "has schema version 3, newer than this tapefs supports (2); upgrade tapefs",
		},
		{
			name: "garbage version",
			prepare: func(t *testing.T, dir string) {
				c := openT(t, dir, Options{})
				err := c.update(func(txn *badger.Txn) error {
					return txn.Set([]byte(schemaKey), []byte("01"))
				})
				if err != nil {
					t.Fatal(err)
				}
				closeT(t, c)
			},
			wantErr: ErrCorrupt,
		},
		{
			name: "foreign badger database",
			prepare: func(t *testing.T, dir string) {
				db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(8 << 20).WithValueLogFileSize(1 << 20))
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrSchema,
			wantMsg: "has entries but no schema version",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			c, err := Open(dir, Options{})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				if got := dumpT(t, c); !strings.HasPrefix(got, fmt.Sprintf("\"tapefs/schema-version\" \"%d\"\n", SchemaVersion)) {
					t.Errorf("Dump does not start with the schema version:\n%s", got)
				}
				closeT(t, c)
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open error %q does not say %q", err, tt.wantMsg)
			}
			// The refused catalog is released again.
			l, err := acquireDirLock(dir, false)
			if err != nil {
				t.Fatalf("lock still held after a refused Open: %v", err)
			}
			if err := l.release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	c := openT(t, t.TempDir(), Options{})
	closeT(t, c)
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	id := testMedia("TEST01L8").UUID
	calls := map[string]error{
		"PutMedia":    c.PutMedia(testMedia("TEST01L8")),
		"GetMedia":    func() error { _, err := c.GetMedia(id); return err }(),
		"FindLabel":   func() error { _, err := c.FindLabel("TEST01L8"); return err }(),
		"ListMedia":   func() error { _, err := c.ListMedia(MediaFilter{}); return err }(),
		"UpdateMedia": c.UpdateMedia(id, func(*Media) error { return nil }),
		"DeleteMedia": c.DeleteMedia(id),
		"Dump":        c.Dump(&bytes.Buffer{}),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestDump(t *testing.T) {
	a := testMedia("TEST01L8")
	b := testMedia("TEST02L8")
	b.Set = &MediaSetRef{UUID: setDay1, Seq: 1, Ctime: t0, Pool: "daily"}
	b.Location = Location{Kind: LocationVault, Vault: "bank"}
	b.Status = StatusFull
	b.BytesUsed = 12345

	// Same content, written in different orders and with a detour.
	c1 := NewTestCatalog(t)
	c1.now = fixedClock()
	mustPut(t, c1, a, b)
	c2 := NewTestCatalog(t)
	c2.now = fixedClock()
	tmp := testMedia("TEMP")
	mustPut(t, c2, tmp)
	if err := c2.DeleteMedia(tmp.UUID); err != nil {
		t.Fatal(err)
	}
	c2.now = fixedClock()
	mustPut(t, c2, a, b)

	d1, d2 := dumpT(t, c1), dumpT(t, c2)
	if d1 != d2 {
		t.Errorf("dumps of equal catalogs differ:\n%s\n---\n%s", d1, d2)
	}
	if again := dumpT(t, c1); again != d1 {
		t.Errorf("second dump differs:\n%s\n---\n%s", again, d1)
	}
	want := `"tapefs/schema-version" "2"
"v1/label/TEST01L8" uuid ` + a.UUID.String() + `
"v1/label/TEST02L8" uuid ` + b.UUID.String() + `
`
	var media []string
	for _, m := range []Media{a, b} {
		media = append(media, `"v1/media/`+m.UUID.String()+`"`)
	}
	lines := strings.Split(strings.TrimSuffix(d1, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(d1, want) {
		t.Fatalf("Dump =\n%s\nwant it to start with\n%s(and two media lines)", d1, want)
	}
	// Media keys sort by UUID text.
	if media[0] > media[1] {
		media[0], media[1] = media[1], media[0]
	}
	wantB := `v1 {"uuid":"` + b.UUID.String() + `","label":"TEST02L8","ctime":"2026-11-25T17:00:00.123456789Z","pool":"daily",` +
		`"set":{"uuid":"9da37a55-aac7-4deb-91c6-482b3b675f30","seq":1,"ctime":"2026-11-25T17:00:00.123456789Z","pool":"daily"},` +
		`"status":"full","location":{"kind":"vault","vault":"bank"},"bytes_used":12345,"updated":"2026-11-25T17:00:02.123456789Z"}`
	for i, l := range lines[3:] {
		if !strings.HasPrefix(l, media[i]+" v1 {") {
			t.Errorf("line %q, want key %s and a v1 JSON value", l, media[i])
		}
		if strings.HasPrefix(l, `"v1/media/`+b.UUID.String()) && l != `"v1/media/`+b.UUID.String()+`" `+wantB {
			t.Errorf("media line\n%s\nwant\n%s", l, `"v1/media/`+b.UUID.String()+`" `+wantB)
		}
	}
}

func TestRenderValue(t *testing.T) {
	id := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	tests := []struct {
		key, val string
		want     string
	}{
		{schemaKey, "1", `"1"`},
		{labelPrefix + "X", string(encodeLabelRef(id)), "uuid " + id.String()},
		{labelPrefix + "X", "\x02abc", "hex 02616263"},
		{mediaPrefix + "x", "\x01{}", "v1 {}"},
		{chunkPrefix + "x", "\x01\x00\xff", "hex 0100ff"},
		{snapPrefix + "x", "\x01a\nb", "hex 01610a62"},
		{treePrefix + "x", "", "hex "},
	}
	for _, tt := range tests {
		if got := renderValue([]byte(tt.key), []byte(tt.val)); got != tt.want {
			t.Errorf("renderValue(%q, %q) = %q, want %q", tt.key, tt.val, got, tt.want)
		}
	}
}

// TestKeyPrefixesDisjoint guards the key schema: no namespace may be a
// prefix of another, or prefix scans would cross into a neighbour.
func TestKeyPrefixesDisjoint(t *testing.T) {
	prefixes := []string{schemaKey, mediaPrefix, labelPrefix, setPrefix, chunkPrefix, snapPrefix, treePrefix, pendingPrefix}
	for i, p := range prefixes {
		for j, q := range prefixes {
			if i != j && strings.HasPrefix(q, p) {
				t.Errorf("key namespace %q is a prefix of %q", p, q)
			}
		}
	}
}

// TestCrashRecovery copies the catalog directory while the writer still has
// it open, as a power cut would leave it, and checks that every PutMedia that
// returned is in the copy. A read-only Open of the copy asks for recovery
// until a read-write Open has replayed the log.
// crashImage writes 20 media entries into a catalog that stays open and
// returns a copy of its directory (what a crash leaves on disk: every write
// that returned was synced) and the labels written.
func crashImage(t *testing.T) (crashed string, want []string) {
	t.Helper()
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	t.Cleanup(func() { closeT(t, c) })
	for i := range 20 {
		m := testMedia(fmt.Sprintf("TEST%02dL8", i))
		mustPut(t, c, m)
		want = append(want, m.LabelText)
	}
	crashed = t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	return crashed, want
}

func TestCrashRecovery(t *testing.T) {
	crashed, want := crashImage(t)
	if _, err := Open(crashed, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsRecovery) {
		t.Fatalf("read-only Open after a crash = %v, want ErrNeedsRecovery", err)
	}
	for _, ro := range []bool{false, true} {
		r := openT(t, crashed, Options{ReadOnly: ro})
		got, err := r.ListMedia(MediaFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(labels(got), want) {
			t.Errorf("readOnly=%v: after a crash ListMedia = %v, want %v", ro, labels(got), want)
		}
		closeT(t, r)
	}
}

// TestOpenAfterPowerLoss: power loss leaves the write-ahead and value log
// files Badger created but never synced empty, short or full of zeros
// (their size was synced, their data not). The catalog opens on the first
// try and keeps every entry whose write returned.
func TestOpenAfterPowerLoss(t *testing.T) {
	lost, want := crashImage(t)
	// The value log Open created holds only its header, never synced; the
	// next memtable and value log were being created when power failed.
	for name, size := range map[string]int64{"000001.vlog": 0, "00002.mem": 0, "000002.vlog": 7, "00003.mem": 2 * memTableSize} {
		f, err := os.OpenFile(filepath.Join(lost, name), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := Open(lost, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsRecovery) {
		t.Fatalf("read-only Open after power loss = %v, want ErrNeedsRecovery", err)
	}
	for _, ro := range []bool{false, true} {
		r := openT(t, lost, Options{ReadOnly: ro})
		got, err := r.ListMedia(MediaFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(labels(got), want) {
			t.Errorf("readOnly=%v: after power loss ListMedia = %v, want %v", ro, labels(got), want)
		}
		if !ro {
			mustPut(t, r, testMedia("TEST99L8"))
			want = append(want, "TEST99L8")
		}
		closeT(t, r)
	}
}
