package main

import (
	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine"
	"tapefs/engine/config"
)

// `tapefs pool ...`: each subcommand's flags become its options
// (poolCreateOptions, poolUpdateOptions), a runPoolX makes the engine
// call, and a poolXTable is its text output.

func poolFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "drive", Usage: "the drive backups of this pool use"},
		&cli.StringFlag{Name: "allocation", Usage: "media set allocation policy: " + config.AllocContinue + ", " + config.AllocAlways + ", or a calendar event (default " + config.AllocContinue + ")"},
		&cli.StringFlag{Name: "retention", Usage: "media retention policy: " + config.RetainOverwrite + ", " + config.RetainKeep + ", or a time span like 7days (default " + config.RetainKeep + ")"},
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
				Action: func(c *cli.Context) error {
					p, err := poolCreateOptions(c)
					if err != nil {
						return err
					}
					return e.runPoolCreate(p)
				},
			},
			{
				Name:      "update",
				Usage:     "change a media pool",
				ArgsUsage: "NAME",
				Flags: append(poolFlags(), &cli.StringSliceFlag{
					Name: "delete", Usage: "reset a property: drive, allocation, retention, template, encrypt, comment",
				}),
				Action: func(c *cli.Context) error {
					opts, err := poolUpdateOptions(c)
					if err != nil {
						return err
					}
					return e.runPoolUpdate(opts)
				},
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
				Action: func(c *cli.Context) error {
					a, err := args(c, "NAME")
					if err != nil {
						return err
					}
					p, err := e.runPoolConfig(a[0])
					if err != nil {
						return err
					}
					return e.print(poolConfigTable(p), poolJSON(p))
				},
			}),
			e.readOnly(&cli.Command{
				Name:  "list",
				Usage: "list media pools",
				Action: func(c *cli.Context) error {
					pools, err := e.runPoolList()
					if err != nil {
						return err
					}
					js := make([]map[string]string, 0, len(pools))
					for _, p := range pools {
						js = append(js, poolJSON(p))
					}
					return e.print(poolListTable(pools), js)
				},
			}),
		},
	}
}

// poolCreateOptions is the pool a `pool create` command line creates.
func poolCreateOptions(c *cli.Context) (config.Pool, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return config.Pool{}, err
	}
	return config.Pool{
		Name: a[0], Drive: c.String("drive"), Allocation: c.String("allocation"),
		Retention: c.String("retention"), Template: c.String("template"),
		Encrypt: c.String("encrypt"), Comment: c.String("comment"),
	}, nil
}

func (e *env) runPoolCreate(p config.Pool) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.PoolCreate(p)
}

// poolUpdateOpts are the options of `pool update`.
type poolUpdateOpts struct {
	Name string
	engine.PoolUpdate
}

// poolUpdateOptions are the options of a `pool update` command line: only
// the flags given change the pool.
func poolUpdateOptions(c *cli.Context) (poolUpdateOpts, error) {
	a, err := args(c, "NAME")
	if err != nil {
		return poolUpdateOpts{}, err
	}
	return poolUpdateOpts{Name: a[0], PoolUpdate: engine.PoolUpdate{
		Drive: optString(c, "drive"), Allocation: optString(c, "allocation"),
		Retention: optString(c, "retention"), Template: optString(c, "template"),
		Encrypt: optString(c, "encrypt"), Comment: optString(c, "comment"),
		Delete: c.StringSlice("delete"),
	}}, nil
}

func (e *env) runPoolUpdate(opts poolUpdateOpts) error {
	eng, err := e.engine()
	if err != nil {
		return err
	}
	return eng.PoolUpdate(opts.Name, opts.PoolUpdate)
}

// runPoolConfig is a pool's configuration.
func (e *env) runPoolConfig(name string) (config.Pool, error) {
	eng, err := e.engine()
	if err != nil {
		return config.Pool{}, err
	}
	return eng.PoolConfig(name)
}

// poolConfigTable shows the pool's settings that are set.
func poolConfigTable(p config.Pool) *output.Table {
	t := output.KV([2]string{"name", p.Name})
	for _, kv := range [][2]string{
		{"drive", p.Drive}, {"allocation", p.Allocation}, {"retention", p.Retention},
		{"template", p.Template}, {"encrypt", p.Encrypt}, {"comment", p.Comment},
	} {
		if kv[1] != "" {
			t.Add(kv[0], kv[1])
		}
	}
	return t
}

// runPoolList lists the pools.
func (e *env) runPoolList() ([]config.Pool, error) {
	eng, err := e.engine()
	if err != nil {
		return nil, err
	}
	return eng.PoolList()
}

func poolListTable(pools []config.Pool) *output.Table {
	t := &output.Table{Columns: []string{"name", "drive", "allocation", "retention", "template"}}
	for _, p := range pools {
		t.Add(p.Name, p.Drive, p.Allocation, p.Retention, p.Template)
	}
	return t
}

// poolJSON is the JSON form of a pool: its settings that are set.
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
