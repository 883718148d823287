package ltolabel

import (
	"bytes"
	"compress/zlib"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A scanner's view of a page: the filled black rectangles, and from them
// what a laser line across each row of bars reads. The Code 39 table here
// is written from the symbology's definition (which 2 of the 5 bars and 1
// of the 4 spaces are wide), independently of the encoder under test.

type box struct{ x, y, w, h float64 }

// code39Wide gives, per character, the positions (0..8, bars at even
// positions) of its three wide elements.
var code39Wide = map[string]rune{
	"3,4,6": '0', "0,3,8": '1', "2,3,8": '2', "0,2,3": '3', "3,4,8": '4', "0,3,4": '5', "2,3,4": '6', "3,6,8": '7', "0,3,6": '8', "2,3,6": '9',
	"0,5,8": 'A', "2,5,8": 'B', "0,2,5": 'C', "4,5,8": 'D', "0,4,5": 'E', "2,4,5": 'F', "5,6,8": 'G', "0,5,6": 'H', "2,5,6": 'I', "4,5,6": 'J',
	"0,7,8": 'K', "2,7,8": 'L', "0,2,7": 'M', "4,7,8": 'N', "0,4,7": 'O', "2,4,7": 'P', "6,7,8": 'Q', "0,6,7": 'R', "2,6,7": 'S', "4,6,7": 'T',
	"0,1,8": 'U', "1,2,8": 'V', "0,1,2": 'W', "1,4,8": 'X', "0,1,4": 'Y', "1,2,4": 'Z', "1,6,8": '-', "0,1,6": '.', "1,2,6": ' ', "1,4,6": '*',
}

// scanPage decodes every barcode on a page from its black rectangles, in
// reading order (rows top to bottom, left to right).
func scanPage(t *testing.T, bars []box) []string {
	t.Helper()
	rows := map[[2]float64][]box{}
	for _, b := range bars {
		if b.h < 2 { // text box edges and the like are not bars
			continue
		}
		k := [2]float64{round(b.y), round(b.h)}
		rows[k] = append(rows[k], b)
	}
	keys := make([][2]float64, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0] < keys[j][0] })
	var out []string
	for _, k := range keys {
		row := rows[k]
		sort.Slice(row, func(i, j int) bool { return row[i].x < row[j].x })
		minW := row[0].w
		for _, b := range row {
			minW = min(minW, b.w)
		}
		// A gap of more than five narrow elements ends a symbol (the quiet
		// zone is ten).
		start := 0
		for i := 1; i <= len(row); i++ {
			if i == len(row) || row[i].x-(row[i-1].x+row[i-1].w) > 5*minW {
				s, err := decode39(row[start:i])
				if err != nil {
					t.Fatalf("row at y=%.2f: %v", k[0], err)
				}
				out = append(out, s)
				start = i
			}
		}
	}
	return out
}

func round(v float64) float64 { return float64(int(v*100+0.5)) / 100 }

// decode39 reads one symbol: alternating bar and space widths, each
// classified narrow or wide by the midpoint between the narrowest and the
// widest element.
func decode39(bars []box) (string, error) {
	var el []float64
	for i, b := range bars {
		if i > 0 {
			el = append(el, b.x-(bars[i-1].x+bars[i-1].w))
		}
		el = append(el, b.w)
	}
	lo, hi := el[0], el[0]
	for _, e := range el {
		lo, hi = min(lo, e), max(hi, e)
	}
	if hi < 2*lo {
		return "", fmt.Errorf("wide elements are only %.2f times the narrow ones", hi/lo)
	}
	mid := (lo + hi) / 2
	var s []rune
	for i := 0; i < len(el); i += 10 { // 9 elements and the gap between characters
		if i+9 > len(el) {
			return "", fmt.Errorf("%d elements: not whole characters", len(el))
		}
		var wide []string
		for j := range 9 {
			if el[i+j] > mid {
				wide = append(wide, strconv.Itoa(j))
			}
		}
		if i+9 < len(el) && el[i+9] > mid {
			return "", fmt.Errorf("wide gap between characters at element %d", i+9)
		}
		r, ok := code39Wide[strings.Join(wide, ",")]
		if !ok {
			return "", fmt.Errorf("no character has wide elements %v", wide)
		}
		s = append(s, r)
	}
	text := string(s)
	if len(text) < 2 || text[0] != '*' || text[len(text)-1] != '*' {
		return "", fmt.Errorf("%q: no start and stop characters", text)
	}
	return text[1 : len(text)-1], nil
}

// svgBars returns the black filled rectangles of an SVG page.
func svgBars(t *testing.T, data []byte) []box {
	t.Helper()
	type attrs struct {
		X    string `xml:"x,attr"`
		Y    string `xml:"y,attr"`
		W    string `xml:"width,attr"`
		H    string `xml:"height,attr"`
		Fill string `xml:"fill,attr"`
	}
	var parsed struct {
		Rects []attrs `xml:"rect"`
	}
	if err := xml.Unmarshal(data, &parsed); err != nil {
		t.Fatalf("SVG does not parse: %v", err)
	}
	var out []box
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("SVG number %q: %v", s, err)
		}
		return v
	}
	for _, r := range parsed.Rects {
		if r.Fill == "#000000" {
			out = append(out, box{num(r.X), num(r.Y), num(r.W), num(r.H)})
		}
	}
	return out
}

