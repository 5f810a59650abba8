package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// logoutLoad is RP-initiated logout with back-channel logout to two
// relying parties. One operation: a member logs into the first web client
// with KVNR and password (a new browser, a new session), the second web
// client is answered from that session (prompt=none), the first client
// sends the browser to the end-session endpoint with its ID token as
// id_token_hint, and the operation ends when both clients' back-channel
// logout endpoints — served by this tool at --backchannel-addr — have
// received a logout token for the session that verifies (signature,
// issuer, audience, expiry, typ logout+jwt, the logout event, sid, no
// nonce). The login costs one Argon2id hash, which bounds the throughput;
// the steps show what the logout itself takes.
type logoutLoad struct {
	*passwordLoginLoad
	second    *oidc.IDTokenVerifier
	first     *oidc.IDTokenVerifier
	redirect2 *url.URL
	ln        net.Listener
	srv       *http.Server

	mu      sync.Mutex
	waiting map[string]*delivery // by sid
}

// delivery is what the tool waits for after a logout: one verified
// logout token per client.
type delivery struct {
	got  map[string]bool
	done chan struct{}
}

// Steps of a logout besides the password login's.
const (
	stepSecond = "second client from the session"
	stepLogout = "end_session"
	// stepDelivered is timed from the logout request: the replica that
	// ends a session delivers at once, often before its answer arrives.
	stepDelivered = "both back-channel tokens received"
)

func (w *logoutLoad) Setup(ctx context.Context) error {
	if err := w.setup(ctx); err != nil {
		return err
	}
	var err error
	if w.redirect2, err = url.Parse(w.cfg.SecondRedirectURI); err != nil {
		return fmt.Errorf("--second-redirect-uri: %w", err)
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, w.hc), w.md.Issuer)
	if err != nil {
		return err
	}
	// Logout tokens carry no nonce and are checked like ID tokens for
	// signature, issuer, audience and expiry.
	w.first = p.Verifier(&oidc.Config{ClientID: w.cfg.ClientID})
	w.second = p.Verifier(&oidc.Config{ClientID: w.cfg.SecondClientID})
	w.waiting = map[string]*delivery{}
	if w.ln, err = net.Listen("tcp", w.cfg.BackchannelAddr); err != nil {
		return fmt.Errorf("--backchannel-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /backchannel-logout/{client}", w.receive)
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = w.srv.Serve(w.ln) }()
	return w.Do(ctx)
}

// Close stops the back-channel endpoints.
func (w *logoutLoad) Close() {
	if w.srv != nil {
		_ = w.srv.Close()
	}
}

