package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestListenAPINeverExposed: under umask 0 and in a directory everybody
// can enter, the API socket appears under its name with its final mode
// and owner at once (it is renamed into place, never chmod-ed there): no
// instant exists at which another user could connect.
func TestListenAPINeverExposed(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ATTRIB); err != nil {
		t.Fatal(err)
	}
	for _, acc := range []access{{uid: uint32(os.Geteuid()), adminGID: -1}, {uid: uint32(os.Geteuid()), adminGID: 0}} {
		ln, err := listenAPI(dir, acc)
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		buf := make([]byte, 64<<10)
		n, _ := unix.Read(in, buf)
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := string(buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)])
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if strings.TrimRight(name, "\x00") != socketName {
				continue
			}
			switch {
			case ev.Mask&unix.IN_CREATE != 0:
				events = append(events, "create")
			case ev.Mask&unix.IN_MOVED_TO != 0:
				events = append(events, "moved-to")
			case ev.Mask&unix.IN_ATTRIB != 0:
				events = append(events, "attrib")
			}
		}
		if len(events) != 1 || events[0] != "moved-to" {
			t.Errorf("events on %s: %v, want only [moved-to] (created elsewhere with its final mode)", socketName, events)
		}
		fi, err := os.Stat(filepath.Join(dir, socketName))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != acc.sockMode() {
			t.Errorf("socket mode %v, want socket %04o", fi.Mode(), acc.sockMode())
		}
		if gid := fi.Sys().(*syscall.Stat_t).Gid; acc.adminGID >= 0 && gid != uint32(acc.adminGID) {
			t.Errorf("socket group %d, want %d", gid, acc.adminGID)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("left in the state directory: %v", ents)
		}
		conn, err := net.Dial("unix", filepath.Join(dir, socketName))
		if err != nil {
			t.Fatalf("connect to the renamed socket: %v", err)
		}
		conn.Close()
		ln.Close()
	}
}

func TestAccessAllows(t *testing.T) {
	for _, tc := range []struct {
		acc    access
		uid    uint32
		gid    uint32
		groups []uint32
		want   bool
	}{
		{access{uid: 1000, adminGID: -1}, 1000, 1000, nil, true},
		{access{uid: 1000, adminGID: -1}, 0, 0, nil, true},
		{access{uid: 1000, adminGID: -1}, 1001, 1000, []uint32{1000}, false},
		{access{uid: 0, adminGID: -1}, 65534, 65534, nil, false},
		{access{uid: 0, adminGID: 50}, 65534, 65534, nil, false},
		{access{uid: 0, adminGID: 50}, 65534, 50, nil, true},
		{access{uid: 0, adminGID: 50}, 65534, 65534, []uint32{10, 50}, true},
	} {
		if got := tc.acc.allows(tc.uid, tc.gid, tc.groups); got != tc.want {
			t.Errorf("%+v allows(uid %d, gid %d, groups %v) = %v, want %v", tc.acc, tc.uid, tc.gid, tc.groups, got, tc.want)
		}
	}
}

// TestSecureStateDir: a state directory others can enter is tightened
// (and said so), one of another user is refused.
func TestSecureStateDir(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "state")
	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, format) }
	acc := access{uid: uint32(os.Geteuid()), adminGID: -1}
	if err := secureStateDir(dir, acc, logf); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 || len(logged) != 0 {
		t.Fatalf("new state directory %v, logged %v", fi.Mode(), logged)
	}
	os.Chmod(dir, 0o755)
	if err := secureStateDir(dir, acc, logf); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 || len(logged) != 1 {
		t.Fatalf("0755 state directory became %v, logged %v", fi.Mode(), logged)
	}
	other := access{uid: uint32(os.Geteuid()) + 1, adminGID: -1}
	if err := secureStateDir(dir, other, logf); err == nil {
		t.Fatal("a state directory of another user was accepted")
	}
}
