package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loginForm returns the hidden fields of a login page.
func loginForm(t *testing.T, page result) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if page.status != http.StatusOK || form.Get("id") == "" || form.Get("csrf") == "" {
		t.Fatalf("expected the login page with id and csrf, got status %d:\n%s", page.status, page.body)
	}
	return form
}

// postLogin posts form with the member's right password, with cookie when
// it is not nil, through hc (nil: b's client, which sends its cookies).
func postLogin(t *testing.T, base string, b *browser, form url.Values, cookie *http.Cookie) result {
	t.Helper()
	form.Set("kvnr", memberKVNR.String())
	form.Set("password", memberPassword)
	req, err := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return b.do(t, req)
}

// TestPlantedCSRFTokenRefused: the login form's token is an HMAC of the
// browser's cookie and the authorization request, so neither a value an
// attacker plants in both cookie and field nor a token of another
// authorization request is accepted — with the right password, and
// without a code leaving Pforte.
func TestPlantedCSRFTokenRefused(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t))
	rp := in.rp(t, w.web, nil)

	page := newBrowser(t).get(t, rp.authURL(newAttempt("openid")))
	form := loginForm(t, page)
	planted := base64.RawURLEncoding.EncodeToString(make([]byte, 32)) // 43 characters, as a real one
	form.Set("csrf", planted)
	r := postLogin(t, in.base, newBrowser(t), form, &http.Cookie{Name: "pforte_csrf", Value: planted})
	if r.status != http.StatusForbidden || r.header.Get("Location") != "" {
		t.Fatalf("a planted token in cookie and field: status %d, Location %q; want 403 and no redirect", r.status, r.header.Get("Location"))
	}

	// One browser, two authorization requests: the token of the first
	// does not fit the second, the second's own does.
	b := newBrowser(t)
	first := loginForm(t, b.get(t, rp.authURL(newAttempt("openid"))))
	a := newAttempt("openid")
	second := loginForm(t, b.get(t, rp.authURL(a)))
	if first.Get("id") == second.Get("id") || first.Get("csrf") == second.Get("csrf") {
		t.Fatalf("two authorization requests share id or token: %v / %v", first, second)
	}
	swapped := url.Values{"id": {second.Get("id")}, "csrf": {first.Get("csrf")}, "step": {second.Get("step")}}
	if r := postLogin(t, in.base, b, swapped, nil); r.status != http.StatusForbidden || r.header.Get("Location") != "" {
		t.Fatalf("the token of another authorization request: status %d, Location %q; want 403", r.status, r.header.Get("Location"))
	}
	rp.checkCallback(t, callback(t, postLogin(t, in.base, b, second, nil)), a)
}

// TestHTTPSIssuerHeaders: with an https issuer every response carries
// Strict-Transport-Security, and the login form's cookie is a __Host-
// cookie (Secure, host-only, path /); with an http issuer (development)
// neither.
func TestHTTPSIssuerHeaders(t *testing.T) {
	w := newWorld(t)
	st := sqliteStorage(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := w.serve(t, ln, "https://pforte.example", st)
	plain := w.start(t, sqliteStorage(t))

	sum := sha256.Sum256([]byte(randomHex(32)))
	authorize := "/authorize?" + url.Values{
		"client_id": {w.web.ID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {w.web.RedirectURIs[0]}, "state": {randomHex(12)}, "nonce": {randomHex(12)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(u string) *http.Response {
		t.Helper()
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := fetch(in.base + authorize)
	loc, err := resp.Location()
	if err != nil || loc.Path != "/login" || loc.Query().Get("id") == "" {
		t.Fatalf("authorize: status %d, Location %v %v", resp.StatusCode, loc, err)
	}
	for _, path := range []string{"/healthz", "/.well-known/openid-configuration", "/no-such-page", authorize, "/login?" + loc.RawQuery, "/login/forgot", "/token"} {
		if got := fetch(in.base + path).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("https issuer, %s: Strict-Transport-Security %q", path, got)
		}
		if got := fetch(plain.base + path).Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("http issuer, %s: Strict-Transport-Security %q, want none", path, got)
		}
	}
	set := fetch(in.base + "/login?" + loc.RawQuery).Header.Values("Set-Cookie")
	if len(set) != 1 || !strings.HasPrefix(set[0], "__Host-pforte_csrf=") || !strings.Contains(set[0], "; Path=/;") ||
		!strings.Contains(set[0], "; Secure") || !strings.Contains(set[0], "; HttpOnly") ||
		!strings.Contains(set[0], "; SameSite=Strict") || strings.Contains(set[0], "Domain=") {
		t.Errorf("https issuer: the login page sets %q, want one __Host- cookie, Secure, HttpOnly, SameSite=Strict, Path=/", set)
	}
}

// TestForgotPasswordPage: the login page links to a page that says what
// a member who forgot the password can do, and leads back to the login.
func TestForgotPasswordPage(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteStorage(t))
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	page := b.get(t, rp.authURL(newAttempt("openid")))
	id := loginForm(t, page).Get("id")
	link := "/login/forgot?id=" + url.QueryEscape(id)
	if !strings.Contains(string(page.body), `href="`+html.EscapeString(link)+`"`) {
		t.Fatalf("the login page does not link to %s:\n%s", link, page.body)
	}
	for lang, want := range map[string]string{"de": "Passwort vergessen", "en": "Forgot your password"} {
		r := get(t, in.base+link, map[string]string{"Accept-Language": lang})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "<h1>"+want+"</h1>") ||
			!strings.Contains(string(r.body), `href="/login?id=`+url.QueryEscape(id)+`"`) {
			t.Errorf("%s: status %d:\n%s", lang, r.status, r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: CSP %q, X-Frame-Options %q", lang, csp, r.header.Get("X-Frame-Options"))
		}
	}
	if r := get(t, in.base+"/login/forgot?id=unknown", nil); r.status != http.StatusOK || strings.Contains(string(r.body), "unknown") {
		t.Errorf("an unknown id: status %d, the page links back to it:\n%s", r.status, r.body)
	}
}
