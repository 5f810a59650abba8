package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/notify"
)

var _ notify.Notifier = (*Notifier)(nil)

// Limits on what core hands over. Notifications are a few lines; anything
// near these limits is a bug upstream, not a message to send.
const (
	// MaxSubjectRunes bounds the subject.
	MaxSubjectRunes = 250
	// MaxBodyBytes bounds the body.
	MaxBodyBytes = 64 << 10
)

// Notifier sends notifications by SMTP. It is safe for concurrent use.
type Notifier struct {
	cfg    Config
	from   *netmail.Address
	domain string // right-hand side of Message-IDs
	now    func() time.Time
}

// New returns a Notifier for c (completed by WithDefaults). It does not
// connect: a relay that is down shows at the first Notify, as Unavailable.
// Errors: Invalid for a bad configuration.
func New(c Config) (*Notifier, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	from, err := parseFrom(c.From)
	if err != nil { // Validate has checked it
		return nil, fault.Wrap(fault.Invalid, "mail.New", err)
	}
	return &Notifier{
		cfg:    c,
		from:   from,
		domain: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		now:    time.Now,
	}, nil
}

// Notify sends m as one e-mail to m.To. Errors: Invalid for a malformed
// address, subject or body (nothing is sent) and for a recipient the relay
// refuses permanently; Unavailable otherwise (see the package comment).
// Error texts never contain the relay password.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	const op = "mail.Notify"
	to, err := checkMessage(m)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fault.Wrap(fault.Unavailable, op, err)
	}
	msg := n.compose(to, m)

	err = n.send(ctx, msg)
	if err == nil {
		return nil
	}
	kind := fault.Unavailable
	if ctx.Err() != nil {
		// The connection was closed under the library; its error only
		// says so. The context's error is the one worth keeping.
		err = errors.Join(ctx.Err(), err)
	} else if recipientRefused(err) {
		kind = fault.Invalid
	}
	fe := fault.Wrap(kind, op, n.scrub(err))
	if kind == fault.Invalid {
		fe = fe.WithPublic("The e-mail address was refused.")
	}
	return fe
}

// checkMessage refuses what must not reach a header or the relay. CR and LF
// in To or Subject would end the header line and let the value add its own
// headers (Bcc: to someone else) or start the body: header injection.
func checkMessage(m notify.Message) (*netmail.Address, error) {
	const op = "mail.Notify"
	bad := func(public string) error { return fault.New(fault.Invalid, op, public) }
	switch {
	case hasControl(m.To) || !utf8.ValidString(m.To):
		return nil, bad("The recipient contains control characters.")
	case hasControl(m.Subject) || !utf8.ValidString(m.Subject):
		return nil, bad("The subject contains control characters.")
	case strings.TrimSpace(m.To) == "":
		return nil, bad("The recipient is missing.")
	case strings.TrimSpace(m.Subject) == "":
		return nil, bad("The subject is missing.")
	case utf8.RuneCountInString(m.Subject) > MaxSubjectRunes:
		return nil, bad("The subject is too long.")
	case len(m.Body) > MaxBodyBytes:
		return nil, bad("The body is too long.")
	case !utf8.ValidString(m.Body) || strings.ContainsRune(m.Body, 0):
		return nil, bad("The body is not UTF-8 text.")
	}
	// One address, with or without a display name; a list is refused (the
	// port sends to one member).
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, op, err).WithPublic("The recipient is not an e-mail address.")
	}
	return to, nil
}

// compose builds the message. Everything that goes into a header has been
// checked; go-mail encodes the subject and display names (RFC 2047) and
// the body (quoted-printable, CRLF line ends).
func (n *Notifier) compose(to *netmail.Address, m notify.Message) *gomail.Msg {
	msg := gomail.NewMsg(
		gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP),
		// No "User-Agent: go-mail vX.Y": no need to tell the world which
		// library and version sends for the insurer.
		gomail.WithNoDefaultUserAgent(),
	)
	msg.FromMailAddress(n.from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(n.now())
	msg.SetMessageIDWithValue(rand.Text() + "@" + n.domain)
	// RFC 3834: this mail is generated, so vacation responders and the
	// like must not answer it (the sender address is not read).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg
}

// send delivers msg over a session of its own (see session).
func (n *Notifier) send(ctx context.Context, msg *gomail.Msg) error {
	return n.session(ctx, func(client *gomail.Client, sc *smtp.Client) error {
		if err := client.SendWithSMTPClient(sc, msg); err != nil {
			_ = client.CloseWithSMTPClient(sc)
			return err
		}
		// The relay accepted the message (250 after DATA) and is
		// responsible for it now; a failed QUIT must not make the caller
		// send it again.
		_ = client.CloseWithSMTPClient(sc)
		return nil
	})
}

