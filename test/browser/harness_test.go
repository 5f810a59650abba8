package browser

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/member"
)

// ---- what the browser needs ----

// requireBrowser reports whether a missing browser or axe-core fails the
// test instead of skipping it (.ci/run sets it).
func requireBrowser() bool { return os.Getenv("PFORTE_TEST_REQUIRE_BROWSER") == "1" }

// missing skips or fails t because what names is not there.
func missing(t *testing.T, what, how string) {
	t.Helper()
	msg := what + " is missing: " + how + " (or run bash .ci/run, which installs it)"
	if requireBrowser() {
		t.Fatal("PFORTE_TEST_REQUIRE_BROWSER=1: " + msg)
	}
	t.Skip(msg)
}

// chromiumPath finds the browser: PFORTE_TEST_CHROMIUM, then the names
// Debian and others install it under.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PFORTE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "Chromium", "apt-get install -y chromium")
	return ""
}

// axeSource is axe-core's script, pinned in package-lock.json.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

// ---- the member's browser ----

// page is one browser tab with what it has reported.
type page struct {
	t    *testing.T
	ctx  context.Context
	name string // the test's name, for screenshot files

	mu       sync.Mutex
	console  []string // every console message and log entry
	shotSeq  int
	lastShot string
}

// newPage starts headless Chromium with a fresh profile and opens a tab,
// for a member whose browser asks for German. The browser ends with t.
func newPage(t *testing.T) *page {
	t.Helper()
	return newPageIn(t, "de-DE,de;q=0.9")
}

// newPageIn is newPage for a browser whose languages are acceptLanguage
// (an Accept-Language value; its first tag is also Chromium's --lang).
func newPageIn(t *testing.T, acceptLanguage string) *page {
	t.Helper()
	exe := chromiumPath(t)
	if _, err := axeSource(); err != nil {
		missing(t, "axe-core", "npm ci --prefix test/browser")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI; the browser only visits loopback
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine's network is closed: without these, Chromium keeps
		// trying to reach its update, sync and QUIC endpoints.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1000, 900),
		chromedp.Flag("lang", strings.Split(acceptLanguage, ",")[0]),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &page{t: t, name: regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(p.listen))
	p.ctx = ctx
	// Headless Chromium does not always derive Accept-Language from
	// --lang; the header is set for every request of the tab as well.
	_, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": acceptLanguage}})
	}
	if err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.screenshot("failure")
			t.Logf("browser console:\n%s", strings.Join(p.messages(), "\n"))
		}
		cancelCtx()
		cancelAlloc()
	})
	return p
}

// listen records what the browser reports: console calls, uncaught
// exceptions and the browser's log, where CSP violations appear. It runs on
// the tab's reader goroutine and must return fast.
func (p *page) listen(ev any) {
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		p.record(fmt.Sprintf("[%s %s] %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
		}
		p.record(fmt.Sprintf("[console %s] %s", ev.Type, strings.Join(parts, " ")))
	case *runtime.EventExceptionThrown:
		p.record(fmt.Sprintf("[exception] %s %v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
	}
}

func (p *page) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.console = append(p.console, s)
}

func (p *page) messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// run runs steps with a time limit, failing the test on error.
func (p *page) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	get(p, what, chromedp.Steps(steps...))
}

// get runs a with a time limit and returns its value, failing the test on
// error.
func get[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v (at %s)", what, err, p.location())
	}
	return v
}

// location is the URL the tab shows.
func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

// text returns the visible text of the element sel (CSS).
func (p *page) text(sel string) string {
	p.t.Helper()
	p.run("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return get(p, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// value returns the value of the input sel (CSS).
func (p *page) value(sel string) string {
	p.t.Helper()
	return get(p, "read "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// attribute returns the attribute name of the element sel (CSS); empty
// when it has none.
func (p *page) attribute(sel, name string) string {
	p.t.Helper()
	return get(p, "read "+sel+" "+name, chromedp.Attributes(chromedp.CSS(sel)))[name]
}

// clearCookies drops every cookie of the browser.
func clearCookies() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	})
}

// cspViolations returns what the browser reported against the pages'
// Content-Security-Policy so far.
func (p *page) cspViolations() []string {
	var out []string
	for _, m := range p.messages() {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Content-Security-Policy") {
			out = append(out, m)
		}
	}
	return out
}

