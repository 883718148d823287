package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tapefs/vtape"
)

// TestBarcodeSheetCommand writes label sheets from command lines: the
// cleaning label --cleaning adds, one SVG file per page, and the
// refusals.
func TestBarcodeSheetCommand(t *testing.T) {
	l := newTestLibrary(t, vtape.LibraryOptions{})
	dir := t.TempDir()
	out := l.ok("barcode-sheet", "--prefix", "TEST", "--count", "2", "--cleaning", "CLN", "-o", filepath.Join(dir, "one.pdf"))
	if !strings.HasPrefix(out, "3 labels (TEST01L8 .. CLN001CU) on 1 page(s), plain on a4: ") {
		t.Errorf("barcode-sheet said %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "one.pdf")); err != nil || !strings.HasPrefix(string(b), "%PDF-") {
		t.Errorf("one.pdf: %.20q, %v", b, err)
	}
	out = l.ok("barcode-sheet", "--prefix", "AB", "--count", "40", "--type", "L9", "-o", filepath.Join(dir, "many.svg"))
	if !strings.Contains(out, "40 labels (AB0001L9 .. AB0040L9) on 2 page(s)") || !strings.Contains(out, filepath.Join(dir, "many-2.svg")) {
		t.Errorf("barcode-sheet said %q", out)
	}
	for _, name := range []string{"many.svg", "many-2.svg"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !strings.Contains(string(b), "<svg") {
			t.Errorf("%s: %v", name, err)
		}
	}
	l.wantExits([]exitCase{
		{[]string{"barcode-sheet", "-o", filepath.Join(dir, "none.pdf")}, 2},
		{[]string{"barcode-sheet", "--count", "1", "-o", filepath.Join(dir, "x.png")}, 2},
		{[]string{"barcode-sheet", "--count", "1", "--type", "XX", "-o", filepath.Join(dir, "x.pdf")}, 2},
		{[]string{"barcode-sheet", "--count", "1", "--cleaning-count", "2", "-o", filepath.Join(dir, "x.pdf")}, 2},
		{[]string{"barcode-sheet", "--count", "1"}, 2}, // --output is required
	})
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
		t.Error("a refused barcode-sheet wrote x.pdf")
	}
}
