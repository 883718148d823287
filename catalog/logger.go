package catalog

import (
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger routes Badger's log lines to slog: errors and warnings at
// their level, Badger's routine chatter (table opens, compactions, replay
// progress) at debug level so a default logger stays quiet.
type badgerLogger struct {
	l *slog.Logger
}

func (b badgerLogger) Errorf(format string, args ...any) {
	b.l.Error(badgerMessage(format, args))
}

func (b badgerLogger) Warningf(format string, args ...any) {
	b.l.Warn(badgerMessage(format, args))
}

func (b badgerLogger) Infof(format string, args ...any) {
	b.l.Debug(badgerMessage(format, args))
}

func (b badgerLogger) Debugf(format string, args ...any) {
	b.l.Debug(badgerMessage(format, args))
}

func badgerMessage(format string, args []any) string {
	return "badger: " + strings.TrimSpace(fmt.Sprintf(format, args...))
}
