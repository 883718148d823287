package main

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"tapefs/cmd/internal/output"
	"tapefs/engine/config"
)

// notifyCommand configures notifications (notify.cfg): the sendmail
// program, sender and default recipients, and the hook command.
func (e *env) notifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "configure notifications: mail through sendmail and a hook command",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "show the notification settings",
				Action: func(c *cli.Context) error {
					n, err := config.Dir{Path: e.ConfigDir}.LoadNotify()
					if err != nil {
						return err
					}
					t := output.KV([2]string{"sendmail", n.SendmailPath()})
					for _, kv := range [][2]string{{"mail-from", n.MailFrom}, {"mail-to", n.MailTo}, {"command", n.Command}} {
						if kv[1] != "" {
							t.Add(kv[0], kv[1])
						}
					}
					return e.print(t, map[string]string{"sendmail": n.SendmailPath(), "mail-from": n.MailFrom, "mail-to": n.MailTo, "command": n.Command})
				},
			},
			{
				Name:  "update",
				Usage: "change the notification settings",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "sendmail", Usage: "path of the sendmail program (default " + config.DefaultSendmail + ")"},
					&cli.StringFlag{Name: "mail-from", Usage: "sender address (default root@HOST)"},
					&cli.StringFlag{Name: "mail-to", Usage: "addresses for events of no job with addresses (comma separated)"},
					&cli.StringFlag{Name: "command", Usage: "hook run for every event: TAPEFS_* variables, JSON on stdin"},
					&cli.StringSliceFlag{Name: "delete", Usage: "reset a setting: sendmail, mail-from, mail-to, command"},
				},
				Action: func(c *cli.Context) error {
					return config.Dir{Path: e.ConfigDir}.UpdateNotify(func(n *config.Notify) error {
						for _, d := range c.StringSlice("delete") {
							switch d {
							case "sendmail":
								n.Sendmail = ""
							case "mail-from":
								n.MailFrom = ""
							case "mail-to":
								n.MailTo = ""
							case "command":
								n.Command = ""
							default:
								return usagef("--delete %s: not a setting (sendmail, mail-from, mail-to, command)", d)
							}
						}
						for _, f := range []struct {
							name string
							dst  *string
						}{{"sendmail", &n.Sendmail}, {"mail-from", &n.MailFrom}, {"mail-to", &n.MailTo}, {"command", &n.Command}} {
							if !c.IsSet(f.name) {
								continue
							}
							*f.dst = c.String(f.name)
							if (f.name == "sendmail" || f.name == "command") && *f.dst != "" {
								abs, err := filepath.Abs(*f.dst)
								if err != nil {
									return usagef("--%s %s: %v", f.name, *f.dst, err)
								}
								*f.dst = abs
							}
						}
						return nil
					})
				},
			},
		},
	}
}
