package vtape

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"tapefs/engine/device"
)

// TestMain lets the test binary act as a second process that uses a drive
// (VTAPE_HELPER=<action> <drive path>), the way each CLI command does.
func TestMain(m *testing.M) {
	if action := os.Getenv("VTAPE_HELPER"); action != "" {
		os.Exit(helperProcess(action, os.Getenv("VTAPE_DRIVE")))
	}
	os.Exit(m.Run())
}

func helperProcess(action, path string) int {
	d, err := OpenDrive(path)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	switch action {
	case "write":
		// Write, then exit without Close, as a killed process would.
		for i := range 3 {
			if err := d.WriteRecord(bg, record(i, 1000)); err != nil {
				fmt.Println(err)
				return 1
			}
		}
		d.WriteFilemarks(bg, 1)
		d.WriteRecord(bg, record(3, 1000))
		return 0
	case "hold":
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		d.Close()
		return 0
	}
	return 2
}

func helper(t *testing.T, action, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VTAPE_HELPER="+action, "VTAPE_DRIVE="+path)
	return cmd
}

func TestSecondProcess(t *testing.T) {
	dir := NewTestLibrary(t, LibraryOptions{Cartridges: 1, Capacity: 64 << 20})
	moveSlotToDrive(t, dir, 1, 0)
	path := DrivePath(dir, 0)

	if out, err := helper(t, "write", path).CombinedOutput(); err != nil {
		t.Fatalf("writer process: %v: %s", err, out)
	}
	d := openDrive(t, dir, 0)
	if p := pos(t, d); p != (device.Position{Object: 5, File: 1, Record: 1}) {
		t.Fatalf("position left by the other process %+v", p)
	}
	if s := d.SimStats(); s.Loads != 1 || s.BytesWritten != 4000 {
		t.Fatalf("sim counters left by the other process %+v", s)
	}
	wantErr(t, d.Rewind(bg), nil)
	buf := make([]byte, 2000)
	for i := range 3 {
		n, err := d.ReadRecord(bg, buf)
		if err != nil || string(buf[:n]) != string(record(i, 1000)) {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	d.Close()

	cmd := helper(t, "hold", path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder said %q", line)
	}
	_, err := OpenDrive(path)
	wantErr(t, err, device.ErrBusy)
	if !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("busy error does not name pid %d: %v", cmd.Process.Pid, err)
	}
}
