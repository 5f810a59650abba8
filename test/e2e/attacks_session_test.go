package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/core/loa"
)

// Attacks on the browser's single sign-on session and on the server's
// operation: session fixation and replay, the listener's surface, headers
// an attacker controls, what ends up in the log.

func init() {
	addAttacks(
		attack{id: "SESSION-01", name: "Session fixation: a session cookie planted before the login", source: "OWASP Session Management, RFC 9700 §4.7", run: attackSessionFixation},
		attack{id: "SESSION-02", name: "Session cookie readable by scripts or sent cross-site", source: "RFC 6265bis §4.1.2.5–7, OWASP Session Management", run: attackSessionCookieFlags},
		attack{id: "SESSION-03", name: "Session cookie replayed after logout", source: "OpenID RP-Initiated Logout §2, OWASP Session Management", run: attackSessionAfterLogout},
		attack{id: "SESSION-04", name: "Session used after its idle timeout", source: "OWASP ASVS 3.3.2, BSI TR-03107-1", run: attackSessionIdle},
		attack{id: "SESSION-05", name: "A password session raised to two factors without the app", source: "OpenID Connect Core §3.1.2.1 (acr_values)", run: attackSessionLevel},
		attack{id: "OPS-01", name: "Metrics and profiling reached on the public listener", source: "Pforte: operations (OWASP API8:2023)", run: attackPublicDiagnostics},
		attack{id: "OPS-02", name: "Host header injection into the issuer and the links Pforte sends", source: "RFC 9700 §4.1, OWASP Host header injection", run: attackHostHeader},
		attack{id: "OPS-03", name: "Rate limit bypass by a forged X-Forwarded-For", source: "Pforte: operations, RFC 7239 §8", run: attackForwardedFor},
		attack{id: "OPS-04", name: "Secrets in the log: password, PIN, codes and tokens of a whole flow", source: "RFC 9700 §4.2, OWASP Logging", run: attackSecretsInLog},
		attack{id: "OPS-05", name: "Oversized requests at every endpoint that reads a body", source: "Pforte: operations (OWASP API4:2023)", run: attackOversized},
	)
}

// ssoCookie is the name of the SSO session cookie on an http issuer.
const ssoCookie = "pforte_session"

func attackSessionFixation(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	base := mustURL(t, in.base)
	planted := "fixated-by-the-attacker-0123456789abcdefghij"
	victim := newBrowser(t)
	victim.c.Jar.SetCookies(base, []*http.Cookie{{Name: ssoCookie, Value: planted, Path: "/"}})
	rp.logIn(t, victim, "openid")
	var got string
	for _, c := range victim.c.Jar.Cookies(base) {
		if c.Name == ssoCookie {
			got = c.Value
		}
	}
	if got == "" || got == planted {
		t.Fatalf("after the login the session cookie is %q; want a new value", got)
	}
	// The attacker's browser with the planted value has no session.
	before := in.fingerprint(t)
	attacker := newBrowser(t)
	attacker.c.Jar.SetCookies(base, []*http.Cookie{{Name: ssoCookie, Value: planted, Path: "/"}})
	a := newAttempt("openid")
	rp.wantAuthError(t, rp.authorize(t, attacker, a, url.Values{"prompt": {"none"}}), a, "login_required")
	in.unchanged(t, before, "auth_requests")
}

func attackSessionCookieFlags(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	a := newAttempt("openid")
	page := rp.authorize(t, b, a, nil)
	r := b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)
	var set string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, ssoCookie+"=") {
			set = c
		}
	}
	// Lax, not Strict: the relying party's top-level redirect to
	// /authorize must carry it; every form that acts on it has a CSRF token.
	if set == "" || !strings.Contains(set, "; HttpOnly") || !strings.Contains(set, "; SameSite=Lax") ||
		!strings.Contains(set, "; Path=/") || strings.Contains(set, "Domain=") {
		t.Fatalf("the session cookie is set as %q; want HttpOnly, SameSite=Lax, Path=/, host-only", set)
	}
}

func attackSessionAfterLogout(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	tok := rp.logIn(t, b, "openid")
	cookies := b.c.Jar.Cookies(mustURL(t, in.base))
	r := b.getNoFollow(t, in.base+"/end_session?"+url.Values{"id_token_hint": {tok.id}, "post_logout_redirect_uri": {webBye}}.Encode())
	if r.status != http.StatusFound {
		t.Fatalf("logout: %d", r.status)
	}
	before := in.fingerprint(t)
	replay := newBrowser(t)
	replay.c.Jar.SetCookies(mustURL(t, in.base), cookies)
	a := newAttempt("openid")
	rp.wantAuthError(t, rp.authorize(t, replay, a, url.Values{"prompt": {"none"}}), a, "login_required")
	if !loginPage(rp.authorize(t, replay, newAttempt("openid"), nil)) {
		t.Fatal("the replayed cookie skipped the login page")
	}
	in.unchanged(t, before, "auth_requests")
}

func attackSessionIdle(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	rp.logIn(t, b, "openid")
	w.clock.Advance(31 * time.Minute)
	before := in.fingerprint(t)
	a := newAttempt("openid")
	rp.wantAuthError(t, rp.authorize(t, b, a, url.Values{"prompt": {"none"}}), a, "login_required")
	in.unchanged(t, before, "auth_requests", "sessions")
}

