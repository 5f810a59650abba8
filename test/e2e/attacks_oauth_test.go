package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Attacks of the OAuth 2.0 Security Best Current Practice (RFC 9700) on
// the code flow of a web form (client_secret_basic, password login).

func init() {
	addAttacks(
		attack{id: "OAUTH-01", name: "Code injection: a stolen code redeemed by another client", source: "RFC 9700 §4.5", run: attackCodeOtherClient},
		attack{id: "OAUTH-02", name: "Code injection: a stolen code redeemed with the attacker's PKCE verifier", source: "RFC 9700 §4.5.3", run: attackCodeWrongVerifier},
		attack{id: "OAUTH-03", name: "PKCE downgrade: the code redeemed without a verifier", source: "RFC 9700 §4.8", run: attackPKCEDowngrade},
		attack{id: "OAUTH-04", name: "PKCE downgrade: code_challenge_method plain, or none named", source: "RFC 9700 §2.1.1, RFC 7636 §4.3", run: attackPKCEPlain},
		attack{id: "OAUTH-05", name: "Authorization request of a confidential client without PKCE", source: "RFC 9700 §2.1.1", run: attackNoPKCE},
		attack{id: "OAUTH-06", name: "Open redirector: a redirect_uri of another host", source: "RFC 9700 §4.1, §4.11.1", run: attackRedirectOtherHost},
		attack{id: "OAUTH-07", name: "Redirect URI manipulation: extra path, query, case, scheme, trailing slash", source: "RFC 9700 §4.1.3", run: attackRedirectVariants},
		attack{id: "OAUTH-08", name: "Redirect URI manipulation: look-alike host, userinfo, port, fragment", source: "RFC 9700 §4.1.1", run: attackRedirectLookAlike},
		attack{id: "OAUTH-09", name: "Code redeemed with another redirect_uri than it was issued for", source: "RFC 6749 §4.1.3", run: attackCodeOtherRedirect},
		attack{id: "OAUTH-10", name: "Code replay: the code redeemed a second time", source: "RFC 6749 §4.1.2, RFC 9700 §4.5", run: attackCodeReplay},
		attack{id: "OAUTH-11", name: "Code redeemed after its lifetime", source: "RFC 6749 §4.1.2, FAPI 2.0 §5.3.2.1", run: attackCodeExpired},
		attack{id: "OAUTH-12", name: "Refresh token replay: a rotated refresh token used again", source: "RFC 9700 §4.14.2", run: attackRefreshReuse},
		attack{id: "OAUTH-13", name: "Refresh token of one client used by another", source: "RFC 6749 §6, RFC 9700 §4.14", run: attackRefreshOtherClient},
		attack{id: "OAUTH-14", name: "Access token replayed after its revocation", source: "RFC 7009 §2.1, RFC 9700 §4.10", run: attackRevokedAccessToken},
		attack{id: "OAUTH-15", name: "Login CSRF: the login form posted without or with another request's CSRF token", source: "RFC 9700 §4.7", run: attackLoginCSRF},
		attack{id: "OAUTH-16", name: "Clickjacking: member pages framed by another site", source: "RFC 9700 §4.16", run: attackClickjacking},
		attack{id: "OAUTH-17", name: "Mix-up: authorization responses that do not name their issuer", source: "RFC 9700 §4.4, RFC 9207", run: attackMixUp},
		attack{id: "OAUTH-18", name: "Implicit and hybrid grants: tokens in the front channel", source: "RFC 9700 §2.1.2", run: attackImplicit},
		attack{id: "OAUTH-19", name: "Open redirector at logout: an unregistered post_logout_redirect_uri", source: "RFC 9700 §4.11, OpenID RP-Initiated Logout §3", run: attackLogoutRedirect},
		attack{id: "OAUTH-20", name: "307 redirect: the login POST answered so the browser posts the password on", source: "RFC 9700 §4.12", run: attack307},
		attack{id: "OAUTH-21", name: "Credential leakage via Referer from the login page", source: "RFC 9700 §4.2.4", run: attackReferer},
	)
}

// webVictim is a server whose member has logged in at the web form: the
// code of that login, not yet redeemed, and its attempt.
type webVictim struct {
	w    *world
	in   *instance
	rp   *relyingParty
	a    attempt
	code string
}

func newWebVictim(t *testing.T) webVictim {
	t.Helper()
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	a := newAttempt("openid", "profile", "offline_access")
	return webVictim{w: w, in: in, rp: rp, a: a, code: rp.code(t, a)}
}

