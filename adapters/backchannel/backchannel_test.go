package backchannel_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/backchannel"
	"github.com/pforte-id/pforte/core/fault"
)

const tok = "eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJzIn0.c2ln"

func deliver(t *testing.T, d *backchannel.Deliverer, uri string) error {
	t.Helper()
	return d.Deliver(t.Context(), uri, tok)
}

// wantReason fails unless err is Unavailable with the public reason and
// without the token.
func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if got := fault.PublicOf(err); got != reason {
		t.Errorf("reason %q, want %q", got, reason)
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestPostsTheTokenAsAForm(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusNoContent} {
		var got atomic.Pointer[http.Request]
		var form atomic.Value
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				t.Errorf("form: %v", err)
			}
			got.Store(r)
			form.Store(r.PostForm.Encode())
			w.WriteHeader(status)
		}))
		err := deliver(t, backchannel.New(backchannel.Config{}), srv.URL+"/logout?tenant=kasse")
		srv.Close()
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		r := got.Load()
		if r.Method != http.MethodPost || r.URL.Path != "/logout" || r.URL.Query().Get("tenant") != "kasse" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if f := form.Load().(string); f != "logout_token="+tok {
			t.Errorf("form %q, want only logout_token", f)
		}
	}
}

func TestRefusedAnswers(t *testing.T) {
	for status, reason := range map[int]string{
		http.StatusBadRequest:          "status 400",
		http.StatusInternalServerError: "status 500",
		http.StatusServiceUnavailable:  "status 503",
		http.StatusAccepted:            "status 202",
		http.StatusNotModified:         "redirect not followed (status 304)",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
		wantReason(t, deliver(t, backchannel.New(backchannel.Config{}), srv.URL), reason)
		srv.Close()
	}
}

// A redirect would take the token to a place the relying party did not
// register: it is not followed, and the delivery failed.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	wantReason(t, deliver(t, backchannel.New(backchannel.Config{}), srv.URL), "redirect not followed (status 307)")
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// An endpoint that does not answer holds the delivery no longer than the
// timeout.
func TestSlowEndpointTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wantReason(t, deliver(t, backchannel.New(backchannel.Config{Timeout: 200 * time.Millisecond}), srv.URL), "timeout")
}

// So does one whose caller gives up first.
func TestCallerDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	wantReason(t, backchannel.New(backchannel.Config{Timeout: time.Hour}).Deliver(ctx, srv.URL, tok), "timeout")
}

// An endpoint that answers 200 and then sends without end is cut off:
// the answer is read up to MaxResponse, and the delivery returns.
func TestOversizedAnswerIsCutOff(t *testing.T) {
	const total = 512 << 20
	written := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		var n int64
		for n < total {
			k, err := w.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		written <- n
	}))
	defer srv.Close()
	if err := deliver(t, backchannel.New(backchannel.Config{MaxResponse: 4 << 10}), srv.URL); err != nil {
		t.Fatalf("200 with a long body: %v", err)
	}
	if n := <-written; n >= total {
		t.Errorf("the endpoint could send all of its %d bytes", n)
	}
}

// An endpoint that sends its status and then trickles forever is bounded
// by the timeout too.
func TestTricklingAnswerIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-release:
				return
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	// The status said delivered; the trickle ends with the timeout.
	if err := deliver(t, backchannel.New(backchannel.Config{Timeout: 300 * time.Millisecond}), srv.URL); err != nil {
		t.Fatalf("200 then a trickle: %v", err)
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 64<<10))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	err := deliver(t, backchannel.New(backchannel.Config{MaxResponse: 4 << 10}), srv.URL)
	if !errors.Is(err, fault.Unavailable) {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	wantReason(t, deliver(t, backchannel.New(backchannel.Config{}), "http://"+addr+"/logout"), "connection refused")
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	wantReason(t, deliver(t, backchannel.New(backchannel.Config{}), srv.URL), "certificate not trusted")
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	if err := deliver(t, backchannel.New(backchannel.Config{RootCAs: pool}), srv.URL); err != nil {
		t.Fatalf("trusted: %v", err)
	}
}
