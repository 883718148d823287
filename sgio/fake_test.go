package sgio

import (
	"bytes"
	"testing"
)

// step is one scripted command: the CDB the code under test must send and
// what the device answers.
type step struct {
	cdb []byte
	// out, when not nil, is the data-out the command must carry.
	out []byte
	// in is copied into the data-in buffer; the rest is residue.
	in []byte
	// sense, when set, ends the command with CHECK CONDITION.
	sense []byte
	// status and host override the SCSI and host status.
	status byte
	host   uint16
	// resid, when >= 0 with in == nil, sets the residue directly.
	resid int
	err   error
	// hook runs when the command is executed.
	hook func()
}

// fakeTransport replays a script of steps and fails the test on any
// command that differs from the script.
type fakeTransport struct {
	t      *testing.T
	steps  []step
	closed bool
}

func newFake(t *testing.T, steps ...step) *fakeTransport {
	t.Helper()
	f := &fakeTransport{t: t, steps: steps}
	t.Cleanup(func() {
		if len(f.steps) != 0 {
			t.Errorf("%d scripted commands not sent; next: % X", len(f.steps), f.steps[0].cdb)
		}
	})
	return f
}

// expect appends steps to the script.
func (f *fakeTransport) expect(steps ...step) { f.steps = append(f.steps, steps...) }

func (f *fakeTransport) Exec(cmd *Command) (Result, error) {
	f.t.Helper()
	if len(f.steps) == 0 {
		f.t.Fatalf("unexpected command % X", cmd.CDB)
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	if !bytes.Equal(cmd.CDB, s.cdb) {
		f.t.Fatalf("command % X, want % X", cmd.CDB, s.cdb)
	}
	if s.out != nil && (cmd.Dir != DirOut || !bytes.Equal(cmd.Data, s.out)) {
		f.t.Fatalf("command % X: data out % X, want % X", cmd.CDB, cmd.Data, s.out)
	}
	if cmd.Timeout <= 0 {
		f.t.Fatalf("command % X without timeout", cmd.CDB)
	}
	if s.hook != nil {
		s.hook()
	}
	if s.err != nil {
		return Result{}, s.err
	}
	res := Result{Status: s.status, HostStatus: s.host}
	if cmd.Dir == DirIn {
		n := copy(cmd.Data, s.in)
		res.Resid = len(cmd.Data) - n
		if s.in == nil && s.resid >= 0 {
			res.Resid = s.resid
		}
	}
	if s.sense != nil {
		res.Status = statusCheckCondition
		res.Sense = s.sense
	}
	return res, nil
}

func (f *fakeTransport) Close() error {
	f.closed = true
	return nil
}

// cmd is a step with only a CDB (GOOD status, no data).
func cmd(cdb []byte) step { return step{cdb: cdb} }

// withIn is a step answering cdb with data.
func withIn(cdb, in []byte) step { return step{cdb: cdb, in: in} }

// withSense is a step ending cdb with CHECK CONDITION and sense.
func withSense(cdb, sense []byte) step { return step{cdb: cdb, sense: sense} }

// inquirySteps are the INQUIRY and serial number commands of NewDrive and
// NewChanger.
func inquirySteps(typ byte, serial string) []step {
	return []step{
		withIn(inquiryCDB(false, 0, inquiryAlloc), inquiryData(typ, "HPE", "Ultrium 8-SCSI", "J4DB")),
		withIn(inquiryCDB(true, 0x80, 255), serialPage(typ, serial)),
	}
}
