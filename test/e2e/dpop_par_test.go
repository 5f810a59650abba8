package e2e

import (
	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/authz"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/loa"
)

// DPoP (RFC 9449), PAR (RFC 9126) and pairwise subjects over real HTTP, on
// SQLite and PostgreSQL. The logins go through the password page, so that
// these tests depend on nothing but the OpenID Connect endpoints; proofs
// are made with the reference app's DPoP key (cmd/pforte-app/dpop).

// dppClients are the clients of these tests, next to the world's.
type dppClients struct {
	app    testClient // public native app: require_dpop
	portal testClient // confidential portal: require_par, sector portal.example
	shop   testClient // confidential, the portal's sector
	other  testClient // confidential, another sector
}

const (
	dppAppRedirect    = "http://127.0.0.1/callback"
	dppPortalRedirect = "https://portal.example/cb"
	dppShopRedirect   = "https://shop.portal.example/cb"
	dppOtherRedirect  = "https://reha.example/cb"
)

func newDPPClients(t *testing.T, w *world) *dppClients {
	t.Helper()
	hasher, err := server.SecretHasher(w.master)
	if err != nil {
		t.Fatal(err)
	}
	conf := func(id, redirect, sector string, par bool) testClient {
		c := testClient{secret: client.GenerateSecret()}
		c.Client = client.Client{
			ID: id, Name: id, Kind: client.Web, AuthMethod: client.AuthSecretBasic, SecretHash: hasher.Hash(c.secret),
			RedirectURIs: []string{redirect}, GrantTypes: []string{client.GrantCode, client.GrantRefresh},
			Scopes: []string{"openid", "profile", "kvnr"}, RequirePAR: par, SectorIdentifier: sector,
			// The password page alone, as for the clients of newWorld.
			MinACR: loa.Low, IntrospectionAudiences: []string{w.svc.ID},
		}
		return c
	}
	return &dppClients{
		app: testClient{Client: client.Client{
			ID: "dpp-app", Name: "DPoP-App", Kind: client.Native, AuthMethod: client.AuthNone,
			RedirectURIs: []string{dppAppRedirect}, GrantTypes: []string{client.GrantCode, client.GrantRefresh},
			Scopes: []string{"openid", "profile", "kvnr", "offline_access"}, RequireDPoP: true, MinACR: loa.Low,
			IntrospectionAudiences: []string{w.svc.ID},
		}},
		portal: conf("dpp-portal", dppPortalRedirect, "portal.example", true),
		shop:   conf("dpp-shop", dppShopRedirect, "portal.example", false),
		other:  conf("dpp-other", dppOtherRedirect, "reha.example", false),
	}
}

// option registers the clients with a server.
func (c *dppClients) option(o *server.Options) {
	o.Clients = append(o.Clients, c.app.Client, c.portal.Client, c.shop.Client, c.other.Client)
}

