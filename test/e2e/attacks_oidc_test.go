package e2e

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Attacks on the OpenID Connect layer (ID tokens as hints and as access
// tokens, prompt, acr_values, request parameters) and on the FAPI 2.0
// measure Pforte takes in the front channel: pushed authorization
// requests.

func init() {
	addAttacks(
		attack{id: "OIDC-01", name: "A forged id_token_hint: the genuine claims signed with the attacker's key", source: "OpenID Connect Core §3.1.2.1", run: attackHintForged},
		attack{id: "OIDC-02", name: "Another client's ID token sent as id_token_hint", source: "OpenID Connect Core §3.1.2.1", run: attackHintOtherClient},
		attack{id: "OIDC-03", name: "An unsigned id_token_hint (alg none)", source: "RFC 8725 §3.1", run: attackHintAlgNone},
		attack{id: "OIDC-04", name: "An access token sent as id_token_hint (token type confusion)", source: "RFC 8725 §3.11", run: attackHintAccessToken},
		attack{id: "OIDC-05", name: "prompt=none without a session, to learn or skip the login", source: "OpenID Connect Core §3.1.2.6", run: attackPromptNoneNoSession},
		attack{id: "OIDC-06", name: "An ID token used as access token at userinfo", source: "RFC 9068 §4", run: attackIDTokenAsBearer},
		attack{id: "OIDC-07", name: "An access token in the URL query at userinfo", source: "RFC 9700 §4.3.2", run: attackTokenInQuery},
		attack{id: "OIDC-08", name: "acr_values high asked of a password login", source: "OpenID Connect Core §3.1.2.1", run: attackACRAbovePassword},
		attack{id: "OIDC-09", name: "An unsigned request object (request=) overriding the request", source: "OpenID Connect Core §6.1", run: attackRequestObject},
		attack{id: "OIDC-10", name: "A repeated redirect_uri, the second the attacker's", source: "RFC 6749 §3.1", run: attackRepeatedRedirectURI},
		attack{id: "OIDC-11", name: "The ID token of a client of the same sector (the same pairwise sub) as id_token_hint", source: "OpenID Connect Core §3.1.2.1, §8.1", run: attackHintSectorSibling},

		attack{id: "FAPI-01", name: "A PAR-only client's authorization request sent through the browser", source: "RFC 9126 §4", run: attackPARBypassed},
		attack{id: "FAPI-02", name: "A request_uri used a second time", source: "RFC 9126 §4", run: attackRequestURIReused},
		attack{id: "FAPI-03", name: "Client A's request_uri used with client B's client_id", source: "RFC 9126 §4", run: attackRequestURIOtherClient},
		attack{id: "FAPI-04", name: "An expired request_uri", source: "RFC 9126 §4", run: attackRequestURIExpired},
		attack{id: "FAPI-05", name: "Parameters added in the browser to a pushed request (redirect_uri, scope, state)", source: "RFC 9126 §4", run: attackPushedParamsOverridden},
		attack{id: "FAPI-06", name: "A pushed request with a redirect_uri not registered", source: "RFC 9126 §2.1", run: attackPushUnregisteredRedirect},
		attack{id: "FAPI-07", name: "A request pushed in a confidential client's name without its authentication", source: "RFC 9126 §2.1", run: attackPushUnauthenticated},
		attack{id: "FAPI-08", name: "A request_uri on the attacker's server, for Pforte to fetch", source: "RFC 9101 §10.4.1", run: attackRequestURIRemote},
	)
}

// oidcVictim is a server whose member has logged in at the web form in
// browser b: the web form's tokens and a session in b.
type oidcVictim struct {
	w   *world
	in  *instance
	rp  *relyingParty
	b   *browser
	tok tokens
}

func newOIDCVictim(t *testing.T) oidcVictim {
	t.Helper()
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	b := newBrowser(t)
	return oidcVictim{w: w, in: in, rp: rp, b: b, tok: rp.logIn(t, b, "openid", "profile")}
}

// refusedHint is an authorization of the web form in the member's browser
// with prompt=none and hint; it must be refused with invalid_request.
func (v oidcVictim) refusedHint(t *testing.T, hint string) {
	t.Helper()
	a := newAttempt("openid")
	v.rp.wantAuthError(t, v.rp.authorize(t, v.b, a, url.Values{"prompt": {"none"}, "id_token_hint": {hint}}), a, "invalid_request")
}

// silentWithOwnHint checks that the session still answers the web form
// with its own ID token as hint.
func (v oidcVictim) silentWithOwnHint(t *testing.T) {
	t.Helper()
	v.rp.silent(t, v.b, url.Values{"prompt": {"none"}, "id_token_hint": {v.tok.id}}, "openid")
}

// wantAuthErrorSaying is wantAuthError whose error_description names why,
// so that the request is refused for what the attack did.
func wantAuthErrorSaying(t *testing.T, rp *relyingParty, r result, a attempt, code, why string) {
	t.Helper()
	rp.wantAuthError(t, r, a, code)
	if d := callback(t, r).Query().Get("error_description"); !strings.Contains(d, why) {
		t.Fatalf("error_description %q, want it to name %q", d, why)
	}
}

// resigned is raw with its header (Pforte's kid) and claims as they are,
// signed with a key of the attacker's.
func resigned(t *testing.T, raw string) string {
	t.Helper()
	h, c := jwtParts(t, raw)
	return handJWS(t, h, c, es256(t, newECKey(t)))
}

func attackHintForged(t *testing.T) {
	v := newOIDCVictim(t)
	forged := resigned(t, v.tok.id)
	before := v.in.fingerprint(t)
	v.refusedHint(t, forged)
	v.in.unchanged(t, before)
	v.silentWithOwnHint(t)
}

func attackHintOtherClient(t *testing.T) {
	v := newOIDCVictim(t)
	// The app's ID token, from the same session.
	appTok := v.in.rp(t, v.w.app, nil).silent(t, v.b, nil, "openid")
	before := v.in.fingerprint(t)
	v.refusedHint(t, appTok.id)
	v.in.unchanged(t, before)
	v.silentWithOwnHint(t)
}

func attackHintAlgNone(t *testing.T) {
	v := newOIDCVictim(t)
	_, c := jwtParts(t, v.tok.id)
	unsigned := handJWS(t, map[string]any{"alg": "none", "typ": "JWT"}, c, nil)
	before := v.in.fingerprint(t)
	v.refusedHint(t, unsigned)
	v.in.unchanged(t, before)
	v.silentWithOwnHint(t)
}

func attackHintAccessToken(t *testing.T) {
	v := newOIDCVictim(t)
	// Signed by Pforte with the same key, with iss and sub: only its type
	// (at+jwt) says it is no ID token.
	before := v.in.fingerprint(t)
	v.refusedHint(t, v.tok.access)
	v.in.unchanged(t, before)
	v.silentWithOwnHint(t)
}

func attackPromptNoneNoSession(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	a := newAttempt("openid")
	before := in.fingerprint(t)
	// Nothing is shown and no code issued: login_required, with state and
	// iss, so the client can tell it is Pforte's answer to its request.
	rp.wantAuthError(t, rp.authorize(t, newBrowser(t), a, url.Values{"prompt": {"none"}}), a, "login_required")
	// The request is stored before the login page finds no session; it
	// expires unused.
	in.unchanged(t, before, "auth_requests")
}

func attackIDTokenAsBearer(t *testing.T) {
	v := newOIDCVictim(t)
	before := v.in.fingerprint(t)
	r := userinfo(t, v.in, v.tok.id)
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
	if wa := r.header.Get("WWW-Authenticate"); wa != `Bearer realm="pforte", error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", wa)
	}
	v.in.unchanged(t, before)
	if r := userinfo(t, v.in, v.tok.access); r.status != http.StatusOK {
		t.Fatalf("the web form's access token: %d %s", r.status, r.body)
	}
}

func attackTokenInQuery(t *testing.T) {
	v := newOIDCVictim(t)
	before := v.in.fingerprint(t)
	// A URL ends up in logs, proxies and the browser history: the token
	// there is not taken, the answer is the challenge of a request
	// without a token.
	r := get(t, v.in.base+"/userinfo?"+url.Values{"access_token": {v.tok.access}}.Encode(), nil)
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_request")
	if got := r.header.Values("WWW-Authenticate"); len(got) != 2 || got[0] != `Bearer realm="pforte"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	v.in.unchanged(t, before)
}

func attackACRAbovePassword(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	a := newAttempt("openid")
	b := newBrowser(t)
	page := rp.authorize(t, b, a, url.Values{"acr_values": {"http://eidas.europa.eu/LoA/high"}})
	before := in.fingerprint(t)
	// The password is right, the level it reaches is low: no code, a page
	// that says why, and its way back tells the client access_denied.
	r := b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword)
	if r.status != http.StatusForbidden || r.header.Get("Location") != "" || strings.Contains(string(r.body), "code=") {
		t.Fatalf("status %d, Location %q; want the level page and no code", r.status, r.header.Get("Location"))
	}
	m := backLink.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("the page has no way back to the client:\n%s", r.body)
	}
	rp.wantAuthError(t, result{status: http.StatusFound, header: http.Header{"Location": {html.UnescapeString(string(m[1]))}}}, a, "access_denied")
	// The password login itself happened: a session and its audit entry.
	in.unchanged(t, before, "sessions", "audit_events")
}

