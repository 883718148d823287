package sgio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// iscsiConn is a minimal iSCSI initiator (RFC 7143) for tests: one session
// of one connection to one target, no authentication, no digests, one
// command at a time. iscsiTransport runs a Transport's commands on one LUN
// of it, so Drive and Changer can be driven through a SCSI target that is
// not in this package (tgt's virtual tape library, see tgt_test.go).
type iscsiConn struct {
	c   net.Conn
	r   *bufio.Reader
	itt uint32 // initiator task tag of the last command
	// Sequence numbers: CmdSN of the next command, ExpStatSN the next
	// status the target sends.
	cmdSN, expStatSN uint32
	// Negotiated: the most data the target takes in one PDU.
	targetMaxRecv int
}

// iSCSI opcodes (RFC 7143, 11.1).
const (
	opNopOut      = 0x00
	opSCSICmd     = 0x01
	opLoginReq    = 0x03
	opDataOut     = 0x05
	opLogoutReq   = 0x06
	opNopIn       = 0x20
	opSCSIResp    = 0x21
	opLoginResp   = 0x23
	opDataIn      = 0x25
	opLogoutResp  = 0x26
	opR2T         = 0x31
	opAsyncMsg    = 0x32
	opReject      = 0x3f
	flagFinal     = 0x80
	bhsLen        = 48
	initiatorName = "iqn.2026-11.tapefs:test"
	ourMaxRecv    = 262144
)

// dialISCSI logs in to target at addr (host:port), going straight to the
// full feature phase (no security stage: the target must not ask for
// authentication).
func dialISCSI(addr, target string) (*iscsiConn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	ic := &iscsiConn{c: c, r: bufio.NewReader(c), targetMaxRecv: 8192}
	if err := ic.login(target); err != nil {
		c.Close()
		return nil, fmt.Errorf("iSCSI login to %s at %s: %w", target, addr, err)
	}
	return ic, nil
}

func (ic *iscsiConn) login(target string) error {
	keys := []string{
		"InitiatorName=" + initiatorName,
		"TargetName=" + target,
		"SessionType=Normal",
		"HeaderDigest=None",
		"DataDigest=None",
		"MaxRecvDataSegmentLength=" + strconv.Itoa(ourMaxRecv),
		// Every byte of data-out goes in answer to an R2T: one path
		// for every write.
		"InitialR2T=Yes",
		"ImmediateData=No",
		"MaxBurstLength=16776192",
		"FirstBurstLength=262144",
		"MaxConnections=1",
		"DataPDUInOrder=Yes",
		"DataSequenceInOrder=Yes",
		"ErrorRecoveryLevel=0",
		"DefaultTime2Wait=0",
		"DefaultTime2Retain=0",
		"MaxOutstandingR2T=1",
	}
	var h [bhsLen]byte
	h[0] = 0x40 | opLoginReq // immediate
	// Transit from operational negotiation (stage 1) to full feature (3).
	h[1] = flagFinal | 1<<2 | 3
	copy(h[8:14], []byte{0x00, 0x02, 0x3d, 0x00, 0x00, 0x01}) // ISID
	binary.BigEndian.PutUint32(h[16:], ic.nextITT())
	binary.BigEndian.PutUint32(h[24:], ic.cmdSN)
	binary.BigEndian.PutUint32(h[28:], ic.expStatSN)
	if err := ic.send(h, []byte(strings.Join(keys, "\x00")+"\x00")); err != nil {
		return err
	}
	for {
		rh, data, err := ic.recv()
		if err != nil {
			return err
		}
		if rh[0]&0x3f != opLoginResp {
			return fmt.Errorf("answer opcode %#x to a login", rh[0]&0x3f)
		}
		if class, detail := rh[36], rh[37]; class != 0 {
			return fmt.Errorf("login refused: status class %d detail %d", class, detail)
		}
		ic.expStatSN = binary.BigEndian.Uint32(rh[24:]) + 1
		ic.cmdSN = binary.BigEndian.Uint32(rh[28:])
		for _, kv := range strings.Split(string(data), "\x00") {
			if v, ok := strings.CutPrefix(kv, "MaxRecvDataSegmentLength="); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					ic.targetMaxRecv = n
				}
			}
		}
		if rh[1]&flagFinal != 0 && rh[1]&3 == 3 {
			return nil
		}
		// The target wants another round of the same stage: answer
		// with no new keys until it moves on.
		binary.BigEndian.PutUint16(h[14:], binary.BigEndian.Uint16(rh[14:])) // TSIH
		binary.BigEndian.PutUint32(h[28:], ic.expStatSN)
		if err := ic.send(h, nil); err != nil {
			return err
		}
	}
}

