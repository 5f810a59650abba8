package mailtest

import (
	"io"
	"log"
	"net"
	"testing"

	"github.com/emersion/go-smtp"
)

// Serve serves be on a new listener on ip, port 0 ("" is 127.0.0.1), until
// t ends, and returns the port. The server's domain is relay.test and its
// own log is discarded; configure, when not nil, changes the server (TLS,
// AUTH) before it listens.
func Serve(t testing.TB, ip string, be smtp.Backend, configure func(*smtp.Server)) int {
	t.Helper()
	if ip == "" {
		ip = "127.0.0.1"
	}
	s := smtp.NewServer(be)
	s.Domain = "relay.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	if configure != nil {
		configure(s)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		// Close the listener too: Serve registers it with the server only
		// once its goroutine runs, which may be after s.Close.
		_ = ln.Close()
		_ = s.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}
