package ltolabel

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"sort"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Paper is a page size in millimetres.
type Paper struct {
	Name string
	W, H float64
}

// Papers are the page sizes a sheet can have.
var Papers = map[string]Paper{
	"a4":     {"a4", 210, 297},
	"letter": {"letter", 215.9, 279.4},
}

// Layout places labels on a page: Cols × Rows cells of CellW × CellH whose
// top left corners are Left + i·PitchX, Top + j·PitchY. A layout made for
// one paper size names it in Paper.
type Layout struct {
	Name        string
	Description string
	Paper       string // "" for any paper
	CellW       float64
	CellH       float64
	Left, Top   float64
	PitchX      float64
	PitchY      float64
	Cols, Rows  int
	// Outline draws each label's edge, to cut plain paper along.
	Outline bool
}

// Layouts are the label stocks a sheet can be printed on. "plain" fills
// any paper with labels of the LTO size in a grid with 10 mm margins, to
// cut out; the others are commercial label sheets whose labels are smaller
// than an LTO label, so the label is scaled down to fit (the barcode stays
// readable, but it is smaller than the specification's).
var Layouts = []Layout{
	{Name: "plain", Description: "LTO-size labels (78.2 x 16.9 mm) on plain paper or a full-page label sheet, 10 mm margins, outlined for cutting", Outline: true},
	{Name: "avery-l7160", Description: "Avery L7160 and compatible: A4, 3 x 7 labels of 63.5 x 38.1 mm", Paper: "a4",
		CellW: 63.5, CellH: 38.1, Left: 7.25, Top: 15.15, PitchX: 66.04, PitchY: 38.1, Cols: 3, Rows: 7},
	{Name: "avery-l7651", Description: "Avery L7651 and compatible: A4, 5 x 13 labels of 38.1 x 21.2 mm", Paper: "a4",
		CellW: 38.1, CellH: 21.2, Left: 4.75, Top: 10.7, PitchX: 40.64, PitchY: 21.2, Cols: 5, Rows: 13},
	{Name: "avery-5160", Description: "Avery 5160 and compatible: US letter, 3 x 10 labels of 66.7 x 25.4 mm", Paper: "letter",
		CellW: 66.7, CellH: 25.4, Left: 4.8, Top: 12.7, PitchX: 69.85, PitchY: 25.4, Cols: 3, Rows: 10},
}

// LayoutNames lists the names of Layouts.
func LayoutNames() []string {
	var n []string
	for _, l := range Layouts {
		n = append(n, l.Name)
	}
	return n
}

// Sheet is a laid-out set of labels, ready to write.
type Sheet struct {
	Paper  Paper
	Layout Layout
	// Scale is the factor the labels are drawn at (1 = the specification's
	// size; less when the label stock's cells are smaller).
	Scale  float64
	Labels []string
	Colors bool
}