// receive is a client's back-channel logout endpoint.
func (w *logoutLoad) receive(rw http.ResponseWriter, r *http.Request) {
	clientID := r.PathValue("client")
	verifier := w.first
	if clientID == w.cfg.SecondClientID {
		verifier = w.second
	} else if clientID != w.cfg.ClientID {
		http.Error(rw, "unknown client", http.StatusNotFound)
		return
	}
	raw := r.PostFormValue("logout_token")
	tok, err := verifier.Verify(r.Context(), raw)
	if err != nil {
		http.Error(rw, "invalid logout token", http.StatusBadRequest)
		return
	}
	head, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
	var h struct {
		Typ string `json:"typ"`
	}
	var cl struct {
		SID    string                    `json:"sid"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err != nil || json.Unmarshal(head, &h) != nil || h.Typ != "logout+jwt" || tok.Claims(&cl) != nil ||
		cl.SID == "" || cl.Nonce != nil || cl.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		http.Error(rw, "invalid logout token", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	if d, ok := w.waiting[cl.SID]; ok && !d.got[clientID] {
		d.got[clientID] = true
		if len(d.got) == 2 {
			close(d.done)
		}
	}
	w.mu.Unlock()
	rw.WriteHeader(http.StatusOK)
}

func (w *logoutLoad) Do(ctx context.Context) error {
	m := w.members[mrand.IntN(len(w.members))]
	browser, f, back, err := w.password(ctx, m)
	if err != nil {
		return err
	}
	var sid, hint string
	if err := w.completeWith(ctx, back, f, stepPassword, func(idt *oidc.IDToken, raw string) error {
		var cl struct {
			SID string `json:"sid"`
		}
		if err := idt.Claims(&cl); err != nil || cl.SID == "" {
			return errors.New("the ID token of a browser login has no sid")
		}
		sid, hint = cl.SID, raw
		return nil
	}); err != nil {
		return err
	}
	d := &delivery{got: map[string]bool{}, done: make(chan struct{})}
	w.mu.Lock()
	w.waiting[sid] = d
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiting, sid)
		w.mu.Unlock()
	}()

	t := time.Now()
	if err := w.secondLogin(ctx, browser, sid); err != nil {
		return err
	}
	w.steps.record(stepSecond, time.Since(t))

	t = time.Now()
	end, err := url.Parse(w.md.EndSessionEndpoint)
	if err != nil || w.md.EndSessionEndpoint == "" {
		return inStep(stepLogout, errors.New("the discovery document names no end_session_endpoint"))
	}
	end.RawQuery = url.Values{"id_token_hint": {hint}}.Encode()
	out, _, err := w.browse(ctx, browser, http.MethodGet, end, nil)
	if err != nil {
		return inStep(stepLogout, err)
	}
	if out.status != http.StatusOK {
		return inStep(stepLogout, &httpError{Status: out.status, Code: "logout refused"})
	}
	w.steps.record(stepLogout, time.Since(t))
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		return inStep(stepDelivered, errors.New("not both logout tokens within 30 s"))
	case <-ctx.Done():
		return ctx.Err()
	}
	w.steps.record(stepDelivered, time.Since(t))
	return nil
}

// secondLogin logs the second client in from the browser's session and
// checks that its ID token names session sid.
func (w *logoutLoad) secondLogin(ctx context.Context, browser *http.Client, sid string) error {
	f := flow{state: randomString(), nonce: randomString(), verifier: randomString()}
	sum := sha256.Sum256([]byte(f.verifier))
	auth, err := url.Parse(w.md.AuthorizationEndpoint)
	if err != nil {
		return err
	}
	auth.RawQuery = url.Values{
		"client_id": {w.cfg.SecondClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {w.cfg.SecondRedirectURI}, "state": {f.state}, "nonce": {f.nonce}, "prompt": {"none"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	back, _, err := w.browse(ctx, browser, http.MethodGet, auth, nil)
	if err != nil {
		return inStep(stepSecond, err)
	}
	loc, err := url.Parse(back.header.Get("Location"))
	if back.status != http.StatusFound || err != nil || loc.Host != w.redirect2.Host || loc.Path != w.redirect2.Path {
		return inStep(stepSecond, &httpError{Status: back.status, Code: "not answered from the session"})
	}
	q := loc.Query()
	if q.Get("error") != "" || q.Get("state") != f.state || q.Get("code") == "" {
		return inStep(stepSecond, &httpError{Status: back.status, Code: "no code: " + q.Get("error")})
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {w.cfg.SecondRedirectURI}, "code_verifier": {f.verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.md.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(w.cfg.SecondClientID), url.QueryEscape(w.cfg.SecondClientSecret))
	body, err := w.send(req)
	if err != nil {
		return inStep(stepSecond, err)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return inStep(stepSecond, err)
	}
	idt, err := w.second.Verify(oidc.ClientContext(ctx, w.hc), tok.IDToken)
	if err != nil {
		return inStep(stepSecond, err)
	}
	var cl struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&cl); err != nil || cl.SID != sid || idt.Nonce != f.nonce {
		return inStep(stepSecond, errors.New("the second client's ID token is not of the session"))
	}
	return nil
}
