package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
)

// Single sign-on, consent and logout as relying parties see them: the web
// form (RP A) and the app client as a second relying party (RP B), both
// with go-oidc and x/oauth2, in one browser with a cookie jar.

const (
	webBye = "https://forms.example/bye"
	appBye = "http://127.0.0.1/bye"
)

// ssoWorld is a world whose relying parties may log out, with RP B's
// consent setting as given.
func ssoWorld(t *testing.T, consent bool) (*world, *instance) {
	t.Helper()
	w := newWorld(t)
	w.web.PostLogoutRedirectURIs = []string{webBye}
	w.app.PostLogoutRedirectURIs = []string{appBye}
	w.app.Consent = consent
	in := w.start(t, sqliteStorage(t))
	return w, in
}

// authorize sends browser b to rp's authorization endpoint for attempt a
// with extra parameters and returns the answer that leaves Pforte (or the
// page it stops at).
func (rp *relyingParty) authorize(t *testing.T, b *browser, a attempt, extra url.Values) result {
	t.Helper()
	u := rp.authURL(a)
	if len(extra) > 0 {
		u += "&" + extra.Encode()
	}
	return b.get(t, u)
}

// loginPage reports whether r is Pforte's login page.
func loginPage(r result) bool {
	return r.status == http.StatusOK && strings.Contains(string(r.body), `name="password"`)
}

// wantAuthError checks that r sends the browser back to rp with the OAuth
// error code, the attempt's state and iss.
func (rp *relyingParty) wantAuthError(t *testing.T, r result, a attempt, code string) {
	t.Helper()
	cb := callback(t, r)
	q := cb.Query()
	if q.Get("error") != code || q.Get("state") != a.state || q.Get("iss") != rp.in.issuer {
		t.Fatalf("redirect %s, want error %s with state and iss", cb, code)
	}
}

// logIn runs a password login for rp in browser b and returns the tokens.
func (rp *relyingParty) logIn(t *testing.T, b *browser, scopes ...string) tokens {
	t.Helper()
	a := newAttempt(scopes...)
	page := rp.authorize(t, b, a, nil)
	cb := callback(t, b.submitLogin(t, rp.in.base, page, memberKVNR.String(), memberPassword))
	return rp.exchange(t, rp.checkCallback(t, cb, a), a)
}

// silent is an authorization of rp in b that must be answered from the
// session, without a page.
func (rp *relyingParty) silent(t *testing.T, b *browser, extra url.Values, scopes ...string) tokens {
	t.Helper()
	a := newAttempt(scopes...)
	r := rp.authorize(t, b, a, extra)
	if loginPage(r) {
		t.Fatalf("the login page was shown for %v; want an answer from the session", extra)
	}
	return rp.exchange(t, rp.checkCallback(t, callback(t, r), a), a)
}

func sidOf(t *testing.T, tok tokens) string {
	t.Helper()
	var cl struct {
		SID string `json:"sid"`
	}
	if err := tok.idToken.Claims(&cl); err != nil {
		t.Fatal(err)
	}
	return cl.SID
}

func TestSingleSignOnAcrossRelyingParties(t *testing.T) {
	w, in := ssoWorld(t, false)
	a, bRP := in.rp(t, w.web, nil), in.rp(t, w.app, nil)
	b := newBrowser(t)
	first := a.logIn(t, b, "openid", "profile")
	sid := sidOf(t, first)
	if sid == "" {
		t.Fatal("the ID token after a browser login has no sid")
	}
	w.clock.Advance(time.Minute)
	second := bRP.silent(t, b, nil, "openid", "profile")
	if sidOf(t, second) != sid {
		t.Fatalf("RP B's sid %q, want the session's %q", sidOf(t, second), sid)
	}
	if !second.idToken.IssuedAt.After(first.idToken.IssuedAt) || first.idToken.Subject != second.idToken.Subject {
		t.Fatal("RP B did not get a fresh ID token of the same member")
	}
	var at1, at2 struct {
		AuthTime int64 `json:"auth_time"`
	}
	_ = first.idToken.Claims(&at1)
	_ = second.idToken.Claims(&at2)
	if at1.AuthTime != at2.AuthTime {
		t.Fatalf("auth_time %d at RP B, want the session's login time %d", at2.AuthTime, at1.AuthTime)
	}
	// One login, one login.web event (RP A's); RP B's answer from the
	// session is not a login.
	events, err := in.srv.Store().AuditEvents(t.Context(), memberID, 50)
	if err != nil {
		t.Fatal(err)
	}
	var logins []audit.Event
	for _, e := range events {
		if e.Kind == audit.WebLogin {
			logins = append(logins, e)
		}
	}
	if len(logins) != 1 || logins[0].ClientID != w.web.ID || logins[0].Detail["sid"] != sid {
		t.Fatalf("login.web events %+v, want one of RP A in session %s", logins, sid)
	}
}