func (ic *iscsiConn) nextITT() uint32 {
	ic.itt++
	if ic.itt == 0xffffffff {
		ic.itt = 1
	}
	return ic.itt
}

// send writes one PDU: header h with the data segment length filled in,
// and data padded to 4 bytes.
func (ic *iscsiConn) send(h [bhsLen]byte, data []byte) error {
	h[5], h[6], h[7] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	buf := make([]byte, 0, bhsLen+len(data)+3)
	buf = append(buf, h[:]...)
	buf = append(buf, data...)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	ic.c.SetWriteDeadline(time.Now().Add(time.Minute))
	_, err := ic.c.Write(buf)
	return err
}

// recv reads one PDU and answers the target's pings on the way.
func (ic *iscsiConn) recv() ([bhsLen]byte, []byte, error) {
	for {
		var h [bhsLen]byte
		ic.c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		if _, err := io.ReadFull(ic.r, h[:]); err != nil {
			return h, nil, err
		}
		ahs := int(h[4]) * 4
		n := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
		body := make([]byte, ahs+(n+3)&^3)
		if _, err := io.ReadFull(ic.r, body); err != nil {
			return h, nil, err
		}
		data := body[ahs : ahs+n]
		if h[0]&0x3f == opNopIn {
			if ttt := binary.BigEndian.Uint32(h[20:]); ttt != 0xffffffff {
				// A ping that wants an answer: NOP-Out echoing it.
				var o [bhsLen]byte
				o[0] = 0x40 | opNopOut
				o[1] = flagFinal
				copy(o[8:16], h[8:16])
				binary.BigEndian.PutUint32(o[16:], 0xffffffff)
				binary.BigEndian.PutUint32(o[20:], ttt)
				binary.BigEndian.PutUint32(o[24:], ic.cmdSN)
				binary.BigEndian.PutUint32(o[28:], ic.expStatSN)
				if err := ic.send(o, data); err != nil {
					return h, nil, err
				}
			}
			continue
		}
		if h[0]&0x3f == opAsyncMsg {
			continue
		}
		return h, data, nil
	}
}

