package catalog

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

var (
	t0      = time.Date(2026, 11, 25, 17, 0, 0, 123456789, time.UTC)
	setDay1 = uuid.MustParse("9da37a55-aac7-4deb-91c6-482b3b675f30")
)

// fixedClock returns a clock that advances one second per call, so Updated
// values are deterministic.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

// testMedia returns a valid writable, online entry with a UUID derived from
// label, so tests are deterministic.
func testMedia(label string) Media {
	return Media{
		UUID:      uuid.NewSHA1(uuid.NameSpaceOID, []byte(label)),
		LabelText: label,
		Ctime:     t0,
		Pool:      "daily",
		Status:    StatusWritable,
		Location:  Location{Kind: LocationOnline, Changer: "sl3", Slot: 4},
	}
}

func mustPut(t *testing.T, c *Catalog, ms ...Media) {
	t.Helper()
	for _, m := range ms {
		if err := c.PutMedia(m); err != nil {
			t.Fatalf("PutMedia(%s): %v", m.LabelText, err)
		}
	}
}

func labels(ms []Media) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.LabelText)
	}
	return out
}

// sameMedia compares entries ignoring Updated.
func sameMedia(t *testing.T, got, want Media) {
	t.Helper()
	got.Updated, want.Updated = time.Time{}, time.Time{}
	want = want.normalize()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("media differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestPutGetMedia(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	inSet := testMedia("TEST02L8")
	inSet.Set = &MediaSetRef{UUID: setDay1, Seq: 3, Ctime: t0.In(local), Pool: "weekly"}
	inSet.BytesUsed = 1 << 40
	inSet.Ctime = time.Now() // monotonic reading and local zone are dropped
	zeroSet := testMedia("TEST03L8")
	zeroSet.Set = &MediaSetRef{Seq: 7, Pool: "x"}
	vault := testMedia("TEST04L8")
	vault.Location = Location{Kind: LocationVault, Vault: "bank"}
	vault.Status = StatusRetired
	offline := testMedia("TEST05L8")
	offline.Location = Location{Kind: LocationOffline}
	offline.Pool = ""
	offline.Status = StatusDamaged

	tests := []struct {
		name string
		m    Media
	}{
		{"plain", testMedia("TEST01L8")},
		{"in set", inSet},
		{"zero set uuid", zeroSet},
		{"vault", vault},
		{"offline", offline},
	}
	c := NewTestCatalog(t)
	c.now = fixedClock()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPut(t, c, tt.m)
			got, err := c.GetMedia(tt.m.UUID)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.m.normalize()
			if tt.name == "zero set uuid" && got.Set != nil {
				t.Errorf("Set = %+v, want nil for a zero set UUID", got.Set)
			}
			sameMedia(t, got, want)
			if got.Updated.IsZero() || got.Updated.Location() != time.UTC {
				t.Errorf("Updated = %v, want a UTC stamp from the clock", got.Updated)
			}
			byLabel, err := c.FindLabel(tt.m.LabelText)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(byLabel, got) {
				t.Errorf("FindLabel = %+v, GetMedia = %+v", byLabel, got)
			}
		})
	}
}

func TestPutMediaUpdatedStamp(t *testing.T) {
	c := NewTestCatalog(t)
	c.now = fixedClock()
	m := testMedia("TEST01L8")
	m.Updated = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	mustPut(t, c, m)
	got, err := c.GetMedia(m.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Second); !got.Updated.Equal(want) {
		t.Errorf("Updated = %v, want clock time %v", got.Updated, want)
	}
}

