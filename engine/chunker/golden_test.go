package chunker

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"
)

// TestGoldenBoundaries pins where chunks end. Boundaries are part of the
// deduplication contract: a release that moved them would store every chunk
// of an unchanged file again next to the copies already in the media set.
// Change these values only together with a new media-set format.
func TestGoldenBoundaries(t *testing.T) {
	var lens []int
	for _, c := range chunkAll(t, bytes.NewReader(randomData(1000, 16<<20)), DefaultParams) {
		lens = append(lens, c.Len)
	}
	want := []int{1139348, 1162633, 1166738, 1072117, 1132047, 728297, 1245593, 1102284, 787842,
		1059918, 1429314, 1111574, 1266091, 1196389, 491306, 432405, 253320}
	if !slices.Equal(lens, want) {
		t.Errorf("chunk lengths with DefaultParams:\n got %v\nwant %v", lens, want)
	}

	h := sha256.New()
	for _, c := range chunkAll(t, bytes.NewReader(mixedData(1001, 4<<20)), smallParams) {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(c.Len)))
	}
	const wantSum = "99f3fd803a802fcccf63effefbb612ec50e29685e09b09d31550e46a368ebf2e"
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSum {
		t.Errorf("SHA-256 of the chunk lengths with %+v = %s, want %s", smallParams, got, wantSum)
	}
}
