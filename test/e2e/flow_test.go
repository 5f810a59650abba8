package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// idClaims are the ID token claims beyond go-oidc's own checks.
type idClaims struct {
	Subject  string   `json:"sub"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AZP      string   `json:"azp"`
	AuthTime int64    `json:"auth_time"`
	ATHash   string   `json:"at_hash"`
}

func TestCodeFlowWithPKCE(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)

		// Only openid and profile: userinfo must release nothing else.
		a := newAttempt("openid", "profile")
		authURL := rp.authURL(a)
		if q := mustQuery(t, authURL); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			t.Fatalf("x/oauth2 did not send PKCE S256: %s", authURL)
		}
		code := rp.code(t, a) // checks state and iss
		tok := rp.exchange(t, code, a)

		// The ID token: go-oidc verified signature (JWKS), iss, aud, exp;
		// exchange checked nonce and at_hash.
		idt := tok.idToken
		if idt.Issuer != in.issuer || !slices.Equal(idt.Audience, []string{w.web.ID}) {
			t.Errorf("iss %q aud %v", idt.Issuer, idt.Audience)
		}
		if life := idt.Expiry.Sub(idt.IssuedAt); life <= 0 || life > 5*time.Minute {
			t.Errorf("ID token lives %s; want at most 5 minutes", life)
		}
		if err := idt.VerifyAccessToken(tok.access + "x"); err == nil {
			t.Error("at_hash matches another access token")
		}
		var cl idClaims
		if err := idt.Claims(&cl); err != nil {
			t.Fatal(err)
		}
		if cl.Subject != memberID {
			t.Errorf("sub = %q, want the account id %q", cl.Subject, memberID)
		}
		// The member is letter-proofed, but a password alone is one factor:
		// the low level.
		if cl.ACR != "http://eidas.europa.eu/LoA/low" || !slices.Equal(cl.AMR, []string{"pwd"}) {
			t.Errorf("acr %q amr %v; want the low level and [pwd]", cl.ACR, cl.AMR)
		}
		if cl.AZP != w.web.ID || cl.AuthTime == 0 || cl.ATHash == "" {
			t.Errorf("azp %q auth_time %d at_hash %q", cl.AZP, cl.AuthTime, cl.ATHash)
		}

		// The access token is a JWT access token (RFC 9068).
		h, p := jwtParts(t, tok.access)
		if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
			t.Errorf("access token header %v; want typ at+jwt, alg ES256, a kid", h)
		}
		if p["client_id"] != w.web.ID || p["scope"] != "openid profile" || p["iss"] != in.issuer || p["sub"] != memberID {
			t.Errorf("access token claims %v", p)
		}
		if exp, iat := p["exp"].(float64), p["iat"].(float64); exp-iat <= 0 || exp-iat > 300 {
			t.Errorf("access token lives %vs; want at most 300", exp-iat)
		}
		if !slices.Contains(jwksKids(t, in), h["kid"].(string)) {
			t.Errorf("access token kid %v is not published", h["kid"])
		}

		// Userinfo releases the profile, nothing the scopes did not ask for.
		ui, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.access, TokenType: "Bearer"}))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var claims map[string]any
		if err := ui.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if claims["sub"] != memberID || claims["given_name"] != memberGiven || claims["family_name"] != memberFamily ||
			claims["name"] != memberGiven+" "+memberFamily {
			t.Errorf("userinfo = %v", claims)
		}
		for _, leak := range []string{"email", "email_verified", "address", "birthdate", "kvnr", "urn:telematik:claims:id"} {
			if _, ok := claims[leak]; ok {
				t.Errorf("userinfo releases %s without its scope: %v", leak, claims)
			}
		}

		// With every scope, every claim comes that a password login (low)
		// may release: the KVNR, the address and the date of birth need
		// substantial, whatever the client asks for.
		all := rp.login(t, "openid", "profile", "email", "address", "birthdate", "kvnr")
		r := userinfo(t, in, all.access)
		if r.status != http.StatusOK {
			t.Fatalf("userinfo: %d %s", r.status, r.body)
		}
		full := r.json(t)
		if full["email"] != memberEmail || full["name"] != memberGiven+" "+memberFamily {
			t.Errorf("userinfo with all scopes = %v", full)
		}
		for _, personal := range []string{"kvnr", "urn:telematik:claims:id", "address", "birthdate"} {
			if _, ok := full[personal]; ok {
				t.Errorf("a low login releases %s: %v", personal, full)
			}
		}
	})
}

// TestPublicClientCodeFlow: the native app has no secret; PKCE alone
// protects its code, and its loopback redirect may use any port (RFC 8252).
func TestPublicClientCodeFlow(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.app, nil)
		rp.conf.RedirectURL = "http://127.0.0.1:49152/callback"
		tok := rp.login(t, "openid", "kvnr")
		if tok.refresh == "" {
			t.Fatal("no refresh token for the app")
		}
		if _, err := rp.refresh(tok.refresh); err != nil {
			t.Fatalf("refresh as a public client: %v", err)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		first := rp.login(t, "openid", "profile")
		if first.refresh == "" {
			t.Fatal("no refresh token")
		}

		second, err := rp.refresh(first.refresh)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if second.RefreshToken == "" || second.RefreshToken == first.refresh {
			t.Fatal("the refresh token was not rotated")
		}
		if second.AccessToken == first.access {
			t.Fatal("no new access token")
		}
		rotated := rp.verify(t, second, "")
		if rotated.idToken.Subject != memberID {
			t.Errorf("refreshed ID token sub %q", rotated.idToken.Subject)
		}
		// The new refresh token works, and rotates again.
		third, err := rp.refresh(second.RefreshToken)
		if err != nil {
			t.Fatalf("refresh with the rotated token: %v", err)
		}
		if !active(w.introspect(t, in, third.AccessToken)) || !active(w.introspect(t, in, third.RefreshToken)) {
			t.Fatal("the newest tokens are not active")
		}

		// Reusing the first token is theft: refused, and the whole family
		// ends, the newest tokens included.
		_, err = rp.refresh(first.refresh)
		if code, status := oauthError(t, err); code != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("reuse: %s %d, want invalid_grant 400", code, status)
		}
		_, err = rp.refresh(third.RefreshToken)
		if code, _ := oauthError(t, err); code != "invalid_grant" {
			t.Fatalf("newest refresh token after reuse: %s, want invalid_grant", code)
		}
		if active(w.introspect(t, in, third.AccessToken)) {
			t.Error("the newest access token is still active after the family was revoked")
		}
		if r := userinfo(t, in, third.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with a revoked family's token: %d", r.status)
		}
	})
}

func TestRevocationThenIntrospection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.web, nil)
		revoke := func(tok, hint string) {
			t.Helper()
			form := url.Values{"token": {tok}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			r := postForm(t, in.base+"/revoke", form, basic(w.web.ID, w.web.secret))
			if r.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}

		// A refresh token: revoking it ends the grant, its access tokens too
		// (RFC 7009 §2.1).
		tok := rp.login(t, "openid")
		rt := w.introspect(t, in, tok.refresh)
		if !active(rt) || rt["token_type"] != "refresh_token" || rt["client_id"] != w.web.ID {
			t.Fatalf("refresh token before revocation: %v", rt)
		}
		revoke(tok.refresh, "refresh_token")
		if m := w.introspect(t, in, tok.refresh); active(m) || len(m) != 1 {
			t.Errorf("revoked refresh token introspects as %v; want only active:false", m)
		}
		if active(w.introspect(t, in, tok.access)) {
			t.Error("the access token of a revoked refresh token is still active")
		}
		if _, err := rp.refresh(tok.refresh); err == nil {
			t.Error("a revoked refresh token still refreshes")
		}

		// An access token: revoking it ends it alone.
		tok = rp.login(t, "openid")
		at := w.introspect(t, in, tok.access)
		if !active(at) || at["client_id"] != w.web.ID || at["sub"] != memberID || at["scope"] != "openid" {
			t.Fatalf("access token before revocation: %v", at)
		}
		revoke(tok.access, "access_token")
		if active(w.introspect(t, in, tok.access)) {
			t.Error("revoked access token is still active")
		}
		if r := userinfo(t, in, tok.access); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo with a revoked access token: %d", r.status)
		}
		if !active(w.introspect(t, in, tok.refresh)) {
			t.Error("revoking an access token revoked its refresh token")
		}
		// A wrong hint does not stop the revocation (RFC 7009 §2.1).
		revoke(tok.refresh, "access_token")
		if active(w.introspect(t, in, tok.refresh)) {
			t.Error("a refresh token sent with hint access_token was not revoked")
		}
	})
}

// TestIntrospectionOnlyForThoseWhoMaySee: a member's access token is
// active at introspection for the client it was issued to and for the
// resource server registered as its audience, which the token's aud names
// (RFC 9068); any other confidential client gets exactly the body an
// unknown token gets. A refresh token is shown to its holder alone.
func TestIntrospectionOnlyForThoseWhoMaySee(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		cs := newDPPClients(t, w)
		in := w.start(t, eng.storage(t), cs.option)
		asWeb := func(tok string) result {
			t.Helper()
			return postForm(t, in.base+"/introspect", url.Values{"token": {tok}}, basic(w.web.ID, w.web.secret))
		}
		asService := func(tok string) result {
			t.Helper()
			return postForm(t, in.base+"/introspect", url.Values{
				"token": {tok}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret},
			}, nil)
		}

		web := in.rp(t, w.web, nil).login(t, "openid", "profile")
		if _, claims := jwtParts(t, web.access); !slices.Equal(anyStrings(claims["aud"]), []string{in.issuer, w.svc.ID}) {
			t.Errorf("access token aud %v, want the issuer and the registered resource server", claims["aud"])
		}
		for name, r := range map[string]result{"the issuing client": asWeb(web.access), "the registered resource server": asService(web.access)} {
			if m := r.json(t); !active(m) || m["client_id"] != w.web.ID || m["sub"] != memberID {
				t.Errorf("%s: introspection %d %v, want active", name, r.status, m)
			}
		}
		if m := asService(web.refresh).json(t); active(m) {
			t.Errorf("the resource server sees the web client's refresh token: %v", m)
		}

		// The shop's token is foreign to the web client, which is
		// confidential but neither the shop nor its resource server.
		shop := in.rp(t, cs.shop, nil).login(t, "openid", "profile")
		unknown := shop.access[:strings.LastIndex(shop.access, ".")+1] + "AAAA"
		want := asWeb(unknown)
		if want.status != http.StatusOK || strings.TrimSpace(string(want.body)) != `{"active":false}` {
			t.Fatalf("unknown token: %d %s", want.status, want.body)
		}
		for name, tok := range map[string]string{"access token": shop.access, "refresh token": shop.refresh} {
			if got := asWeb(tok); got.status != want.status || string(got.body) != string(want.body) || !slices.Equal(headerLines(got), headerLines(want)) {
				t.Errorf("foreign %s: %d %s %v, want what an unknown token gets: %d %s %v",
					name, got.status, got.body, headerLines(got), want.status, want.body, headerLines(want))
			}
		}
		if !active(asService(shop.access).json(t)) {
			t.Error("the shop's registered resource server does not see its token")
		}

		// Resource indicators (RFC 8707) are not supported: a resource
		// parameter changes nothing, the audience is the registration's.
		r := postForm(t, in.base+"/token", url.Values{
			"grant_type": {"client_credentials"}, "resource": {"https://api.other.example/"},
			"client_id": {w.svc.ID}, "client_secret": {w.svc.secret},
		}, nil)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &tok) != nil {
			t.Fatalf("client_credentials with resource: %d %s", r.status, r.body)
		}
		if _, claims := jwtParts(t, tok.AccessToken); !slices.Equal(anyStrings(claims["aud"]), []string{in.issuer}) {
			t.Errorf("aud %v with a resource parameter, want the issuer alone", claims["aud"])
		}
	})
}

// headerLines are r's header fields but Date, sorted, as "Name: value".
func headerLines(r result) []string {
	var out []string
	for k, vs := range r.header {
		if k != "Date" {
			out = append(out, k+": "+strings.Join(vs, ", "))
		}
	}
	slices.Sort(out)
	return out
}

func anyStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, s := range v {
			str, _ := s.(string)
			out = append(out, str)
		}
	}
	return out
}

func TestClientCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		cc := clientcredentials.Config{
			ClientID: w.svc.ID, ClientSecret: w.svc.secret, TokenURL: in.issuer + "/token",
			Scopes: []string{"claims.read"}, AuthStyle: oauth2.AuthStyleInParams, // client_secret_post
		}
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, httpClient)
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
			t.Error("client_credentials issued a refresh or ID token")
		}
		h, p := jwtParts(t, tok.AccessToken)
		if h["typ"] != "at+jwt" || p["client_id"] != w.svc.ID || p["sub"] != w.svc.ID || p["scope"] != "claims.read" {
			t.Errorf("access token %v %v", h, p)
		}
		// The service introspects its own token with client_secret_post.
		r := postForm(t, in.base+"/introspect", url.Values{
			"token": {tok.AccessToken}, "client_id": {w.svc.ID}, "client_secret": {w.svc.secret},
		}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("introspect: %d %s", r.status, r.body)
		}
		m := r.json(t)
		if !active(m) || m["client_id"] != w.svc.ID || m["scope"] != "claims.read" {
			t.Errorf("introspection = %v", m)
		}
		// Another client sees nothing of the service's own token.
		if r := postForm(t, in.base+"/introspect", url.Values{"token": {tok.AccessToken}}, basic(w.web.ID, w.web.secret)); strings.TrimSpace(string(r.body)) != `{"active":false}` {
			t.Errorf("another client introspects the service's token: %d %s", r.status, r.body)
		}
		// The client must use its registered method: Basic is refused.
		cc.AuthStyle = oauth2.AuthStyleInHeader
		_, err = cc.Token(ctx)
		if code, status := oauthError(t, err); code != "invalid_client" || status != http.StatusUnauthorized {
			t.Errorf("client_secret_post client with Basic: %s %d, want invalid_client 401", code, status)
		}
		// A member-only token cannot be used for userinfo.
		if r := userinfo(t, in, tok.AccessToken); r.status == http.StatusOK {
			t.Error("userinfo answers a client_credentials token")
		}
	})
}

func TestPrivateKeyJWT(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		rp := in.rp(t, w.portal, nil)
		exchange := func(code string, a attempt, assertion string) result {
			return postForm(t, in.base+"/token", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.conf.RedirectURL},
				"code_verifier": {a.verifier}, "client_id": {w.portal.ID},
				"client_assertion_type": {assertionType}, "client_assertion": {assertion},
			}, nil)
		}
		check := func(r result, a attempt) tokens {
			t.Helper()
			if r.status != http.StatusOK {
				t.Fatalf("token: %d %s", r.status, r.body)
			}
			m := r.json(t)
			tok := &oauth2.Token{AccessToken: m["access_token"].(string), TokenType: m["token_type"].(string)}
			tok.RefreshToken, _ = m["refresh_token"].(string)
			return rp.verify(t, tok.WithExtra(m), a.nonce)
		}

		// The issuer as audience, and nothing else (FAPI 2.0 Security
		// Profile §5.3.2.1): the token endpoint's URL is refused.
		a := newAttempt("openid", "kvnr")
		code := rp.code(t, a)
		wantOAuthError(t, exchange(code, a, w.portal.assertion(t, in.issuer+"/token", in.clock.Now())), http.StatusUnauthorized, "invalid_client")
		first := check(exchange(code, a, w.portal.assertion(t, in.issuer, in.clock.Now())), a)

		a = newAttempt("openid", "profile")
		asIssuer := w.portal.assertion(t, in.issuer, in.clock.Now())
		check(exchange(rp.code(t, a), a, asIssuer), a)

		// The same assertion again (same jti) is refused. refresh rotates
		// current on success.
		current := first.refresh
		refresh := func(assertion string) result {
			r := postForm(t, in.base+"/token", url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {current},
				"client_assertion_type": {assertionType}, "client_assertion": {assertion},
			}, nil)
			if r.status == http.StatusOK {
				current = r.json(t)["refresh_token"].(string)
			}
			return r
		}
		wantOAuthError(t, refresh(asIssuer), http.StatusUnauthorized, "invalid_client")
		// The refused request did not spend the refresh token.
		if r := refresh(w.portal.assertion(t, in.issuer, in.clock.Now())); r.status != http.StatusOK {
			t.Fatalf("refresh with a fresh assertion: %d %s", r.status, r.body)
		}

		// The jti is the client's free text: any text is remembered, and
		// refused the second time.
		odd := w.portal.assertionWithJTI(t, in.issuer, in.clock.Now(), "jti \x00 mit Nullbyte ü "+randomHex(4))
		if r := refresh(odd); r.status != http.StatusOK {
			t.Fatalf("refresh with an odd jti: %d %s", r.status, r.body)
		}
		wantOAuthError(t, refresh(odd), http.StatusUnauthorized, "invalid_client")

		// Other audiences, and another client's identity, are refused.
		wantOAuthError(t, refresh(w.portal.assertion(t, "https://elsewhere.example", in.clock.Now())), http.StatusUnauthorized, "invalid_client")
		other := w.portal
		other.Client.ID = w.web.ID // an assertion claiming to be another client
		wantOAuthError(t, refresh(other.assertion(t, in.issuer, in.clock.Now())), http.StatusUnauthorized, "invalid_client")
	})
}

// countingTransport counts JWKS fetches.
type countingTransport struct{ jwks atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/jwks") {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestKeyRotationSeenByTheClient(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))
		counter := &countingTransport{}
		rp := in.rp(t, w.web, &http.Client{Transport: counter, Timeout: 20 * time.Second})

		before := rp.login(t, "openid") // verified: one JWKS fetch
		kidBefore := idKid(t, before.id)
		if n := counter.jwks.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches after the first login, want 1", n)
		}

		// Rotation activates the next key, which the client already has:
		// published before it signs, so no fetch and no failure.
		if _, err := in.srv.Keys().Rotate(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		after := rp.login(t, "openid")
		kidAfter := idKid(t, after.id)
		if kidAfter == kidBefore {
			t.Fatal("the rotation did not change the signing key")
		}
		if n := counter.jwks.Load(); n != 1 {
			t.Errorf("%d JWKS fetches; the new key should have been published before it signed", n)
		}

		// A second forced rotation activates a key the client has not seen:
		// go-oidc refetches on the unknown kid and verification succeeds.
		if _, err := in.srv.Keys().Rotate(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		third := rp.login(t, "openid")
		if idKid(t, third.id) == kidAfter {
			t.Fatal("the second rotation did not change the signing key")
		}
		if n := counter.jwks.Load(); n != 2 {
			t.Errorf("%d JWKS fetches, want 2 (one refetch for the unknown kid)", n)
		}

		// Tokens signed by the retired keys still verify, with the same
		// verifier, and still work at userinfo.
		for _, tok := range []tokens{before, after, third} {
			if _, err := rp.verifier.Verify(rp.ctx, tok.id); err != nil {
				t.Errorf("ID token of kid %s: %v", idKid(t, tok.id), err)
			}
			if r := userinfo(t, in, tok.access); r.status != http.StatusOK {
				t.Errorf("userinfo with a token of kid %s: %d %s", idKid(t, tok.id), r.status, r.body)
			}
		}
		if _, err := rp.refresh(before.refresh); err != nil {
			t.Errorf("refresh after rotation: %v", err)
		}
	})
}

func idKid(t *testing.T, raw string) string {
	t.Helper()
	h, _ := jwtParts(t, raw)
	kid, _ := h["kid"].(string)
	return kid
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
