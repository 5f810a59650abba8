package logsink

import (
	"context"
	"log/slog"
	netmail "net/mail"
	"strings"
	"unicode/utf8"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/notify"
)

var _ notify.Notifier = (*Sink)(nil)

// Sink logs notifications. It is safe for concurrent use as far as its
// logger is (slog's handlers are).
type Sink struct {
	log *slog.Logger
}

// New returns a Sink that logs to log (nil: slog.Default()).
func New(log *slog.Logger) *Sink {
	if log == nil {
		log = slog.Default()
	}
	return &Sink{log: log}
}

// Notify logs m at level Info as "notification" with the attributes to,
// subject, kind and body. Errors: Invalid for a message the SMTP adapter
// would refuse (nothing is logged); Unavailable when ctx is done.
func (s *Sink) Notify(ctx context.Context, m notify.Message) error {
	const op = "logsink.Notify"
	if err := check(m); err != nil {
		return fault.New(fault.Invalid, op, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "notification",
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("kind", m.Kind),
		slog.String("body", m.Body),
	)
	return nil
}

// check refuses what would be header injection or no message for the SMTP
// adapter: CR, LF and other controls in To or Subject, a To that is not
// exactly one address, an empty subject, a body that is not UTF-8.
func check(m notify.Message) error {
	switch {
	case hasControl(m.To) || !utf8.ValidString(m.To):
		return errorString("The recipient contains control characters.")
	case hasControl(m.Subject) || !utf8.ValidString(m.Subject):
		return errorString("The subject contains control characters.")
	case strings.TrimSpace(m.Subject) == "":
		return errorString("The subject is missing.")
	case !utf8.ValidString(m.Body) || strings.ContainsRune(m.Body, 0):
		return errorString("The body is not UTF-8 text.")
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return errorString("The recipient is not an e-mail address.")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

type errorString string

func (e errorString) Error() string { return string(e) }