// redeemedByVictim checks that the code still works for the member's
// client after the refused attack: the attack spent nothing.
func (v webVictim) redeemedByVictim(t *testing.T) {
	t.Helper()
	tok := v.rp.exchange(t, v.code, v.a)
	if !active(v.w.introspect(t, v.in, tok.access)) {
		t.Fatal("the member's token is not active")
	}
}

func attackCodeOtherClient(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	// The attacker is a registered client too (the partner portal) and
	// redeems the web form's code with its own credentials.
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {v.code}, "redirect_uri": {v.rp.conf.RedirectURL},
		"code_verifier": {v.a.verifier}, "client_id": {v.w.portal.ID}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {v.w.portal.assertion(t, v.in.issuer, v.in.clock.Now())},
	}
	wantOAuthError(t, postForm(t, v.in.base+"/token", form, nil), http.StatusBadRequest, "invalid_grant")
	// No token was issued; the code is spent (a code someone else holds
	// is compromised), so the member's client starts again.
	v.in.unchanged(t, before, "auth_codes", "replay_values")
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
}

func attackCodeWrongVerifier(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, oauth2.GenerateVerifier(), v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
	v.in.unchanged(t, before, "auth_codes")
	// One wrong verifier spends the code: guessing verifiers is one try,
	// and the member's client starts again.
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
}

func attackPKCEDowngrade(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, "", v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_request")
	v.in.unchanged(t, before)
	v.redeemedByVictim(t)
}

// authorizeAs sends a fresh browser to the web form's authorization
// endpoint with the parameters of conf and extra, without following the
// answer.
func (v webVictim) authorizeRaw(t *testing.T, q url.Values) result {
	t.Helper()
	return newBrowser(t).getNoFollow(t, v.in.base+"/authorize?"+q.Encode())
}

// webQuery is a correct authorization request of the web form.
func (v webVictim) webQuery() url.Values {
	return url.Values{
		"client_id": {v.w.web.ID}, "response_type": {"code"}, "scope": {"openid"}, "state": {"st-1"}, "nonce": {"n-1"},
		"redirect_uri": {v.rp.conf.RedirectURL}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
}

// newWebServer is a server with the web form and no login yet.
func newWebServer(t *testing.T) webVictim {
	t.Helper()
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	return webVictim{w: w, in: in, rp: in.rp(t, w.web, nil)}
}

// wantErrorAtClient checks an authorization error sent back to the web
// form's redirect URI, with state and iss.
func (v webVictim) wantErrorAtClient(t *testing.T, r result, code string) {
	t.Helper()
	authorizeErrorAtClient(t, r, v.rp.conf.RedirectURL, "st-1", v.in.issuer, code)
}

func attackPKCEPlain(t *testing.T) {
	v := newWebServer(t)
	before := v.in.fingerprint(t)
	q := v.webQuery()
	q.Set("code_challenge_method", "plain")
	v.wantErrorAtClient(t, v.authorizeRaw(t, q), "invalid_request")
	q.Del("code_challenge_method") // RFC 7636 §4.3: none means plain
	v.wantErrorAtClient(t, v.authorizeRaw(t, q), "invalid_request")
	v.in.unchanged(t, before)
}

func attackNoPKCE(t *testing.T) {
	v := newWebServer(t)
	before := v.in.fingerprint(t)
	q := v.webQuery()
	q.Del("code_challenge")
	q.Del("code_challenge_method")
	v.wantErrorAtClient(t, v.authorizeRaw(t, q), "invalid_request")
	v.in.unchanged(t, before)
}

// wantNoRedirect sends the web form's request with each redirect URI and
// checks that every one ends on Pforte's error page, never at the URI.
func (v webVictim) wantNoRedirect(t *testing.T, redirects ...string) {
	t.Helper()
	before := v.in.fingerprint(t)
	for _, redirect := range redirects {
		q := v.webQuery()
		q.Set("redirect_uri", redirect)
		t.Run(redirect, func(t *testing.T) { wantErrorPage(t, v.authorizeRaw(t, q), http.StatusBadRequest) })
	}
	v.in.unchanged(t, before)
}

func attackRedirectOtherHost(t *testing.T) {
	newWebServer(t).wantNoRedirect(t, "https://evil.example/callback", "https://evil.example/", "//evil.example/callback", "javascript:alert(1)")
}

func attackRedirectVariants(t *testing.T) {
	newWebServer(t).wantNoRedirect(t,
		"https://forms.example/callback/", "https://forms.example/callback/../evil", "https://forms.example/callback?next=https://evil.example",
		"https://forms.example/Callback", "http://forms.example/callback", "HTTPS://forms.example/callback", "https://forms.example/callback%2F..%2Fevil")
}

func attackRedirectLookAlike(t *testing.T) {
	newWebServer(t).wantNoRedirect(t,
		"https://forms.example.evil.example/callback", "https://forms.example@evil.example/callback", "https://evil.example@forms.example/callback",
		"https://forms.example:8443/callback", "https://forms.example/callback#x", "https://forms.example%2eevil.example/callback", "https://forms.example./callback")
}

func attackCodeOtherRedirect(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, "https://forms.example/other"), http.StatusBadRequest, "invalid_grant")
	// No token was issued; the code is spent.
	v.in.unchanged(t, before, "auth_codes")
}