// Probe checks that the relay takes a session as Notify opens one:
// it connects, greets (EHLO), starts TLS and authenticates as configured,
// then ends the session with QUIT. It sends no mail. Errors: Unavailable
// (the text never contains the relay password).
func (n *Notifier) Probe(ctx context.Context) error {
	err := n.session(ctx, func(client *gomail.Client, sc *smtp.Client) error {
		return client.CloseWithSMTPClient(sc)
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = errors.Join(ctx.Err(), err)
	}
	return fault.Wrap(fault.Unavailable, "mail.Probe", n.scrub(err))
}

// session opens a session with the relay, over a connection of its own,
// and runs use on it; the session is greeted, on TLS and authenticated as
// configured. It dials itself so that the connection is closed whatever
// happens (go-mail v0.8.1 leaves it open when the handshake fails after
// the dial) and so that cancelling ctx aborts a session that hangs between
// commands, not only the dial.
func (n *Notifier) session(ctx context.Context, use func(*gomail.Client, *smtp.Client) error) (err error) {
	var (
		mu   sync.Mutex
		conn net.Conn
		stop func() bool
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if stop != nil {
			stop()
		}
		if conn != nil {
			_ = conn.Close() // already closed after QUIT: nothing to report
		}
	}()
	dial := func(dialCtx context.Context, network, _ string) (net.Conn, error) {
		// The address go-mail passes has no brackets for IPv6 literals;
		// ours is built with net.JoinHostPort.
		d := net.Dialer{Timeout: n.cfg.Timeout}
		c, err := d.DialContext(dialCtx, network, n.cfg.addr())
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		conn = c
		stop = context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(n.cfg.Port),
		gomail.WithTimeout(n.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSPolicy(tlsPolicy(n.cfg.StartTLS)),
		gomail.WithTLSConfig(&tls.Config{
			ServerName: n.cfg.Host,
			RootCAs:    n.cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
		}),
	}
	if n.cfg.Username != "" {
		// PlainAuth and LoginAuth (not their -NOENC variants) refuse to
		// send credentials over an unencrypted connection to anything but
		// localhost, whatever the relay advertises.
		auth := gomail.SMTPAuthPlain
		if n.cfg.Auth == AuthLogin {
			auth = gomail.SMTPAuthLogin
		}
		opts = append(opts,
			gomail.WithSMTPAuth(auth),
			gomail.WithUsername(n.cfg.Username),
			gomail.WithPassword(n.cfg.Password.Reveal()),
		)
	}
	client, err := gomail.NewClient(n.cfg.Host, opts...)
	if err != nil {
		return err
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	return use(client, sc)
}

func tlsPolicy(s StartTLS) gomail.TLSPolicy {
	switch s {
	case StartTLSOpportunistic:
		return gomail.TLSOpportunistic
	case StartTLSNone:
		return gomail.NoTLS
	default:
		return gomail.TLSMandatory
	}
}

// recipientRefused reports whether the relay refused the recipient
// permanently as an address: enhanced status 5.1.x (RFC 3463: bad
// mailbox, bad system, bad syntax), or 550/553 when the relay sends no
// enhanced status. Anything else (relaying denied 5.7.x, full mailbox,
// 4xx) is the relay's problem, not a bad address: Unavailable.
func recipientRefused(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.Reason != gomail.ErrSMTPRcptTo || se.IsTemp() {
		return false
	}
	if esc := se.EnhancedStatusCode(); esc != "" {
		return strings.HasPrefix(esc, "5.1.")
	}
	code := se.ErrorCode()
	return code == 550 || code == 553
}

// scrub returns err with the relay password removed from its text, in the
// forms AUTH sends it (raw, base64 alone for LOGIN, base64 of the PLAIN
// response): a relay may quote what it received in its error reply, and
// the error ends up in logs. The result keeps errors.Is for the original
// chain but does not unwrap to it, so no logger can reach the raw text.
func (n *Notifier) scrub(err error) error {
	text := err.Error()
	if pw := n.cfg.Password.Reveal(); pw != "" {
		plain := "\x00" + n.cfg.Username + "\x00" + pw
		forms := []string{
			base64.StdEncoding.EncodeToString([]byte(plain)),
			base64.StdEncoding.EncodeToString([]byte(n.cfg.Username + plain)),
			base64.StdEncoding.EncodeToString([]byte(pw)),
			pw,
		}
		for _, f := range forms {
			text = strings.ReplaceAll(text, f, "[redacted]")
		}
	}
	return &scrubbed{text: text, err: err}
}

type scrubbed struct {
	text string
	err  error
}

func (s *scrubbed) Error() string { return s.text }

// Is lets errors.Is(err, context.Canceled) and the like see the original
// chain without exposing its text.
func (s *scrubbed) Is(target error) bool { return errors.Is(s.err, target) }
