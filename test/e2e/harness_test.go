package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx" for the schema set-up
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/adapters/sqlstore"
	"github.com/pforte-id/pforte/adapters/sqlstore/sqlstoretest"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
)

// ---- database engines ----

// engine is a database the server can run on.
type engine struct {
	name string
	// storage returns the configuration of a fresh, empty database for t,
	// removed when t ends.
	storage func(t *testing.T) sqlstore.Config
}

var (
	sqliteEngine   = engine{name: "sqlite", storage: sqliteStorage}
	postgresEngine = engine{name: "postgres", storage: postgresStorage}
)

// forEachEngine runs fn as the parallel subtests sqlite and postgres.
func forEachEngine(t *testing.T, fn func(t *testing.T, eng engine)) {
	t.Helper()
	for _, eng := range []engine{sqliteEngine, postgresEngine} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			fn(t, eng)
		})
	}
}

func sqliteStorage(t *testing.T) sqlstore.Config {
	return sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "pforte.db")}
}

// postgresStorage creates a schema of its own for t (dropped at the end)
// and returns a configuration whose connections use it; without a test
// server t is skipped (see sqlstoretest).
func postgresStorage(t *testing.T) sqlstore.Config { return sqlstoretest.Postgres(t, 5) }

// ---- the world: clients and a member ----

// The test member. Its identity is letter-proofed (substantial), so that a
// password-only login visibly reaches only the low level.
const (
	memberID       = "e2e0000000000000000000000000a001"
	memberPassword = coretest.Password
	memberGiven    = "Erika"
	memberFamily   = "Musterfrau"
	memberEmail    = "erika.musterfrau@example.org"
	memberBirth    = "1964-08-12"
)

var memberKVNR = coretest.KVNR("T12345678")

// testClient is a registered relying party and its credentials.
type testClient struct {
	client.Client
	secret string            // client_secret_basic / client_secret_post
	key    *ecdsa.PrivateKey // private_key_jwt
	kid    string
}

