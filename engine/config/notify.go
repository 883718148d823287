package config

import (
	"fmt"
	"path"
	"strings"
)

// NotifyFile is the name of the notification configuration file in a
// configuration directory.
const NotifyFile = "notify.cfg"

// DefaultSendmail is the mail program used when Notify.Sendmail is empty.
const DefaultSendmail = "/usr/sbin/sendmail"

// Notify is how tapefs sends notifications: the "notify: default" section
// of notify.cfg. The zero value mails through DefaultSendmail, from
// root@HOST, to the addresses of each backup job, and runs no hook.
type Notify struct {
	// Sendmail is the path of the sendmail program (empty:
	// DefaultSendmail). It is called as `sendmail -oi -- ADDRESS...`
	// with the message on stdin.
	Sendmail string
	// MailFrom is the sender address (empty: root@HOST).
	MailFrom string
	// MailTo lists the addresses, comma separated, of events that belong
	// to no backup job with addresses (media requests of other commands,
	// tape full, cleaning).
	MailTo string
	// Command, if set, is run for every event, with the event in TAPEFS_*
	// environment variables and as JSON on stdin.
	Command string
}

// SendmailPath is Sendmail or the default.
func (n *Notify) SendmailPath() string {
	if n.Sendmail == "" {
		return DefaultSendmail
	}
	return n.Sendmail
}

// MailToAddresses are the addresses of MailTo.
func (n *Notify) MailToAddresses() []string { return splitAddresses(n.MailTo) }

func splitAddresses(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func checkAddresses(what, s string) error {
	for _, a := range splitAddresses(s) {
		if !strings.Contains(a, "@") || strings.ContainsAny(a, " \t<>\"") {
			return fmt.Errorf("%s '%s' is not a mail address", what, a)
		}
	}
	return nil
}

// Validate checks absolute program paths, addresses, one-line values.
func (n *Notify) Validate() error {
	for _, kv := range [...][2]string{{"sendmail", n.Sendmail}, {"mail-from", n.MailFrom}, {"mail-to", n.MailTo}, {"command", n.Command}} {
		if err := checkValue("notify", "default", kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, p := range [...][2]string{{"sendmail", n.Sendmail}, {"command", n.Command}} {
		if p[1] != "" && !path.IsAbs(p[1]) {
			return fmt.Errorf("notify: %s '%s' must be an absolute path", p[0], p[1])
		}
	}
	if n.MailFrom != "" && strings.Contains(n.MailFrom, ",") {
		return fmt.Errorf("notify: mail-from is one address")
	}
	if err := checkAddresses("notify: mail-from", n.MailFrom); err != nil {
		return err
	}
	return checkAddresses("notify: mail-to", n.MailTo)
}

var notifyKeys = [...]string{"sendmail", "mail-from", "mail-to", "command"}

func (n *Notify) field(key string) *string {
	switch key {
	case "sendmail":
		return &n.Sendmail
	case "mail-from":
		return &n.MailFrom
	case "mail-to":
		return &n.MailTo
	case "command":
		return &n.Command
	}
	return nil
}

func parseNotify(file string, data []byte) (*Notify, error) {
	secs, err := parseSections(file, data)
	if err != nil {
		return nil, err
	}
	n := &Notify{}
	for i, s := range secs {
		if s.typ != "notify" {
			return nil, unknownType(file, s, "notify")
		}
		if s.name != "default" || i > 0 {
			return nil, &ParseError{File: file, Line: s.line, Msg: "the file has one section, 'notify: default'"}
		}
		for _, kv := range s.props {
			f := n.field(kv.key)
			if f == nil {
				return nil, unknownKey(file, s, kv, notifyKeys[:]...)
			}
			*f = kv.value
		}
	}
	return n, nil
}

func formatNotify(n *Notify) []byte {
	s := section{typ: "notify", name: "default"}
	for _, k := range notifyKeys {
		s.add(k, *n.field(k))
	}
	if len(s.props) == 0 {
		return nil
	}
	return formatSections([]section{s})
}

// LoadNotify reads and validates notify.cfg. A missing file is the zero
// Notify.
func (d Dir) LoadNotify() (*Notify, error) {
	return loadFile(d, NotifyFile, parseNotify, (*Notify).Validate)
}

// UpdateNotify changes notify.cfg the way UpdateTape changes tape.cfg.
func (d Dir) UpdateNotify(fn func(*Notify) error) error {
	return updateFile(d, NotifyFile, parseNotify, formatNotify, (*Notify).Validate, fn)
}
