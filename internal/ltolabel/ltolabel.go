// Package ltolabel draws sheets of LTO cartridge barcode labels, as the LTO
// Ultrium cartridge label specification lays them out: the eight-character
// label text (a six-character volume serial and a two-character media type
// such as L8, or CU for a cleaning cartridge) as a Code 39 barcode with
// start and stop characters and no check character, and above it the same
// text in a row of eight boxes, the serial's digits on coloured bands as
// commercial labels have them. A sheet puts the labels on pages of a label
// stock (or plain paper, to cut) and is written as PDF or SVG.
//
// The barcode's encoding comes from github.com/boombuler/barcode; this
// package only gives its bars the widths the specification asks for (narrow
// element 0.432 mm, wide 2.75 times that, 11.1 mm high, quiet zones of ten
// narrow elements). It is a leaf package, used by `tapefs barcode-sheet`.
package ltolabel

import (
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/code39"
)

// Label geometry in millimetres, from the LTO Ultrium cartridge label
// specification.
const (
	LabelWidth  = 78.2
	LabelHeight = 16.9

	narrow    = 0.432 // narrow bar or space (X)
	wideRatio = 2.75  // wide element = 2.75 X
	barHeight = 11.1
	quiet     = 10 * narrow // left and right quiet zone

	textBoxHeight = 5.0 // the row of eight character boxes above the bars
	textTop       = 0.3 // from the label's top edge to the boxes
	fontSize      = 12  // points, bold: the characters fill the boxes' height
)

// MediaTypes are the two-character media type identifiers the LTO label
// specification defines: L1..L9 data cartridges of each generation, LT..LZ
// their WORM variants (LTO-3 onwards), M8 (LTO-7 type M), CU universal
// cleaning cartridge.
var MediaTypes = []string{"L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "LT", "LU", "LV", "LW", "LX", "LY", "LZ", "M8", "CU"}

// Serials returns count label texts: prefix, then the numbers from start
// zero-padded to fill six characters, then mediaType ("TEST01L8"). The
// prefix and number must fit six characters of A-Z and 0-9.
func Serials(prefix string, start, count int, mediaType string) ([]string, error) {
	prefix = strings.ToUpper(prefix)
	mediaType = strings.ToUpper(mediaType)
	if !validType(mediaType) {
		return nil, fmt.Errorf("media type %q: expected one of %s", mediaType, strings.Join(MediaTypes, ", "))
	}
	if !alnum(prefix) || len(prefix) > 5 {
		return nil, fmt.Errorf("prefix %q: expected up to 5 characters of A-Z and 0-9", prefix)
	}
	if start < 0 || count < 0 {
		return nil, fmt.Errorf("start and count must not be negative")
	}
	digits := 6 - len(prefix)
	limit := 1
	for range digits {
		limit *= 10
	}
	if start+count > limit {
		return nil, fmt.Errorf("prefix %q leaves %d digits: numbers %d to %d do not fit (at most %d)", prefix, digits, start, start+count-1, limit-1)
	}
	out := make([]string, count)
	for i := range out {
		n := strconv.Itoa(start + i)
		out[i] = prefix + strings.Repeat("0", digits-len(n)) + n + mediaType
	}
	return out, nil
}

func validType(t string) bool {
	for _, m := range MediaTypes {
		if m == t {
			return true
		}
	}
	return false
}

func alnum(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Rect is a filled rectangle in millimetres from the label's (or page's)
// top left corner.
type Rect struct {
	X, Y, W, H float64
	Fill       color.RGBA
	// Stroke outlines the rectangle instead of filling it.
	Stroke bool
}

// Text is a line of text centred on X with its baseline at Y.
type Text struct {
	X, Y  float64
	Size  float64 // points
	Color color.RGBA
	S     string
}

// Drawing is what one label consists of, in millimetres from its top left
// corner, unscaled.
type Drawing struct {
	Rects []Rect
	Texts []Text
}

var (
	black = color.RGBA{0, 0, 0, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// digitColors are the bands behind the serial's digits, as colour-coded
// commercial labels have them (0 red, 1 yellow, 2 green, 3 light blue,
// 4 grey, 5 orange, 6 pink, 7 dark green, 8 light orange, 9 purple).
// Letters stay white.
var digitColors = [10]color.RGBA{
	{255, 0, 0, 255}, {255, 255, 0, 255}, {0, 255, 0, 255}, {0, 215, 255, 255}, {173, 170, 173, 255},
	{255, 130, 0, 255}, {255, 65, 173, 255}, {66, 170, 66, 255}, {255, 170, 66, 255}, {173, 0, 214, 255},
}

// Draw lays out one label: the text boxes (coloured when colors is set) and
// the Code 39 bars of text, which must be eight characters of A-Z and 0-9.
func Draw(text string, colors bool) (Drawing, error) {
	if len(text) != 8 || !alnum(text) {
		return Drawing{}, fmt.Errorf("label text %q: expected 8 characters of A-Z and 0-9", text)
	}
	bc, err := code39.Encode(text, false, false)
	if err != nil {
		return Drawing{}, fmt.Errorf("label %s: %w", text, err)
	}
	var d Drawing
	elements := runs(bc)
	codeWidth := 0.0
	for _, run := range elements {
		codeWidth += run.width()
	}
	left := (LabelWidth - codeWidth) / 2
	boxW := codeWidth / 8
	for i, r := range text {
		fill, ink := white, black
		if colors && i < 6 && r >= '0' && r <= '9' {
			fill = digitColors[r-'0']
			if luminance(fill) < 110 {
				ink = white
			}
		}
		x := left + float64(i)*boxW
		if fill != white {
			d.Rects = append(d.Rects, Rect{X: x, Y: textTop, W: boxW, H: textBoxHeight, Fill: fill})
		}
		d.Rects = append(d.Rects, Rect{X: x, Y: textTop, W: boxW, H: textBoxHeight, Fill: black, Stroke: true})
		d.Texts = append(d.Texts, Text{X: x + boxW/2, Y: textTop + textBoxHeight - 0.9, Size: fontSize, Color: ink, S: string(r)})
	}
	x := left
	barTop := LabelHeight - barHeight - 0.3
	for _, run := range elements {
		w := run.width()
		if run.bar {
			d.Rects = append(d.Rects, Rect{X: x, Y: barTop, W: w, H: barHeight, Fill: black})
		}
		x += w
	}
	return d, nil
}

func luminance(c color.RGBA) float64 {
	return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
}

// run is one bar or space of the barcode: one module narrow, two wide (as
// the encoder draws them).
type run struct {
	bar     bool
	modules int
}

func (r run) width() float64 {
	if r.modules > 1 {
		return narrow * wideRatio
	}
	return narrow
}

// runs reads the encoder's one-pixel-per-module image into bars and spaces.
func runs(img image.Image) []run {
	b := img.Bounds()
	var out []run
	for x := b.Min.X; x < b.Max.X; x++ {
		r, _, _, _ := img.At(x, b.Min.Y).RGBA()
		bar := r < 0x8000
		if n := len(out); n > 0 && out[n-1].bar == bar {
			out[n-1].modules++
			continue
		}
		out = append(out, run{bar: bar, modules: 1})
	}
	return out
}
