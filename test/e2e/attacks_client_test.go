package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Attacks on client authentication (client secrets, private_key_jwt
// assertions) and on what one client may do with another client's tokens.

func init() {
	addAttacks(
		attack{id: "CLIENT-01", name: "A captured private_key_jwt assertion replayed (same jti)", source: "RFC 7523 §3", run: attackAssertionReplay},
		attack{id: "CLIENT-02", name: "An assertion made for another authorization server (aud)", source: "RFC 7523 §3", run: attackAssertionOtherAudience},
		attack{id: "CLIENT-03", name: "An expired assertion", source: "RFC 7523 §3", run: attackAssertionExpired},
		attack{id: "CLIENT-04", name: "An assertion signed by a key not in the client's JWKS, under its kid", source: "RFC 7523 §3", run: attackAssertionForeignKey},
		attack{id: "CLIENT-05", name: "An unsigned assertion (alg none)", source: "RFC 8725 §3.1", run: attackAssertionAlgNone},
		attack{id: "CLIENT-06", name: "An assertion MACed with the client's public key (HS256)", source: "RFC 8725 §2.1", run: attackAssertionHMAC},
		attack{id: "CLIENT-07", name: "A wrong client secret", source: "RFC 6749 §5.2", run: attackWrongSecret},
		attack{id: "CLIENT-08", name: "Client probing: an unknown client_id answers as a wrong secret does", source: "RFC 6749 §5.2", run: attackUnknownClient},
		attack{id: "CLIENT-09", name: "client_credentials asked by a client not registered for that grant", source: "RFC 6749 §5.2", run: attackGrantNotAllowed},
		attack{id: "CLIENT-10", name: "client_credentials with a scope not registered for the client", source: "RFC 6749 §3.3", run: attackScopeNotRegistered},
		attack{id: "CLIENT-11", name: "Introspection of another client's token by a client outside its audience", source: "RFC 7662 §4", run: attackIntrospectForeignToken},
		attack{id: "CLIENT-12", name: "Revocation of another client's refresh token", source: "RFC 7009 §2.1", run: attackRevokeForeignToken},
		attack{id: "CLIENT-13", name: "Authentication downgrade: client_secret_post by a client_secret_basic client", source: "RFC 7591 §2", run: attackAuthMethodDowngrade},
		attack{id: "CLIENT-14", name: "A private_key_jwt client's name used without an assertion, as a public client", source: "RFC 6749 §3.2.1", run: attackConfidentialAsPublic},
		attack{id: "CLIENT-15", name: "Introspection by a public client", source: "RFC 7662 §2.1", run: attackIntrospectByPublicClient},
		attack{id: "CLIENT-16", name: "An assertion valid for a day, made to be used long after", source: "RFC 7523 §3", run: attackAssertionLongLived},
		attack{id: "CLIENT-17", name: "A resource server introspects a member's refresh token", source: "RFC 7662 §4", run: attackIntrospectRefreshByResourceServer},
		attack{id: "CLIENT-18", name: "Audience injection: an assertion made for Pforte's token or PAR endpoint URL", source: "FAPI 2.0 Security Profile §5.3.2.1, draft-ietf-oauth-rfc7523bis", run: attackAssertionEndpointAudience},
	)
}

// assertionClaims are the claims of a valid assertion of c for aud, made
// now.
func assertionClaims(c testClient, aud string, now time.Time) map[string]any {
	return map[string]any{
		"iss": c.ID, "sub": c.ID, "aud": aud, "jti": randomHex(16),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
}

// introspectAs asks the introspection endpoint about tok, authenticated
// by the assertion.
func introspectAs(t *testing.T, in *instance, clientID, assertion, tok string) result {
	t.Helper()
	return postForm(t, in.base+"/introspect", url.Values{
		"token": {tok}, "client_id": {clientID}, "client_assertion_type": {assertionType}, "client_assertion": {assertion},
	}, nil)
}

// wantInvalidClient checks the 401 invalid_client answer and its Basic
// challenge.
func wantInvalidClient(t *testing.T, r result) {
	t.Helper()
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="pforte"` {
		t.Errorf("WWW-Authenticate %q, want the Basic challenge", got)
	}
}

// assertionRefused starts a server, checks that the portal's assertion
// made by mk is refused at introspection and changes nothing, and that a
// genuine assertion still works.
func assertionRefused(t *testing.T, mk func(w *world, in *instance) string) {
	t.Helper()
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	bad := mk(w, in)
	before := in.fingerprint(t)
	wantInvalidClient(t, introspectAs(t, in, w.portal.ID, bad, "no-such-token"))
	in.unchanged(t, before)
	if r := introspectAs(t, in, w.portal.ID, w.portal.assertion(t, in.issuer, in.clock.Now()), "no-such-token"); r.status != http.StatusOK {
		t.Fatalf("the portal's genuine assertion: %d %s", r.status, r.body)
	}
}

func attackAssertionReplay(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	captured := w.portal.assertion(t, in.issuer, in.clock.Now())
	if r := introspectAs(t, in, w.portal.ID, captured, "no-such-token"); r.status != http.StatusOK {
		t.Fatalf("the portal's own use: %d %s", r.status, r.body)
	}
	before := in.fingerprint(t)
	wantInvalidClient(t, introspectAs(t, in, w.portal.ID, captured, "no-such-token"))
	in.unchanged(t, before)
}

func attackAssertionOtherAudience(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		// The portal authenticates at another insurer's server too; that
		// server (or whoever sits there) replays the assertion here.
		return w.portal.assertion(t, "https://idp.other-insurer.example", in.clock.Now())
	})
}

// attackAssertionEndpointAudience: a malicious authorization server the
// portal also uses names Pforte's token (or PAR) endpoint as its own; the
// portal signs an assertion for that URL and hands it over, and the
// attacker replays it here. Only the issuer identifier, alone, is an
// audience Pforte accepts.
func attackAssertionEndpointAudience(t *testing.T) {
	for _, path := range []string{"/token", "/par", "/introspect"} {
		t.Run(path, func(t *testing.T) {
			assertionRefused(t, func(w *world, in *instance) string {
				return w.portal.assertion(t, in.issuer+path, in.clock.Now())
			})
		})
	}
	assertionRefused(t, func(w *world, in *instance) string {
		return handJWS(t, map[string]any{"alg": "ES256", "kid": w.portal.kid, "typ": "JWT"},
			map[string]any{"iss": w.portal.ID, "sub": w.portal.ID, "aud": []string{in.issuer + "/token", in.issuer}, "jti": randomHex(16),
				"iat": in.clock.Now().Unix(), "exp": in.clock.Now().Add(time.Minute).Unix()}, es256(t, w.portal.key))
	})
}

func attackAssertionExpired(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		return w.portal.assertion(t, in.issuer, in.clock.Now().Add(-2*time.Minute))
	})
}

func attackAssertionForeignKey(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		return handJWS(t, map[string]any{"alg": "ES256", "kid": w.portal.kid, "typ": "JWT"},
			assertionClaims(w.portal, in.issuer, in.clock.Now()), es256(t, newECKey(t)))
	})
}

func attackAssertionAlgNone(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		return handJWS(t, map[string]any{"alg": "none", "typ": "JWT"}, assertionClaims(w.portal, in.issuer, in.clock.Now()), nil)
	})
}

func attackAssertionHMAC(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		// The MAC's key is the client's registered, public JWKS: a
		// verifier that lets the token choose the algorithm would take it.
		return handJWS(t, map[string]any{"alg": "HS256", "kid": w.portal.kid, "typ": "JWT"},
			assertionClaims(w.portal, in.issuer, in.clock.Now()), func(input []byte) []byte {
				m := hmac.New(sha256.New, w.portal.JWKS)
				m.Write(input)
				return m.Sum(nil)
			})
	})
}

// serviceToken is the form of the service's client_credentials request.
func serviceToken(w *world, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "client_id": {w.svc.ID}, "client_secret": {secret}}
}

func attackWrongSecret(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	before := in.fingerprint(t)
	wantInvalidClient(t, postForm(t, in.base+"/token", url.Values{"grant_type": {"client_credentials"}},
		basic(w.web.ID, w.web.secret[:len(w.web.secret)-1]+"x")))
	in.unchanged(t, before)
	if r := postForm(t, in.base+"/token", serviceToken(w, w.svc.secret, "claims.read"), nil); r.status != http.StatusOK {
		t.Fatalf("the service's own request: %d %s", r.status, r.body)
	}
}

func attackUnknownClient(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	form := url.Values{"grant_type": {"client_credentials"}}
	before := in.fingerprint(t)
	unknown := postForm(t, in.base+"/token", form, basic("e2e-payroll", w.web.secret))
	wantInvalidClient(t, unknown)
	in.unchanged(t, before)
	// The same status, header and body as a known client's wrong secret:
	// nothing tells which client ids exist.
	wrong := postForm(t, in.base+"/token", form, basic(w.web.ID, w.svc.secret))
	if string(unknown.body) != string(wrong.body) || unknown.header.Get("WWW-Authenticate") != wrong.header.Get("WWW-Authenticate") {
		t.Errorf("an unknown client and a wrong secret answer differently:\n%s\n%s", unknown.body, wrong.body)
	}
}

func attackGrantNotAllowed(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	before := in.fingerprint(t)
	// The web form holds a secret, but is registered for the member's
	// code flow only: no token of its own.
	r := postForm(t, in.base+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, basic(w.web.ID, w.web.secret))
	wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
	in.unchanged(t, before)
}

func attackScopeNotRegistered(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	before := in.fingerprint(t)
	// The service asks for the member data scopes beside its own.
	r := postForm(t, in.base+"/token", serviceToken(w, w.svc.secret, "claims.read kvnr openid"), nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// Pforte drops what the client may not have (RFC 6749 §3.3 lets it):
	// the token carries claims.read only, and the answer says so.
	m := r.json(t)
	_, claims := jwtParts(t, m["access_token"].(string))
	if m["scope"] != "claims.read" || claims["scope"] != "claims.read" {
		t.Fatalf("granted scope %v, token scope %v; want claims.read only", m["scope"], claims["scope"])
	}
	in.unchanged(t, before)
}

func attackIntrospectForeignToken(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	tok := in.rp(t, w.web, nil).login(t, "openid", "profile")
	before := in.fingerprint(t)
	// The portal is a confidential client, but not the web form's resource
	// server.
	foreign := introspectAs(t, in, w.portal.ID, w.portal.assertion(t, in.issuer, in.clock.Now()), tok.access)
	in.unchanged(t, before, "replay_values")
	unknown := introspectAs(t, in, w.portal.ID, w.portal.assertion(t, in.issuer, in.clock.Now()), "no-such-token")
	if foreign.status != http.StatusOK || string(foreign.body) != string(unknown.body) || active(foreign.json(t)) {
		t.Fatalf("another client's token: %d %s; an unknown token: %s", foreign.status, foreign.body, unknown.body)
	}
	if !active(w.introspect(t, in, tok.access)) {
		t.Fatal("the token is not active for its own client")
	}
}

func attackRevokeForeignToken(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	tok := rp.login(t, "openid", "offline_access")
	before := in.fingerprint(t)
	// The answer is the one for any token (RFC 7009 §2.2), and nothing is
	// revoked: one client cannot end another's sessions.
	r := postForm(t, in.base+"/revoke", url.Values{"token": {tok.refresh}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	in.unchanged(t, before)
	if _, err := rp.refresh(tok.refresh); err != nil {
		t.Fatalf("the web form's refresh token after the attempt: %v", err)
	}
}

func attackAuthMethodDowngrade(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	tok := rp.login(t, "openid", "offline_access")
	before := in.fingerprint(t)
	// The right secret, the wrong way: the client is registered for
	// client_secret_basic.
	r := postForm(t, in.base+"/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {w.web.ID}, "client_secret": {w.web.secret},
	}, nil)
	wantInvalidClient(t, r)
	in.unchanged(t, before)
	if _, err := rp.refresh(tok.refresh); err != nil {
		t.Fatalf("the web form's own refresh: %v", err)
	}
}

func attackConfidentialAsPublic(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	before := in.fingerprint(t)
	// client_id alone, as the native app authenticates.
	r := postForm(t, in.base+"/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {"stolen-" + randomHex(16)}, "client_id": {w.portal.ID},
	}, nil)
	wantInvalidClient(t, r)
	in.unchanged(t, before)
}

func attackIntrospectByPublicClient(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	tok := in.rp(t, w.web, nil).login(t, "openid", "profile")
	before := in.fingerprint(t)
	// Anyone can name the app: it has no secret. The answer is
	// invalid_client without a word about the token; with 400, as RFC
	// 6749 §5.2 allows for a client that tried no HTTP authentication.
	r := postForm(t, in.base+"/introspect", url.Values{"token": {tok.access}, "client_id": {w.app.ID}}, nil)
	if m := wantOAuthError(t, r, http.StatusBadRequest, "invalid_client"); m["active"] != nil {
		t.Fatalf("the answer tells about the token: %s", r.body)
	}
	in.unchanged(t, before)
}

func attackAssertionLongLived(t *testing.T) {
	assertionRefused(t, func(w *world, in *instance) string {
		// Its jti would have to be remembered for a day; Pforte remembers
		// ten minutes and takes no assertion that lives longer.
		c := assertionClaims(w.portal, in.issuer, in.clock.Now())
		c["exp"] = in.clock.Now().Add(24 * time.Hour).Unix()
		return handJWS(t, map[string]any{"alg": "ES256", "kid": w.portal.kid, "typ": "JWT"}, c, es256(t, w.portal.key))
	})
}

func attackIntrospectRefreshByResourceServer(t *testing.T) {
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	tok := in.rp(t, w.web, nil).login(t, "openid", "offline_access")
	ask := func(token string) result {
		t.Helper()
		return postForm(t, in.base+"/introspect", url.Values{"token": {token}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret}}, nil)
	}
	before := in.fingerprint(t)
	// The service may see the web form's access tokens (it is their
	// resource server), never its refresh tokens: the answer is the one
	// for a token that does not exist.
	got := ask(tok.refresh)
	in.unchanged(t, before)
	if unknown := ask(randomHex(32)); got.status != http.StatusOK || string(got.body) != string(unknown.body) {
		t.Fatalf("the refresh token: %d %s; an unknown token: %s", got.status, got.body, unknown.body)
	}
	if !active(ask(tok.access).json(t)) || !active(w.introspect(t, in, tok.refresh)) {
		t.Fatal("the access token for its resource server, or the refresh token for its holder, is not active")
	}
}
