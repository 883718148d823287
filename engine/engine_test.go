package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/keys"
	"tapefs/internal/errclass"
)

type fakeDev struct{ closed atomic.Bool }

func (f *fakeDev) Close() error { f.closed.Store(true); return nil }

func TestOwnerSerializesAndOutlivesCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dev := &fakeDev{}
	opens := 0
	o := newOwner(ctx, func() (*fakeDev, error) { opens++; return dev, nil })

	var running, maxRunning atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := o.do(context.Background(), func(ctx context.Context, d *fakeDev) error {
				n := running.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxRunning.Load() != 1 {
		t.Errorf("%d operations ran at once, want 1", maxRunning.Load())
	}

	// A caller that gives up gets its context error; the operation still
	// completes. The caller gives up only once the operation runs (a
	// cancel before it starts would drop it, and finished never close).
	started, finished := make(chan struct{}), make(chan struct{})
	callerCtx, callerCancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- o.do(callerCtx, func(ctx context.Context, d *fakeDev) error {
			close(started)
			<-release
			close(finished)
			return nil
		})
	}()
	<-started
	callerCancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("do after caller cancel = %v", err)
	}
	close(release)
	<-finished

	cancel()
	<-o.done
	if !dev.closed.Load() {
		t.Error("device not closed when the owner stopped")
	}
	if opens != 1 {
		t.Errorf("device opened %d times, want 1", opens)
	}
}

func TestOwnerRetriesFailedOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := true
	o := newOwner(ctx, func() (*fakeDev, error) {
		if fail {
			fail = false
			return nil, device.ErrBusy
		}
		return &fakeDev{}, nil
	})
	nop := func(context.Context, *fakeDev) error { return nil }
	if err := o.do(context.Background(), nop); !errors.Is(err, device.ErrBusy) {
		t.Fatalf("first do = %v, want ErrBusy", err)
	}
	if err := o.do(context.Background(), nop); err != nil {
		t.Fatalf("second do = %v", err)
	}
}

