package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// passwordLoginLoad is the browser login of a web client (an online form)
// with member number and password: the authorization request with PKCE
// S256, the login page, the form with KVNR and password, the redirect
// back with the code, and the code exchange, whose ID token is verified
// as the relying party would (signature, issuer, audience, expiry, nonce,
// at_hash). Each operation is one whole login of a random seeded member
// in a browser of its own (a fresh cookie jar). The server computes one
// Argon2id hash per login, which bounds the throughput: see --argon2-ms.
type passwordLoginLoad struct {
	*env
	progress io.Writer
	members  []seedMember
	verifier *oidc.IDTokenVerifier
	redirect *url.URL
	scope    string
	// phones are the members' devices, aligned with members.
	phones []*phone
}

func (w *passwordLoginLoad) Setup(ctx context.Context) error {
	if err := w.setup(ctx); err != nil {
		return err
	}
	// One login before the timer: a client or redirect URI the server
	// does not know fails here, once, with its reason.
	return w.Do(ctx)
}

// setup discovers the issuer and seeds the members.
func (w *passwordLoginLoad) setup(ctx context.Context) error {
	if err := needSeeds(w.cfg); err != nil {
		return err
	}
	if err := w.discover(ctx); err != nil {
		return err
	}
	if w.md.AuthorizationEndpoint == "" {
		return errors.New("the discovery document names no authorization_endpoint")
	}
	var err error
	if w.redirect, err = url.Parse(w.cfg.WebRedirectURI); err != nil {
		return fmt.Errorf("--web-redirect-uri: %w", err)
	}
	w.scope = w.cfg.Scope
	if w.scope == "" {
		w.scope = "openid"
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, w.hc), w.md.Issuer)
	if err != nil {
		return err
	}
	w.verifier = p.Verifier(&oidc.Config{ClientID: w.cfg.ClientID})
	ms, err := w.readMembers()
	if err != nil {
		return err
	}
	origin := w.cfg.Origin
	if origin == "" {
		origin = appOrigin(w.cfg.Issuer)
	}
	// A password alone activates no account: the enrollment ends with the
	// device and the PIN, so the members are seeded as for app-login.
	start := time.Now()
	phones, err := w.enrollMembers(ctx, ms, origin)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	fmt.Fprintf(w.progress, "%d members registered by letter with password, device and PIN in %v\n", len(ms), time.Since(start).Round(time.Millisecond))
	w.members, w.phones = ms, phones
	return nil
}

// stepError names the step of an operation that failed.
type stepError struct {
	Step string
	Err  error
}

func (e *stepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *stepError) Unwrap() error { return e.Err }

func inStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{Step: step, Err: err}
}

// Steps of a password login.
const (
	stepAuthorize = "authorization request"
	stepPage      = "login page"
	stepPassword  = "KVNR and password"
	stepToken     = "code exchange"
)

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

func (w *passwordLoginLoad) Do(ctx context.Context) error {
	m := w.members[mrand.IntN(len(w.members))]
	_, f, back, err := w.password(ctx, m)
	if err != nil {
		return err
	}
	return w.complete(ctx, back, f, stepPassword, nil)
}

// flow is what a relying party keeps of one login: state, nonce and the
// PKCE verifier.
type flow struct{ state, nonce, verifier string }