func attackCodeReplay(t *testing.T) {
	v := newWebVictim(t)
	first := v.rp.exchange(t, v.code, v.a)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
	// Someone else holds a copy of the code: what it issued is revoked,
	// and nothing else changed.
	v.in.unchanged(t, before, "auth_codes", "token_families", "access_tokens", "refresh_tokens", "audit_events")
	if active(v.w.introspect(t, v.in, first.access)) {
		t.Error("the access token of a replayed code is still active")
	}
	if _, err := v.rp.refresh(first.refresh); err == nil {
		t.Error("the refresh token of a replayed code still works")
	}
}

func attackCodeExpired(t *testing.T) {
	v := newWebVictim(t)
	v.w.clock.Advance(61 * time.Second)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
	v.in.unchanged(t, before, "auth_codes")
}

func attackRefreshReuse(t *testing.T) {
	v := newWebVictim(t)
	tok := v.rp.exchange(t, v.code, v.a)
	rotated, err := v.rp.refresh(tok.refresh)
	if err != nil {
		t.Fatal(err)
	}
	before := v.in.fingerprint(t)
	_, err = v.rp.refresh(tok.refresh)
	if c, status := oauthError(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Fatalf("reused refresh token: %s %d", c, status)
	}
	// The reuse revokes the family: the rotated token, held by the
	// member's client or the attacker, is dead too; one audit event says so.
	v.in.unchanged(t, before, "token_families", "access_tokens", "refresh_tokens", "audit_events")
	if _, err := v.rp.refresh(rotated.RefreshToken); err == nil {
		t.Error("the rotated refresh token still works after the reuse")
	}
	if active(v.w.introspect(t, v.in, rotated.AccessToken)) {
		t.Error("the rotated access token is still active after the reuse")
	}
}

func attackRefreshOtherClient(t *testing.T) {
	v := newWebVictim(t)
	tok := v.rp.exchange(t, v.code, v.a)
	before := v.in.fingerprint(t)
	// The app is a public client: the attacker needs no secret to try.
	r := postForm(t, v.in.base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {v.w.app.ID}}, nil)
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	v.in.unchanged(t, before)
	if _, err := v.rp.refresh(tok.refresh); err != nil {
		t.Fatalf("the member's client cannot refresh after the refused attempt: %v", err)
	}
}

func attackRevokedAccessToken(t *testing.T) {
	v := newWebVictim(t)
	tok := v.rp.exchange(t, v.code, v.a)
	r := postForm(t, v.in.base+"/revoke", url.Values{"token": {tok.access}, "token_type_hint": {"access_token"}}, basic(v.w.web.ID, v.w.web.secret))
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	before := v.in.fingerprint(t)
	if r := userinfo(t, v.in, tok.access); r.status != http.StatusUnauthorized {
		t.Fatalf("userinfo with a revoked token: %d %s", r.status, r.body)
	}
	if active(v.w.introspect(t, v.in, tok.access)) {
		t.Fatal("a revoked token is active")
	}
	v.in.unchanged(t, before)
}

func attackLoginCSRF(t *testing.T) {
	v := newWebServer(t)
	b := newBrowser(t)
	page := b.get(t, v.rp.authURL(newAttempt("openid")))
	form := loginForm(t, page)
	form.Set("kvnr", memberKVNR.String())
	form.Set("password", memberPassword)
	// A second authorization request in the same browser: its token is
	// not this request's.
	other := loginForm(t, b.get(t, v.rp.authURL(newAttempt("openid"))))
	before := v.in.fingerprint(t)
	for name, csrf := range map[string]string{"missing": "", "another request's": other.Get("csrf"), "forged": "A" + form.Get("csrf")[1:]} {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		f.Set("csrf", csrf)
		r := b.post(t, v.in.base+"/login", f)
		if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
			t.Errorf("%s CSRF token: status %d, Location %q", name, r.status, r.header.Get("Location"))
		}
	}
	// No session, no code, no throttle counted: the password was not even
	// checked.
	v.in.unchanged(t, before)
}