func TestReserve(t *testing.T) {
	e := &Engine{busy: map[string]*driveHold{}, waiters: map[string]int{}}
	release, err := e.reserve("d0", "label TEST01L8")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.reserve("d0", "clean")
	if !errors.Is(err, ErrBusy) || KindOf(err) != KindBusy {
		t.Fatalf("second reserve = %v, want ErrBusy", err)
	}
	if want := "drive d0 is busy (label TEST01L8)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("busy message %q does not say %q", err, want)
	}
	if _, err := e.reserve("d1", "clean"); err != nil {
		t.Errorf("other drive: %v", err)
	}
	release()
	if _, err := e.reserve("d0", "clean"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestKindOf(t *testing.T) {
	cases := []struct {
		err  error
		want Kind
	}{
		{invalidf("bad slot %d", 3), KindInvalid},
		{notFoundf("no drive"), KindNotFound},
		{refusedf("has data"), KindRefused},
		{fmt.Errorf("drive d: %w", device.ErrNoMedium), KindNoMedium},
		{fmt.Errorf("x: %w", device.ErrBusy), KindBusy},
		{fmt.Errorf("x: %w", config.ErrNotFound), KindNotFound},
		{fmt.Errorf("x: %w", device.ErrDestinationFull), KindNoSpace},
		{fmt.Errorf("put chunks: %w", catalog.ErrNoRoom), KindNoSpace},
		{&os.PathError{Op: "write", Path: "/var/lib/tapefs/spool", Err: syscall.ENOSPC}, KindNoSpace},
		{fmt.Errorf("x: %w", device.ErrMediumError), KindIO},
		{context.Canceled, KindCanceled},
		{keyErr(uuid.Nil, fmt.Errorf("key ab:cd: %w", keys.ErrNotFound)), KindNoKey},
		{keyErr(uuid.Nil, errors.New("key store unreadable")), KindOther},
		{errors.New("other"), KindOther},
		// The other packages' sentinels, classed where they are defined.
		{fmt.Errorf("x: %w", config.ErrInvalid), KindInvalid},
		{fmt.Errorf("x: %w", config.ErrExists), KindExists},
		{fmt.Errorf("x: %w", catalog.ErrNotFound), KindNotFound},
		{fmt.Errorf("x: %w", catalog.ErrLocked), KindBusy},
		{fmt.Errorf("x: %w", keys.ErrWrongPassword), KindInvalid},
		{fmt.Errorf("x: %w", keys.ErrAmbiguous), KindInvalid},
		{fmt.Errorf("x: %w", keys.ErrExists), KindExists},
		{fmt.Errorf("x: %w", catalog.ErrCorrupt), KindOther},
		// A sentinel of a package KindOf has never heard of.
		{fmt.Errorf("x: %w", errclass.New(errclass.Refused, "new rule")), KindRefused},
		// Cancellation wins over what it interrupted.
		{errors.Join(fmt.Errorf("x: %w", device.ErrBusy), context.DeadlineExceeded), KindCanceled},
	}
	for _, c := range cases {
		if got := KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if e := invalidf("slot %d is empty", 4); e.Error() != "slot 4 is empty" {
		t.Errorf("classified message = %q", e.Error())
	}
}

func testView() *changerView {
	el := func(k device.ElementKind, id int, tag string) device.ElementStatus {
		return device.ElementStatus{Element: device.Element{Kind: k, ID: id}, Full: tag != "", VolumeTag: tag}
	}
	v := &changerView{cfg: config.Changer{Name: "sl3", ExportSlots: []int{5}}}
	v.status.Drives = []device.ElementStatus{{Element: device.Element{Kind: device.ElementDrive, ID: 0}, Full: true, VolumeTag: "A00001L8", SourceSlot: 1}}
	v.status.Slots = []device.ElementStatus{
		el(device.ElementSlot, 1, ""), el(device.ElementSlot, 2, "A00002L8"), el(device.ElementSlot, 3, ""),
		el(device.ElementSlot, 4, "CLN001CU"), el(device.ElementSlot, 5, ""),
	}
	v.status.ImportExport = []device.ElementStatus{el(device.ElementImportExport, 6, "A00006L8")}
	return v
}

func TestChangerView(t *testing.T) {
	v := testView()
	if el, ok := v.find("A00002L8"); !ok || el.ID != 2 {
		t.Errorf("find A00002L8 = %v %v", el, ok)
	}
	if _, ok := v.find("NOPE00L8"); ok {
		t.Error("found a missing tape")
	}
	if el, err := v.freeStorageSlot(1); err != nil || el.ID != 1 {
		t.Errorf("free slot preferring 1 = %v %v", el, err)
	}
	if el, err := v.freeStorageSlot(2); err != nil || el.ID != 1 {
		t.Errorf("free slot preferring full 2 = %v %v, want 1", el, err)
	}
	if el, err := v.freeExportSlot(); err != nil || el.ID != 5 {
		t.Errorf("free export slot = %v %v, want configured slot 5", el, err)
	}
	if _, err := v.slot(7); KindOf(err) != KindInvalid {
		t.Errorf("slot 7: %v", err)
	}
	if !v.offline(v.status.ImportExport[0]) || !v.offline(v.status.Slots[4]) || v.offline(v.status.Slots[1]) {
		t.Error("offline: import/export and export slots are offline, storage slots are not")
	}
	got := v.entries()
	want := []string{"drive 0 A00001L8 1", "import-export 5  0", "import-export 6 A00006L8 0", "slot 1  0", "slot 2 A00002L8 0", "slot 3  0", "slot 4 CLN001CU 0"}
	if len(got) != len(want) {
		t.Fatalf("entries = %v", got)
	}
	for i, g := range got {
		if s := fmt.Sprintf("%s %d %s %d", g.Kind, g.ID, g.LabelText, g.LoadedSlot); s != want[i] {
			t.Errorf("entry %d = %q, want %q", i, s, want[i])
		}
	}
	v.status.Slots[0].Full, v.status.Slots[2].Full = true, true
	if _, err := v.freeStorageSlot(0); KindOf(err) != KindNoSpace {
		t.Errorf("no free slot: %v", err)
	}
}

func TestMTFlags(t *testing.T) {
	cases := []struct {
		st   device.DriveStatus
		want string
	}{
		{device.DriveStatus{Online: true, BufferMode: true}, "DRIVE_OPEN | IM_REP_EN"},
		{device.DriveStatus{Online: true, MediumPresent: true, Loaded: true, AtBOT: true, BufferMode: true}, "ONLINE | BOT | IM_REP_EN"},
		{device.DriveStatus{Online: true, MediumPresent: true, Loaded: true, AtEOD: true, Position: device.Position{File: 2}}, "ONLINE | EOF | EOD"},
		{device.DriveStatus{Online: true, MediumPresent: true, Loaded: true, WriteProtected: true, Position: device.Position{Record: 3}}, "ONLINE | WR_PROT"},
		// A drive that does not report its position: neither BOT nor EOF.
		{device.DriveStatus{Online: true, MediumPresent: true, Loaded: true, PositionUnknown: true}, "ONLINE"},
	}
	for _, c := range cases {
		if got := MTFlags(c.st); got != c.want {
			t.Errorf("MTFlags(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// TestAcquireDriveWaits: a job waits for a drive another job holds and
// gets it when that job ends; after the limit it fails with ErrBusy
// naming the holder; a speculative holder is told to yield, and a
// speculative job does not take the drive from under a waiting one.
func TestAcquireDriveWaits(t *testing.T) {
	e := &Engine{busy: map[string]*driveHold{}, waiters: map[string]int{}, opts: Options{DriveWait: 300 * time.Millisecond}}
	ctx := context.Background()
	_, release, err := e.acquireDrive(ctx, "d0", "backup a", holdOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	_, _, err = e.acquireDrive(ctx, "d0", "label X", holdOpts{waiting: func(l string) { lines = append(lines, l) }})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "backup a") {
		t.Fatalf("after the wait: %v, want ErrBusy naming backup a", err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "waiting for drive d0 (in use by backup a)") {
		t.Errorf("wait reported as %q", lines)
	}
	got := make(chan error, 1)
	go func() {
		_, rel, err := e.acquireDrive(ctx, "d0", "label Y", holdOpts{})
		if err == nil {
			rel()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	release()
	if err := <-got; err != nil {
		t.Fatalf("waiting job after the holder ended: %v", err)
	}

	spec, relSpec, err := e.acquireDrive(ctx, "d0", "restore (read-ahead)", holdOpts{speculative: true})
	if err != nil {
		t.Fatal(err)
	}
	commit := make(chan func(), 1)
	go func() {
		_, rel, err := e.acquireDrive(ctx, "d0", "backup b", holdOpts{})
		if err != nil {
			t.Error(err)
		}
		commit <- rel
	}()
	select {
	case <-spec.yield:
	case <-time.After(time.Second):
		t.Fatal("the speculative holder was not asked to yield")
	}
	relSpec()
	// Another speculative job neither takes the drive before the waiting
	// job nor while it runs.
	specGot := make(chan struct{})
	go func() {
		_, rel, err := e.acquireDrive(ctx, "d0", "restore (again)", holdOpts{speculative: true})
		if err == nil {
			rel()
		}
		close(specGot)
	}()
	rel := <-commit
	if got := e.Jobs()["d0"]; got != "backup b" {
		t.Errorf("drive held by %q, want the waiting job", got)
	}
	rel()
	<-specGot
}

// TestStatusFieldsPositionUnknown: a drive that does not report its
// position shows it as unknown (JSON null), never as file 0.
func TestStatusFieldsPositionUnknown(t *testing.T) {
	s := DriveStatusInfo{Status: device.DriveStatus{Online: true, MediumPresent: true, Loaded: true, PositionUnknown: true}}
	s.Flags = MTFlags(s.Status)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"file-number":null`) || !strings.Contains(string(b), `"block-number":null`) {
		t.Errorf("JSON %s: want file-number and block-number null", b)
	}
	for _, f := range s.Fields("") {
		if f.Name == "file-number" && !strings.HasPrefix(f.Text, "unknown") {
			t.Errorf("file-number shows %q, want unknown", f.Text)
		}
	}
}