// world is what one test's servers are configured with.
type world struct {
	master []byte
	clock  *coretest.Clock
	outbox string     // the letter outbox folder
	web    testClient // confidential web form, client_secret_basic
	svc    testClient // service, client_secret_post, client_credentials
	portal testClient // partner portal, private_key_jwt
	app    testClient // public native app
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{master: make([]byte, 32), clock: coretest.NewClock(time.Now().UTC().Truncate(time.Second)), outbox: t.TempDir()}
	if _, err := rand.Read(w.master); err != nil {
		t.Fatal(err)
	}
	hasher, err := server.SecretHasher(w.master)
	if err != nil {
		t.Fatal(err)
	}
	member := []string{"openid", "profile", "email", "address", "birthdate", "kvnr", "offline_access"}
	w.web = testClient{secret: client.GenerateSecret()}
	w.web.Client = client.Client{
		ID: "e2e-web", Name: "E2E Online-Formular", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		SecretHash: hasher.Hash(w.web.secret), RedirectURIs: []string{"https://forms.example/callback"},
		GrantTypes: []string{client.GrantCode, client.GrantRefresh}, Scopes: member,
	}
	w.svc = testClient{secret: client.GenerateSecret()}
	w.svc.Client = client.Client{
		ID: "e2e-service", Name: "E2E Leistungsservice", Kind: client.Service, AuthMethod: client.AuthSecretPost,
		SecretHash: hasher.Hash(w.svc.secret), GrantTypes: []string{client.GrantClientCredentials},
		Scopes: []string{"claims.read", "claims.write"},
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w.portal = testClient{key: key, kid: "portal-key-1"}
	w.portal.Client = client.Client{
		ID: "e2e-portal", Name: "E2E Partnerportal", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT,
		JWKS: publicJWKS(t, key, w.portal.kid), RedirectURIs: []string{"https://portal.example/callback"},
		GrantTypes: []string{client.GrantCode, client.GrantRefresh}, Scopes: []string{"openid", "profile", "kvnr"},
	}
	w.app = testClient{}
	w.app.Client = client.Client{
		ID: "e2e-app", Name: "E2E Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
		RedirectURIs: []string{"http://127.0.0.1/callback"},
		GrantTypes:   []string{client.GrantCode, client.GrantRefresh}, Scopes: member,
	}
	// These tests drive the protocol with the password page alone (loa.Low):
	// their clients accept it, as a client must state explicitly. A client
	// that does not (client.DefaultMinACR) is tested where the app confirms
	// the login (test/browser) and in TestMinACRRefusesPasswordAlone.
	// The service is the resource server of the clients that log members
	// in (their introspection audience), as the insurer's back ends are.
	for _, c := range []*testClient{&w.web, &w.portal, &w.app} {
		c.MinACR = loa.Low
		c.IntrospectionAudiences = []string{w.svc.ID}
	}
	return w
}

func publicJWKS(t *testing.T, key *ecdsa.PrivateKey, kid string) []byte {
	t.Helper()
	pk, err := jwk.Import(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pk.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(pk); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// options are the server options of w on storage st for issuer.
func (w *world) options(t *testing.T, issuer string, st sqlstore.Config) server.Options {
	t.Helper()
	now := w.clock.Now()
	o := servertest.Options(t, issuer)
	o.Storage = st
	o.MasterKey = w.master
	o.OutboxDir = w.outbox
	o.Clients = []client.Client{w.web.Client, w.svc.Client, w.portal.Client, w.app.Client}
	o.Members = []server.Member{servertest.Member(memberID, member.Member{
		KVNR: memberKVNR, GivenName: memberGiven, FamilyName: memberFamily, BirthDate: memberBirth,
		Email: memberEmail, InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		Address: member.Address{Street: "Domshof 8", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
	}, now)}
	o.Now = w.clock.Now
	return o
}

// ---- server instances ----

// instance is one running server.
type instance struct {
	srv    *server.Server
	base   string // where this instance listens: http://127.0.0.1:port
	issuer string
	clock  *coretest.Clock
	logs   *coretest.Log
	// storage is the database the instance runs on (for the attack
	// catalogue's check that a refused attack changed nothing).
	storage sqlstore.Config
}

// startOption changes the options of one server.
type startOption func(*server.Options)

// start runs a server of w on st, with the issuer set to its own URL.
func (w *world) start(t *testing.T, st sqlstore.Config, opts ...startOption) *instance {
	t.Helper()
	ln, base := servertest.Listen(t)
	return w.serve(t, ln, base, st, opts...)
}

// serve runs a server of w on ln with the given issuer (another
// instance's, for replicas behind one name) until t ends.
func (w *world) serve(t *testing.T, ln net.Listener, issuer string, st sqlstore.Config, opts ...startOption) *instance {
	t.Helper()
	o := w.options(t, issuer, st)
	for _, f := range opts {
		f(&o)
	}
	s := servertest.Serve(t, ln, o)
	// Runs before the server shuts down: a connection the shared client
	// dialled during a burst of concurrent requests but never used is new,
	// not idle, to the server, and graceful shutdown waits 5 seconds for
	// it, so the client closes its idle connections first.
	t.Cleanup(httpClient.CloseIdleConnections)
	return &instance{srv: s.Server, base: s.URL, issuer: issuer, clock: w.clock, logs: s.Logs, storage: st}
}

// ---- HTTP ----

// httpClient is the plain client of relying parties and raw requests: no
// redirects followed, a timeout so that a hanging server fails the test.
var httpClient = &http.Client{
	Timeout:       20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// result is a finished HTTP exchange.
type result struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a JSON object; it fails the test when it is not.
func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

func do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func get(t *testing.T, u string, header map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// postForm posts form to u; auth, when set, prepares the request (Basic
// authentication, say).
func postForm(t *testing.T, u string, form url.Values, auth func(*http.Request)) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	return do(t, req)
}

// basic authenticates as c with client_secret_basic (RFC 6749 §2.3.1:
// form-encoded id and secret).
func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

// ---- the member's browser ----

// browser is the member's user agent: it keeps cookies and follows
// redirects within the host it started on; the redirect back to the
// relying party is captured, not followed.
type browser struct {
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{c: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

func (b *browser) do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("browser %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func (b *browser) get(t *testing.T, u string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

// getNoFollow fetches u without following any redirect.
func (b *browser) getNoFollow(t *testing.T, u string) result {
	t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// submitLogin fills the login page page (served by base) with the KVNR and
// password, posts it and returns the answer, which is not followed when it
// leaves base.
func (b *browser) submitLogin(t *testing.T, base string, page result, kvnr, pw string) result {
	t.Helper()
	if page.status != http.StatusOK || !strings.Contains(string(page.body), `name="password"`) {
		t.Fatalf("expected the login page, got status %d:\n%s", page.status, page.body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("id") == "" || form.Get("csrf") == "" {
		t.Fatalf("login page lacks the hidden id or csrf input:\n%s", page.body)
	}
	form.Set("kvnr", kvnr)
	form.Set("password", pw)
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// callback returns the redirect to the relying party in r.
func callback(t *testing.T, r result) *url.URL {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("expected a redirect to the client, got status %d:\n%s", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ---- relying parties ----

// relyingParty is a client application using go-oidc and x/oauth2.
type relyingParty struct {
	c        testClient
	in       *instance
	ctx      context.Context
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
}

// rp discovers in's issuer with go-oidc as client c. hc, when not nil, is
// the HTTP client for discovery and JWKS.
func (in *instance) rp(t *testing.T, c testClient, hc *http.Client) *relyingParty {
	t.Helper()
	if hc == nil {
		hc = httpClient
	}
	ctx := oidc.ClientContext(context.WithValue(t.Context(), oauth2.HTTPClient, httpClient), hc)
	p, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	style := oauth2.AuthStyleInHeader
	if c.AuthMethod == client.AuthSecretPost || c.AuthMethod == client.AuthNone {
		style = oauth2.AuthStyleInParams
	}
	ep := p.Endpoint()
	ep.AuthStyle = style
	var redirect string
	if len(c.RedirectURIs) > 0 {
		redirect = c.RedirectURIs[0]
	}
	return &relyingParty{
		c: c, in: in, ctx: ctx, provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID, Now: in.clock.Now}),
		conf:     oauth2.Config{ClientID: c.ID, ClientSecret: c.secret, Endpoint: ep, RedirectURL: redirect},
	}
}

// attempt is one authorization request of a relying party.
type attempt struct {
	state, nonce, verifier string
	scopes                 []string
}

func newAttempt(scopes ...string) attempt {
	return attempt{state: randomHex(12), nonce: randomHex(12), verifier: oauth2.GenerateVerifier(), scopes: scopes}
}

// authURL is the authorization request of a as x/oauth2 builds it, with
// PKCE S256 and the nonce.
func (rp *relyingParty) authURL(a attempt) string {
	conf := rp.conf
	conf.Scopes = a.scopes
	return conf.AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce))
}

// code runs the browser through authorization and login and returns the
// code from the redirect, after checking state and iss (RFC 9207).
func (rp *relyingParty) code(t *testing.T, a attempt) string {
	t.Helper()
	b := newBrowser(t)
	page := b.get(t, rp.authURL(a))
	cb := callback(t, b.submitLogin(t, rp.in.base, page, memberKVNR.String(), memberPassword))
	return rp.checkCallback(t, cb, a)
}

func (rp *relyingParty) checkCallback(t *testing.T, cb *url.URL, a attempt) string {
	t.Helper()
	q := cb.Query()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != rp.conf.RedirectURL {
		t.Fatalf("redirected to %s, want %s", got, rp.conf.RedirectURL)
	}
	if e := q.Get("error"); e != "" {
		t.Fatalf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		t.Fatalf("state = %q, want %q", q.Get("state"), a.state)
	}
	if q.Get("iss") != rp.in.issuer {
		t.Fatalf("iss = %q, want the issuer %q (RFC 9207)", q.Get("iss"), rp.in.issuer)
	}
	if q.Get("code") == "" {
		t.Fatal("no code in the redirect")
	}
	return q.Get("code")
}

// tokens is a verified token response.
type tokens struct {
	access, refresh, id string
	idToken             *oidc.IDToken
}

// exchange redeems code with x/oauth2 and verifies the ID token with
// go-oidc: signature against the JWKS, iss, aud, exp, nonce and at_hash.
func (rp *relyingParty) exchange(t *testing.T, code string, a attempt) tokens {
	t.Helper()
	tok, err := rp.conf.Exchange(rp.ctx, code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return rp.verify(t, tok, a.nonce)
}

// login is a whole code flow: authorization, login page, exchange.
func (rp *relyingParty) login(t *testing.T, scopes ...string) tokens {
	t.Helper()
	a := newAttempt(scopes...)
	return rp.exchange(t, rp.code(t, a), a)
}

func (rp *relyingParty) verify(t *testing.T, tok *oauth2.Token, nonce string) tokens {
	t.Helper()
	if !strings.EqualFold(tok.TokenType, "Bearer") {
		t.Errorf("token_type = %q, want Bearer", tok.TokenType)
	}
	out := tokens{access: tok.AccessToken, refresh: tok.RefreshToken}
	out.id, _ = tok.Extra("id_token").(string)
	if out.id == "" {
		t.Fatal("no id_token in the token response")
	}
	idt, err := rp.verifier.Verify(rp.ctx, out.id)
	if err != nil {
		t.Fatalf("verify the ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(out.access); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	out.idToken = idt
	return out
}

// refresh rotates rt with x/oauth2.
func (rp *relyingParty) refresh(rt string) (*oauth2.Token, error) {
	return rp.conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

// oauthError returns the OAuth error code and HTTP status of a failed
// x/oauth2 call.
func oauthError(t *testing.T, err error) (string, int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error response, got %v", err)
	}
	return re.ErrorCode, re.Response.StatusCode
}

// introspect asks the introspection endpoint about tok, authenticated as
// one who may see it: the confidential web client for its own tokens and
// for anything that is not another client's JWT (refresh tokens are only
// ever shown to their holder), the service, the registered resource
// server of the other clients, for theirs.
func (w *world) introspect(t *testing.T, in *instance, tok string) map[string]any {
	t.Helper()
	auth := basic(w.web.ID, w.web.secret)
	form := url.Values{"token": {tok}}
	if holder := jwtClientID(tok); holder != "" && holder != w.web.ID {
		form.Set("client_id", w.svc.ID)
		form.Set("client_secret", w.svc.secret)
		auth = nil
	}
	r := postForm(t, in.base+"/introspect", form, auth)
	if r.status != http.StatusOK {
		t.Fatalf("introspect: status %d: %s", r.status, r.body)
	}
	return r.json(t)
}

// jwtClientID is the client_id claim of tok when it is a compact JWS
// (unverified); "" otherwise.
func jwtClientID(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var cl struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(b, &cl) != nil {
		return ""
	}
	return cl.ClientID
}

func active(m map[string]any) bool { v, _ := m["active"].(bool); return v }

// userinfo calls the userinfo endpoint with the bearer token tok.
func userinfo(t *testing.T, in *instance, tok string) result {
	t.Helper()
	return get(t, in.base+"/userinfo", map[string]string{"Authorization": "Bearer " + tok})
}

// ---- private_key_jwt ----

// assertion is a client assertion of c (RFC 7523) for aud, issued at the
// server's now.
func (c testClient) assertion(t *testing.T, aud string, now time.Time) string {
	t.Helper()
	return c.assertionWithJTI(t, aud, now, randomHex(16))
}

func (c testClient) assertionWithJTI(t *testing.T, aud string, now time.Time, jti string) string {
	t.Helper()
	tok, err := jwt.NewBuilder().
		Issuer(c.ID).Subject(c.ID).Audience([]string{aud}).
		IssuedAt(now).Expiration(now.Add(time.Minute)).JwtID(jti).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(c.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, c.kid); err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ---- JWT inspection ----

// jwtParts decodes the header and payload of a compact JWS without
// verifying it.
func jwtParts(t *testing.T, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWS part: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("JWS part: %v", err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// jwksKids lists the kids the instance publishes.
func jwksKids(t *testing.T, in *instance) []string {
	t.Helper()
	r := get(t, in.base+"/jwks", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// wantOAuthError checks a JSON OAuth error answer.
func wantOAuthError(t *testing.T, r result, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON: %s", ct, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error = %v, want %s: %s", m["error"], code, r.body)
	}
	return m
}