func TestPutMediaInvalid(t *testing.T) {
	mod := func(f func(*Media)) Media {
		m := testMedia("TEST01L8")
		f(&m)
		return m
	}
	tests := []struct {
		name string
		m    Media
	}{
		{"zero uuid", mod(func(m *Media) { m.UUID = uuid.Nil })},
		{"empty label", mod(func(m *Media) { m.LabelText = "" })},
		{"slash in label", mod(func(m *Media) { m.LabelText = "a/b" })},
		{"dot label", mod(func(m *Media) { m.LabelText = ".." })},
		{"control char label", mod(func(m *Media) { m.LabelText = "A\nB" })},
		{"invalid utf8 label", mod(func(m *Media) { m.LabelText = "A\xffB" })},
		{"long label", mod(func(m *Media) { m.LabelText = string(make([]byte, 256)) })},
		{"invalid utf8 pool", mod(func(m *Media) { m.Pool = "\xff" })},
		{"no status", mod(func(m *Media) { m.Status = "" })},
		{"bad status", mod(func(m *Media) { m.Status = "broken" })},
		{"no location", mod(func(m *Media) { m.Location = Location{} })},
		{"online without changer", mod(func(m *Media) { m.Location = Location{Kind: LocationOnline} })},
		{"negative slot", mod(func(m *Media) { m.Location.Slot = -1 })},
		{"online with vault", mod(func(m *Media) { m.Location.Vault = "bank" })},
		{"offline with slot", mod(func(m *Media) { m.Location = Location{Kind: LocationOffline, Slot: 2} })},
		{"offline with vault", mod(func(m *Media) { m.Location = Location{Kind: LocationOffline, Vault: "bank"} })},
		{"vault without name", mod(func(m *Media) { m.Location = Location{Kind: LocationVault} })},
		{"vault with changer", mod(func(m *Media) { m.Location = Location{Kind: LocationVault, Vault: "b", Changer: "sl3"} })},
		{"set without pool", mod(func(m *Media) { m.Set = &MediaSetRef{UUID: setDay1} })},
		{"ctime year 10000", mod(func(m *Media) { m.Ctime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"set ctime negative year", mod(func(m *Media) {
			m.Set = &MediaSetRef{UUID: setDay1, Pool: "p", Ctime: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
		})},
	}
	c := NewTestCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.PutMedia(tt.m)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("PutMedia = %v, want ErrInvalid", err)
			}
		})
	}
	all, err := c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Errorf("invalid puts left entries: %v", labels(all))
	}
}

func TestNotFound(t *testing.T) {
	c := NewTestCatalog(t)
	mustPut(t, c, testMedia("TEST01L8"))
	missing := uuid.NewSHA1(uuid.NameSpaceOID, []byte("nope"))
	tests := []struct {
		name string
		err  error
	}{
		{"GetMedia", func() error { _, err := c.GetMedia(missing); return err }()},
		{"FindLabel", func() error { _, err := c.FindLabel("TEST99L8"); return err }()},
		{"UpdateMedia", c.UpdateMedia(missing, func(*Media) error { return nil })},
		{"DeleteMedia", c.DeleteMedia(missing)},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", tt.name, tt.err)
		}
	}
}

func TestDeleteMedia(t *testing.T) {
	c := NewTestCatalog(t)
	a, b := testMedia("TEST01L8"), testMedia("TEST02L8")
	mustPut(t, c, a, b)
	if err := c.DeleteMedia(a.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMedia(a.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMedia after delete = %v, want ErrNotFound", err)
	}
	if _, err := c.FindLabel(a.LabelText); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindLabel after delete = %v, want ErrNotFound", err)
	}
	all, err := c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := labels(all); !reflect.DeepEqual(got, []string{"TEST02L8"}) {
		t.Errorf("ListMedia = %v, want [TEST02L8]", got)
	}
	// The freed label can be used by a new tape.
	a2 := testMedia("TEST01L8")
	a2.UUID = uuid.NewSHA1(uuid.NameSpaceOID, []byte("new tape"))
	mustPut(t, c, a2)
	if got, err := c.FindLabel("TEST01L8"); err != nil || got.UUID != a2.UUID {
		t.Errorf("FindLabel = %v, %v; want %s", got.UUID, err, a2.UUID)
	}
}