func TestPromptAndMaxAgeAgainstASession(t *testing.T) {
	w, in := ssoWorld(t, false)
	rpA, rpB := in.rp(t, w.web, nil), in.rp(t, w.app, nil)
	b := newBrowser(t)
	rpA.logIn(t, b, "openid")
	w.clock.Advance(10 * time.Minute)

	t.Run("prompt=none answered from the session", func(t *testing.T) {
		rpB.silent(t, b, url.Values{"prompt": {"none"}}, "openid")
	})
	t.Run("max_age within the session's age", func(t *testing.T) {
		rpB.silent(t, b, url.Values{"max_age": {"3600"}}, "openid")
	})
	t.Run("prompt=none without a session", func(t *testing.T) {
		a := newAttempt("openid")
		rpB.wantAuthError(t, rpB.authorize(t, newBrowser(t), a, url.Values{"prompt": {"none"}}), a, "login_required")
	})
	t.Run("prompt=login shows the login page", func(t *testing.T) {
		if r := rpB.authorize(t, b, newAttempt("openid"), url.Values{"prompt": {"login"}}); !loginPage(r) {
			t.Fatalf("prompt=login: status %d, want the login page", r.status)
		}
	})
	t.Run("max_age older than the session's login", func(t *testing.T) {
		if r := rpB.authorize(t, b, newAttempt("openid"), url.Values{"max_age": {"60"}}); !loginPage(r) {
			t.Fatalf("max_age=60 after 10 minutes: status %d, want the login page", r.status)
		}
		a := newAttempt("openid")
		rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"max_age": {"60"}, "prompt": {"none"}}), a, "login_required")
	})
	t.Run("max_age=0 asks again and yields a new auth_time", func(t *testing.T) {
		a := newAttempt("openid")
		page := rpB.authorize(t, b, a, url.Values{"max_age": {"0"}})
		cb := callback(t, b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword))
		tok := rpB.exchange(t, rpB.checkCallback(t, cb, a), a)
		var cl struct {
			AuthTime int64 `json:"auth_time"`
		}
		_ = tok.idToken.Claims(&cl)
		if cl.AuthTime != w.clock.Now().Unix() {
			t.Fatalf("auth_time %d, want the new login's %d", cl.AuthTime, w.clock.Now().Unix())
		}
	})
	t.Run("acr_values substantial needs the app, prompt=none cannot", func(t *testing.T) {
		a := newAttempt("openid")
		rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"prompt": {"none"}, "acr_values": {"http://eidas.europa.eu/LoA/substantial"}}),
			a, "interaction_required")
		// With a page: the app's confirmation is asked without the
		// password (this member has no device, so the page says how to
		// bind one).
		r := rpB.authorize(t, b, newAttempt("openid"), url.Values{"acr_values": {"http://eidas.europa.eu/LoA/substantial"}})
		if loginPage(r) || r.status != http.StatusForbidden {
			t.Fatalf("step-up: status %d, want the no-device page, not the password", r.status)
		}
	})
	t.Run("acr_values high beyond the member's proofing", func(t *testing.T) {
		a := newAttempt("openid")
		rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"prompt": {"none"}, "acr_values": {"http://eidas.europa.eu/LoA/high"}}),
			a, "login_required")
	})
	t.Run("login_hint of another member", func(t *testing.T) {
		a := newAttempt("openid")
		rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"prompt": {"none"}, "login_hint": {"A123456780"}}), a, "login_required")
		rpB.silent(t, b, url.Values{"prompt": {"none"}, "login_hint": {memberKVNR.String()}}, "openid")
	})
}

