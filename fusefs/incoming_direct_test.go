package fusefs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIncomingCreatedDirect: a created file's handle is direct I/O; it
// can still be mapped shared, and a write through it by a caller other
// than root clears set-ID bits as a cached write would.
func TestIncomingCreatedDirect(t *testing.T) {
	in := mountIncomingWith(t, MountOptions{AllowOther: true})
	g := filepath.Join(in, "g")
	if err := os.Mkdir(g, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(g, 0o777); err != nil {
		t.Fatal(err)
	}

	t.Run("shared mapping", func(t *testing.T) {
		p := filepath.Join(g, "mapped")
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(4096); err != nil {
			t.Fatal(err)
		}
		m, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatalf("mmap MAP_SHARED of a created file: %v", err)
		}
		copy(m, "through the mapping")
		if err := unix.Msync(m, unix.MS_SYNC); err != nil {
			t.Fatal(err)
		}
		if err := unix.Munmap(m); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, []byte("through the mapping")) || len(got) != 4096 {
			t.Errorf("read back %d bytes starting %q", len(got), got[:min(len(got), 24)])
		}
	})

	t.Run("set-ID cleared on write", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to write as another user")
		}
		// Let the other user reach the mount point (t.TempDir is 0700).
		mnt := filepath.Dir(filepath.Dir(filepath.Dir(in)))
		if err := os.Chmod(filepath.Dir(mnt), 0o755); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name       string
			mode, want uint32
		}{
			{"suid and sgid with group exec", 0o6775, 0o775},
			{"sgid without group exec stays", 0o2764, 0o2764},
			{"plain", 0o664, 0o664},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := filepath.Join(g, tt.name)
				// Create through fd 3, chmod, then write through fd 3.
				cmd := exec.Command("sh", "-c", `exec 3>"$1" && chmod "$2" "$1" && printf data >&3`, "sh", p, "0"+strconv.FormatUint(uint64(tt.mode), 8))
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				if got := st.Mode & 0o7777; got != tt.want {
					t.Errorf("mode after write %o, want %o", got, tt.want)
				}
			})
		}
	})
}
