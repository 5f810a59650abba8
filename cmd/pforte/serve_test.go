package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/adapters/tracing/tracingtest"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/configs"
	"github.com/pforte-id/pforte/core/coretest"
)

// TestServeSmoke runs `pforte serve` as a newcomer would, with flags only:
// it starts, becomes ready, serves discovery and a login of a demo member
// on the embedded demo client, and shuts down gracefully when its context
// ends (SIGTERM in main).
func TestServeSmoke(t *testing.T) {
	prev := slog.Default() // serve installs its logger as the default
	t.Cleanup(func() { slog.SetDefault(prev) })

	addr, adminAddr := servertest.FreeAddr(t), servertest.FreeAddr(t)
	issuer := "http://" + addr
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr coretest.Log
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--issuer", issuer, "--data-dir", dataDir}, &stdout, &stderr,
			env(map[string]string{"PFORTE_ADMIN_ADDR": adminAddr}))
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	waitReady(t, hc, issuer, done)

	// Profiles, metrics and health on the admin listener only.
	for _, c := range []struct {
		url  string
		want int
	}{
		{"http://" + adminAddr + "/debug/pprof/", http.StatusOK},
		{"http://" + adminAddr + "/readyz", http.StatusOK},
		{"http://" + adminAddr + "/metrics", http.StatusOK},
		{issuer + "/debug/pprof/", http.StatusNotFound},
		{issuer + "/debug/pprof/heap", http.StatusNotFound},
		{issuer + "/metrics", http.StatusNotFound},
	} {
		resp, err := hc.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}

	// Discovery, with the issuer from the flag.
	octx := oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, hc), hc)
	provider, err := oidc.NewProvider(octx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		ResponseTypes []string `json:"response_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.ResponseTypes, []string{"code"}) || !slices.Equal(meta.PKCE, []string{"S256"}) {
		t.Errorf("discovery advertises %v and %v", meta.ResponseTypes, meta.PKCE)
	}

	// The demo client and the first demo member, from the embedded files.
	var clients clientsFile
	if err := decodeStrict(configs.DevClients, &clients); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(clients.Clients, func(c clientSpec) bool { return c.ID == "online-forms" })
	if i < 0 {
		t.Fatal("configs/dev/clients.yaml has no online-forms client")
	}
	forms := clients.Clients[i]
	var members membersFile
	if err := decodeStrict(configs.DevMembers, &members); err != nil {
		t.Fatal(err)
	}
	// Björn: letter-proofed, with the demo device of
	// configs/dev/pforte-app-demo.json; the online form accepts
	// substantial, so he confirms the login in the app.
	demo := members.Members[1]
	if demo.Device == nil {
		t.Fatal("configs/dev/members.yaml: the second demo member has no device")
	}

	conf := oauth2.Config{
		ClientID: forms.ID, ClientSecret: forms.Secret.Reveal(), Endpoint: provider.Endpoint(),
		RedirectURL: forms.RedirectURIs[0], Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	verifier, state, nonce := oauth2.GenerateVerifier(), "smoke-state", "smoke-nonce"
	approveOnPhone := demoApprover(t, issuer, demo.Device.PIN.Reveal())
	code := browserLogin(t, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)),
		issuer, demo.KVNR, demo.Password.Reveal(), conf.RedirectURL, state, approveOnPhone)
	tok, err := conf.Exchange(octx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: forms.ID}).Verify(octx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != demo.ID {
		t.Errorf("ID token nonce %q sub %q; want %q and the demo member %q", idt.Nonce, idt.Subject, nonce, demo.ID)
	}
	ui, err := provider.UserInfo(octx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims struct {
		GivenName string `json:"given_name"`
	}
	if err := ui.Claims(&claims); err != nil || claims.GivenName != demo.GivenName {
		t.Errorf("userinfo given_name %q (%v), want %q", claims.GivenName, err, demo.GivenName)
	}

	// The login moved the counters the admin listener serves: one web
	// login, confirmed in the app with the right PIN, and its requests.
	resp, err := hc.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		`pforte_logins_total{method="web",outcome="success"} 1`,
		`pforte_logins_total{method="web",outcome="failure"} 0`,
		`pforte_pin_failures_total 0`,
		`pforte_audit_events_total{kind="login.web_approved"} 1`,
		`pforte_http_request_duration_seconds_count{route="/token",status="2xx"} 1`,
	} {
		if !strings.Contains(string(body), "\n"+line+"\n") {
			t.Errorf("the admin listener's metrics lack %s", line)
		}
	}

	// The start message's login URL works as pasted into a browser, for
	// the member, PIN and secret it names, and its verifier redeems the
	// code.
	if demo.KVNR != welcomeKVNR || demo.Password.Reveal() != welcomePassword || demo.Device.PIN.Reveal() != welcomePIN ||
		forms.ID != welcomeClient || forms.Secret.Reveal() != welcomeSecret {
		t.Errorf("the start message names another demo login than configs/dev")
	}
	welcome := stdout.String()
	loginURL, welcomeVerifier := welcomeURL.FindString(welcome), welcomeVerifierRE.FindStringSubmatch(welcome)
	if loginURL == "" || welcomeVerifier == nil {
		t.Fatalf("the start message has no login URL or verifier:\n%s", welcome)
	}
	lu, err := url.Parse(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	code = browserLogin(t, loginURL, issuer, welcomeKVNR, welcomePassword, forms.RedirectURIs[0], lu.Query().Get("state"), approveOnPhone)
	if _, err := conf.Exchange(octx, code, oauth2.VerifierOption(welcomeVerifier[1])); err != nil {
		t.Fatalf("exchange of the start message's login: %v", err)
	}

	// Graceful shutdown: run returns 0 and the port is released.
	stopServe(t, cancel, done)
	for _, u := range []string{issuer + "/healthz", "http://" + adminAddr + "/healthz"} {
		if _, err := hc.Get(u); err == nil {
			t.Errorf("%s still answers after shutdown", u)
		}
	}
	for _, f := range []string{"pforte.db", "master.key"} {
		fi, err := os.Stat(filepath.Join(dataDir, f))
		if err != nil {
			t.Errorf("data dir: %v", err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", f, fi.Mode().Perm())
		}
	}
	if !strings.Contains(stderr.String(), "online-forms") {
		t.Error("the startup log does not name the demo clients")
	}
}

// welcomeURL and welcomeVerifierRE find the login URL and the PKCE
// verifier in the development instance's start message.
var (
	welcomeURL        = regexp.MustCompile(`http://\S+/authorize\?\S+`)
	welcomeVerifierRE = regexp.MustCompile(`code_verifier=(\S+)`)
)

