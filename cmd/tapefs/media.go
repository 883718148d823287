package main

import (
	"strconv"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
)

// `tapefs media ...`: each subcommand's flags become its options
// (mediaContentOptions, mediaMoveOptions, ...), a runMediaX makes the
// engine call, and a mediaXTable is its text output.

// mediaJSON is one `media list` entry for scripts.
type mediaJSON struct {
	LabelText    string  `json:"label-text"`
	UUID         string  `json:"uuid"`
	Pool         string  `json:"pool,omitempty"`
	MediaSetName string  `json:"media-set-name,omitempty"`
	MediaSetUUID string  `json:"media-set-uuid,omitempty"`
	SeqNr        *uint64 `json:"seq-nr,omitempty"`
	Status       string  `json:"status"`
	Expired      bool    `json:"expired"`
	Location     string  `json:"location"`
	BytesUsed    uint64  `json:"bytes-used"`
	Ctime        int64   `json:"ctime"`
	Expire       *int64  `json:"expire,omitempty"`
}

func (e *env) mediaCommand() *cli.Command {
	return &cli.Command{
		Name:  "media",
		Usage: "the media inventory",
		Subcommands: []*cli.Command{
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list the tapes in the inventory",
				Flags: []cli.Flag{&cli.StringFlag{Name: "pool", Usage: "only tapes of this pool"}},
				Action: func(c *cli.Context) error {
					list, err := e.runMediaList(c.String("pool"))
					if err != nil {
						return err
					}
					t, js := mediaListTable(list)
					return e.print(t, js)
				},
			}),
			e.readOnly(&cli.Command{
				Name:  "content",
				Usage: "list the snapshots on each tape (from the catalog)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "pool", Usage: "only this pool"},
					&cli.StringFlag{Name: "label-text", Usage: "only this tape"},
					&cli.StringFlag{Name: "media-set", Usage: "only this media set (uuid)"},
				},
				Action: func(c *cli.Context) error {
					f, err := mediaContentOptions(c)
					if err != nil {
						return err
					}
					rows, err := e.runMediaContent(f)
					if err != nil {
						return err
					}
					return e.print(mediaContentTable(rows), rows)
				},
			}),
			{
				Name:      "destroy",
				Usage:     "remove a tape from the inventory",
				ArgsUsage: "LABEL",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "even if it holds data that is not expired"}},
				Action: func(c *cli.Context) error {
					a, err := args(c, "LABEL")
					if err != nil {
						return err
					}
					return e.runMediaDestroy(a[0], c.Bool("force"))
				},
			},
			{
				Name:      "set-status",
				Usage:     "mark a tape full, damaged or retired, or clear the mark",
				ArgsUsage: "LABEL full|damaged|retired|clear",
				Action: func(c *cli.Context) error {
					a, err := args(c, "LABEL", "STATUS")
					if err != nil {
						return err
					}
					return e.runMediaSetStatus(a[0], a[1])
				},
			},
			{
				Name:      "move",
				Usage:     "record where an offline tape is: in a vault, or just offline",
				ArgsUsage: "LABEL",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "vault", Usage: "vault `NAME`"},
					&cli.BoolFlag{Name: "offline", Usage: "not in any vault"},
				},
				Action: func(c *cli.Context) error {
					opts, err := mediaMoveOptions(c)
					if err != nil {
						return err
					}
					return e.runMediaMove(opts)
				},
			},
		},
	}
}

// runMediaList lists the tapes of the inventory (of pool, if not empty).
func (e *env) runMediaList(pool string) ([]engine.MediaInfo, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.MediaListInfo(pool)
}

// mediaListTable is the text and the JSON form of `media list`.
func mediaListTable(list []engine.MediaInfo) (*output.Table, []mediaJSON) {
	t := &output.Table{Columns: []string{"label-text", "pool", "media-set-name", "seq-nr", "status", "location", "expire", "bytes-used", "media-set-uuid"}}
	js := make([]mediaJSON, 0, len(list))
	for _, m := range list {
		j := mediaJSON{
			LabelText: m.LabelText, UUID: m.UUID.String(), Pool: m.EffectivePool(),
			Status: m.Shown, Expired: m.Expired, Location: m.Location.String(),
			BytesUsed: m.BytesUsed, Ctime: m.Ctime.Unix(), MediaSetName: m.SetName,
		}
		seq, expire, used := "", "", ""
		if s := m.Set; s != nil && s.UUID != [16]byte{} {
			j.MediaSetUUID = s.UUID.String()
			n := s.Seq
			j.SeqNr = &n
			seq = strconv.FormatUint(n, 10)
			expire = "never"
			if !m.Expire.IsZero() {
				ex := m.Expire.Unix()
				j.Expire = &ex
				expire = fmtTime(m.Expire)
			}
		}
		if m.BytesUsed > 0 {
			used = humanize.IBytes(m.BytesUsed)
		}
		t.Add(j.LabelText, j.Pool, j.MediaSetName, seq, j.Status, j.Location, expire, used, j.MediaSetUUID)
		js = append(js, j)
	}
	return t, js
}

// mediaContentOptions is the filter of a `media content` command line.
func mediaContentOptions(c *cli.Context) (engine.ContentFilter, error) {
	f := engine.ContentFilter{Pool: c.String("pool"), LabelText: c.String("label-text")}
	if s := c.String("media-set"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			return engine.ContentFilter{}, usagef("invalid media set uuid %q", s)
		}
		f.Set = id
	}
	return f, nil
}

// runMediaContent lists the snapshots on each tape the filter selects.
func (e *env) runMediaContent(f engine.ContentFilter) ([]engine.ContentRow, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	rows, err := eng.MediaContent(f)
	if rows == nil && err == nil {
		rows = []engine.ContentRow{}
	}
	return rows, err
}

func mediaContentTable(rows []engine.ContentRow) *output.Table {
	t := &output.Table{Columns: []string{"label-text", "pool", "media-set-name", "seq-nr", "snapshot", "media-set-uuid"}}
	for _, r := range rows {
		t.Add(r.LabelText, r.Pool, r.MediaSetName, strconv.FormatUint(r.Seq, 10), r.Snapshot, r.MediaSet.String())
	}
	return t
}

// runMediaDestroy removes a tape from the inventory.
func (e *env) runMediaDestroy(label string, force bool) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.MediaDestroy(label, force)
}

// runMediaSetStatus marks a tape full, damaged or retired, or clears the
// mark.
func (e *env) runMediaSetStatus(label, status string) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.MediaSetStatus(label, status)
}

// mediaMoveOpts are the options of `media move`: the tape and its vault
// ("" for offline, in no vault).
type mediaMoveOpts struct {
	Label, Vault string
}

func mediaMoveOptions(c *cli.Context) (mediaMoveOpts, error) {
	a, err := args(c, "LABEL")
	if err != nil {
		return mediaMoveOpts{}, err
	}
	if (c.String("vault") == "") == !c.Bool("offline") {
		return mediaMoveOpts{}, usagef("media move: give exactly one of --vault NAME or --offline")
	}
	return mediaMoveOpts{Label: a[0], Vault: c.String("vault")}, nil
}

func (e *env) runMediaMove(opts mediaMoveOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.MediaMove(opts.Label, opts.Vault)
}