// memberPages are pages a member sees without logging in.
func memberPages(t *testing.T, v webVictim) map[string]result {
	t.Helper()
	b := newBrowser(t)
	return map[string]result{
		"login":        b.get(t, v.rp.authURL(newAttempt("openid"))),
		"error":        v.authorizeRaw(t, url.Values{"client_id": {"nope"}}),
		"forgot":       b.get(t, v.in.base+"/login/forgot"),
		"logout":       b.get(t, v.in.base+"/end_session?client_id="+v.w.web.ID),
		"account page": newBrowser(t).get(t, v.in.base+"/account"),
	}
}

func attackClickjacking(t *testing.T) {
	v := newWebServer(t)
	for name, r := range memberPages(t, v) {
		csp := r.header.Get("Content-Security-Policy")
		if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s page (status %d): X-Frame-Options %q, CSP %q; want DENY and frame-ancestors 'none'", name, r.status, r.header.Get("X-Frame-Options"), csp)
		}
	}
}

func attackReferer(t *testing.T) {
	v := newWebServer(t)
	for name, r := range memberPages(t, v) {
		if p := r.header.Get("Referrer-Policy"); p != "same-origin" && p != "no-referrer" {
			t.Errorf("%s page: Referrer-Policy %q; want same-origin or no-referrer", name, p)
		}
	}
}

func attackMixUp(t *testing.T) {
	v := newWebVictim(t)
	// The success response (checked by rp.code) and every error response
	// name the issuer, so the client can tell which server answered.
	q := v.webQuery()
	q.Set("prompt", "none") // a fresh browser has no session
	r := newBrowser(t).get(t, v.in.base+"/authorize?"+q.Encode())
	cb := callback(t, r)
	if cb.Query().Get("iss") != v.in.issuer || cb.Query().Get("error") == "" {
		t.Fatalf("error response %s lacks iss=%s", cb, v.in.issuer)
	}
	// The issuer of the discovery document says it sends iss.
	if m := get(t, v.in.base+"/.well-known/openid-configuration", nil).json(t); m["authorization_response_iss_parameter_supported"] != true {
		t.Fatal("discovery does not announce authorization_response_iss_parameter_supported")
	}
}

func attackImplicit(t *testing.T) {
	v := newWebServer(t)
	before := v.in.fingerprint(t)
	for _, rt := range []string{"token", "id_token", "id_token token", "code id_token", "code token"} {
		q := v.webQuery()
		q.Set("response_type", rt)
		r := v.authorizeRaw(t, q)
		cb := callback(t, r)
		if cb.Query().Get("error") != "unsupported_response_type" || cb.Fragment != "" || cb.Query().Get("access_token") != "" || cb.Query().Get("id_token") != "" {
			t.Errorf("response_type %q: %s", rt, cb)
		}
	}
	v.in.unchanged(t, before)
}

func attackLogoutRedirect(t *testing.T) {
	w, in := ssoWorld(t, false)
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	tok := rp.logIn(t, b, "openid", "offline_access")
	before := in.fingerprint(t)
	for _, redirect := range []string{"https://evil.example/", webBye + "/../evil", webBye + "?x=1", "https://forms.example.evil.example/bye"} {
		r := b.getNoFollow(t, in.base+"/end_session?"+url.Values{"id_token_hint": {tok.id}, "post_logout_redirect_uri": {redirect}}.Encode())
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("post_logout_redirect_uri %s: status %d, Location %q", redirect, r.status, r.header.Get("Location"))
		}
	}
	// The session was not ended by the refused requests.
	in.unchanged(t, before)
	if _, err := rp.refresh(tok.refresh); err != nil {
		t.Fatalf("a refused logout ended the session: %v", err)
	}
}

func attack307(t *testing.T) {
	v := newWebServer(t)
	b := newBrowser(t)
	page := b.get(t, v.rp.authURL(newAttempt("openid")))
	// submitLogin does not follow the redirect to the client: its status is
	// the answer to the POST that carried the password.
	r := b.submitLogin(t, v.in.base, page, memberKVNR.String(), memberPassword)
	if r.status == http.StatusTemporaryRedirect || r.status == http.StatusPermanentRedirect {
		t.Fatalf("the login POST answered %d: the browser would post the password to the client", r.status)
	}
	if r.status != http.StatusFound && r.status != http.StatusSeeOther {
		t.Fatalf("the login POST answered %d, want 302 or 303", r.status)
	}
	// A wrong password answers a page, not a redirect of any kind.
	b = newBrowser(t)
	page = b.get(t, v.rp.authURL(newAttempt("openid")))
	if r := b.submitLogin(t, v.in.base, page, memberKVNR.String(), "falsch-falsch-falsch"); r.status/100 == 3 {
		t.Fatalf("a wrong password answered a redirect %d", r.status)
	}
}
