package vtape

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	"tapefs/engine/device"
)

// driveState is what a drive keeps across processes in its folder: the
// mount it has accounted for, position, options, key, timing counters. Only
// the handle that holds the drive lock writes it.
type driveState struct {
	Seq         uint64 `json:"seq"`
	Barcode     string `json:"barcode,omitempty"`
	LoadSeq     uint64 `json:"load-seq"`
	Position    uint64 `json:"position"`
	BlockSize   uint32 `json:"block-size"`
	Compression bool   `json:"compression"`
	BufferMode  bool   `json:"buffer-mode"`
	// Key is the data encryption key; the state file is mode 0600 and the
	// key is dropped at unload, as a drive forgets it.
	Key              []byte          `json:"key,omitempty"`
	Sim              device.SimStats `json:"sim"`
	Stream           streamState     `json:"stream"`
	CleanCount       uint64          `json:"clean-count"`
	MotionSinceClean float64         `json:"motion-since-clean"`
}

// The state file has two slots written alternately, each a length, a
// CRC-32C and the JSON state padded to stateSlotSize. A write torn by a
// crash damages at most the slot being written; the reader takes the valid
// slot with the higher sequence number.
const (
	stateFile     = "state"
	driveLockFile = "lock"
	stateSlotSize = 8192
)

func encodeStateSlot(st *driveState) ([]byte, error) {
	j, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode drive state: %w", err)
	}
	if len(j)+8 > stateSlotSize {
		return nil, fmt.Errorf("drive state of %d bytes does not fit its slot", len(j))
	}
	b := make([]byte, stateSlotSize)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(j)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(j, castagnoli))
	copy(b[8:], j)
	return b, nil
}

var errBadSlot = errors.New("invalid drive state slot")

func decodeStateSlot(b []byte) (*driveState, error) {
	if len(b) < 8 {
		return nil, errBadSlot
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if n == 0 || int(n) > len(b)-8 {
		return nil, errBadSlot
	}
	j := b[8 : 8+n]
	if crc32.Checksum(j, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, errBadSlot
	}
	var st driveState
	if err := json.Unmarshal(j, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadSlot, err)
	}
	if st.Key != nil && len(st.Key) != KeySize {
		return nil, fmt.Errorf("%w: key of %d bytes", errBadSlot, len(st.Key))
	}
	return &st, nil
}

// decodeStateFile picks the newest valid slot; an empty or unreadable file
// yields a fresh state.
func decodeStateFile(b []byte) *driveState {
	var best *driveState
	for i := 0; i+8 <= len(b) && i < 2*stateSlotSize; i += stateSlotSize {
		end := min(i+stateSlotSize, len(b))
		st, err := decodeStateSlot(b[i:end])
		if err == nil && (best == nil || st.Seq > best.Seq) {
			best = st
		}
	}
	if best == nil {
		// A drive powers on in buffered mode, as LTO drives do.
		return &driveState{BufferMode: true}
	}
	return best
}

func openStateFile(path string) (*os.File, *driveState, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open drive state: %w", err)
	}
	b := make([]byte, 2*stateSlotSize)
	n, _ := f.ReadAt(b, 0)
	return f, decodeStateFile(b[:n]), nil
}

// writeStateSlot writes st into the slot its sequence number selects.
func writeStateSlot(f *os.File, st *driveState) error {
	st.Seq++
	b, err := encodeStateSlot(st)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, int64(st.Seq%2)*stateSlotSize); err != nil {
		return fmt.Errorf("write drive state: %w", err)
	}
	return nil
}