func attackRequestObject(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	a := newAttempt("openid")
	// Unsigned, it would let anyone in the browser rewrite the request.
	obj := handJWS(t, map[string]any{"alg": "none"}, map[string]any{
		"iss": w.web.ID, "aud": in.issuer, "client_id": w.web.ID, "redirect_uri": "https://evil.example/cb",
		"scope": "openid kvnr", "response_type": "code",
	}, nil)
	before := in.fingerprint(t)
	r := rp.authorize(t, newBrowser(t), a, url.Values{"request": {obj}})
	wantAuthErrorSaying(t, rp, r, a, "request_not_supported", "request objects")
	in.unchanged(t, before)
}

func attackRepeatedRedirectURI(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	u := rp.authURL(newAttempt("openid")) + "&" + url.Values{"redirect_uri": {"https://evil.example/callback"}}.Encode()
	before := in.fingerprint(t)
	// Which of the two would a component take? Neither: a page, no
	// redirect anywhere.
	wantErrorPage(t, newBrowser(t).getNoFollow(t, u), http.StatusBadRequest)
	in.unchanged(t, before)
}

func attackHintSectorSibling(t *testing.T) {
	w := newWorld(t)
	cs := newDPPClients(t, w)
	in := w.start(t, sqliteEngine.storage(t), cs.option)
	// The shop's ID token names the member with the sub the portal sees
	// too; it is still the shop's, not the portal's, to send.
	shop := in.rp(t, cs.shop, nil).login(t, "openid")
	q, _ := dppAuthorize(cs.portal, dppPortalRedirect, "openid")
	q.Set("id_token_hint", shop.id)
	before := in.fingerprint(t)
	m := wantOAuthError(t, dppPost(t, in, "/par", q, basic(cs.portal.ID, cs.portal.secret)), http.StatusBadRequest, "invalid_request")
	if d, _ := m["error_description"].(string); !strings.Contains(d, "id_token_hint") {
		t.Fatalf("error_description %q, want it to name the hint", d)
	}
	in.unchanged(t, before)
}