// NewSheet lays out labels on paper (a key of Papers; "" takes the layout's
// own or a4) with the named layout.
func NewSheet(labels []string, paper, layout string, colors bool) (*Sheet, error) {
	var l *Layout
	for i := range Layouts {
		if Layouts[i].Name == layout {
			l = &Layouts[i]
		}
	}
	if l == nil {
		return nil, fmt.Errorf("layout %q: expected one of %s", layout, strings.Join(LayoutNames(), ", "))
	}
	if paper == "" {
		paper = l.Paper
	}
	if paper == "" {
		paper = "a4"
	}
	p, ok := Papers[paper]
	if !ok {
		names := make([]string, 0, len(Papers))
		for n := range Papers {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("paper %q: expected one of %s", paper, strings.Join(names, ", "))
	}
	if l.Paper != "" && l.Paper != paper {
		return nil, fmt.Errorf("layout %s is for %s paper, not %s", l.Name, l.Paper, paper)
	}
	lay := *l
	if lay.Cols == 0 { // plain: fill the page
		const margin = 10
		lay.CellW, lay.CellH = LabelWidth, LabelHeight
		lay.PitchX, lay.PitchY = LabelWidth+2, LabelHeight+1
		lay.Cols = int((p.W - 2*margin + 2) / lay.PitchX)
		lay.Rows = int((p.H - 2*margin + 1) / lay.PitchY)
		lay.Left = (p.W - float64(lay.Cols)*lay.PitchX + 2) / 2
		lay.Top = margin
	}
	scale := min(lay.CellW/LabelWidth, lay.CellH/LabelHeight, 1)
	for _, t := range labels {
		if _, err := Draw(t, false); err != nil {
			return nil, err
		}
	}
	return &Sheet{Paper: p, Layout: lay, Scale: scale, Labels: labels, Colors: colors}, nil
}

// PerPage is the number of labels on one page.
func (s *Sheet) PerPage() int { return s.Layout.Cols * s.Layout.Rows }

// Pages is the number of pages the labels take.
func (s *Sheet) Pages() int { return (len(s.Labels) + s.PerPage() - 1) / s.PerPage() }

// page returns the drawing of page n (from 0), in millimetres from the
// page's top left corner.
func (s *Sheet) page(n int) Drawing {
	var out Drawing
	lay := s.Layout
	first := n * s.PerPage()
	for i := first; i < len(s.Labels) && i < first+s.PerPage(); i++ {
		d, _ := Draw(s.Labels[i], s.Colors) // checked in NewSheet
		k := i - first
		col, row := k%lay.Cols, k/lay.Cols
		// centre the (scaled) label in its cell
		ox := lay.Left + float64(col)*lay.PitchX + (lay.CellW-LabelWidth*s.Scale)/2
		oy := lay.Top + float64(row)*lay.PitchY + (lay.CellH-LabelHeight*s.Scale)/2
		if lay.Outline {
			out.Rects = append(out.Rects, Rect{X: ox, Y: oy, W: LabelWidth * s.Scale, H: LabelHeight * s.Scale, Fill: color.RGBA{170, 170, 170, 255}, Stroke: true})
		}
		for _, r := range d.Rects {
			out.Rects = append(out.Rects, Rect{X: ox + r.X*s.Scale, Y: oy + r.Y*s.Scale, W: r.W * s.Scale, H: r.H * s.Scale, Fill: r.Fill, Stroke: r.Stroke})
		}
		for _, t := range d.Texts {
			out.Texts = append(out.Texts, Text{X: ox + t.X*s.Scale, Y: oy + t.Y*s.Scale, Size: t.Size * s.Scale, Color: t.Color, S: t.S})
		}
	}
	return out
}

const strokeWidth = 0.1 // mm, box and cut outlines

// WritePDF writes the sheet as one PDF document, a page per sheet page.
// created is the document's creation date.
func (s *Sheet) WritePDF(w io.Writer, created time.Time) error {
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: s.Paper.W, Ht: s.Paper.H}})
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCreator("tapefs barcode-sheet", false)
	pdf.SetTitle("LTO barcode labels", false)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(0, 0, 0)
	pdf.SetLineWidth(strokeWidth)
	for n := range s.Pages() {
		pdf.AddPage()
		d := s.page(n)
		for _, r := range d.Rects {
			if r.Stroke {
				pdf.SetDrawColor(int(r.Fill.R), int(r.Fill.G), int(r.Fill.B))
				pdf.Rect(r.X, r.Y, r.W, r.H, "D")
				continue
			}
			pdf.SetFillColor(int(r.Fill.R), int(r.Fill.G), int(r.Fill.B))
			pdf.Rect(r.X, r.Y, r.W, r.H, "F")
		}
		for _, t := range d.Texts {
			pdf.SetFont("Helvetica", "B", t.Size)
			pdf.SetTextColor(int(t.Color.R), int(t.Color.G), int(t.Color.B))
			pdf.Text(t.X-pdf.GetStringWidth(t.S)/2, t.Y, t.S)
		}
	}
	return pdf.Output(w)
}

// WriteSVG writes page n (from 0) of the sheet as an SVG document in
// millimetres.
func (s *Sheet) WriteSVG(w io.Writer, n int) error {
	var b bytes.Buffer
	f := func(v float64) string { return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".") }
	hex := func(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%smm\" height=\"%smm\" viewBox=\"0 0 %s %s\">\n",
		f(s.Paper.W), f(s.Paper.H), f(s.Paper.W), f(s.Paper.H))
	fmt.Fprintf(&b, "<title>LTO barcode labels, page %d of %d</title>\n", n+1, s.Pages())
	d := s.page(n)
	for _, r := range d.Rects {
		if r.Stroke {
			fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
				f(r.X), f(r.Y), f(r.W), f(r.H), hex(r.Fill), f(strokeWidth))
			continue
		}
		fmt.Fprintf(&b, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n", f(r.X), f(r.Y), f(r.W), f(r.H), hex(r.Fill))
	}
	for _, t := range d.Texts {
		// font-size in user units (mm): points × 25.4/72
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%s\" font-family=\"Helvetica, Arial, sans-serif\" font-weight=\"bold\" font-size=\"%s\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
			f(t.X), f(t.Y), f(t.Size*25.4/72), hex(t.Color), t.S)
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}
