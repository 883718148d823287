package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"tapefs/internal/ltolabel"
)

// barcodeSheetOptions are the options of `tapefs barcode-sheet`.
type barcodeSheetOptions struct {
	Prefix        string
	Start, Count  int
	MediaType     string
	Cleaning      string // prefix of cleaning cartridges; "" for none
	CleaningStart int
	CleaningCount int
	Paper         string
	Layout        string
	Colors        bool
	Output        string // .pdf or .svg
	Now           time.Time
}

// barcodeSheetCommand is `tapefs barcode-sheet`: print LTO barcode labels
// (the reference's "LTO Barcode Generator"). It needs no configuration and
// runs in the calling process even while a daemon runs.
func (e *env) barcodeSheetCommand() *cli.Command {
	return &cli.Command{
		Name:  "barcode-sheet",
		Usage: "make a sheet of LTO barcode labels to print (PDF or SVG)",
		Description: "Writes LTO Ultrium cartridge labels: the label text (six-character volume serial and two-character media type,\n" +
			"like TEST01L8) as a Code 39 barcode a library's reader scans, and the text above it on colour-coded boxes.\n" +
			"The serials are --prefix followed by --count numbers from --start, padded to six characters; --cleaning adds\n" +
			"cleaning cartridge labels (media type CU). --layout plain puts labels of the specified size (78.2 x 16.9 mm)\n" +
			"on the paper with cut lines; the avery-* layouts fit commercial label sheets, scaling the label to their size.\n" +
			"An .svg output has one file per page: NAME.svg, NAME-2.svg, ...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "prefix", Usage: "serial prefix (up to 5 characters of A-Z, 0-9)"},
			&cli.IntFlag{Name: "start", Value: 1, Usage: "first number"},
			&cli.IntFlag{Name: "count", Usage: "number of data cartridge labels"},
			&cli.StringFlag{Name: "type", Value: "L8", Usage: "media type: " + strings.Join(ltolabel.MediaTypes, ", ")},
			&cli.StringFlag{Name: "cleaning", Usage: "serial prefix of cleaning cartridge labels (like CLN)"},
			&cli.IntFlag{Name: "cleaning-start", Value: 1, Usage: "first number of the cleaning cartridges"},
			&cli.IntFlag{Name: "cleaning-count", Usage: "number of cleaning cartridge labels (default: 1 with --cleaning)"},
			&cli.StringFlag{Name: "paper", Usage: "paper size: a4 or letter (default: the layout's, else a4)"},
			&cli.StringFlag{Name: "layout", Value: "plain", Usage: "label stock: " + strings.Join(ltolabel.LayoutNames(), ", ")},
			&cli.BoolFlag{Name: "colors", Value: true, Usage: "colour bands behind the serial's digits (--colors=false for black on white)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "output `FILE`: .pdf or .svg"},
		},
		Action: func(c *cli.Context) error {
			o := barcodeSheetOptions{
				Prefix: c.String("prefix"), Start: c.Int("start"), Count: c.Int("count"), MediaType: c.String("type"),
				Cleaning: c.String("cleaning"), CleaningStart: c.Int("cleaning-start"), CleaningCount: c.Int("cleaning-count"),
				Paper: c.String("paper"), Layout: c.String("layout"), Colors: c.Bool("colors"), Output: c.String("output"),
				Now: time.Now(),
			}
			if o.Cleaning != "" && !c.IsSet("cleaning-count") {
				o.CleaningCount = 1
			}
			return e.runBarcodeSheet(o)
		},
	}
}

func (e *env) runBarcodeSheet(o barcodeSheetOptions) error {
	labels, err := ltolabel.Serials(o.Prefix, o.Start, o.Count, o.MediaType)
	if err != nil {
		return usagef("barcode-sheet: %v", err)
	}
	if o.CleaningCount > 0 && o.Cleaning == "" {
		return usagef("barcode-sheet: --cleaning-count needs --cleaning PREFIX")
	}
	if o.Cleaning != "" {
		cln, err := ltolabel.Serials(o.Cleaning, o.CleaningStart, o.CleaningCount, "CU")
		if err != nil {
			return usagef("barcode-sheet: cleaning cartridges: %v", err)
		}
		labels = append(labels, cln...)
	}
	if len(labels) == 0 {
		return usagef("barcode-sheet: no labels: give --count N (and/or --cleaning PREFIX)")
	}
	sheet, err := ltolabel.NewSheet(labels, o.Paper, o.Layout, o.Colors)
	if err != nil {
		return usagef("barcode-sheet: %v", err)
	}
	ext := strings.ToLower(filepath.Ext(o.Output))
	var files []string
	switch ext {
	case ".pdf":
		var b bytes.Buffer
		if err := sheet.WritePDF(&b, o.Now); err != nil {
			return fmt.Errorf("barcode-sheet: %w", err)
		}
		if err := os.WriteFile(o.Output, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("barcode-sheet: %w", err)
		}
		files = append(files, o.Output)
	case ".svg":
		base := strings.TrimSuffix(o.Output, filepath.Ext(o.Output))
		for n := range sheet.Pages() {
			name := o.Output
			if n > 0 {
				name = fmt.Sprintf("%s-%d%s", base, n+1, filepath.Ext(o.Output))
			}
			var b bytes.Buffer
			if err := sheet.WriteSVG(&b, n); err != nil {
				return fmt.Errorf("barcode-sheet: %w", err)
			}
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("barcode-sheet: %w", err)
			}
			files = append(files, name)
		}
	default:
		return usagef("barcode-sheet: --output %q: the name must end in .pdf or .svg", o.Output)
	}
	if sheet.Scale < 1 {
		fmt.Fprintf(e.stderr, "tapefs: barcode-sheet: the %s labels are smaller than an LTO label: drawn at %.0f%% of its size\n", sheet.Layout.Name, sheet.Scale*100)
	}
	fmt.Fprintf(e.stdout, "%d labels (%s .. %s) on %d page(s), %s on %s: %s\n", len(labels), labels[0], labels[len(labels)-1],
		sheet.Pages(), sheet.Layout.Name, sheet.Paper.Name, strings.Join(files, " "))
	return nil
}
