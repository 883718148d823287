package sgio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tapefs/engine/device"
	"tapefs/engine/device/devicetest"
)

// Drive and Changer against an independent SCSI implementation: the
// virtual tape library of tgt (the Linux SCSI target framework, Debian
// package tgt), whose SSC and SMC emulation is reached over iSCSI with the
// test initiator of iscsi_test.go. Tests skip when tgtd is not installed,
// unless TAPEFS_TEST_REQUIRE_TGT=1 (.ci/run installs tgt and sets it).

const tgtTarget = "iqn.2026-11.tapefs:vtl"

// tgtLibrary describes a library for startTGT.
type tgtLibrary struct {
	drives, slots, importExport int
	// tapes are the barcodes of data cartridges, put into the first
	// storage slots; cleaning ones (CLN...) are made cleaning media.
	tapes  []string
	sizeMB int
}

// tgtLib is a running tgtd serving one library.
type tgtLib struct {
	addr       string
	changerLUN int // the drives are LUNs 1..drives
	dir        string
	ctl        string
}

// needTGT skips the test when tgt is missing (fails it when required).
func needTGT(t *testing.T) {
	t.Helper()
	for _, p := range []string{"tgtd", "tgtadm", "tgtimg"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("TAPEFS_TEST_REQUIRE_TGT") == "1" {
				t.Fatalf("%s not found and TAPEFS_TEST_REQUIRE_TGT=1: install Debian's tgt", p)
			}
			t.Skipf("%s not found: install Debian's tgt to run the tests against its virtual tape library", p)
		}
	}
}

