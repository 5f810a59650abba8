package appclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"time"
)

// NewVerifier returns a fresh PKCE-style verifier (256 bits, base64url)
// and its S256 challenge, for the begin of a registration with the eID:
// the app sends the challenge and keeps the verifier to redeem the
// confirmation (POST /app/v1/enrollment).
func NewVerifier() (verifier, challenge string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// EIDReturn is a desktop app's return address for a registration with
// the eID: a listener on a loopback port (RFC 8252 §7.3) that the
// browser is sent to after the eID service, with the one-time code the
// app redeems. Only a browser on this machine reaches it, which is what
// keeps a confirmation relayed to another person on their own device.
type EIDReturn struct {
	// URI is the return address to send as return_uri.
	URI   string
	codes chan string
	srv   *http.Server
	done  chan struct{}
}

// ListenEIDReturn starts the listener on 127.0.0.1 and a free port.
func ListenEIDReturn() (*EIDReturn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &EIDReturn{URI: "http://" + ln.Addr().String() + "/eid", codes: make(chan string, 1), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /eid", func(w http.ResponseWriter, req *http.Request) {
		code := req.URL.Query().Get("code")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if code == "" {
			http.Error(w, "no code", http.StatusBadRequest)
			return
		}
		select {
		case r.codes <- code:
		default:
			// A second arrival (a reload) changes nothing.
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Identität bestätigt</title></head>` +
			`<body><h1>Identität bestätigt</h1><p>Kehren Sie zu pforte-app im Terminal zurück. ` +
			`(Identity confirmed: return to pforte-app in the terminal.)</p></body></html>`))
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// Wait returns the first code the return address receives.
func (r *EIDReturn) Wait(ctx context.Context) (string, error) {
	select {
	case c := <-r.codes:
		return c, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close stops the listener.
func (r *EIDReturn) Close() error {
	err := r.srv.Close()
	<-r.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