// exec runs cmd on lun and waits for its status.
func (ic *iscsiConn) exec(lun int, cmd *Command) (Result, error) {
	if len(cmd.CDB) > 16 {
		return Result{}, fmt.Errorf("CDB of %d bytes: this initiator sends 16 at most", len(cmd.CDB))
	}
	var h [bhsLen]byte
	h[0] = opSCSICmd
	h[1] = flagFinal | 1 // simple task attribute
	switch cmd.Dir {
	case DirIn:
		h[1] |= 0x40
	case DirOut:
		h[1] |= 0x20
	}
	h[9] = byte(lun) // peripheral device addressing, single level
	itt := ic.nextITT()
	binary.BigEndian.PutUint32(h[16:], itt)
	edtl := 0
	if cmd.Dir != DirNone {
		edtl = len(cmd.Data)
	}
	binary.BigEndian.PutUint32(h[20:], uint32(edtl))
	binary.BigEndian.PutUint32(h[24:], ic.cmdSN)
	binary.BigEndian.PutUint32(h[28:], ic.expStatSN)
	copy(h[32:48], cmd.CDB)
	ic.cmdSN++
	if err := ic.send(h, nil); err != nil {
		return Result{}, err
	}
	received := 0
	for {
		rh, data, err := ic.recv()
		if err != nil {
			return Result{}, err
		}
		if binary.BigEndian.Uint32(rh[16:]) != itt && rh[0]&0x3f != opReject {
			return Result{}, fmt.Errorf("answer for task %#x while task %#x runs", binary.BigEndian.Uint32(rh[16:]), itt)
		}
		switch rh[0] & 0x3f {
		case opDataIn:
			off := int(binary.BigEndian.Uint32(rh[40:]))
			if cmd.Dir != DirIn || off+len(data) > len(cmd.Data) {
				return Result{}, fmt.Errorf("data-in of %d bytes at %d for a buffer of %d", len(data), off, len(cmd.Data))
			}
			copy(cmd.Data[off:], data)
			received = max(received, off+len(data))
			if rh[1]&0x01 != 0 { // status in the last data-in
				ic.expStatSN = binary.BigEndian.Uint32(rh[24:]) + 1
				return Result{Status: rh[3], Resid: len(cmd.Data) - received}, nil
			}
		case opR2T:
			ttt := binary.BigEndian.Uint32(rh[20:])
			off := int(binary.BigEndian.Uint32(rh[40:]))
			n := int(binary.BigEndian.Uint32(rh[44:]))
			if cmd.Dir != DirOut || off+n > len(cmd.Data) {
				return Result{}, fmt.Errorf("R2T for %d bytes at %d of %d", n, off, len(cmd.Data))
			}
			for sn, done := uint32(0), 0; done < n; sn++ {
				k := min(n-done, ic.targetMaxRecv)
				var o [bhsLen]byte
				o[0] = opDataOut
				if done+k == n {
					o[1] = flagFinal
				}
				copy(o[8:16], h[8:16])
				binary.BigEndian.PutUint32(o[16:], itt)
				binary.BigEndian.PutUint32(o[20:], ttt)
				binary.BigEndian.PutUint32(o[28:], ic.expStatSN)
				binary.BigEndian.PutUint32(o[36:], sn)
				binary.BigEndian.PutUint32(o[40:], uint32(off+done))
				if err := ic.send(o, cmd.Data[off+done:off+done+k]); err != nil {
					return Result{}, err
				}
				done += k
			}
		case opSCSIResp:
			ic.expStatSN = binary.BigEndian.Uint32(rh[24:]) + 1
			if rh[2] != 0 {
				return Result{}, fmt.Errorf("iSCSI response %#x (the target did not complete the command)", rh[2])
			}
			res := Result{Status: rh[3]}
			switch {
			case cmd.Dir == DirIn:
				res.Resid = len(cmd.Data) - received
			case cmd.Dir == DirOut && rh[1]&0x02 != 0: // underflow
				res.Resid = int(binary.BigEndian.Uint32(rh[44:]))
			}
			if len(data) >= 2 {
				sl := int(binary.BigEndian.Uint16(data))
				res.Sense = append([]byte(nil), data[2:2+min(sl, len(data)-2)]...)
				// As the Linux sg driver reports sense.
				res.DriverStatus = driverSense
			}
			return res, nil
		case opReject:
			return Result{}, fmt.Errorf("the target rejected a PDU (reason %#x)", rh[2])
		default:
			return Result{}, fmt.Errorf("unexpected iSCSI opcode %#x", rh[0]&0x3f)
		}
	}
}

// logout ends the session.
func (ic *iscsiConn) logout() error {
	var h [bhsLen]byte
	h[0] = 0x40 | opLogoutReq
	h[1] = flagFinal // close the session
	binary.BigEndian.PutUint32(h[16:], ic.nextITT())
	binary.BigEndian.PutUint32(h[24:], ic.cmdSN)
	binary.BigEndian.PutUint32(h[28:], ic.expStatSN)
	err := ic.send(h, nil)
	if err == nil {
		var rh [bhsLen]byte
		rh, _, err = ic.recv()
		if err == nil && rh[0]&0x3f != opLogoutResp {
			err = errors.New("no logout response")
		}
	}
	return errors.Join(err, ic.c.Close())
}

// iscsiTransport is a Transport on one LUN of a session of its own.
type iscsiTransport struct {
	ic  *iscsiConn
	lun int
	// trace, when set, sees every command and its outcome.
	trace func(cmd *Command, res Result, err error)
}

func (t *iscsiTransport) Exec(cmd *Command) (Result, error) {
	res, err := t.ic.exec(t.lun, cmd)
	if t.trace != nil {
		t.trace(cmd, res, err)
	}
	return res, err
}

func (t *iscsiTransport) Close() error { return t.ic.logout() }
