package mail

import (
	"crypto/x509"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/secret"
)

// StartTLS says whether the connection to the relay must be encrypted.
type StartTLS string

// StartTLS modes.
const (
	// StartTLSRequired sends nothing unless STARTTLS succeeds with a
	// certificate valid for Host. The default.
	StartTLSRequired StartTLS = "required"
	// StartTLSOpportunistic uses STARTTLS when the relay offers it and
	// plain SMTP otherwise. A network attacker can strip the offer and read
	// the mail; credentials are still never sent in clear text (except to a
	// loopback relay).
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSNone never encrypts; only for a relay on the loopback
	// interface (a local MTA or a test server).
	StartTLSNone StartTLS = "none"
)

// Auth is the SASL mechanism used when Config.Username is set.
type Auth string

// Auth mechanisms.
const (
	// AuthPlain is AUTH PLAIN (RFC 4616). The default.
	AuthPlain Auth = "plain"
	// AuthLogin is AUTH LOGIN, which Exchange and Microsoft 365 relays
	// often offer instead of PLAIN.
	AuthLogin Auth = "login"
)

// Defaults applied by WithDefaults.
const (
	// DefaultPort is the message submission port (RFC 6409) with STARTTLS.
	DefaultPort = 587
	// DefaultTimeout bounds the dial and each SMTP command.
	DefaultTimeout = 30 * time.Second
)

// Config configures a Notifier. Zero values mean the defaults (see
// WithDefaults).
type Config struct {
	// Host is the relay's host name or IP address, without a port.
	Host string
	// Port is the relay's port (default 587).
	Port int
	// Username for SMTP AUTH; empty: no authentication (a relay that
	// trusts the sending host).
	Username string
	// Password for SMTP AUTH; required with Username.
	Password Secret
	// Auth is the SASL mechanism (default plain).
	Auth Auth
	// From is the sender, as the From header and the envelope sender,
	// e.g. "Meine Krankenkasse <no-reply@kasse.example>". An ASCII address;
	// its domain also names the Message-IDs.
	From string
	// StartTLS is required (default), opportunistic or none (loopback
	// hosts only).
	StartTLS StartTLS
	// RootCAs verifies the relay's certificate; nil: the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds the dial and each SMTP command (default 30s).
	Timeout time.Duration
}

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.StartTLS == "" {
		c.StartTLS = StartTLSRequired
	}
	if c.Auth == "" && c.Username != "" {
		c.Auth = AuthPlain
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks c as WithDefaults completes it: the one place the
// relay settings are bounded. Errors: fault.Invalid whose Op names the
// field ("mail.Config.StartTLS"); the text never quotes the password.
func (c Config) Validate() error {
	field := func(name, msg string) error {
		return fault.New(fault.Invalid, "mail.Config."+name, msg)
	}
	c = c.WithDefaults()

	host := strings.TrimSpace(c.Host)
	switch {
	case host == "":
		return field("Host", "required")
	case host != c.Host || hasControl(host) || strings.ContainsAny(host, " /[]"):
		return field("Host", "must be a host name or an IP address")
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		return field("Host", "must not carry a port; set the port")
	}
	if c.Port < 1 || c.Port > 65535 {
		return field("Port", "must be between 1 and 65535")
	}

	switch c.StartTLS {
	case StartTLSRequired, StartTLSOpportunistic:
	case StartTLSNone:
		// Plain SMTP over a network hands the members' mail (and the
		// relay password) to anyone on the path.
		if !IsLoopback(host) {
			return field("StartTLS", "none is only allowed for a relay on the loopback interface, not "+host)
		}
	default:
		return field("StartTLS", "must be required, opportunistic or none")
	}

	if _, err := parseFrom(c.From); err != nil {
		return field("From", err.Error())
	}

	switch {
	case c.Username == "" && c.Password != "":
		return field("Password", "is set but the username is not")
	case c.Username != "" && c.Password == "":
		return field("Password", "required with a username")
	case hasControl(c.Username) || !utf8.ValidString(c.Username):
		return field("Username", "must not contain control characters")
	case strings.ContainsRune(string(c.Password), 0) || !utf8.ValidString(string(c.Password)):
		// AUTH PLAIN separates its fields with NUL.
		return field("Password", "must be valid UTF-8 without NUL")
	}
	if c.Username != "" {
		switch c.Auth {
		case AuthPlain, AuthLogin:
		default:
			return field("Auth", "must be plain or login")
		}
	}

	if c.Timeout < 0 {
		return field("Timeout", "must not be negative")
	}
	return nil
}

// parseFrom parses the sender: one address, ASCII (it is the envelope
// sender and names the Message-IDs, neither of which may need SMTPUTF8).
func parseFrom(from string) (*netmail.Address, error) {
	if strings.TrimSpace(from) == "" {
		return nil, errorString("required")
	}
	if hasControl(from) {
		return nil, errorString("must not contain control characters")
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, errorString("must be one e-mail address, such as Name <no-reply@example.org>")
	}
	if !isASCII(a.Address) {
		return nil, errorString("must be an ASCII address")
	}
	return a, nil
}

// IsLoopback reports whether host names the loopback interface:
// "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// hasControl reports whether s contains a C0 control character (CR and LF
// among them) or DEL: in a header they end the line and start a new one.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

type errorString string

func (e errorString) Error() string { return string(e) }

// Secret is a value that must never reach a log (core/secret).
type Secret = secret.String