// noCSPViolation fails the test when the browser refused anything.
func (p *page) noCSPViolation() {
	p.t.Helper()
	if v := p.cspViolations(); len(v) > 0 {
		p.t.Fatalf("the browser reported Content-Security-Policy violations:\n%s", strings.Join(v, "\n"))
	}
}

// axeFinding is one violated accessibility rule.
type axeFinding struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkPage runs axe-core on the current page, fails on serious or
// critical findings (logging the others), checks the console for CSP
// violations and writes a screenshot named shot.
func (p *page) checkPage(shot string) {
	p.t.Helper()
	p.screenshot(shot)
	src, err := axeSource()
	if err != nil {
		p.t.Fatal(err)
	}
	get(p, "inject axe-core", chromedp.Evaluate[bool](src+";true"))
	raw := get(p, "run axe-core", chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map(n => n.html)}))))`, chromedp.EvalAwaitPromise))
	var findings []axeFinding
	if err := json.Unmarshal([]byte(raw), &findings); err != nil {
		p.t.Fatalf("axe-core result: %v\n%s", err, raw)
	}
	for _, f := range findings {
		line := fmt.Sprintf("%s page: accessibility %s (%s): %s %v", shot, f.ID, f.Impact, f.Help, f.Nodes)
		if f.Impact == "serious" || f.Impact == "critical" {
			p.t.Error(line)
		} else {
			p.t.Log(line)
		}
	}
	p.noCSPViolation()
}

// screenshot writes the whole page as <test>-<n>-<name>.png into the test's
// artifact directory and, when PFORTE_TEST_SCREENSHOTS is set, as
// <name>.png into that directory.
func (p *page) screenshot(name string) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || len(buf) == 0 {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.mu.Lock()
	p.shotSeq++
	file := fmt.Sprintf("%s-%02d-%s.png", p.name, p.shotSeq, name)
	p.mu.Unlock()
	dir := p.t.ArtifactDir()
	if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
	p.lastShot = filepath.Join(dir, file)
	if out := os.Getenv("PFORTE_TEST_SCREENSHOTS"); out != "" && name != "failure" {
		if err := os.MkdirAll(out, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(out, name+".png"), buf, 0o644)
		}
	}
}

// ---- the server ----

// The member of the browser tests: letter-proofed, with a password.
const (
	memberPassword = coretest.Password
	memberGiven    = "Erika"
	memberFamily   = "Musterfrau"
	memberBirth    = "1964-08-12"
)

var memberKVNR = coretest.KVNR("B12345678")

// memberPIN is the release PIN of the member's phone; otherKVNR is a
// second member, letter-proofed too, who has no device (and the same
// password).
const (
	memberPIN     = "470815"
	otherPassword = coretest.Password
)

var otherKVNR = coretest.KVNR("C12345678")

// instance is a running Pforte with one web client whose redirect URI is
// the test relying party's, and the member's phone: the reference
// client's software key, bound to the member's account.
type instance struct {
	issuer string
	logs   *coretest.Log
	phone  appclient.Device
	// skew moves the server's clock ahead of the wall clock.
	skew *atomic.Int64
}

// advance moves the server's clock ahead by d.
func (in *instance) advance(d time.Duration) { in.skew.Add(int64(d)) }

// app is the reference client's connection to the instance.
func (in *instance) app(t *testing.T) *appclient.Client {
	t.Helper()
	c, err := appclient.Discover(t.Context(), appclient.Config{
		Issuer: in.issuer, ClientID: "pforte-app", RedirectURI: "de.hkk.serviceapp:/oauth2redirect",
	})
	if err != nil {
		t.Fatalf("the reference client cannot discover Pforte: %v", err)
	}
	return c
}

// startPforte runs the real server on loopback with a fresh SQLite
// database, the test members (the first with a bound phone) and rp's
// client, and whatever opts change, until t ends, and connects rp to it.
func startPforte(t *testing.T, rp *relyingParty, opts ...func(*server.Options)) *instance {
	t.Helper()
	key, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	skew := new(atomic.Int64)
	s := servertest.Start(t, func(o *server.Options) {
		secrets, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		web := rp.client
		web.SecretHash = secrets.Hash(rp.secret)
		o.Clients = []client.Client{web}
		now := time.Now().UTC()
		m := servertest.Member("browser000000000000000000000a001", member.Member{
			KVNR: memberKVNR, GivenName: memberGiven, FamilyName: memberFamily, BirthDate: memberBirth,
			InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		}, now)
		m.Device = &server.Device{
			ID: "browser-phone-0001", Name: "Telefon von Erika", CredentialID: key.CredentialID(),
			PublicKey: key.PublicKey(), PIN: memberPIN,
		}
		o.Members = []server.Member{m, servertest.Member("browser000000000000000000000a002", member.Member{
			KVNR: otherKVNR, GivenName: "Max", FamilyName: "Mustermann", BirthDate: "1971-02-03",
			InsuredFrom: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		}, now)}
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		for _, f := range opts {
			f(o)
		}
	})
	rp.connect(t, s.URL)
	// A loopback issuer is the WebAuthn relying party localhost, so the
	// app's client data carry http://localhost:PORT.
	origin := "http://localhost:" + strings.TrimPrefix(s.URL, "http://127.0.0.1:")
	return &instance{issuer: s.URL, logs: s.Logs, skew: skew,
		phone: appclient.Device{BindingID: "browser-phone-0001", Key: key, Origin: origin}}
}

// ---- the relying party ----

// relyingParty is an online form as a relying party would write it with
// coreos/go-oidc and x/oauth2: "/" starts a login (state, nonce, PKCE
// S256), "/callback" checks state and iss, redeems the code and verifies
// the ID token, then shows who logged in.
type relyingParty struct {
	base   string
	client client.Client // its registration at Pforte, without the secret's hash
	secret string

	mu       sync.Mutex
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
	issuer   string
	pending  map[string]attempt // by state
	results  []loginResult
	// logouts are the back-channel logout tokens it received and
	// verified; logoutErrs what it refused.
	logouts    []logoutToken
	logoutErrs []string
}

// logoutToken is what a relying party reads from a verified logout token.
type logoutToken struct {
	SID, Subject string
}

type attempt struct{ nonce, verifier string }

// loginResult is what the relying party saw at its callback.
type loginResult struct {
	Err     string
	Subject string
	ACR     string
	AMR     []string
	// SID, AuthTime, IDToken and RefreshToken are the login's, for the
	// tests of single sign-on and logout.
	SID          string
	AuthTime     int64
	IDToken      string
	RefreshToken string
}

// newRelyingParty listens on loopback; its registration is ready before
// Pforte starts, its OIDC configuration after (connect). Its client
// states no minimum level: substantial, the default, so a password alone
// does not reach it.
func newRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newRelyingPartyOn(t, ln, "browser-forms", "Online-Formulare", "Online forms")
}

// newRelyingPartyOn is a relying party listening on ln, registered as id
// with the names members see.
func newRelyingPartyOn(t *testing.T, ln net.Listener, id, name, nameEN string) *relyingParty {
	t.Helper()
	rp := &relyingParty{base: "http://" + ln.Addr().String(), secret: randomHex(24), pending: map[string]attempt{}}
	rp.client = client.Client{
		ID: id, Name: name, NameEN: nameEN, Kind: client.Web, AuthMethod: client.AuthSecretBasic,
		RedirectURIs:           []string{rp.base + "/callback"},
		PostLogoutRedirectURIs: []string{rp.base + "/"},
		BackchannelLogoutURI:   rp.base + "/backchannel-logout",
		GrantTypes:             []string{client.GrantCode, client.GrantRefresh},
		Scopes:                 []string{"openid", "profile"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", rp.start)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("POST /backchannel-logout", rp.backchannelLogout)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rp
}

// connect discovers Pforte at issuer.
func (rp *relyingParty) connect(t *testing.T, issuer string) {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.issuer = issuer
	rp.verifier = p.Verifier(&oidc.Config{ClientID: rp.client.ID})
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	rp.conf = &oauth2.Config{
		ClientID: rp.client.ID, ClientSecret: rp.secret, Endpoint: ep,
		RedirectURL: rp.client.RedirectURIs[0], Scopes: rp.client.Scopes,
	}
}

func (rp *relyingParty) start(w http.ResponseWriter, r *http.Request) {
	state, a := randomHex(16), attempt{nonce: randomHex(16), verifier: oauth2.GenerateVerifier()}
	rp.mu.Lock()
	rp.pending[state] = a
	conf := rp.conf
	rp.mu.Unlock()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce)}
	// The test asks for protocol parameters through the start page's query.
	for _, k := range []string{"prompt", "max_age", "acr_values"} {
		if v := r.URL.Query().Get(k); v != "" {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	http.Redirect(w, r, conf.AuthCodeURL(state, opts...), http.StatusFound)
}

func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	res := rp.redeem(r)
	rp.mu.Lock()
	rp.results = append(rp.results, res)
	rp.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = rpPage.Execute(w, res)
}

// redeem checks the callback and redeems its code.
func (rp *relyingParty) redeem(r *http.Request) loginResult {
	q := r.URL.Query()
	rp.mu.Lock()
	a, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	conf, verifier, issuer := rp.conf, rp.verifier, rp.issuer
	rp.mu.Unlock()
	switch {
	case !ok:
		return loginResult{Err: "unknown state"}
	case q.Get("error") != "":
		return loginResult{Err: q.Get("error") + ": " + q.Get("error_description")}
	case q.Get("iss") != issuer:
		return loginResult{Err: "iss " + q.Get("iss") + " is not the issuer (RFC 9207)"}
	}
	tok, err := conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		return loginResult{Err: "exchange: " + err.Error()}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(r.Context(), raw)
	if err != nil {
		return loginResult{Err: "ID token: " + err.Error()}
	}
	if idt.Nonce != a.nonce {
		return loginResult{Err: "nonce mismatch"}
	}
	var claims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		SID      string   `json:"sid"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		return loginResult{Err: "claims: " + err.Error()}
	}
	return loginResult{Subject: idt.Subject, ACR: claims.ACR, AMR: claims.AMR, SID: claims.SID, AuthTime: claims.AuthTime,
		IDToken: raw, RefreshToken: tok.RefreshToken}
}

