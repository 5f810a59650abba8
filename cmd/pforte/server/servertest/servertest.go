package servertest

import (
	"context"
	"crypto/rand"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/registration"
)

// Sender is the letter sender of test servers.
const Sender = "Pforte Test-BKK · Postfach 1 · 28195 Bremen"

// ShutdownTimeout is how long a test server's graceful shutdown may take.
const ShutdownTimeout = 5 * time.Second

// Options returns the options every test server shares, for issuer: a
// fresh random master key, a fresh SQLite database and an outbox in t's
// temporary directories, migrations applied at start, the default password
// parameters, letter workers that only run when the test calls them
// (WorkerInterval -1), a letter sender, and devices without attestation
// allowed (test clients hold software keys). Log is left nil: Serve fills
// it. Tests change what they are about.
func Options(t testing.TB, issuer string) server.Options {
	t.Helper()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	return server.Options{
		Issuer:         issuer,
		Storage:        sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "pforte.db")},
		AutoMigrate:    true,
		MasterKey:      master,
		PasswordParams: password.DefaultParams,
		OutboxDir:      t.TempDir(),
		Registration:   registration.Config{Sender: Sender},
		WorkerInterval: -1,
		Binding:        binding.Config{Device: device.Policy{AllowUnattested: true}},
	}
}

// Member returns m as an active member with account id, whose identity was
// proofed by letter (substantial, so that a password-only login visibly
// reaches only the low level) and whose password is coretest.Password; its
// records are dated now.
func Member(id string, m member.Member, now time.Time) server.Member {
	m.UpdatedAt = now
	return server.Member{
		Account: account.Account{
			ID: id, KVNR: m.KVNR, PasswordHash: coretest.PasswordHash(), Status: account.Active,
			Proofing: loa.Substantial, CreatedAt: now, UpdatedAt: now,
		},
		Member: m,
	}
}

// Server is a server running for one test.
type Server struct {
	*server.Server
	// URL is where it listens: "http://127.0.0.1:<port>".
	URL string
	// Logs is the server's log: JSON lines from level debug up, unless the
	// options brought a logger of their own (then it stays empty).
	Logs *coretest.Log
}

// Listen returns a listener on a free port of 127.0.0.1 and its URL
// ("http://127.0.0.1:<port>").
func Listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// FreeAddr returns a loopback address ("127.0.0.1:<port>") whose port was
// free a moment ago, for a server the test starts some other way. Another
// process may take the port in between; tests accept that small race.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, _ := Listen(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Serve builds a server from o and serves it on ln until t ends; a nil
// o.Log becomes a JSON logger into the returned Logs. When t ends the
// server shuts down gracefully (ShutdownTimeout), t fails unless Serve
// returned nil, the store is closed, and a failed t gets the server's log
// in its output. Cleanups the test registers after Serve run before the
// shutdown (a client closing its idle connections, say). Serve fails t
// when the server cannot be built; ln is closed then.
func Serve(t testing.TB, ln net.Listener, o server.Options) *Server {
	t.Helper()
	s := &Server{URL: "http://" + ln.Addr().String(), Logs: &coretest.Log{}}
	if o.Log == nil {
		o.Log = s.Logs.JSON()
	}
	srv, err := server.New(t.Context(), o)
	if err != nil {
		ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	s.Server = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, ShutdownTimeout) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = srv.Close()
		if t.Failed() {
			t.Logf("server log of %s:\n%s", s.URL, s.Logs.String())
		}
	})
	return s
}

// Start runs a test server on a free loopback port with Options for its
// own URL as issuer, changed by each of configure in turn; see Serve.
func Start(t testing.TB, configure ...func(*server.Options)) *Server {
	t.Helper()
	ln, url := Listen(t)
	o := Options(t, url)
	for _, f := range configure {
		f(&o)
	}
	return Serve(t, ln, o)
}
