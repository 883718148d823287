package test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// setupLibrary runs the reference's quickstart steps 1 and 2 in s: a
// virtual library configured as changer sl3 with drive mydrive, and pool
// daily. It returns the library directory.
func setupLibrary(s *sandbox) string {
	s.t.Helper()
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "16", "--drives", "2", "--import-export", "2",
		"--cartridges", "8", "--barcode-prefix", "TEST", "--cleaning", "1", "--generation", "LTO-8", "--capacity", "64MiB")
	s.ok("changer", "create", "sl3", "--path", lib)
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"))
	s.ok("drive", "update", "mydrive", "--changer", "sl3", "--changer-drivenum", "0")
	s.ok("pool", "create", "daily", "--drive", "mydrive")
	s.ok("pool", "update", "daily", "--allocation", "daily", "--retention", "7days")
	return lib
}

// TestQuickstart follows the reference's tape quickstart (configure the
// changer and drive, create a pool, label the tapes, read a label, status)
// with the built binaries, and checks each output.
func TestQuickstart(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "16", "--drives", "2", "--import-export", "2",
		"--cartridges", "8", "--barcode-prefix", "TEST", "--cleaning", "1", "--generation", "LTO-8", "--capacity", "64MiB")

	step := func(name string, args ...string) string {
		t.Helper()
		out := s.normalize(s.ok(args...).stdout)
		golden(t, name, out)
		return out
	}

	// Step 1: changers and drives.
	if out := s.ok("changer", "scan").stdout; !strings.Contains(out, lib) {
		t.Errorf("changer scan does not list the virtual library %s:\n%s", lib, out)
	}
	s.ok("changer", "create", "sl3", "--path", lib)
	step("changer-config", "changer", "config", "sl3")
	step("changer-list", "changer", "list")
	step("changer-status", "changer", "status", "sl3")
	s.ok("changer", "update", "sl3", "--export-slots", "15,16")
	step("changer-status-export", "changer", "status", "sl3")

	if out := s.ok("drive", "scan").stdout; !strings.Contains(out, filepath.Join(lib, "drive0")) || !strings.Contains(out, filepath.Join(lib, "drive1")) {
		t.Errorf("drive scan does not list both virtual drives:\n%s", out)
	}
	s.ok("drive", "create", "mydrive", "--path", filepath.Join(lib, "drive0"))
	s.ok("drive", "update", "mydrive", "--changer", "sl3", "--changer-drivenum", "0")
	step("drive-config", "drive", "config", "mydrive")
	step("drive-list", "drive", "list")
	step("status-empty", "status", "--drive", "mydrive")

	// Step 2: a media pool.
	s.ok("pool", "create", "daily", "--drive", "mydrive")
	s.ok("pool", "update", "daily", "--allocation", "daily", "--retention", "7days")
	step("pool-list", "pool", "list")
	step("pool-config", "pool", "config", "daily")

	// Step 3: label the tapes. A single configured drive is the default.
	step("barcode-label", "barcode-label", "--pool", "daily")
	media := step("media-list", "media", "list")
	for _, l := range []string{"TEST01L8", "TEST08L8"} {
		if !strings.Contains(media, l) {
			t.Errorf("media list lacks %s", l)
		}
	}
	if strings.Contains(media, "CLN001CU") {
		t.Errorf("media list shows the cleaning cartridge:\n%s", media)
	}
	// Tapes in the export slots 15 and 16 are offline and not labelled;
	// the library created 8 cartridges in slots 1..8, so all are online.

	s.ok("load-media", "TEST03L8")
	step("read-label", "read-label")
	step("changer-status-loaded", "changer", "status")

	var label struct {
		LabelText    string `json:"label-text"`
		Pool         string `json:"pool"`
		MediaSetUUID string `json:"media-set-uuid"`
	}
	if err := json.Unmarshal([]byte(s.ok("read-label", "--output-format", "json").stdout), &label); err != nil {
		t.Fatal(err)
	}
	if label.LabelText != "TEST03L8" || label.Pool != "daily" || label.MediaSetUUID != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("read-label json = %+v", label)
	}
	st := s.ok("status").stdout
	for _, want := range []string{"ONLINE", "file-number", "LTO-8", "simulated-tape-time"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
	// TAPEFS_DRIVE and PROXMOX_TAPE_DRIVE select the default drive when
	// there are several.
	s.ok("drive", "create", "second", "--path", filepath.Join(lib, "drive1"), "--changer", "sl3", "--changer-drivenum", "1")
	if r := s.run(nil, "tapefs", "status"); r.code != 2 || !strings.Contains(r.stderr, "TAPEFS_DRIVE") {
		t.Errorf("status with two drives and no default: exit %d, %q", r.code, r.stderr)
	}
	for _, env := range []string{"TAPEFS_DRIVE=mydrive", "PROXMOX_TAPE_DRIVE=mydrive"} {
		if r := s.run([]string{env}, "tapefs", "changer", "status"); r.code != 0 || !strings.Contains(r.stdout, "TEST03L8") {
			t.Errorf("%s changer status: exit %d\n%s%s", env, r.code, r.stdout, r.stderr)
		}
	}
}