func TestIDTokenHintAtAuthorization(t *testing.T) {
	w, in := ssoWorld(t, false)
	rpA, rpB := in.rp(t, w.web, nil), in.rp(t, w.app, nil)
	b := newBrowser(t)
	tokA := rpA.logIn(t, b, "openid")
	tokB := rpB.silent(t, b, nil, "openid")
	w.clock.Advance(20 * time.Minute) // the hint has expired: still a hint
	rpB.silent(t, b, url.Values{"prompt": {"none"}, "id_token_hint": {tokB.id}}, "openid")

	a := newAttempt("openid")
	// RP A's ID token is not RP B's to send.
	rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"id_token_hint": {tokA.id}}), a, "invalid_request")
	forged := tokB.id[:strings.LastIndexByte(tokB.id, '.')+1] + "AAAA"
	rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"id_token_hint": {forged}}), a, "invalid_request")
	// A hint older than any session can live.
	w.clock.Advance(8 * 24 * time.Hour)
	rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"id_token_hint": {tokB.id}}), a, "invalid_request")
}

func TestConsentForAThirdParty(t *testing.T) {
	w, in := ssoWorld(t, true)
	rpA, rpB := in.rp(t, w.web, nil), in.rp(t, w.app, nil)
	b := newBrowser(t)
	rpA.logIn(t, b, "openid", "profile")

	// prompt=none cannot ask.
	a := newAttempt("openid", "profile")
	rpB.wantAuthError(t, rpB.authorize(t, b, a, url.Values{"prompt": {"none"}}), a, "consent_required")

	// The page names the data; denying tells the client access_denied.
	a = newAttempt("openid", "profile")
	page := rpB.authorize(t, b, a, nil)
	if page.status != http.StatusOK || !strings.Contains(string(page.body), `id="allow"`) || !strings.Contains(string(page.body), "Ihren Namen") {
		t.Fatalf("want the consent page naming the name, got %d:\n%s", page.status, page.body)
	}
	rpB.wantAuthError(t, answerConsent(t, b, in, page, "deny"), a, "access_denied")

	// An answer that is neither allow nor deny is refused, and the
	// consent is still waiting.
	a = newAttempt("openid", "profile")
	page = rpB.authorize(t, b, a, nil)
	if r := answerConsent(t, b, in, page, "maybe"); r.status != http.StatusBadRequest {
		t.Fatalf("answer maybe: status %d", r.status)
	}
	rpB.wantAuthError(t, answerConsent(t, b, in, page, "deny"), a, "access_denied")

	// Allowing gives the code, and it is remembered.
	a = newAttempt("openid", "profile")
	page = rpB.authorize(t, b, a, nil)
	rpB.exchange(t, rpB.checkCallback(t, callback(t, answerConsent(t, b, in, page, "allow")), a), a)
	rpB.silent(t, b, url.Values{"prompt": {"none"}}, "openid", "profile")
	events, err := in.srv.Store().AuditEvents(t.Context(), memberID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e audit.Event) bool {
		return e.Kind == audit.ConsentGranted && e.ClientID == w.app.ID && e.Detail["scopes"] == "openid profile"
	}) {
		t.Fatalf("no consent.granted in the audit log: %+v", events)
	}

	// More scopes ask again; a replayed answer is refused.
	a = newAttempt("openid", "profile", "email")
	page = rpB.authorize(t, b, a, nil)
	if !strings.Contains(string(page.body), "E-Mail") {
		t.Fatalf("a grown scope set must ask again:\n%s", page.body)
	}
	rpB.exchange(t, rpB.checkCallback(t, callback(t, answerConsent(t, b, in, page, "allow")), a), a)
	if r := answerConsent(t, b, in, page, "allow"); r.status < 400 {
		t.Fatalf("a replayed consent answer: status %d, want a refusal", r.status)
	}
	// Another browser cannot answer this browser's consent.
	a = newAttempt("openid", "profile", "address")
	page = rpB.authorize(t, b, a, nil)
	if r := answerConsent(t, newBrowser(t), in, page, "allow"); r.status < 400 {
		t.Fatalf("a consent answered by another browser: status %d, want a refusal", r.status)
	}
}

