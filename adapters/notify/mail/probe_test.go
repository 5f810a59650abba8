package mail_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/notify/mail"
	"github.com/pforte-id/pforte/core/fault"
)

// Probe opens a session as Notify does (EHLO, STARTTLS, AUTH) and sends
// nothing; a relay that is down, refuses the credentials or offers no
// TLS where it is required is Unavailable, without the password.
func TestProbe(t *testing.T) {
	cert, roots := selfSigned(t)
	r := startRelay(t, withTLS(cert), withAuth(map[string]string{testUser: testPassword}))
	c := config(r)
	c.StartTLS, c.RootCAs = mail.StartTLSRequired, roots
	c.Username, c.Password = testUser, testPassword
	if err := newNotifier(t, c).Probe(context.Background()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if n := len(r.Messages()); n != 0 {
		t.Fatalf("Probe sent %d messages", n)
	}
	if a := r.Auths(); len(a) != 1 || !a[0].TLS {
		t.Fatalf("AUTH attempts = %+v, want one over TLS", a)
	}

	wrong := c
	wrong.Password = testPassword + "-wrong"
	err := newNotifier(t, wrong).Probe(context.Background())
	wantKind(t, err, fault.Unavailable)
	if msg := err.Error(); strings.Contains(msg, testPassword) {
		t.Errorf("the error shows the password: %s", msg)
	}

	plain := startRelay(t) // no STARTTLS
	pc := config(plain)
	pc.StartTLS = mail.StartTLSRequired
	wantKind(t, newNotifier(t, pc).Probe(context.Background()), fault.Unavailable)

	down := config(plain)
	down.Port = closedPort(t)
	wantKind(t, newNotifier(t, down).Probe(context.Background()), fault.Unavailable)
}