func dppKey(t *testing.T) *dpop.Key {
	t.Helper()
	k, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dppProof is a proof by k for method at the issuer's path, made at the
// server's now.
func dppProof(t *testing.T, in *instance, k *dpop.Key, method, path, accessToken, nonce string) string {
	t.Helper()
	p, err := k.Proof(method, in.issuer+path, accessToken, nonce, in.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dppPost posts form to the issuer's path on in, with one DPoP header per
// proof and auth (may be nil).
func dppPost(t *testing.T, in *instance, path string, form url.Values, auth func(*http.Request), proofs ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	if auth != nil {
		auth(req)
	}
	return do(t, req)
}

// dppUserinfo calls userinfo with "Authorization: <scheme> tok" and the
// proofs.
func dppUserinfo(t *testing.T, in *instance, scheme, tok string, proofs ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, in.base+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+tok)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return do(t, req)
}

// dppAuthorize is an authorization request of c with PKCE; it returns
// the query and the verifier.
func dppAuthorize(c testClient, redirect, scope string) (url.Values, string) {
	v := oauth2.GenerateVerifier()
	return url.Values{
		"client_id": {c.ID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {scope},
		"state": {randomHex(8)}, "nonce": {randomHex(8)},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
	}, v
}

// dppLogin takes the browser from the authorization endpoint with query
// q through the password page and returns the code of the redirect to
// redirect, after checking state and iss.
func dppLogin(t *testing.T, in *instance, q url.Values, redirect, state string) string {
	t.Helper()
	b := newBrowser(t)
	page := b.get(t, in.base+"/authorize?"+q.Encode())
	cb := callback(t, b.submitLogin(t, in.base, page, memberKVNR.String(), memberPassword))
	got := cb.Query()
	if cb.Scheme+"://"+cb.Host+cb.Path != redirect || got.Get("error") != "" {
		t.Fatalf("redirected to %s", cb)
	}
	if got.Get("state") != state || got.Get("iss") != in.issuer || got.Get("code") == "" {
		t.Fatalf("callback %s: state, iss or code wrong", cb)
	}
	return got.Get("code")
}

// wantNonce fails unless r carries a DPoP-Nonce and returns it.
func wantNonce(t *testing.T, r result) string {
	t.Helper()
	n := r.header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatalf("answer %d without DPoP-Nonce: %s", r.status, r.body)
	}
	return n
}

// wantChallenge fails unless r is a 401 with WWW-Authenticate challenge.
func wantChallenge(t *testing.T, r result, challenge string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != challenge {
		t.Fatalf("status %d, WWW-Authenticate %q; want 401 %q: %s", r.status, r.header.Get("WWW-Authenticate"), challenge, r.body)
	}
}

// TestDPoP runs the app's session with DPoP through every refusal RFC
// 9449 asks for: at the token endpoint, at userinfo and in introspection.
func TestDPoP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		cs := newDPPClients(t, w)
		in := w.start(t, eng.storage(t), cs.option)
		key, otherKey := dppKey(t), dppKey(t)

		q, verifier := dppAuthorize(cs.app, dppAppRedirect, "openid profile kvnr offline_access")
		code := dppLogin(t, in, q, dppAppRedirect, q.Get("state"))
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppAppRedirect},
			"client_id": {cs.app.ID}, "code_verifier": {verifier},
		}

		// The app requires DPoP: no proof, no token (and the answer
		// already brings the nonce).
		r := dppPost(t, in, "/token", form, nil)
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
		nonce := wantNonce(t, r)

		// An invalid proof: a forged signature, two headers.
		good := dppProof(t, in, key, "POST", "/token", "", nonce)
		forged := good[:strings.LastIndex(good, ".")+1] + strings.Repeat("A", 86)
		wantOAuthError(t, dppPost(t, in, "/token", form, nil, forged), http.StatusBadRequest, "invalid_dpop_proof")
		wantOAuthError(t, dppPost(t, in, "/token", form, nil, good, dppProof(t, in, key, "POST", "/token", "", nonce)),
			http.StatusBadRequest, "invalid_dpop_proof")

		// The nonce flow: a proof without nonce is answered with
		// use_dpop_nonce and a nonce to retry with.
		r = dppPost(t, in, "/token", form, nil, dppProof(t, in, key, "POST", "/token", "", ""))
		wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
		nonce = wantNonce(t, r)

		// Wrong htu, wrong htm.
		wantOAuthError(t, dppPost(t, in, "/token", form, nil, dppProof(t, in, key, "POST", "/userinfo", "", nonce)),
			http.StatusBadRequest, "invalid_dpop_proof")
		wantOAuthError(t, dppPost(t, in, "/token", form, nil, dppProof(t, in, key, "GET", "/token", "", nonce)),
			http.StatusBadRequest, "invalid_dpop_proof")

		// None of that cost the code: the retry with a good proof works.
		proof := dppProof(t, in, key, "POST", "/token", "", nonce)
		r = dppPost(t, in, "/token", form, nil, proof)
		if r.status != http.StatusOK {
			t.Fatalf("exchange with a good proof: %d %s", r.status, r.body)
		}
		wantNonce(t, r)
		tok := r.json(t)
		at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
		if tok["token_type"] != "DPoP" || at == "" || rt == "" {
			t.Fatalf("token response %v", tok)
		}
		if _, claims := jwtParts(t, at); claims["cnf"] == nil || claims["cnf"].(map[string]any)["jkt"] != key.Thumbprint() {
			t.Fatalf("access token cnf %v, want jkt %s", claims["cnf"], key.Thumbprint())
		}

		// Replay: the same proof (the same jti) again is refused.
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cs.app.ID}}
		r = dppPost(t, in, "/token", refresh, nil, proof)
		m := wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
		if !strings.Contains(m["error_description"].(string), "already used") {
			t.Errorf("replay answer %v", m)
		}

		// Introspection shows the binding.
		intro := w.introspect(t, in, at)
		if !active(intro) || intro["token_type"] != "DPoP" || intro["cnf"] == nil ||
			intro["cnf"].(map[string]any)["jkt"] != key.Thumbprint() {
			t.Fatalf("introspection %v, want active DPoP with cnf.jkt", intro)
		}

		// The refresh token is bound to the key: another key is
		// invalid_grant, no proof invalid_dpop_proof; neither spends it.
		wantOAuthError(t, dppPost(t, in, "/token", refresh, nil, dppProof(t, in, otherKey, "POST", "/token", "", nonce)),
			http.StatusBadRequest, "invalid_grant")
		wantOAuthError(t, dppPost(t, in, "/token", refresh, nil), http.StatusBadRequest, "invalid_dpop_proof")
		r = dppPost(t, in, "/token", refresh, nil, dppProof(t, in, key, "POST", "/token", "", nonce))
		if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
			t.Fatalf("refresh with the bound key: %d %s", r.status, r.body)
		}
		at = r.json(t)["access_token"].(string)

		// Userinfo: a bound token as Bearer is refused with a DPoP
		// challenge; the DPoP scheme without a proof, with a wrong ath,
		// and without a nonce are refused; the right proof works, once.
		wantChallenge(t, dppUserinfo(t, in, "Bearer", at), `DPoP error="invalid_token", algs="ES256"`)
		wantChallenge(t, dppUserinfo(t, in, "DPoP", at), `DPoP error="invalid_dpop_proof", algs="ES256"`)
		wantChallenge(t, dppUserinfo(t, in, "DPoP", at, dppProof(t, in, key, "GET", "/userinfo", "another-token", nonce)),
			`DPoP error="invalid_dpop_proof", algs="ES256"`)
		wantChallenge(t, dppUserinfo(t, in, "DPoP", at, dppProof(t, in, key, "POST", "/userinfo", at, nonce)),
			`DPoP error="invalid_dpop_proof", algs="ES256"`)
		wantChallenge(t, dppUserinfo(t, in, "DPoP", at, dppProof(t, in, otherKey, "GET", "/userinfo", at, nonce)),
			`DPoP error="invalid_token", algs="ES256"`)
		r = dppUserinfo(t, in, "DPoP", at, dppProof(t, in, key, "GET", "/userinfo", at, ""))
		wantChallenge(t, r, `DPoP error="use_dpop_nonce", algs="ES256"`)
		nonce = wantNonce(t, r)
		good = dppProof(t, in, key, "GET", "/userinfo", at, nonce)
		r = dppUserinfo(t, in, "DPoP", at, good)
		if r.status != http.StatusOK {
			t.Fatalf("userinfo with DPoP: %d %s", r.status, r.body)
		}
		wantNonce(t, r)
		// The password login is low: no KVNR, whatever the scope.
		if ui := r.json(t); ui["sub"] != memberID || ui["given_name"] != memberGiven || ui["kvnr"] != nil {
			t.Errorf("userinfo %v", ui)
		}
		wantChallenge(t, dppUserinfo(t, in, "DPoP", at, good), `DPoP error="invalid_dpop_proof", algs="ES256"`)

		// A bearer token (the web client's) still works as before, and
		// not as DPoP.
		bearer := in.rp(t, w.web, nil).login(t, "openid")
		if r := dppUserinfo(t, in, "Bearer", bearer.access); r.status != http.StatusOK {
			t.Errorf("bearer userinfo: %d %s", r.status, r.body)
		}
		wantChallenge(t, dppUserinfo(t, in, "DPoP", bearer.access, dppProof(t, in, key, "GET", "/userinfo", bearer.access, nonce)),
			`DPoP error="invalid_token", algs="ES256"`)
		if intro := w.introspect(t, in, bearer.access); intro["token_type"] != "Bearer" || intro["cnf"] != nil {
			t.Errorf("bearer introspection %v", intro)
		}
	})
}

