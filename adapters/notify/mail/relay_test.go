package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/pforte-id/pforte/adapters/notify/mail/mailtest"
)

// relay is a real SMTP server (github.com/emersion/go-smtp) in the test
// process that records what it is told.
type relay struct {
	host string
	port int

	// Set before the first connection.
	users       map[string]string // username → password; nil: no AUTH offered
	requireAuth bool
	// authFail builds the reply to wrong credentials (default: 535).
	authFail func(user, pass string) error
	rcptErr  error
	// inData, when set, is called when DATA starts, before the message is
	// read.
	inData func()

	mu       sync.Mutex
	sessions int
	auths    []authAttempt
	msgs     []received
}

type authAttempt struct {
	Mech, User, Pass string
	TLS              bool
}

type received struct {
	From string
	To   []string
	Data []byte
	User string // the authenticated user, "" without AUTH
	TLS  bool
}

type relayOption func(*relay, *smtp.Server)

// withAuth offers PLAIN and LOGIN and accepts the given users; it allows
// AUTH without TLS (go-smtp's AllowInsecureAuth) unless the relay has TLS.
func withAuth(users map[string]string) relayOption {
	return func(r *relay, s *smtp.Server) {
		r.users = users
		r.requireAuth = true
		s.AllowInsecureAuth = s.TLSConfig == nil
	}
}

// withTLS offers STARTTLS with cert.
func withTLS(cert tls.Certificate) relayOption {
	return func(_ *relay, s *smtp.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.AllowInsecureAuth = false
	}
}

// startRelay listens on ip:0 (127.0.0.1 unless given) until the test ends.
func startRelay(t *testing.T, opts ...relayOption) *relay {
	t.Helper()
	return startRelayOn(t, "127.0.0.1", opts...)
}

func startRelayOn(t *testing.T, ip string, opts ...relayOption) *relay {
	t.Helper()
	r := &relay{host: ip}
	r.port = mailtest.Serve(t, ip, r, func(s *smtp.Server) {
		for _, o := range opts {
			o(r, s)
		}
	})
	return r
}

func (r *relay) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	r.sessions++
	r.mu.Unlock()
	return &session{r: r, c: c}, nil
}

func (r *relay) Messages() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

func (r *relay) Sessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

func (r *relay) Auths() []authAttempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]authAttempt(nil), r.auths...)
}

type session struct {
	r    *relay
	c    *smtp.Conn
	user string
	from string
	to   []string
}

func (s *session) isTLS() bool {
	_, ok := s.c.TLSConnectionState()
	return ok
}

func (s *session) AuthMechanisms() []string {
	if s.r.users == nil {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		s.r.mu.Lock()
		s.r.auths = append(s.r.auths, authAttempt{Mech: mech, User: user, Pass: pass, TLS: s.isTLS()})
		s.r.mu.Unlock()
		if want, ok := s.r.users[user]; ok && want == pass {
			s.user = user
			return nil
		}
		if s.r.authFail != nil {
			return s.r.authFail(user, pass)
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.r.rcptErr != nil {
		return s.r.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	if s.r.inData != nil {
		s.r.inData()
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.msgs = append(s.r.msgs, received{From: s.from, To: s.to, Data: b, User: s.user, TLS: s.isTLS()})
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl does not
// ship: username and password in two steps after "Username:" and
// "Password:" challenges.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil { // initial response: the username
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}, pool
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

func itoa(i int) string { return strconv.Itoa(i) }