func TestLabelUniqueness(t *testing.T) {
	c := NewTestCatalog(t)
	old := testMedia("TEST01L8")
	other := testMedia("TEST02L8")
	mustPut(t, c, old, other)

	// The tape is relabelled: same label text, new media UUID.
	relabelled := testMedia("TEST01L8")
	relabelled.UUID = uuid.NewSHA1(uuid.NameSpaceOID, []byte("relabelled"))
	relabelled.Pool = "weekly"
	mustPut(t, c, relabelled)

	if _, err := c.GetMedia(old.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old entry: GetMedia = %v, want ErrNotFound", err)
	}
	got, err := c.FindLabel("TEST01L8")
	if err != nil {
		t.Fatal(err)
	}
	if got.UUID != relabelled.UUID || got.Pool != "weekly" {
		t.Errorf("FindLabel = %s pool %q, want %s pool weekly", got.UUID, got.Pool, relabelled.UUID)
	}
	all, err := c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := labels(all); !reflect.DeepEqual(got, []string{"TEST01L8", "TEST02L8"}) {
		t.Errorf("ListMedia = %v", got)
	}

	// The same tape gets a new label text: the old text is freed.
	renamed := other
	renamed.LabelText = "TEST03L8"
	mustPut(t, c, renamed)
	if _, err := c.FindLabel("TEST02L8"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindLabel(old text) = %v, want ErrNotFound", err)
	}
	if got, err := c.FindLabel("TEST03L8"); err != nil || got.UUID != other.UUID {
		t.Errorf("FindLabel(new text) = %s, %v; want %s", got.UUID, err, other.UUID)
	}

	// UpdateMedia moving a label onto another tape's text replaces it too.
	err = c.UpdateMedia(other.UUID, func(m *Media) error {
		m.LabelText = "TEST01L8"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMedia(relabelled.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("replaced entry: GetMedia = %v, want ErrNotFound", err)
	}
	all, err = c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].UUID != other.UUID || all[0].LabelText != "TEST01L8" {
		t.Errorf("ListMedia = %+v, want only %s as TEST01L8", all, other.UUID)
	}
	assertConsistent(t, c)
}

// assertConsistent checks that every media entry has a label key pointing
// back at it and there are no other label keys.
func assertConsistent(t *testing.T, c *Catalog) {
	t.Helper()
	all, err := c.ListMedia(MediaFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if got, err := c.FindLabel(m.LabelText); err != nil || got.UUID != m.UUID {
			t.Errorf("FindLabel(%s) = %s, %v; want %s", m.LabelText, got.UUID, err, m.UUID)
		}
	}
	var nLabels int
	err = c.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(labelPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			nLabels++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if nLabels != len(all) {
		t.Errorf("%d label keys for %d media", nLabels, len(all))
	}
}

func TestListMediaFilters(t *testing.T) {
	c := NewTestCatalog(t)
	setWeekly := uuid.NewSHA1(uuid.NameSpaceOID, []byte("set weekly"))
	mk := func(label, pool string, set uuid.UUID, st MediaStatus, loc Location) Media {
		m := testMedia(label)
		m.Pool, m.Status, m.Location = pool, st, loc
		if set != uuid.Nil {
			m.Set = &MediaSetRef{UUID: set, Pool: "weekly"}
		}
		return m
	}
	online := Location{Kind: LocationOnline, Changer: "sl3"}
	offline := Location{Kind: LocationOffline}
	vault := Location{Kind: LocationVault, Vault: "bank"}
	// Put out of order: ListMedia sorts by label text.
	mustPut(t, c,
		mk("D4", "", setWeekly, StatusWritable, online),
		mk("A1", "daily", uuid.Nil, StatusWritable, online),
		mk("C3", "", uuid.Nil, StatusWritable, offline),
		mk("B2", "daily", uuid.Nil, StatusFull, vault),
		mk("E5", "weekly", setWeekly, StatusFull, offline),
	)
	tests := []struct {
		name   string
		filter MediaFilter
		want   []string
	}{
		{"all", MediaFilter{}, []string{"A1", "B2", "C3", "D4", "E5"}},
		{"pool daily", MediaFilter{Pool: "daily"}, []string{"A1", "B2"}},
		{"pool weekly via set", MediaFilter{Pool: "weekly"}, []string{"D4", "E5"}},
		{"status full", MediaFilter{Status: StatusFull}, []string{"B2", "E5"}},
		{"online", MediaFilter{Location: LocationOnline}, []string{"A1", "D4"}},
		{"vault", MediaFilter{Location: LocationVault}, []string{"B2"}},
		{"set", MediaFilter{Set: setWeekly}, []string{"D4", "E5"}},
		{"combined", MediaFilter{Pool: "weekly", Status: StatusWritable, Location: LocationOnline}, []string{"D4"}},
		{"no match", MediaFilter{Status: StatusRetired}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListMedia(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(labels(got), tt.want) {
				t.Errorf("ListMedia(%+v) = %v, want %v", tt.filter, labels(got), tt.want)
			}
		})
	}
}

func TestUpdateMedia(t *testing.T) {
	c := NewTestCatalog(t)
	c.now = fixedClock()
	m := testMedia("TEST01L8")
	mustPut(t, c, m)
	before, err := c.GetMedia(m.UUID)
	if err != nil {
		t.Fatal(err)
	}
	errAbort := errors.New("abort")
	tests := []struct {
		name    string
		fn      func(*Media) error
		wantErr error
	}{
		{"fn error", func(m *Media) error { m.BytesUsed = 99; return errAbort }, errAbort},
		{"uuid change", func(m *Media) error { m.UUID = setDay1; return nil }, ErrInvalid},
		{"invalid status", func(m *Media) error { m.Status = "gone"; m.BytesUsed = 99; return nil }, ErrInvalid},
		{"set mutated then invalid", func(m *Media) error {
			m.Set = &MediaSetRef{UUID: setDay1}
			return nil
		}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.UpdateMedia(m.UUID, tt.fn); !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateMedia = %v, want %v", err, tt.wantErr)
			}
			after, err := c.GetMedia(m.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("failed update changed the entry:\n got %+v\nwant %+v", after, before)
			}
		})
	}

	err = c.UpdateMedia(m.UUID, func(m *Media) error {
		m.Status = StatusFull
		m.Location = Location{Kind: LocationVault, Vault: "bank"}
		m.Set = &MediaSetRef{UUID: setDay1, Seq: 1, Pool: "daily"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.GetMedia(m.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != StatusFull || after.Location.String() != "vault-bank" || after.Set == nil || after.Set.Seq != 1 {
		t.Errorf("update not applied: %+v", after)
	}
	if !after.Updated.After(before.Updated) {
		t.Errorf("Updated %v not after %v", after.Updated, before.Updated)
	}
}

func TestUpdateMediaConcurrent(t *testing.T) {
	c := NewTestCatalog(t)
	a, b := testMedia("TEST01L8"), testMedia("TEST02L8")
	a.Location.Slot, b.Location.Slot = 0, 0
	mustPut(t, c, a, b)
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := a.UUID
			if w%2 == 1 {
				id = b.UUID
			}
			for range rounds {
				// Two fields change together: a reader must never see one
				// without the other.
				err := c.UpdateMedia(id, func(m *Media) error {
					m.BytesUsed++
					m.Location.Slot = int(m.BytesUsed)
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				got, err := c.GetMedia(id)
				if err != nil {
					errs <- err
					return
				}
				if uint64(got.Location.Slot) != got.BytesUsed {
					errs <- fmt.Errorf("torn entry %s: slot %d bytes %d", got.LabelText, got.Location.Slot, got.BytesUsed)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range rounds {
			all, err := c.ListMedia(MediaFilter{})
			if err != nil {
				errs <- err
				return
			}
			for _, m := range all {
				if uint64(m.Location.Slot) != m.BytesUsed {
					errs <- fmt.Errorf("reader saw torn entry %s: slot %d bytes %d", m.LabelText, m.Location.Slot, m.BytesUsed)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, m := range []Media{a, b} {
		got, err := c.GetMedia(m.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(workers / 2 * rounds); got.BytesUsed != want {
			t.Errorf("%s: BytesUsed = %d, want %d (lost updates)", m.LabelText, got.BytesUsed, want)
		}
	}
}

func TestCorruptEntry(t *testing.T) {
	c := NewTestCatalog(t)
	m := testMedia("TEST01L8")
	mustPut(t, c, m, testMedia("TEST02L8"))
	err := c.update(func(txn *badger.Txn) error {
		return txn.Set(mediaKey(m.UUID), []byte{valueV1, '{'})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMedia(m.UUID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetMedia = %v, want ErrCorrupt", err)
	}
	if _, err := c.FindLabel(m.LabelText); !errors.Is(err, ErrCorrupt) {
		t.Errorf("FindLabel = %v, want ErrCorrupt", err)
	}
	if _, err := c.ListMedia(MediaFilter{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListMedia = %v, want ErrCorrupt", err)
	}
	if err := c.PutMedia(m); !errors.Is(err, ErrCorrupt) {
		t.Errorf("PutMedia over a corrupt entry = %v, want ErrCorrupt", err)
	}
	// DeleteMedia is the way out: it finds the label by scanning.
	if err := c.DeleteMedia(m.UUID); err != nil {
		t.Fatalf("DeleteMedia(corrupt) = %v", err)
	}
	if _, err := c.FindLabel(m.LabelText); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindLabel after delete = %v, want ErrNotFound", err)
	}
	assertConsistent(t, c)
}

func TestLocationString(t *testing.T) {
	tests := []struct {
		loc  Location
		want string
	}{
		{Location{Kind: LocationOnline, Changer: "sl3", Slot: 7}, "online-sl3"},
		{Location{Kind: LocationOffline}, "offline"},
		{Location{Kind: LocationVault, Vault: "bank-a"}, "vault-bank-a"},
	}
	for _, tt := range tests {
		if got := tt.loc.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.loc, got, tt.want)
		}
		back, err := ParseLocation(tt.want)
		if err != nil {
			t.Errorf("ParseLocation(%q): %v", tt.want, err)
			continue
		}
		want := tt.loc
		want.Slot = 0
		if back != want {
			t.Errorf("ParseLocation(%q) = %+v, want %+v", tt.want, back, want)
		}
	}
	for _, bad := range []string{"", "online", "online-", "vault-", "shelf", "Offline", "vault-a\x00"} {
		if _, err := ParseLocation(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseLocation(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