// TestDPoPCodeBoundByDPoPJKT: the dpop_jkt of the authorization request
// must be the key of the proof at the code exchange (RFC 9449 §10).
func TestDPoPCodeBoundByDPoPJKT(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		cs := newDPPClients(t, w)
		in := w.start(t, eng.storage(t), cs.option)
		key, otherKey := dppKey(t), dppKey(t)
		nonce := wantNonce(t, dppPost(t, in, "/token", url.Values{}, nil))
		for _, tc := range []struct {
			name string
			key  *dpop.Key
			want string
		}{
			{"another key", otherKey, "invalid_grant"},
			{"the named key", key, ""},
		} {
			q, verifier := dppAuthorize(cs.app, dppAppRedirect, "openid")
			q.Set("dpop_jkt", key.Thumbprint())
			code := dppLogin(t, in, q, dppAppRedirect, q.Get("state"))
			r := dppPost(t, in, "/token", url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppAppRedirect},
				"client_id": {cs.app.ID}, "code_verifier": {verifier},
			}, nil, dppProof(t, in, tc.key, "POST", "/token", "", nonce))
			if tc.want != "" {
				wantOAuthError(t, r, http.StatusBadRequest, tc.want)
			} else if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
	})
}

// TestDPoPAcrossReplicas: two servers on one PostgreSQL behind one issuer
// accept each other's nonces and share the replay cache; htu is checked
// against the issuer, not the address the request came to.
func TestDPoPAcrossReplicas(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs := newDPPClients(t, w)
	st := postgresStorage(t)
	a := w.start(t, st, cs.option)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := w.serve(t, ln, a.issuer, st, cs.option)
	key := dppKey(t)
	// The nonce comes from A, the code is redeemed on B.
	nonce := wantNonce(t, dppPost(t, a, "/token", url.Values{}, nil))
	q, verifier := dppAuthorize(cs.app, dppAppRedirect, "openid offline_access")
	code := dppLogin(t, a, q, dppAppRedirect, q.Get("state"))
	proof := dppProof(t, a, key, "POST", "/token", "", nonce)
	r := dppPost(t, b, "/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppAppRedirect},
		"client_id": {cs.app.ID}, "code_verifier": {verifier},
	}, nil, proof)
	if r.status != http.StatusOK {
		t.Fatalf("exchange on B with A's nonce: %d %s", r.status, r.body)
	}
	// The same proof on A is a replay.
	rt := r.json(t)["refresh_token"].(string)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cs.app.ID}}
	wantOAuthError(t, dppPost(t, a, "/token", refresh, nil, proof), http.StatusBadRequest, "invalid_dpop_proof")
	// A proof naming B's own address is not for this issuer.
	p, err := key.Proof("POST", b.base+"/token", "", nonce, b.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, dppPost(t, b, "/token", refresh, nil, p), http.StatusBadRequest, "invalid_dpop_proof")
}

