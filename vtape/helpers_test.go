package vtape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"tapefs/engine/device"
)

var bg = context.Background()

// loadedDrive creates a library, moves slot 1 into drive 0 (auto-load) and
// opens the drive.
func loadedDrive(t *testing.T, opts LibraryOptions) (string, *Drive) {
	t.Helper()
	if opts.Cartridges == 0 {
		opts.Cartridges = 2
	}
	dir := NewTestLibrary(t, opts)
	moveSlotToDrive(t, dir, 1, 0)
	d := openDrive(t, dir, 0)
	return dir, d
}

func openDrive(t *testing.T, dir string, n int) *Drive {
	t.Helper()
	d, err := OpenDrive(DrivePath(dir, n))
	if err != nil {
		t.Fatalf("open drive: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func moveSlotToDrive(t *testing.T, dir string, slot, drive int) {
	t.Helper()
	move(t, dir, device.Element{Kind: device.ElementSlot, ID: slot}, device.Element{Kind: device.ElementDrive, ID: drive})
}

func move(t *testing.T, dir string, from, to device.Element) {
	t.Helper()
	if err := tryMove(dir, from, to); err != nil {
		t.Fatalf("move: %v", err)
	}
}

func tryMove(dir string, from, to device.Element) error {
	c, err := OpenChanger(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Move(bg, from, to)
}

// record returns deterministic content for record i of size n.
func record(i, n int) []byte {
	b := bytes.Repeat([]byte(fmt.Sprintf("rec%06d|", i)), n/10+1)
	return b[:n]
}

func mustWrite(t *testing.T, d *Drive, p []byte) {
	t.Helper()
	if err := d.WriteRecord(bg, p); err != nil {
		t.Fatalf("write record: %v", err)
	}
}

func mustFM(t *testing.T, d *Drive, n int) {
	t.Helper()
	if err := d.WriteFilemarks(bg, n); err != nil {
		t.Fatalf("write filemarks: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if target == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func pos(t *testing.T, d *Drive) device.Position {
	t.Helper()
	p, err := d.ReadPosition(bg)
	if err != nil {
		t.Fatalf("read position: %v", err)
	}
	return p
}