// backchannelLogout takes a logout token as a relying party must (OpenID
// Connect Back-Channel Logout 1.0 §2.6): the signature against Pforte's
// keys, iss, aud and exp (go-oidc's verifier), typ logout+jwt, the logout
// event, sid, and no nonce.
func (rp *relyingParty) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	raw := r.PostFormValue("logout_token")
	rp.mu.Lock()
	verifier := rp.verifier
	rp.mu.Unlock()
	fail := func(why string) {
		rp.mu.Lock()
		rp.logoutErrs = append(rp.logoutErrs, why)
		rp.mu.Unlock()
		http.Error(w, why, http.StatusBadRequest)
	}
	tok, err := verifier.Verify(r.Context(), raw)
	if err != nil {
		fail("verify: " + err.Error())
		return
	}
	head, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
	var h struct {
		Typ string `json:"typ"`
	}
	if err != nil || json.Unmarshal(head, &h) != nil || h.Typ != "logout+jwt" {
		fail("typ is not logout+jwt")
		return
	}
	var cl struct {
		SID    string                    `json:"sid"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err := tok.Claims(&cl); err != nil || cl.SID == "" || cl.Nonce != nil ||
		cl.Events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		fail("claims: sid, events or a nonce")
		return
	}
	rp.mu.Lock()
	rp.logouts = append(rp.logouts, logoutToken{SID: cl.SID, Subject: tok.Subject})
	rp.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// receivedLogouts returns the logout tokens received so far and the
// refusals.
func (rp *relyingParty) receivedLogouts() ([]logoutToken, []string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.logouts), slices.Clone(rp.logoutErrs)
}

// lastResult is what the relying party saw at its last callback.
func (rp *relyingParty) lastResult() (loginResult, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.results) == 0 {
		return loginResult{}, errors.New("the relying party saw no callback")
	}
	return rp.results[len(rp.results)-1], nil
}

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test relying party</title></head><body><main>
{{if .Err}}<h1>Login failed</h1><p id="error">{{.Err}}</p>
{{else}}<h1>Logged in</h1><p id="subject">{{.Subject}}</p><p id="acr">{{.ACR}}</p>{{end}}
</main></body></html>`))

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
