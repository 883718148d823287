package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tapefs/engine"
	"tapefs/internal/fileutil"
)

// Who may control a daemon (docs/fuse.md, "Security"): its own user, root,
// and the members of its admin group when one is configured (mount option
// admin-group=GROUP). The API socket is checked twice: its file is
// reachable by them only (in a 0700 state directory, or 0710 with the
// admin group, and mode 0600, or 0660 with the group, from the moment it
// appears: listenAPI), and every connection's peer credentials
// (SO_PEERCRED, SO_PEERGROUPS) are checked against the same rule.

// access is the rule: the daemon's effective uid, and its admin group
// (-1 for none).
type access struct {
	uid      uint32
	adminGID int
}

// newAccess is the rule of this process with the admin group named by
// group (a name or a number; "" for none).
func newAccess(group string) (access, error) {
	a := access{uid: uint32(os.Geteuid()), adminGID: -1}
	if group == "" {
		return a, nil
	}
	if n, err := strconv.Atoi(group); err == nil && n >= 0 {
		a.adminGID = n
		return a, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return a, usagef("mount: admin-group: %v", err)
	}
	a.adminGID, _ = strconv.Atoi(g.Gid)
	return a, nil
}

// adminGroup is the admin group's gid, nil for none.
func (a access) adminGroup() *uint32 {
	if a.adminGID < 0 {
		return nil
	}
	g := uint32(a.adminGID)
	return &g
}

// dirMode and sockMode are the modes of the state directory and of the
// API socket under the rule.
func (a access) dirMode() os.FileMode {
	if a.adminGID >= 0 {
		return 0o710
	}
	return fileutil.PrivateDir
}

func (a access) sockMode() os.FileMode {
	if a.adminGID >= 0 {
		return 0o660
	}
	return fileutil.PrivateFile
}

// allows reports whether a peer with uid, primary gid and supplementary
// groups may run commands.
func (a access) allows(uid, gid uint32, groups []uint32) bool {
	if uid == a.uid || uid == 0 {
		return true
	}
	if a.adminGID < 0 {
		return false
	}
	g := uint32(a.adminGID)
	return gid == g || slices.Contains(groups, g)
}

// checkPeer returns nil if the process at the other end of conn may run
// commands, else an error (wrapping engine.ErrRefused) that says who it is.
func (a access) checkPeer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("API: not a Unix socket connection: %w", engine.ErrRefused)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var groups []uint32
	var cerr error
	err = rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if cerr == nil && a.adminGID >= 0 {
			groups, cerr = peerGroups(int(fd))
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("API: peer credentials: %w", err)
	}
	if a.allows(cred.Uid, cred.Gid, groups) {
		return nil
	}
	return fmt.Errorf("permission denied: uid %d (pid %d) is neither the daemon's user (uid %d), root nor a member of its admin group: %w",
		cred.Uid, cred.Pid, a.uid, engine.ErrRefused)
}

// peerGroups is the supplementary group list of a Unix socket's peer
// (SO_PEERGROUPS, Linux 4.13).
func peerGroups(fd int) ([]uint32, error) {
	n := 64
	for {
		buf := make([]uint32, n)
		size := uint32(4 * n)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case e == unix.ERANGE && int(size/4) > n:
			n = int(size / 4)
		case e != 0:
			return nil, e
		default:
			return buf[:size/4], nil
		}
	}
}

// secureStateDir creates the state directory with the rule's mode, or
// checks an existing one: it must belong to the daemon's user, and a mode
// that lets anybody else in (a directory made 0755 by an older tapefs or
// by hand) is tightened, which logf reports. The directory holds the API
// socket, the catalog and the virtual libraries.
func secureStateDir(dir string, a access, logf func(format string, args ...any)) error {
	if err := os.MkdirAll(dir, a.dirMode()); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != a.uid {
		return fmt.Errorf("state directory %s belongs to uid %d, not to the daemon's user (uid %d): %w; give it to that user (chown) or choose another with --state-dir",
			dir, st.Uid, a.uid, engine.ErrRefused)
	}
	if a.adminGID >= 0 && st.Gid != uint32(a.adminGID) {
		if err := os.Lchown(dir, -1, a.adminGID); err != nil {
			return fmt.Errorf("state directory: give it to the admin group: %w", err)
		}
		logf("state directory %s: group set to the admin group (gid %d)", dir, a.adminGID)
	}
	if perm := fi.Mode().Perm(); perm != a.dirMode() {
		if err := os.Chmod(dir, a.dirMode()); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if perm&^a.dirMode() == 0 {
			return nil // was closer than it needs to be (0700 with an admin group)
		}
		logf("state directory %s was mode %04o: made %04o, so that only the daemon's user%s can reach its socket and files",
			dir, fi.Mode().Perm(), a.dirMode(), map[bool]string{true: " and admin group", false: ""}[a.adminGID >= 0])
	}
	return nil
}

// listenAPI creates the API socket in the state directory (replacing a
// stale one: the caller holds the daemon lock) so that it is never
// reachable by anybody the rule does not allow, at any instant and
// whatever the umask or the directory's mode: it is bound in a new 0700
// directory, given its mode (and group), and only then renamed into
// place.
func listenAPI(stateDir string, a access) (_ net.Listener, err error) {
	priv, err := os.MkdirTemp(stateDir, ".api")
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	defer os.RemoveAll(priv)
	tmp := filepath.Join(priv, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	// Its name moves: the daemon removes it at exit (runDaemon).
	ln.SetUnlinkOnClose(false)
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	if a.adminGID >= 0 {
		if err := os.Lchown(tmp, -1, a.adminGID); err != nil {
			return nil, fmt.Errorf("API socket: %w", err)
		}
	}
	if err := os.Chmod(tmp, a.sockMode()); err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	path := filepath.Join(stateDir, socketName)
	if err := os.Rename(tmp, path); err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) {
			return nil, fmt.Errorf("API socket: %s is a directory", path)
		}
		return nil, fmt.Errorf("API socket: %w", err)
	}
	return ln, nil
}