// password opens an authorization request in a new browser of member m
// and posts KVNR and password; it returns the browser, the flow and the
// answer to the post, redirects within the issuer followed.
func (w *passwordLoginLoad) password(ctx context.Context, m seedMember) (*http.Client, flow, page, error) {
	jar, _ := cookiejar.New(nil)
	browser := *w.hc // shares the transport; redirects are not followed
	browser.Jar = jar
	f := flow{state: randomString(), nonce: randomString(), verifier: randomString()}
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{
		"client_id": {w.cfg.ClientID}, "response_type": {"code"}, "scope": {w.scope},
		"redirect_uri": {w.cfg.WebRedirectURI}, "state": {f.state}, "nonce": {f.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	authURL, err := url.Parse(w.md.AuthorizationEndpoint)
	if err != nil {
		return nil, f, page{}, err
	}
	authURL.RawQuery = q.Encode()

	t := time.Now()
	pg, pageURL, err := w.browse(ctx, &browser, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, f, page{}, inStep(stepAuthorize, err)
	}
	if pg.status != http.StatusOK {
		return nil, f, page{}, inStep(stepPage, &httpError{Status: pg.status, Code: "no login page"})
	}
	w.steps.record(stepPage, time.Since(t))
	form := url.Values{}
	for _, fi := range hiddenInput.FindAllStringSubmatch(string(pg.body), -1) {
		form.Set(fi[1], html.UnescapeString(fi[2]))
	}
	action := formAction.FindStringSubmatch(string(pg.body))
	if action == nil || form.Get("id") == "" || form.Get("csrf") == "" {
		return nil, f, page{}, inStep(stepPage, &httpError{Status: pg.status, Code: "no login form"})
	}
	target, err := pageURL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, f, page{}, inStep(stepPage, err)
	}
	form.Set("kvnr", m.KVNR)
	form.Set("password", seedPassword)

	t = time.Now()
	back, _, err := w.browse(ctx, &browser, http.MethodPost, target, form)
	if err != nil {
		return nil, f, page{}, inStep(stepPassword, err)
	}
	w.steps.record(stepPassword, time.Since(t))
	return &browser, f, back, nil
}

// complete checks back, the answer of step, as the redirect to the client
// with the code of flow f, exchanges the code and verifies the ID token,
// then lets check look at its claims (nil: none).
func (w *passwordLoginLoad) complete(ctx context.Context, back page, f flow, step string, check func(*oidc.IDToken) error) error {
	var with func(*oidc.IDToken, string) error
	if check != nil {
		with = func(idt *oidc.IDToken, _ string) error { return check(idt) }
	}
	return w.completeWith(ctx, back, f, step, with)
}

// completeWith is complete whose check also gets the raw ID token.
func (w *passwordLoginLoad) completeWith(ctx context.Context, back page, f flow, step string, check func(*oidc.IDToken, string) error) error {
	if back.status != http.StatusFound {
		return inStep(step, &httpError{Status: back.status, Code: "login refused"})
	}
	cb, err := url.Parse(back.header.Get("Location"))
	if err != nil {
		return inStep(step, err)
	}
	if cb.Scheme != w.redirect.Scheme || cb.Host != w.redirect.Host || cb.Path != w.redirect.Path {
		return inStep(step, fmt.Errorf("redirected to %s, not to --web-redirect-uri", cb.Redacted()))
	}
	cq := cb.Query()
	switch {
	case cq.Get("error") != "":
		return inStep(step, &httpError{Status: back.status, Code: cq.Get("error")})
	case cq.Get("state") != f.state:
		return inStep(step, errors.New("the redirect carries another state"))
	case cq.Get("iss") != "" && cq.Get("iss") != w.md.Issuer:
		return inStep(step, errors.New("the redirect names another issuer (RFC 9207)"))
	case cq.Get("code") == "":
		return inStep(step, errors.New("the redirect carries no code"))
	}

	t := time.Now()
	body, err := w.postClient(ctx, w.md.TokenEndpoint, url.Values{
		"grant_type": {"authorization_code"}, "code": {cq.Get("code")},
		"redirect_uri": {w.cfg.WebRedirectURI}, "code_verifier": {f.verifier},
	})
	if err != nil {
		return inStep(stepToken, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" || tok.IDToken == "" {
		return inStep(stepToken, &httpError{Status: http.StatusOK, Code: "no access_token or id_token"})
	}
	idt, err := w.verifier.Verify(oidc.ClientContext(ctx, w.hc), tok.IDToken)
	if err != nil {
		return inStep(stepToken, err)
	}
	if idt.Nonce != f.nonce {
		return inStep(stepToken, errors.New("the ID token carries another nonce"))
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return inStep(stepToken, err)
	}
	if check != nil {
		if err := check(idt, tok.IDToken); err != nil {
			return inStep(stepToken, err)
		}
	}
	w.steps.record(stepToken, time.Since(t))
	return nil
}

// page is an answer the browser received.
type page struct {
	status int
	header http.Header
	body   []byte
}

// browse sends a request as the member's browser and follows redirects
// within the issuer's host (at most five); a redirect elsewhere (back to
// the client) is returned, not followed. It returns the last answer and
// its URL.
func (w *passwordLoginLoad) browse(ctx context.Context, hc *http.Client, method string, u *url.URL, form url.Values) (page, *url.URL, error) {
	for range 6 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			return page{}, nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return page{}, nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return page{}, nil, err
		}
		p := page{status: resp.StatusCode, header: resp.Header, body: raw}
		loc := resp.Header.Get("Location")
		if p.status < 300 || p.status > 399 || loc == "" {
			return p, u, nil
		}
		next, err := u.Parse(loc)
		if err != nil {
			return page{}, nil, err
		}
		if next.Host != u.Host {
			return p, u, nil
		}
		u, method, form = next, http.MethodGet, nil
	}
	return page{}, nil, errors.New("more than five redirects within the issuer")
}

// randomString is 256 random bits, base64url: state, nonce and PKCE
// verifier (RFC 7636 wants 43 to 128 characters: 32 bytes).
func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Argon2Ceiling compares a password-login run with the machine's Argon2id
// ceiling: every login costs the server one Argon2id verification, so
// the server cannot log in more members per second than its cores can
// hash, cores ÷ the time of one hash. The time comes from --argon2-ms,
// the ns/op of core/password's BenchmarkVerify (one hash after another on
// one core, default parameters) run on the same machine just before or
// after; the cores are --cores (default: this machine's, the server being
// on loopback).
type Argon2Ceiling struct {
	HashMS        float64 `json:"hash_ms"`
	Cores         int     `json:"cores"`
	CeilingPerSec float64 `json:"per_s"`
	// Reached is the run's throughput ÷ the ceiling; the target is 0.9.
	Reached float64 `json:"reached"`
}

func argon2Ceiling(hashMS float64, cores int, throughput float64) *Argon2Ceiling {
	c := &Argon2Ceiling{HashMS: hashMS, Cores: cores, CeilingPerSec: float64(cores) * 1000 / hashMS}
	c.Reached = throughput / c.CeilingPerSec
	return c
}
