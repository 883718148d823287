package main

import (
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
)

func poolFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "drive", Usage: "the drive backups of this pool use"},
		&cli.StringFlag{Name: "allocation", Usage: "media set allocation policy: continue, always, or a calendar event (default continue)"},
		&cli.StringFlag{Name: "retention", Usage: "media retention policy: overwrite, keep, or a time span like 7days (default keep)"},
		&cli.StringFlag{Name: "template", Usage: "media set name template (strftime)"},
		&cli.StringFlag{Name: "encrypt", Usage: "encryption key fingerprint"},
		&cli.StringFlag{Name: "comment", Usage: "free text"},
	}
}

func (e *env) poolCommand() *cli.Command {
	return &cli.Command{
		Name:  "pool",
		Usage: "configure media pools",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a media pool",
				ArgsUsage: "NAME",
				Flags:     poolFlags(),
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.PoolCreate(config.Pool{
						Name: name, Drive: c.String("drive"), Allocation: c.String("allocation"),
						Retention: c.String("retention"), Template: c.String("template"),
						Encrypt: c.String("encrypt"), Comment: c.String("comment"),
					})
				}),
			},
			{
				Name:      "update",
				Usage:     "change a media pool",
				ArgsUsage: "NAME",
				Flags: append(poolFlags(), &cli.StringSliceFlag{
					Name: "delete", Usage: "reset a property: drive, allocation, retention, template, encrypt, comment",
				}),
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.PoolUpdate(name, engine.PoolUpdate{
						Drive: optString(c, "drive"), Allocation: optString(c, "allocation"),
						Retention: optString(c, "retention"), Template: optString(c, "template"),
						Encrypt: optString(c, "encrypt"), Comment: optString(c, "comment"),
						Delete: c.StringSlice("delete"),
					})
				}),
			},
			{
				Name:      "remove",
				Usage:     "remove a media pool",
				ArgsUsage: "NAME",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					return eng.PoolRemove(name)
				}),
			},
			e.readOnly(&cli.Command{
				Name:      "config",
				Usage:     "show a media pool's configuration",
				ArgsUsage: "NAME",
				Action: e.withName(func(c *cli.Context, eng *engine.Engine, name string) error {
					p, err := eng.PoolConfig(name)
					if err != nil {
						return err
					}
					t := output.KV([2]string{"name", p.Name})
					for _, kv := range [][2]string{
						{"drive", p.Drive}, {"allocation", p.Allocation}, {"retention", p.Retention},
						{"template", p.Template}, {"encrypt", p.Encrypt}, {"comment", p.Comment},
					} {
						if kv[1] != "" {
							t.Add(kv[0], kv[1])
						}
					}
					return e.print(t, poolJSON(p))
				}),
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list media pools",
				Action: func(c *cli.Context) error {
					eng, err := e.engine()
					if err != nil {
						return err
					}
					pools, err := eng.PoolList()
					if err != nil {
						return err
					}
					t := &output.Table{Columns: []string{"name", "drive", "allocation", "retention", "template"}}
					js := make([]map[string]string, 0, len(pools))
					for _, p := range pools {
						t.Add(p.Name, p.Drive, p.Allocation, p.Retention, p.Template)
						js = append(js, poolJSON(p))
					}
					return e.print(t, js)
				},
			}),
		},
	}
}

func poolJSON(p config.Pool) map[string]string {
	m := map[string]string{"name": p.Name}
	for k, v := range map[string]string{
		"drive": p.Drive, "allocation": p.Allocation, "retention": p.Retention,
		"template": p.Template, "encrypt": p.Encrypt, "comment": p.Comment,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}
