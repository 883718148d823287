package main

import (
	"strconv"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
)

// mediaJSON is one `media list` entry for scripts.
type mediaJSON struct {
	LabelText    string  `json:"label-text"`
	UUID         string  `json:"uuid"`
	Pool         string  `json:"pool,omitempty"`
	MediaSetName string  `json:"media-set-name,omitempty"`
	MediaSetUUID string  `json:"media-set-uuid,omitempty"`
	SeqNr        *uint64 `json:"seq-nr,omitempty"`
	Status       string  `json:"status"`
	Location     string  `json:"location"`
	BytesUsed    uint64  `json:"bytes-used"`
	Ctime        int64   `json:"ctime"`
}

func (e *env) mediaCommand() *cli.Command {
	return &cli.Command{
		Name:  "media",
		Usage: "the media inventory",
		Subcommands: append([]*cli.Command{
			{
				Name:  "list",
				Usage: "list the tapes in the inventory",
				Flags: []cli.Flag{&cli.StringFlag{Name: "pool", Usage: "only tapes of this pool"}},
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					list, err := eng.MediaList(c.String("pool"))
					if err != nil {
						return err
					}
					t := &output.Table{Columns: []string{"label-text", "pool", "media-set-name", "seq-nr", "status", "location", "media-set-uuid"}}
					js := make([]mediaJSON, 0, len(list))
					for _, m := range list {
						j := mediaJSON{
							LabelText: m.LabelText, UUID: m.UUID.String(), Pool: m.Pool,
							Status: string(m.Status), Location: m.Location.String(),
							BytesUsed: m.BytesUsed, Ctime: m.Ctime.Unix(),
						}
						seq := ""
						if s := m.Set; s != nil && s.UUID != [16]byte{} {
							j.MediaSetName = fmtTime(s.Ctime)
							j.MediaSetUUID = s.UUID.String()
							n := s.Seq
							j.SeqNr = &n
							seq = strconv.FormatUint(n, 10)
						}
						t.Add(j.LabelText, j.Pool, j.MediaSetName, seq, j.Status, j.Location, j.MediaSetUUID)
						js = append(js, j)
					}
					return e.print(t, js)
				},
			},
		}, e.mediaExtraCommands()...),
	}
}