// shownNumber is the number on the approval page.
var shownNumber = regexp.MustCompile(`<p class="number" id="number"[^>]*>([0-9]{2})</p>`)

// demoPhone is the demo device of configs/dev/pforte-app-demo.json, for
// an issuer on loopback (the WebAuthn relying party localhost).
func demoPhone(t *testing.T, issuer string) appclient.Device {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "configs", "dev", "pforte-app-demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Device struct {
			BindingID string                       `json:"binding_id"`
			Key       *authenticator.Authenticator `json:"key"`
		} `json:"device"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return appclient.Device{BindingID: st.Device.BindingID, Key: st.Device.Key, Origin: "http://localhost:" + u.Port()}
}

// demoApprover returns what the member does on the demo device when the
// browser shows a number: the reference client lists the one pending
// approval and approves it with that number and pin.
func demoApprover(t *testing.T, issuer, pin string) func(number int) {
	t.Helper()
	phone := demoPhone(t, issuer)
	return func(number int) {
		ctx := t.Context()
		app, err := appclient.Discover(ctx, appclient.Config{Issuer: issuer, ClientID: "pforte-app", RedirectURI: "de.hkk.serviceapp:/oauth2redirect"})
		if err != nil {
			t.Fatal(err)
		}
		as, err := app.Approvals(ctx, phone)
		if err != nil || len(as) != 1 {
			t.Fatalf("the demo device's approvals: %+v, %v", as, err)
		}
		if d, err := app.Approve(ctx, phone, as[0].ID, number, pin); err != nil || d.Status != "approved" {
			t.Fatalf("approve: %+v, %v", d, err)
		}
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// browserLogin plays the member's browser: it opens authURL, fills the
// login page with kvnr and password and returns the code from the redirect
// to redirectURI, which it does not follow.
func browserLogin(t *testing.T, authURL, issuer, kvnr, password, redirectURI, state string, approve func(number int)) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d %s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("id") == "" || form.Get("csrf") == "" {
		t.Fatalf("the login page lacks id or csrf:\n%s", page)
	}
	form.Set("kvnr", kvnr)
	form.Set("password", password)
	resp, err = b.PostForm(issuer+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if approve != nil {
		// The approval page (after the 303 the client followed): the app
		// approves with its number, then "Weiter".
		m := shownNumber.FindSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("after the password: %d, want the approval page:\n%s", resp.StatusCode, body)
		}
		n, _ := strconv.Atoi(string(m[1]))
		approve(n)
		form = url.Values{}
		for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
		if resp, err = b.PostForm(issuer+"/login/approval", form); err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), redirectURI+"?") {
		t.Fatalf("login redirected to %q, want %s", resp.Header.Get("Location"), redirectURI)
	}
	q := cb.Query()
	if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("callback %s: want the state, iss=%s and a code", cb, issuer)
	}
	return q.Get("code")
}

// A data directory that others can read is reported at start, one that
// only the owner can enter is not.
func TestWarnOpenDataDir(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o700, false}, {0o750, true}, {0o755, true}, {0o701, true}} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		warnOpenDataDir(slog.New(slog.NewTextHandler(&out, nil)), dir)
		got := strings.Contains(out.String(), "level=WARN") && strings.Contains(out.String(), "chmod 700")
		if got != tc.warn {
			t.Errorf("mode %o: warned %v, want %v: %q", tc.mode, got, tc.warn, out.String())
		}
	}
}

// waitReady waits until the server at issuer answers /readyz with 200,
// failing t when serve ends first (its exit code arrives on done) or
// takes longer than 30 seconds to start.
func waitReady(t *testing.T, hc *http.Client, issuer string, done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve ended with %d before it was ready", code)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not become ready")
		}
	}
}

// stopServe ends serve's context, as SIGTERM does, and fails t unless
// serve then returns 0 within 30 seconds.
func stopServe(t *testing.T, cancel context.CancelFunc, done <-chan int) {
	t.Helper()
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited with %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// TestServeTracing runs `pforte serve` with tracing configured by its
// variables only, pointed at a collector: requests on the public and the
// admin listener become spans, the request log lines carry their trace
// ids, and the spans still waiting in the batch reach the collector when
// serve shuts down.
func TestServeTracing(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	col := tracingtest.Start(t)
	addr, adminAddr := servertest.FreeAddr(t), servertest.FreeAddr(t)
	issuer := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr coretest.Log
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--issuer", issuer, "--data-dir", t.TempDir()}, &stdout, &stderr,
			env(map[string]string{
				"PFORTE_ADMIN_ADDR": adminAddr, "PFORTE_TRACING_ENABLED": "true", "PFORTE_TRACING_ENDPOINT": col.URL,
				"PFORTE_TRACING_SERVICE_NAME": "pforte-serve-test",
			}))
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	hc := &http.Client{Timeout: 10 * time.Second}
	waitReady(t, hc, issuer, done)
	for _, u := range []string{issuer + "/.well-known/openid-configuration", "http://" + adminAddr + "/metrics"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
	}
	hc.CloseIdleConnections()
	stopServe(t, cancel, done)
	names := col.Names()
	for _, want := range []string{"GET /readyz", "GET /.well-known/openid-configuration", "GET /metrics"} {
		if !slices.Contains(names, want) {
			t.Errorf("the collector lacks %q: %q", want, names)
		}
	}
	traceOf := map[string]string{}
	for _, s := range col.Spans() {
		if s.Service != "pforte-serve-test" || s.Version != version {
			t.Errorf("span %q of service %q version %q, want version %q", s.Name, s.Service, s.Version, version)
		}
		traceOf[s.Name] = s.TraceID
	}
	var line struct {
		Msg     string `json:"msg"`
		Path    string `json:"path"`
		TraceID string `json:"trace_id"`
	}
	found := false
	for _, l := range strings.Split(stderr.String(), "\n") {
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "http request" && line.Path == "/.well-known/openid-configuration" {
			found = line.TraceID != "" && line.TraceID == traceOf["GET /.well-known/openid-configuration"]
		}
	}
	if !found {
		t.Errorf("no request line of the discovery request with its trace id %s", traceOf["GET /.well-known/openid-configuration"])
	}
}