// pdfPages returns the black filled rectangles of each page of a PDF
// (content streams compressed or not), in points from the bottom left.
func pdfPages(t *testing.T, data []byte) [][]box {
	t.Helper()
	re := regexp.MustCompile(`(?s)<<([^>]*)>>\s*stream\r?\n(.*?)endstream`)
	var pages [][]box
	for _, m := range re.FindAllSubmatch(data, -1) {
		dict, body := m[1], m[2]
		if bytes.Contains(dict, []byte("/FlateDecode")) {
			zr, err := zlib.NewReader(bytes.NewReader(body))
			if err != nil {
				continue // not a content stream we can read (fonts are not compressed here)
			}
			body, err = io.ReadAll(zr)
			if err != nil {
				t.Fatalf("PDF stream: %v", err)
			}
		}
		if !bytes.Contains(body, []byte(" re")) {
			continue
		}
		var boxes []box
		var stack []string
		fillBlack := true
		for _, tok := range strings.Fields(string(body)) {
			switch tok {
			case "g":
				fillBlack = len(stack) > 0 && mustFloat(t, stack[len(stack)-1]) == 0
			case "rg":
				fillBlack = len(stack) >= 3 && mustFloat(t, stack[len(stack)-1]) == 0 && mustFloat(t, stack[len(stack)-2]) == 0 && mustFloat(t, stack[len(stack)-3]) == 0
			case "re":
				n := len(stack)
				x, y, w, h := mustFloat(t, stack[n-4]), mustFloat(t, stack[n-3]), mustFloat(t, stack[n-2]), mustFloat(t, stack[n-1])
				if h < 0 {
					y, h = y+h, -h
				}
				boxes = append(boxes, box{x, -(y + h), w, h}) // top-down like SVG
			case "f":
				if !fillBlack && len(boxes) > 0 {
					boxes = boxes[:len(boxes)-1]
				}
			case "S":
				if len(boxes) > 0 {
					boxes = boxes[:len(boxes)-1]
				}
			}
			stack = append(stack, tok)
		}
		pages = append(pages, boxes)
	}
	return pages
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("PDF number %q: %v", s, err)
	}
	return v
}

func TestSheetsScan(t *testing.T) {
	data, err := Serials("TEST", 1, 40, "L8")
	if err != nil {
		t.Fatal(err)
	}
	cleaning, err := Serials("CLN", 1, 2, "CU")
	if err != nil {
		t.Fatal(err)
	}
	labels := append(data, cleaning...)
	for _, tc := range []struct{ paper, layout string }{
		{"a4", "plain"}, {"letter", "plain"}, {"", "avery-l7160"}, {"", "avery-l7651"}, {"letter", "avery-5160"},
	} {
		t.Run(tc.paper+"-"+tc.layout, func(t *testing.T) {
			s, err := NewSheet(labels, tc.paper, tc.layout, true)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := range s.Pages() {
				var b bytes.Buffer
				if err := s.WriteSVG(&b, n); err != nil {
					t.Fatal(err)
				}
				got = append(got, scanPage(t, svgBars(t, b.Bytes()))...)
			}
			if strings.Join(got, " ") != strings.Join(labels, " ") {
				t.Errorf("SVG scans as\n%v\nwant\n%v", got, labels)
			}

			var b bytes.Buffer
			if err := s.WritePDF(&b, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			pages := pdfPages(t, b.Bytes())
			if len(pages) != s.Pages() {
				t.Fatalf("PDF has %d pages with bars, want %d", len(pages), s.Pages())
			}
			got = nil
			for _, p := range pages {
				got = append(got, scanPage(t, p)...)
			}
			if strings.Join(got, " ") != strings.Join(labels, " ") {
				t.Errorf("PDF scans as\n%v\nwant\n%v", got, labels)
			}
		})
	}
}

func TestSerials(t *testing.T) {
	got, err := Serials("test", 9, 3, "l8")
	if err != nil {
		t.Fatal(err)
	}
	if want := "TEST09L8 TEST10L8 TEST11L8"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	for _, bad := range []struct {
		prefix    string
		start, n  int
		mediaType string
	}{
		{"TEST", 95, 10, "L8"},  // TEST100 does not fit six characters
		{"TEST", 1, 1, "X8"},    // no such media type
		{"TE-T", 1, 1, "L8"},    // not A-Z 0-9
		{"TOOLONG", 1, 1, "L8"}, // no room for a number
	} {
		if _, err := Serials(bad.prefix, bad.start, bad.n, bad.mediaType); err == nil {
			t.Errorf("Serials(%q, %d, %d, %q): no error", bad.prefix, bad.start, bad.n, bad.mediaType)
		}
	}
}

func TestLayoutFitsPaper(t *testing.T) {
	for _, l := range Layouts {
		s, err := NewSheet([]string{"TEST01L8"}, "", l.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		lay := s.Layout
		right := lay.Left + float64(lay.Cols-1)*lay.PitchX + lay.CellW
		bottom := lay.Top + float64(lay.Rows-1)*lay.PitchY + lay.CellH
		if lay.Left < 0 || lay.Top < 0 || right > s.Paper.W+0.01 || bottom > s.Paper.H+0.01 {
			t.Errorf("layout %s: cells reach %.1f x %.1f mm on %.1f x %.1f paper", l.Name, right, bottom, s.Paper.W, s.Paper.H)
		}
	}
	if _, err := NewSheet([]string{"TEST01L8"}, "letter", "avery-l7160", false); err == nil {
		t.Error("an A4 label stock on letter paper: no error")
	}
}