func attackSessionLevel(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	rp.logIn(t, b, "openid") // password alone: low
	before := in.fingerprint(t)
	// prompt=none cannot raise the level: the app's confirmation needs
	// the member.
	a := newAttempt("openid")
	rp.wantAuthError(t, rp.authorize(t, b, a, url.Values{"prompt": {"none"}, "acr_values": {loa.EIDAS.Substantial}}), a, "interaction_required")
	in.unchanged(t, before, "auth_requests")
	// Without prompt=none the session is not enough either: the member
	// sees the app's confirmation (no device here: its page), no code.
	r := rp.authorize(t, b, newAttempt("openid"), url.Values{"acr_values": {loa.EIDAS.Substantial}})
	if r.status == http.StatusFound {
		t.Fatalf("a password session answered acr_values=substantial with a redirect: %s", r.header.Get("Location"))
	}
}

func attackPublicDiagnostics(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap", "/admin/metrics", "/debug/vars"} {
		if r := get(t, in.base+path, nil); r.status != http.StatusNotFound {
			t.Errorf("%s on the public listener: status %d", path, r.status)
		}
	}
}

func attackHostHeader(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	send := func(u string) result {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		return do(t, req)
	}
	for _, u := range []string{in.base + "/.well-known/openid-configuration", rp.authURL(newAttempt("openid"))} {
		r := send(u)
		if strings.Contains(string(r.body), "evil.example") || strings.Contains(r.header.Get("Location"), "evil.example") {
			t.Errorf("%s: the answer names the injected host: %s %s", u, r.header.Get("Location"), r.body)
		}
	}
	if m := get(t, in.base+"/.well-known/openid-configuration", nil).json(t); m["issuer"] != in.issuer {
		t.Fatalf("issuer %v", m["issuer"])
	}
}

func attackForwardedFor(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t)) // no trusted proxy
	for range 10 {
		accepted(t, in.requestLetter(t, randomKVNR().String(), "1970-01-01", nil))
	}
	before := in.fingerprint(t)
	// Every request claims another client address: without a trusted
	// proxy the claim is ignored and the limit of the real address holds.
	for i := range 5 {
		for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP"} {
			v := fmt.Sprintf("203.0.113.%d", i+1)
			if h == "Forwarded" {
				v = "for=" + v
			}
			wantRetryAfter(t, in.requestLetter(t, randomKVNR().String(), "1970-01-01", map[string]string{h: v}), time.Hour)
		}
	}
	in.unchanged(t, before, "rate_windows")
	in.wantWork(t, 10, 0)
}

func attackSecretsInLog(t *testing.T) {
	w := newWorld(t)
	m := applicant("Hauke", "Rickmers", "1979-03-14", w.clock.Now())
	in, lp := w.letterOrdered(t, sqliteEngine, m, withServiceApp)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	ph := in.bindPhone(t, token, "Telefon")
	wantActive(t, in.setPIN(t, token, appPIN))
	ph.pin = appPIN
	// An app login with refresh, a web login with the password, wrong
	// secrets too: nothing of it may reach the log.
	app := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
	key := newDPoPKey(t)
	tok, err := app.Login(t.Context(), appclient.LoginRequest{Scope: "openid offline_access", Device: ph.device(t, in), PIN: appPIN, DPoP: key})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := tok.Claims["sub"].(string)
	refreshed, err := app.Refresh(t.Context(), key, tok.RefreshToken, sub)
	if err != nil {
		t.Fatal(err)
	}
	rp := in.rp(t, w.web, nil)
	web := rp.login(t, "openid", "offline_access")
	b := newBrowser(t)
	b.submitLogin(t, in.base, b.get(t, rp.authURL(newAttempt("openid"))), m.KVNR.String(), "Falsches-Passwort-1234")
	wantProblem(t, in.activate(t, m.KVNR.String(), "WXYZ WXYZ WXYZ", lp.code), http.StatusUnauthorized, "unauthenticated")
	logs := in.logs.String()
	wantNoSecrets(t, "the log", logs, []string{appPIN}, memberPassword, devicePassword, "Falsches-Passwort-1234",
		lp.initialPassword, lp.code, token, tok.AccessToken, tok.RefreshToken, tok.IDToken, refreshed.RefreshToken, web.access, web.refresh, web.id, w.web.secret)
	if !strings.Contains(logs, `"path":"/token"`) {
		t.Fatal("the log is empty: the check would prove nothing")
	}
}

func attackOversized(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t), withServiceApp)
	big := strings.Repeat("a", 2<<20)
	before := in.fingerprint(t)
	for _, c := range []struct{ path, ct string }{
		{"/token", "application/x-www-form-urlencoded"}, {"/par", "application/x-www-form-urlencoded"},
		{"/introspect", "application/x-www-form-urlencoded"}, {"/revoke", "application/x-www-form-urlencoded"},
		{"/login", "application/x-www-form-urlencoded"}, {"/end_session", "application/x-www-form-urlencoded"},
		{"/app/v1/registrations", "application/json"}, {"/app/v1/activations", "application/json"},
		{"/app/v1/devices/list", "application/json"}, {"/app/v1/transfers/redemption", "application/json"},
	} {
		req, err := http.NewRequest(http.MethodPost, in.base+c.path, strings.NewReader("x="+big))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", c.ct)
		if r := do(t, req); r.status != http.StatusRequestEntityTooLarge && r.status != http.StatusBadRequest {
			t.Errorf("%s with 2 MiB: status %d", c.path, r.status)
		}
	}
	in.unchanged(t, before, "rate_windows")
}
