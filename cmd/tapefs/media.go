package main

import (
	"strconv"

	"github.com/dustin/go-humanize"

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
		Subcommands: append([]*cli.Command{
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list the tapes in the inventory",
				Flags: []cli.Flag{&cli.StringFlag{Name: "pool", Usage: "only tapes of this pool"}},
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					list, err := eng.MediaListInfo(c.String("pool"))
					if err != nil {
						return err
					}
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
					return e.print(t, js)
				},
			}),
		}, e.mediaExtraCommands()...),
	}
}