// answerConsent posts the consent form of page with answer in browser b.
func answerConsent(t *testing.T, b *browser, in *instance, page result, answer string) result {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], m[2])
	}
	form.Set("answer", answer)
	req, err := http.NewRequest(http.MethodPost, in.base+"/consent", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

func TestLogoutEverywhere(t *testing.T) {
	w, in := ssoWorld(t, false)
	rpA, rpB := in.rp(t, w.web, nil), in.rp(t, w.app, nil)
	b := newBrowser(t)
	tokA := rpA.logIn(t, b, "openid", "offline_access")
	tokB := rpB.silent(t, b, nil, "openid", "offline_access")
	cookies := b.c.Jar.Cookies(mustURL(t, in.base))

	// Malformed requests are refused on a page and end nothing: a repeated
	// parameter, an oversized state, a hint that is no token.
	for _, q := range []string{
		"client_id=" + w.web.ID + "&client_id=" + w.app.ID,
		url.Values{"client_id": {w.web.ID}, "post_logout_redirect_uri": {webBye}, "state": {strings.Repeat("s", 2000)}}.Encode(),
		url.Values{"id_token_hint": {"not-a-token"}}.Encode(),
	} {
		if r := b.getNoFollow(t, in.base+"/end_session?"+q); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Fatalf("end_session?%.60s: status %d, Location %q", q, r.status, r.header.Get("Location"))
		}
	}
	// An unregistered post_logout_redirect_uri is refused on a page.
	r := b.getNoFollow(t, in.base+"/end_session?"+url.Values{"id_token_hint": {tokA.id}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("unregistered post_logout_redirect_uri: status %d, Location %q", r.status, r.header.Get("Location"))
	}
	if userinfo(t, in, tokB.access).status != http.StatusOK {
		t.Fatal("a refused logout ended the session")
	}

	r = b.getNoFollow(t, in.base+"/end_session?"+url.Values{
		"id_token_hint": {tokA.id}, "post_logout_redirect_uri": {webBye}, "state": {"s-42"},
	}.Encode())
	if r.status != http.StatusFound || r.header.Get("Location") != webBye+"?state=s-42" {
		t.Fatalf("logout: status %d, Location %q", r.status, r.header.Get("Location"))
	}
	for name, tok := range map[string]tokens{"RP A": tokA, "RP B": tokB} {
		if _, err := map[string]*relyingParty{"RP A": rpA, "RP B": rpB}[name].refresh(tok.refresh); err == nil {
			t.Errorf("%s's refresh token works after logout", name)
		}
		if st := userinfo(t, in, tok.access).status; st != http.StatusUnauthorized {
			t.Errorf("%s's access token at userinfo after logout: %d", name, st)
		}
	}
	// The session cookie replayed after logout answers nothing.
	replay := newBrowser(t)
	replay.c.Jar.SetCookies(mustURL(t, in.base), cookies)
	a := newAttempt("openid")
	rpB.wantAuthError(t, rpB.authorize(t, replay, a, url.Values{"prompt": {"none"}}), a, "login_required")
}

func TestLogoutWithoutHintAsksFirst(t *testing.T) {
	w, in := ssoWorld(t, false)
	rpA := in.rp(t, w.web, nil)
	b := newBrowser(t)
	tok := rpA.logIn(t, b, "openid", "offline_access")
	page := b.get(t, in.base+"/end_session?"+url.Values{"client_id": {w.web.ID}, "post_logout_redirect_uri": {webBye}, "state": {"x"}}.Encode())
	if page.status != http.StatusOK || !strings.Contains(string(page.body), `id="confirm"`) {
		t.Fatalf("want the confirmation page, got %d:\n%s", page.status, page.body)
	}
	if _, err := rpA.refresh(tok.refresh); err != nil {
		t.Fatalf("the page alone ended the session: %v", err)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		form.Set(m[1], m[2])
	}
	form.Set("confirm", "yes")
	// Without the page's CSRF token (a cross-site post) nothing ends.
	bad := url.Values{"client_id": {w.web.ID}, "confirm": {"yes"}, "csrf": {"forged"}}
	if r := postInBrowser(t, b, in.base+"/end_session", bad); r.status < 400 {
		t.Fatalf("a forged logout post: status %d", r.status)
	}
	r := postInBrowser(t, b, in.base+"/end_session", form)
	if r.status != http.StatusFound || r.header.Get("Location") != webBye+"?state=x" {
		t.Fatalf("confirmed logout: status %d, Location %q", r.status, r.header.Get("Location"))
	}
	if _, err := rpA.refresh(tok.refresh); err == nil {
		t.Fatal("the refresh token works after the confirmed logout")
	}
}

func postInBrowser(t *testing.T, b *browser, u string, form url.Values) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