// ---- FAPI 2.0: pushed requests ----

// parVictim is a server with the PAR-only portal of dppClients.
type parVictim struct {
	w  *world
	cs *dppClients
	in *instance
}

func newPARVictim(t *testing.T) parVictim {
	t.Helper()
	w := newWorld(t)
	cs := newDPPClients(t, w)
	return parVictim{w: w, cs: cs, in: w.start(t, sqliteEngine.storage(t), cs.option)}
}

// push pushes q as the portal and returns the request_uri.
func (v parVictim) push(t *testing.T, q url.Values) string {
	t.Helper()
	r := dppPost(t, v.in, "/par", q, basic(v.cs.portal.ID, v.cs.portal.secret))
	if r.status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	return r.json(t)["request_uri"].(string)
}

// byReference is the authorization URL of request_uri uri for clientID.
func (v parVictim) byReference(clientID, uri string) string {
	return v.in.base + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {uri}}.Encode()
}

// wantGone checks the page of a request_uri that cannot be used.
func wantGone(t *testing.T, r result) {
	t.Helper()
	wantErrorPage(t, r, http.StatusBadRequest)
}

func attackPARBypassed(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	before := v.in.fingerprint(t)
	// Sent through the browser, where anyone can change it: refused, back
	// to the portal's registered URI.
	cb := callback(t, newBrowser(t).getNoFollow(t, v.in.base+"/authorize?"+q.Encode()))
	got := cb.Query()
	if cb.Host != "portal.example" || got.Get("error") != "invalid_request" || got.Get("code") != "" ||
		got.Get("state") != q.Get("state") || got.Get("iss") != v.in.issuer {
		t.Fatalf("plain request of a PAR client: %s", cb)
	}
	v.in.unchanged(t, before)
}

