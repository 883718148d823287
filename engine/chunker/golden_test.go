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
	want := []int{1162202, 1151911, 1304911, 1144865, 1141856, 1180735, 1338263, 1394925,
		1141105, 1106977, 1207001, 352035, 1146917, 1205279, 798234}
	if !slices.Equal(lens, want) {
		t.Errorf("chunk lengths with DefaultParams:\n got %v\nwant %v", lens, want)
	}

	h := sha256.New()
	for _, c := range chunkAll(t, bytes.NewReader(mixedData(1001, 4<<20)), smallParams) {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(c.Len)))
	}
	const wantSum = "2f9947a6d1690c6d9272478e83b15325cf2241eb62b3d8bc4b4c0d047a5b457c"
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSum {
		t.Errorf("SHA-256 of the chunk lengths with %+v = %s, want %s", smallParams, got, wantSum)
	}
}