// TestPAR: pushed authorization requests with client authentication, the
// request_uri single use and valid for 90 seconds, and the per-client
// switch that makes them mandatory.
func TestPAR(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		cs := newDPPClients(t, w)
		in := w.start(t, eng.storage(t), cs.option)
		portalAuth := basic(cs.portal.ID, cs.portal.secret)

		var md map[string]any
		if err := in.rp(t, w.web, nil).provider.Claims(&md); err != nil {
			t.Fatal(err)
		}
		if md["pushed_authorization_request_endpoint"] != in.issuer+"/par" || md["require_pushed_authorization_requests"] != false {
			t.Errorf("discovery: PAR endpoint %v, required %v", md["pushed_authorization_request_endpoint"], md["require_pushed_authorization_requests"])
		}
		if algs, _ := md["dpop_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "ES256" {
			t.Errorf("discovery: dpop_signing_alg_values_supported %v", md["dpop_signing_alg_values_supported"])
		}

		push := func(q url.Values, auth func(*http.Request)) result {
			t.Helper()
			return dppPost(t, in, "/par", q, auth)
		}
		pushed := func(q url.Values) string {
			t.Helper()
			r := push(q, portalAuth)
			if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("push: %d %s", r.status, r.body)
			}
			wantNonce(t, r)
			m := r.json(t)
			uri, _ := m["request_uri"].(string)
			if !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || m["expires_in"] != float64(90) {
				t.Fatalf("push answer %v", m)
			}
			return uri
		}
		byReference := func(clientID, uri string) url.Values {
			return url.Values{"client_id": {clientID}, "request_uri": {uri}}
		}

		// The whole flow: push, authorize by reference, log in, redeem.
		q, verifier := dppAuthorize(cs.portal, dppPortalRedirect, "openid profile")
		uri := pushed(q)
		code := dppLogin(t, in, byReference(cs.portal.ID, uri), dppPortalRedirect, q.Get("state"))
		r := postForm(t, in.base+"/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppPortalRedirect}, "code_verifier": {verifier},
		}, portalAuth)
		if r.status != http.StatusOK || r.json(t)["token_type"] != "Bearer" {
			t.Fatalf("exchange: %d %s", r.status, r.body)
		}

		// Used twice: an error page, not a redirect.
		page := newBrowser(t).getNoFollow(t, in.base+"/authorize?"+byReference(cs.portal.ID, uri).Encode())
		if page.status != http.StatusBadRequest || page.header.Get("Location") != "" ||
			!strings.Contains(string(page.body), catalog.German.Code(authz.CodeRequestGone)) {
			t.Fatalf("request_uri used twice: %d %q\n%s", page.status, page.header.Get("Location"), page.body)
		}

		// After 90 seconds: the same page.
		q, _ = dppAuthorize(cs.portal, dppPortalRedirect, "openid")
		uri = pushed(q)
		w.clock.Advance(90 * time.Second)
		page = newBrowser(t).getNoFollow(t, in.base+"/authorize?"+byReference(cs.portal.ID, uri).Encode())
		if page.status != http.StatusBadRequest || !strings.Contains(string(page.body), catalog.German.Code(authz.CodeRequestGone)) {
			t.Fatalf("request_uri after 90 s: %d\n%s", page.status, page.body)
		}

		// Another client cannot use it (and does not use it up).
		uri = pushed(q)
		page = newBrowser(t).getNoFollow(t, in.base+"/authorize?"+byReference(cs.shop.ID, uri).Encode())
		if page.status != http.StatusForbidden || page.header.Get("Location") != "" {
			t.Fatalf("another client's request_uri: %d %q", page.status, page.header.Get("Location"))
		}
		if r := newBrowser(t).getNoFollow(t, in.base+"/authorize?"+byReference(cs.portal.ID, uri).Encode()); r.status != http.StatusFound {
			t.Fatalf("the owner after another client tried: %d\n%s", r.status, r.body)
		}

		// A confidential client must authenticate: client_id alone, a
		// wrong secret.
		q.Set("client_id", cs.portal.ID)
		wantOAuthError(t, push(q, nil), http.StatusUnauthorized, "invalid_client")
		r = push(q, basic(cs.portal.ID, "wrong-secret-wrong-secret-wrong-secret"))
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("a failed Basic authentication has no challenge")
		}
		// A public client names itself.
		aq, _ := dppAuthorize(cs.app, dppAppRedirect, "openid")
		if r := push(aq, nil); r.status != http.StatusCreated {
			t.Fatalf("public client push: %d %s", r.status, r.body)
		}
		// Refusals are JSON for the client, never redirects.
		bad := url.Values{}
		for k, v := range q {
			bad[k] = v
		}
		bad.Del("code_challenge")
		m := wantOAuthError(t, push(bad, portalAuth), http.StatusBadRequest, "invalid_request")
		if !strings.Contains(m["error_description"].(string), "code_challenge") {
			t.Errorf("refusal %v", m)
		}
		bad = url.Values{"redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}}
		wantOAuthError(t, push(bad, portalAuth), http.StatusBadRequest, "invalid_request")
		if r := get(t, in.base+"/par", nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET /par: %d", r.status)
		}

		// require_par: the portal's plain request goes back to it with
		// invalid_request.
		q, _ = dppAuthorize(cs.portal, dppPortalRedirect, "openid")
		cb := callback(t, newBrowser(t).getNoFollow(t, in.base+"/authorize?"+q.Encode()))
		got := cb.Query()
		if cb.Host != "portal.example" || got.Get("error") != "invalid_request" ||
			got.Get("error_description") != "pushed authorization request required" ||
			got.Get("state") != q.Get("state") || got.Get("iss") != in.issuer {
			t.Fatalf("plain request of a PAR client: %s", cb)
		}
	})
}