func attackRequestURIReused(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	uri := v.push(t, q)
	dppLogin(t, v.in, url.Values{"client_id": {v.cs.portal.ID}, "request_uri": {uri}}, dppPortalRedirect, q.Get("state"))
	before := v.in.fingerprint(t)
	wantGone(t, newBrowser(t).getNoFollow(t, v.byReference(v.cs.portal.ID, uri)))
	v.in.unchanged(t, before)
}

func attackRequestURIOtherClient(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	uri := v.push(t, q)
	before := v.in.fingerprint(t)
	// The shop is of the portal's sector: the code would carry the same
	// sub. A page, no redirect to either client.
	wantErrorPage(t, newBrowser(t).getNoFollow(t, v.byReference(v.cs.shop.ID, uri)), http.StatusForbidden)
	v.in.unchanged(t, before)
	// The attempt did not use it up.
	if r := newBrowser(t).getNoFollow(t, v.byReference(v.cs.portal.ID, uri)); r.status != http.StatusFound {
		t.Fatalf("the portal's own request_uri afterwards: %d\n%s", r.status, r.body)
	}
}

func attackRequestURIExpired(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	uri := v.push(t, q)
	v.w.clock.Advance(91 * time.Second)
	before := v.in.fingerprint(t)
	wantGone(t, newBrowser(t).getNoFollow(t, v.byReference(v.cs.portal.ID, uri)))
	v.in.unchanged(t, before)
}

func attackPushedParamsOverridden(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	uri := v.push(t, q)
	// The attacker edits the URL in the browser: its own redirect URI (the
	// shop's, registered, but not the pushed one), more scope, its state.
	tampered := url.Values{
		"client_id": {v.cs.portal.ID}, "request_uri": {uri}, "redirect_uri": {dppShopRedirect},
		"scope": {"openid profile kvnr"}, "state": {"attacker"},
	}
	before := v.in.fingerprint(t)
	// Only what was pushed counts: the code goes to the pushed redirect
	// URI with the pushed state (dppLogin checks both).
	dppLogin(t, v.in, tampered, dppPortalRedirect, q.Get("state"))
	v.in.unchanged(t, before, "auth_requests", "auth_codes", "sessions", "audit_events")
}

func attackPushUnregisteredRedirect(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, "https://evil.example/cb", "openid")
	before := v.in.fingerprint(t)
	wantOAuthError(t, dppPost(t, v.in, "/par", q, basic(v.cs.portal.ID, v.cs.portal.secret)), http.StatusBadRequest, "invalid_request")
	v.in.unchanged(t, before)
}

func attackPushUnauthenticated(t *testing.T) {
	v := newPARVictim(t)
	q, _ := dppAuthorize(v.cs.portal, dppPortalRedirect, "openid")
	before := v.in.fingerprint(t)
	// client_id alone, as a public client names itself.
	r := dppPost(t, v.in, "/par", q, nil)
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without a challenge")
	}
	v.in.unchanged(t, before)
}

func attackRequestURIRemote(t *testing.T) {
	v := newPARVictim(t)
	var fetched atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		_, _ = w.Write([]byte("a.b.c"))
	}))
	t.Cleanup(evil.Close)
	before := v.in.fingerprint(t)
	// Pforte takes request_uri values of its own pushed requests only: it
	// fetches nothing, so it can be made to reach no other host.
	wantErrorPage(t, newBrowser(t).getNoFollow(t, v.byReference(v.cs.portal.ID, evil.URL+"/request.jwt")), http.StatusBadRequest)
	v.in.unchanged(t, before)
	if n := fetched.Load(); n != 0 {
		t.Fatalf("Pforte fetched the request_uri %d times", n)
	}
}