// startTGT starts a tgtd of its own (a control port and an iSCSI port of
// its own, stopped at the end of the test) serving library l.
func startTGT(t *testing.T, l tgtLibrary) *tgtLib {
	t.Helper()
	needTGT(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// tgtd takes control port numbers up to 32767; each names a socket
	// in /run/tgtd.
	ctl := strconv.Itoa(1000 + rand.IntN(30000))
	d := exec.Command("tgtd", "-f", "-C", ctl, "--iscsi", "portal="+addr)
	logf, err := os.Create(filepath.Join(dir, "tgtd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.Stdout, d.Stderr = logf, logf
	// Gone with the test binary, even one killed before its cleanups.
	d.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Kill()
		d.Wait()
		logf.Close()
		os.Remove("/run/tgtd/socket." + ctl)
		os.Remove("/run/tgtd/socket." + ctl + ".lock")
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "tgtd.log"))
			t.Logf("tgtd log:\n%s", b)
		}
	})
	lib := &tgtLib{addr: addr, changerLUN: l.drives + 1, dir: dir, ctl: ctl}
	// tgtd answers its control port once it is up.
	for i := 0; ; i++ {
		out, err := exec.Command("tgtadm", "-C", ctl, "--op", "show", "--mode", "system").CombinedOutput()
		if err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("tgtd did not come up: tgtadm: %v: %s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	media := filepath.Join(dir, "media")
	os.Mkdir(media, 0o755)
	img := func(barcode, typ string) string {
		p := filepath.Join(media, barcode)
		out, err := exec.Command("tgtimg", "--op", "new", "--device-type", "tape", "--barcode", barcode,
			"--size", strconv.Itoa(l.sizeMB), "--type", typ, "--file", p, "--thin-provisioning").CombinedOutput()
		if err != nil {
			t.Fatalf("tgtimg %s: %v\n%s", barcode, err, out)
		}
		return p
	}
	adm := func(args ...string) {
		t.Helper()
		out, err := exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tgtadm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	tid := []string{"--tid", "1"}
	adm(append([]string{"--op", "new", "--mode", "target", "-T", tgtTarget}, tid...)...)
	// A drive LUN needs a backing file when it is made; it starts with
	// no medium (offline) and the changer loads media into it.
	placeholder := img("NOTAPE", "data")
	for i := 1; i <= l.drives; i++ {
		lun := []string{"--lun", strconv.Itoa(i)}
		adm(append(append([]string{"--mode", "logicalunit", "--op", "new", "-b", placeholder, "--device-type=tape"}, tid...), lun...)...)
		adm(append(append([]string{"--mode", "logicalunit", "--op", "update", "--params", "online=0"}, tid...), lun...)...)
	}
	smc := filepath.Join(dir, "smc")
	if err := os.WriteFile(smc, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	cl := []string{"--lun", strconv.Itoa(lib.changerLUN)}
	upd := func(params string) {
		t.Helper()
		adm(append(append([]string{"--mode", "logicalunit", "--op", "update", "--params", params}, tid...), cl...)...)
	}
	adm(append(append([]string{"--mode", "logicalunit", "--op", "new", "-b", smc, "--device-type=changer"}, tid...), cl...)...)
	upd("media_home=" + media)
	// Element addresses: drives 1.., the picker, storage, import/export.
	upd(fmt.Sprintf("element_type=4,start_address=1,quantity=%d", l.drives))
	for i := 1; i <= l.drives; i++ {
		upd(fmt.Sprintf("element_type=4,address=%d,tid=1,lun=%d", i, i))
	}
	picker := l.drives + 1
	upd(fmt.Sprintf("element_type=1,start_address=%d,quantity=1", picker))
	storage := picker + 1
	upd(fmt.Sprintf("element_type=2,start_address=%d,quantity=%d", storage, l.slots))
	if l.importExport > 0 {
		upd(fmt.Sprintf("element_type=3,start_address=%d,quantity=%d", storage+l.slots, l.importExport))
	}
	for i, bc := range l.tapes {
		typ := "data"
		if strings.HasPrefix(bc, "CLN") {
			typ = "clean"
		}
		img(bc, typ)
		upd(fmt.Sprintf("element_type=2,address=%d,barcode=%s,sides=1", storage+i, bc))
	}
	adm(append([]string{"--op", "bind", "--mode", "target", "-I", "ALL"}, tid...)...)
	return lib
}

// transport opens a session of its own on lun.
func (l *tgtLib) transport(t *testing.T, lun int) *iscsiTransport {
	t.Helper()
	ic, err := dialISCSI(l.addr, tgtTarget)
	if err != nil {
		t.Fatal(err)
	}
	return &iscsiTransport{ic: ic, lun: lun, trace: tgtTrace(t, lun)}
}

// tgtTrace logs every command of lun when TAPEFS_TEST_TGT_TRACE=1.
func tgtTrace(t *testing.T, lun int) func(cmd *Command, res Result, err error) {
	if os.Getenv("TAPEFS_TEST_TGT_TRACE") != "1" {
		return nil
	}
	return func(cmd *Command, res Result, err error) {
		in := []byte(nil)
		if cmd.Dir == DirIn && res.Resid >= 0 && res.Resid <= len(cmd.Data) {
			in = cmd.Data[:min(len(cmd.Data)-res.Resid, 128)]
		}
		t.Logf("LUN %d: CDB % X dir %d len %d -> status %#x resid %d sense % X err %v data % X", lun, cmd.CDB, cmd.Dir, len(cmd.Data), res.Status, res.Resid, res.Sense, err, in)
	}
}

// tgtChangerSkips are the changer suite's subtests that test what tgt's
// SSC and SMC emulation does not do: it answers READ POSITION with zeros
// (so a drive never reports BOT or a record number), accepts LOAD and
// UNLOAD with no cartridge, lets MOVE MEDIUM take a cartridge out of a
// drive that has it loaded, and does not report cleaning cartridges. tgt's
// SSC has no LOCATE, ERASE, LOG SENSE or READ ATTRIBUTE either and its MODE
// SELECT refuses every mode page, so the drive suite is not run against it
// (checkDriveRecords covers what it does do).
var tgtChangerSkips = []devicetest.Skip{
	{Name: "EmptyDrive", Why: "tgt accepts LOAD and UNLOAD with no cartridge"},
	{Name: "MoveSlotDriveSlot", Why: tgtNoPosition},
	{Name: "MoveFromLoadedDrive", Why: "tgt's MOVE MEDIUM takes a cartridge out of a drive that has it loaded"},
	{Name: "DataSurvivesMoves", Why: tgtNoPosition},
	{Name: "SecondDrive", Why: tgtNoPosition},
	{Name: "CleaningCartridge", Why: "tgt does not report cleaning cartridges"},
}

const tgtNoPosition = "tgt's READ POSITION returns no position"

// TestTGTChangerConformance runs the device.Changer conformance suite on
// a Changer (and the Drives it loads) of tgt's virtual library, each
// subtest on a fresh library, skipping tgtChangerSkips.
func TestTGTChangerConformance(t *testing.T) {
	needTGT(t)
	devicetest.RunChangerSuite(t, changerFactory(func(t *testing.T) (device.Changer, func(int) (device.Drive, error), error) {
		lib := startTGT(t, tgtLibrary{drives: 2, slots: 5, importExport: 1, tapes: []string{"TGT001L8", "TGT002L8", "CLN001CU"}, sizeMB: 64})
		c, err := NewChanger(lib.transport(t, lib.changerLUN))
		return c, func(n int) (device.Drive, error) { return NewDrive(lib.transport(t, n+1)) }, err
	}), tgtChangerSkips...)
}

// changerFactory makes a devicetest.ChangerFactory of open, which returns
// a changer and how to open its drive n; what they open is closed when the
// subtest ends.
func changerFactory(open func(t *testing.T) (device.Changer, func(n int) (device.Drive, error), error)) devicetest.ChangerFactory {
	return func(t *testing.T) (device.Changer, func(int) device.Drive) {
		c, openDrive, err := open(t)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, func(n int) device.Drive {
			d, err := openDrive(n)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}
	}
}

// TestTGTLastElements: tgt sends READ ELEMENT STATUS data 8 bytes short,
// which cuts the tail off the last descriptor of every report; the last
// drive, slot and import/export slot must still show their cartridges.
func TestTGTLastElements(t *testing.T) {
	lib := startTGT(t, tgtLibrary{drives: 2, slots: 3, importExport: 1, tapes: []string{"TGT001L8", "TGT002L8", "TGT003L8"}, sizeMB: 16})
	c, err := NewChanger(lib.transport(t, lib.changerLUN))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	slot := func(n int) device.Element { return device.Element{Kind: device.ElementSlot, ID: n} }
	for _, m := range [][2]device.Element{
		{slot(1), {Kind: device.ElementDrive, ID: 1}},
		{slot(2), {Kind: device.ElementImportExport, ID: 4}},
	} {
		if err := c.Move(ctx, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := device.ChangerStatus{
		Drives: []device.ElementStatus{
			{Element: device.Element{Kind: device.ElementDrive, ID: 0}},
			{Element: device.Element{Kind: device.ElementDrive, ID: 1}, Full: true, VolumeTag: "TGT001L8", SourceSlot: 1},
		},
		Slots: []device.ElementStatus{
			{Element: slot(1)}, {Element: slot(2)},
			{Element: slot(3), Full: true, VolumeTag: "TGT003L8"},
		},
		ImportExport: []device.ElementStatus{
			{Element: device.Element{Kind: device.ElementImportExport, ID: 4}, Full: true, VolumeTag: "TGT002L8", SourceSlot: 2},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status\n got %+v\nwant %+v", st, want)
	}
}

// TestTGTDriveRecords writes records of several sizes and filemarks on a
// cartridge tgt's changer loaded, rewinds, and reads them back.
func TestTGTDriveRecords(t *testing.T) {
	lib := startTGT(t, tgtLibrary{drives: 1, slots: 2, tapes: []string{"TGT001L8"}, sizeMB: 64})
	c, err := NewChanger(lib.transport(t, lib.changerLUN))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Move(ctx, device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0}); err != nil {
		t.Fatal(err)
	}
	d, err := NewDrive(lib.transport(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkDriveRecords(t, d)
}

// checkDriveRecords loads the cartridge a changer moved into drive d, writes
// records of several sizes and filemarks, rewinds, reads them back and
// spaces over them.
func checkDriveRecords(t *testing.T, d device.Drive) {
	ctx := context.Background()
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil || !st.MediumPresent || !st.Loaded {
		t.Fatalf("Status after loading = %+v, %v", st, err)
	}
	// nil stands for a filemark.
	var objs [][]byte
	for i, n := range []int{1, 1000, 64 << 10, -1, 512 << 10, 1 << 20, -1, 7, -1} {
		if n < 0 {
			objs = append(objs, nil)
			continue
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
		objs = append(objs, p)
	}
	for i, o := range objs {
		var err error
		if o == nil {
			err = d.WriteFilemarks(ctx, 1)
		} else {
			err = d.WriteRecord(ctx, o)
		}
		if err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
	}
	if err := d.Rewind(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2<<20)
	for i, o := range objs {
		n, err := d.ReadRecord(ctx, buf)
		switch {
		case o == nil && !errors.Is(err, device.ErrFilemark):
			t.Fatalf("object %d: ReadRecord = %d, %v; want a filemark", i, n, err)
		case o != nil && (err != nil || !bytes.Equal(buf[:n], o)):
			t.Fatalf("object %d: ReadRecord = %d bytes, %v; want the %d bytes written", i, n, err, len(o))
		}
	}
	if n, err := d.ReadRecord(ctx, buf); !errors.Is(err, device.ErrEndOfData) {
		t.Fatalf("past the last filemark: ReadRecord = %d, %v; want end of data", n, err)
	}
	// Spacing (tgt spaces back over filemarks one object too far, so
	// only forward over filemarks).
	read := func(what string, want []byte) {
		t.Helper()
		if n, err := d.ReadRecord(ctx, buf); err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("%s: ReadRecord = %d bytes, %v; want %d bytes", what, n, err, len(want))
		}
	}
	if err := d.Rewind(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Space(ctx, device.SpaceFilemarks, 1); err != nil {
		t.Fatal(err)
	}
	read("after the first filemark", objs[4])
	read("next", objs[5])
	if err := d.Space(ctx, device.SpaceRecords, -1); err != nil {
		t.Fatal(err)
	}
	read("after spacing back a record", objs[5])
	if err := d.Space(ctx, device.SpaceFilemarks, 2); err != nil {
		t.Fatal(err)
	}
	if n, err := d.ReadRecord(ctx, buf); !errors.Is(err, device.ErrEndOfData) {
		t.Fatalf("after the last filemark: ReadRecord = %d, %v; want end of data", n, err)
	}
}