// TestPairwiseSub: clients of one sector see one sub for the member,
// clients of another sector another, both stable; a client without a
// sector sees the account id. ID token, userinfo and introspection agree.
func TestPairwiseSub(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		cs := newDPPClients(t, w)
		in := w.start(t, eng.storage(t), cs.option)
		subOf := func(c testClient) string {
			t.Helper()
			tok := in.rp(t, c, nil).login(t, "openid", "profile")
			sub := tok.idToken.Subject
			if ui := userinfo(t, in, tok.access).json(t); ui["sub"] != sub {
				t.Errorf("%s: userinfo sub %v, ID token sub %s", c.ID, ui["sub"], sub)
			}
			if intro := w.introspect(t, in, tok.access); intro["sub"] != sub {
				t.Errorf("%s: introspection sub %v, ID token sub %s", c.ID, intro["sub"], sub)
			}
			if _, claims := jwtParts(t, tok.access); claims["sub"] != sub {
				t.Errorf("%s: access token sub %v", c.ID, claims["sub"])
			}
			return sub
		}
		shop, other, public := subOf(cs.shop), subOf(cs.other), subOf(w.web)
		if public != memberID {
			t.Errorf("public sub %q, want the account id", public)
		}
		if shop == public || other == public || shop == other || len(shop) != 43 {
			t.Errorf("pairwise subs: shop %q, other %q, public %q", shop, other, public)
		}
		if again := subOf(cs.shop); again != shop {
			t.Errorf("the shop's sub changed: %q, then %q", shop, again)
		}
		// The portal, of the shop's sector, pushes its request and sees
		// the shop's sub.
		q, verifier := dppAuthorize(cs.portal, dppPortalRedirect, "openid")
		r := dppPost(t, in, "/par", q, basic(cs.portal.ID, cs.portal.secret))
		if r.status != http.StatusCreated {
			t.Fatalf("push: %d %s", r.status, r.body)
		}
		code := dppLogin(t, in, url.Values{"client_id": {cs.portal.ID}, "request_uri": {r.json(t)["request_uri"].(string)}},
			dppPortalRedirect, q.Get("state"))
		r = postForm(t, in.base+"/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {dppPortalRedirect}, "code_verifier": {verifier},
		}, basic(cs.portal.ID, cs.portal.secret))
		if r.status != http.StatusOK {
			t.Fatalf("portal exchange: %d %s", r.status, r.body)
		}
		_, id := jwtParts(t, r.json(t)["id_token"].(string))
		if id["sub"] != shop {
			t.Errorf("portal sub %v, want the sector's %s", id["sub"], shop)
		}
		if id["auth_time"] == nil || id["acr"] != loa.EIDAS.Low {
			t.Errorf("ID token auth_time %v acr %v", id["auth_time"], id["acr"])
		}
	})
}