// TestQuickstartJSON checks that list commands give parseable JSON with the
// documented keys.
func TestQuickstartJSON(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")
	var media []map[string]any
	if err := json.Unmarshal([]byte(s.ok("media", "list", "--output-format", "json").stdout), &media); err != nil {
		t.Fatal(err)
	}
	if len(media) != 8 {
		t.Fatalf("media list json has %d entries, want 8", len(media))
	}
	for _, m := range media {
		for _, k := range []string{"label-text", "uuid", "pool", "status", "location"} {
			if _, ok := m[k]; !ok {
				t.Errorf("media entry lacks %q: %v", k, m)
			}
		}
		if m["status"] != "writable" || m["location"] != "online-sl3" {
			t.Errorf("media entry %v: want writable, online-sl3", m)
		}
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(s.ok("changer", "status", "--output-format", "json-pretty").stdout), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2+16+2 {
		t.Errorf("changer status has %d entries, want 20", len(entries))
	}
}

// TestTapeOperations drives load, unload, export, import, inventory, format,
// clean and the cartridge queries through the CLI.
func TestTapeOperations(t *testing.T) {
	s := newSandbox(t)
	lib := setupLibrary(s)
	s.ok("barcode-label", "--pool", "daily")

	s.ok("load-media-from-slot", "2")
	if out := s.ok("read-label").stdout; !strings.Contains(out, "TEST02L8") {
		t.Fatalf("slot 2 should hold TEST02L8:\n%s", out)
	}
	// Loading another tape puts the first back where it came from.
	s.ok("load-media", "TEST05L8")
	cs := s.ok("changer", "status", "--output-format", "json").stdout
	var rows []struct {
		Kind  string `json:"entry-kind"`
		ID    int    `json:"entry-id"`
		Label string `json:"label-text"`
		From  int    `json:"loaded-slot"`
	}
	if err := json.Unmarshal([]byte(cs), &rows); err != nil {
		t.Fatal(err)
	}
	find := func(kind string, id int) string {
		for _, r := range rows {
			if r.Kind == kind && r.ID == id {
				return r.Label
			}
		}
		return "?"
	}
	if find("slot", 2) != "TEST02L8" || find("drive", 0) != "TEST05L8" || find("slot", 5) != "" {
		t.Fatalf("after load-media TEST05L8:\n%s", cs)
	}

	for _, cmd := range []string{"cartridge-memory", "volume-statistics"} {
		if out := s.ok(cmd).stdout; !strings.Contains(out, "│") {
			t.Errorf("%s printed no table:\n%s", cmd, out)
		}
	}
	s.ok("rewind")
	if out := s.ok("status").stdout; !strings.Contains(out, "BOT") {
		t.Errorf("status after rewind lacks BOT:\n%s", out)
	}
	s.ok("unload", "--target-slot", "11")
	s.ok("changer", "transfer", "--from", "11", "--to", "5")

	// Export: the tape goes to an import/export slot and is offline.
	s.ok("export-media", "TEST05L8")
	ml := s.ok("media", "list").stdout
	if !lineHas(ml, "TEST05L8", "offline") {
		t.Errorf("exported tape is not offline:\n%s", ml)
	}
	// An operator takes it out and puts it back into slot 12.
	r := s.run(nil, "tapefs", "changer", "status", "--output-format", "json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	s.ok("changer", "transfer", "--from", "17", "--to", "12")
	s.ok("inventory")
	ml = s.ok("media", "list").stdout
	if !lineHas(ml, "TEST05L8", "online-sl3") {
		t.Errorf("inventory did not bring TEST05L8 back online:\n%s", ml)
	}

	// Format erases the label and removes the tape from the inventory;
	// labelling it again works.
	s.ok("load-media", "TEST06L8")
	s.ok("format", "--fast")
	if out := s.ok("media", "list").stdout; strings.Contains(out, "TEST06L8") {
		t.Errorf("formatted tape still in inventory:\n%s", out)
	}
	s.ok("label", "--label-text", "TEST06L8", "--pool", "daily")
	s.ok("eject")

	// A blank tape inserted by an operator is found by inventory
	// --read-labels and labelled by barcode-label.
	if r := s.run(nil, "tapefs", "vtape", "insert", lib, "NEW001L8", "--slot", "10"); r.code != 0 {
		t.Fatalf("vtape insert: %s", r.stderr)
	}
	inv := s.ok("inventory", "--read-labels").stdout
	if !lineHas(inv, "NEW001L8", "not labelled") {
		t.Errorf("inventory --read-labels:\n%s", inv)
	}
	bl := s.ok("barcode-label").stdout
	if !lineHas(bl, "NEW001L8", "labelled") || !lineHas(bl, "TEST01L8", "already labelled") {
		t.Errorf("barcode-label after insert:\n%s", bl)
	}

	// Cleaning: a drive that asks for cleaning shows it, clean fixes it
	// and puts the tape that was in the drive back into its slot.
	s.ok("load-media", "TEST01L8")
	if r := s.run(nil, "tapefs", "vtape", "fault", lib, "--drive", "0", "--cleaning-required"); r.code != 0 {
		t.Fatalf("vtape fault: %s", r.stderr)
	}
	if out := s.ok("status").stdout; !lineHas(out, "cleaning-required", "│ yes: ") {
		t.Errorf("status does not show cleaning required:\n%s", out)
	}
	cl := s.ok("clean")
	if !strings.Contains(cl.stderr, "CLN001CU") {
		t.Errorf("clean did not report the cleaning cartridge: %s", cl.stderr)
	}
	if out := s.ok("status").stdout; !lineHas(out, "cleaning-required", "│ no ") {
		t.Errorf("still cleaning required after clean:\n%s", out)
	}
	cs = s.ok("changer", "status").stdout
	if !lineHas(cs, "slot", "CLN001CU") || !lineHas(cs, "TEST01L8", "slot") {
		t.Errorf("after clean the cleaning cartridge and TEST01L8 should be back in slots:\n%s", cs)
	}
}

// TestPmtPmtx drives the drive and changer directly.
func TestPmtPmtx(t *testing.T) {
	s := newSandbox(t)
	setupLibrary(s)
	s.ok("barcode-label")
	pmt := func(args ...string) string {
		t.Helper()
		r := s.run(nil, "pmt", args...)
		if r.code != 0 {
			t.Fatalf("pmt %v: exit %d: %s", args, r.code, r.stderr)
		}
		return r.stdout
	}
	pmtx := func(args ...string) string {
		t.Helper()
		r := s.run(nil, "pmtx", args...)
		if r.code != 0 {
			t.Fatalf("pmtx %v: exit %d: %s", args, r.code, r.stderr)
		}
		return r.stdout
	}
	st := pmtx("status")
	if !strings.Contains(st, "Storage Element 1:Full :VolumeTag=TEST01L8") || !strings.Contains(st, "Data Transfer Element 0:Empty") {
		t.Fatalf("pmtx status:\n%s", st)
	}
	pmtx("load", "1", "--drivenum", "0")
	if st := pmt("status"); !strings.Contains(st, "file number=0, block number=0") {
		t.Fatalf("pmt status after load:\n%s", st)
	}
	// A labelled tape has two files: label and media-set label.
	pmt("fsf", "1")
	if st := pmt("status"); !strings.Contains(st, "file number=1, block number=0") {
		t.Errorf("after fsf 1:\n%s", st)
	}
	// status runs in a process of its own, which cannot learn from the
	// drive that the tape is at end of data (a SCSI drive does not report
	// it): EOF, not EOD, on vtape as on SCSI.
	pmt("eod")
	if st := pmt("status"); !strings.Contains(st, "file number=2") || !strings.Contains(st, "EOF") || strings.Contains(st, "EOD") {
		t.Errorf("after eod:\n%s", st)
	}
	pmt("bsf", "1")
	pmt("fsr", "0")
	pmt("asf", "0")
	if st := pmt("status"); !strings.Contains(st, "BOT") {
		t.Errorf("after asf 0:\n%s", st)
	}
	pmt("options", "--defaults")
	pmt("lock")
	if r := s.run(nil, "pmt", "eject"); r.code == 0 {
		t.Errorf("eject of a locked tape succeeded")
	}
	pmt("unlock")
	pmt("tape-alert-flags")
	if out := pmt("volume-statistics"); !strings.Contains(out, "volume-mounts") {
		t.Errorf("volume-statistics:\n%s", out)
	}
	if out := pmt("cartridge-memory"); !strings.Contains(out, "TEST01L8") {
		t.Errorf("cartridge-memory lacks the barcode:\n%s", out)
	}
	if out := pmt("scan"); !strings.Contains(out, "drive0") {
		t.Errorf("pmt scan:\n%s", out)
	}
	pmtx("unload", "--drivenum", "0")
	if st := pmtx("status"); !strings.Contains(st, "Storage Element 1:Full :VolumeTag=TEST01L8") {
		t.Errorf("pmtx unload did not return the tape to slot 1:\n%s", st)
	}
	pmtx("transfer", "1", "11")
	pmtx("inventory")
	if out := pmtx("inquiry"); !strings.Contains(out, "vendor") {
		t.Errorf("pmtx inquiry:\n%s", out)
	}
	if out := pmtx("scan"); !strings.Contains(out, s.root) {
		t.Errorf("pmtx scan:\n%s", out)
	}
}

func lineHas(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, w := range words {
			if !strings.Contains(line, w) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// TestPmtMtStyle uses pmt and pmtx the way an mt/mtx user would: devices
// named by -f or by the TAPE and CHANGER variables (no configuration),
// mtx's positional drive numbers, and mt's other command names.
func TestPmtMtStyle(t *testing.T) {
	s := newSandbox(t)
	lib := filepath.Join(s.root, "vlib")
	s.ok("vtape", "create", lib, "--slots", "8", "--drives", "2", "--import-export", "1", "--cartridges", "4")
	drive1 := filepath.Join(lib, "drive1")
	run := func(env []string, bin string, args ...string) string {
		t.Helper()
		r := s.run(env, bin, args...)
		if r.code != 0 {
			t.Fatalf("%s %v: exit %d: %s", bin, args, r.code, r.stderr)
		}
		return r.stdout
	}
	run(nil, "pmtx", "-f", lib, "load", "2", "1")
	if st := run([]string{"CHANGER=" + lib}, "pmtx", "status"); !strings.Contains(st, "Data Transfer Element 1:Full (Storage Element 2 Loaded):VolumeTag = TEST02L8") {
		t.Fatalf("mtx-style load 2 1 did not load slot 2 into drive 1:\n%s", st)
	}
	tape := []string{"TAPE=" + drive1}
	run(tape, "pmt", "eof", "2")
	run(tape, "pmt", "rewind")
	run(nil, "pmt", "-f", drive1, "eom")
	if st := run(tape, "pmt", "status"); !strings.Contains(st, "file number=2, block number=0") || !strings.Contains(st, "EOF") || strings.Contains(st, "EOD") {
		t.Errorf("after eof 2, rewind, eom:\n%s", st)
	}
	run(tape, "pmt", "offline")
	if st := run(tape, "pmt", "status"); !strings.Contains(st, "file number=-1") {
		t.Errorf("after offline the tape is still threaded:\n%s", st)
	}
	run([]string{"CHANGER=" + lib}, "pmtx", "unload", "6", "1")
	if st := run(nil, "pmtx", "-f", lib, "status"); !strings.Contains(st, "Storage Element 6:Full :VolumeTag=TEST02L8") {
		t.Errorf("mtx-style unload 6 1 did not put the tape in slot 6:\n%s", st)
	}
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{"pmt", []string{"-f", drive1, "densities"}, `unknown command "densities"`},
		{"pmtx", []string{"-f", lib, "load", "3", "1", "--drivenum", "0"}, "disagree"},
		{"pmtx", []string{"-f", lib, "load", "3", "x"}, "invalid drive number"},
	} {
		r := s.run(nil, c.bin, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s %v: exit %d, %q; want exit 2 and %q", c.bin, c.args, r.code, r.stderr, c.want)
		}
	}
	// A move the library refuses names the changer once.
	r := s.run(nil, "pmtx", "-f", lib, "load", "7", "0")
	if want := "pmtx: changer " + lib + ": move slot 7 to drive 0: "; r.code != 6 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("load from an empty slot: exit %d, %q; want exit 6 and a line starting %q", r.code, r.stderr, want)
	}
}
