package appclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// These tests run the client against a scripted issuer, to check what the
// client does when the issuer misbehaves or asks for a nonce; the tests of
// package main and test/e2e run it against Pforte itself.

const (
	clientID = "pforte-app"
	redirect = "de.hkk.serviceapp:/oauth2redirect"
	subject  = "sub-4711"
)

var b64 = base64.RawURLEncoding

// issuer is the scripted issuer. Its knobs are set before a login.
type issuer struct {
	t   *testing.T
	srv *httptest.Server
	key jwk.Key

	mu sync.Mutex
	// knobs
	tokenNonce    string // the token endpoint wants this nonce ("" none)
	userinfoNonce string // the userinfo endpoint wants this nonce
	tokenType     string // token_type of answers (default DPoP)
	issParam      *string
	stateParam    *string
	idNonce       *string        // nonce of the ID token (default: the request's)
	atHashOf      string         // at_hash over this instead of the access token
	loginError    string         // error the login redirect carries
	stepUpAnswer  map[string]any // answer of POST /app/v1/step-up (nil: a good one)
	confirmAnswer map[string]any // answer of POST /app/v1/step-up/confirmation
	// records
	pushed        url.Values
	proofs        []map[string]any
	tokenReq      []url.Values
	revoked       []url.Values
	stepUps       []map[string]any    // bodies of POST /app/v1/step-up
	confirmBodies []map[string]string // bodies of POST /app/v1/step-up/confirmation
	nonce         string              // the request's nonce
	access        string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, "k1")
	key.Set(jwk.AlgorithmKey, jwa.ES256())
	is := &issuer{t: t, key: key, tokenType: "DPoP"}
	is.srv = httptest.NewServer(http.HandlerFunc(is.serve))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) url() string { return is.srv.URL }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// proof decodes the DPoP proof of r (its signature is the server's to
// check; package dpop's tests do that with Pforte's verifier).
func proof(r *http.Request) map[string]any {
	parts := strings.Split(r.Header.Get("DPoP"), ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func (is *issuer) serve(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	base := is.srv.URL
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, 200, map[string]any{
			"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"userinfo_endpoint": base + "/userinfo", "revocation_endpoint": base + "/revoke",
			"pushed_authorization_request_endpoint": base + "/par", "jwks_uri": base + "/jwks",
			"id_token_signing_alg_values_supported":          []string{"ES256"},
			"authorization_response_iss_parameter_supported": true,
			"response_types_supported":                       []string{"code"},
			"subject_types_supported":                        []string{"public"},
		})
	case "/jwks":
		pub, _ := is.key.PublicKey()
		set := jwk.NewSet()
		set.AddKey(pub)
		writeJSON(w, 200, set)
	case "/par":
		r.ParseForm()
		is.pushed = r.PostForm
		is.nonce = r.PostForm.Get("nonce")
		writeJSON(w, 201, map[string]any{"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 90})
	case "/authorize":
		if r.URL.Query().Get("request_uri") != "urn:ietf:params:oauth:request_uri:abc" {
			w.WriteHeader(400)
			w.Write([]byte("<html><body><main><h1>Anmeldung nicht möglich / Login not possible</h1><p>request_uri unknown</p></main></body></html>"))
			return
		}
		http.Redirect(w, r, "/login?id=L1", http.StatusFound)
	case "/app/v1/logins/L1/challenge":
		writeJSON(w, 201, map[string]any{"challenge_id": "C1", "expires_in": 180,
			"options": map[string]any{"publicKey": map[string]any{"challenge": b64.EncodeToString([]byte("challenge-1")), "rpId": "localhost"}}})
	case "/app/v1/logins/L1":
		var body struct {
			PIN string `json:"pin"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if body.PIN != "470815" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Pforte-PIN-Attempts-Remaining", "4")
			w.WriteHeader(401)
			w.Write([]byte(`{"status":401,"kind":"unauthenticated","detail":"Die PIN ist falsch. / The PIN is wrong."}`))
			return
		}
		q := url.Values{"code": {"CODE1"}, "state": {is.pushed.Get("state")}, "iss": {base}}
		if is.loginError != "" {
			q = url.Values{"error": {is.loginError}, "error_description": {"level not reachable"}, "state": {is.pushed.Get("state")}, "iss": {base}}
		}
		if is.issParam != nil {
			q.Set("iss", *is.issParam)
		}
		if is.stateParam != nil {
			q.Set("state", *is.stateParam)
		}
		writeJSON(w, 200, map[string]string{"redirect_uri": is.pushed.Get("redirect_uri") + "?" + q.Encode()})
	case "/token":
		r.ParseForm()
		p := proof(r)
		is.proofs = append(is.proofs, p)
		is.tokenReq = append(is.tokenReq, r.PostForm)
		if p == nil || p["htm"] != "POST" || p["htu"] != base+"/token" {
			writeJSON(w, 400, map[string]string{"error": "invalid_dpop_proof", "error_description": "bad proof"})
			return
		}
		if is.tokenNonce != "" && p["nonce"] != is.tokenNonce {
			w.Header().Set("DPoP-Nonce", is.tokenNonce)
			writeJSON(w, 400, map[string]string{"error": "use_dpop_nonce", "error_description": "use the nonce"})
			return
		}
		if r.PostForm.Get("grant_type") == "refresh_token" && r.PostForm.Get("refresh_token") != "RT1" {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "the refresh token is invalid"})
			return
		}
		is.access = "AT-" + r.PostForm.Get("grant_type")
		nonce := is.nonce
		if is.idNonce != nil {
			nonce = *is.idNonce
		}
		if r.PostForm.Get("grant_type") == "refresh_token" {
			nonce = ""
		}
		hashed := is.access
		if is.atHashOf != "" {
			hashed = is.atHashOf
		}
		sum := sha256.Sum256([]byte(hashed))
		b := jwt.NewBuilder().Issuer(base).Subject(subject).Audience([]string{clientID}).
			IssuedAt(time.Now()).Expiration(time.Now().Add(5*time.Minute)).
			Claim("at_hash", b64.EncodeToString(sum[:16])).Claim("acr", "http://eidas.europa.eu/LoA/substantial").
			Claim("amr", []string{"hwk", "pin", "mfa"}).Claim("auth_time", time.Now().Unix()).Claim("given_name", "Anna")
		if nonce != "" {
			b = b.Claim("nonce", nonce)
		}
		tok, _ := b.Build()
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), is.key))
		if err != nil {
			is.t.Error(err)
		}
		writeJSON(w, 200, map[string]any{"access_token": is.access, "token_type": is.tokenType, "expires_in": 300,
			"refresh_token": "RT1", "id_token": string(signed), "scope": "openid profile"})
	case "/userinfo":
		p := proof(r)
		is.proofs = append(is.proofs, p)
		at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		sum := sha256.Sum256([]byte(at))
		if p == nil || p["htm"] != "GET" || p["htu"] != base+"/userinfo" || p["ath"] != b64.EncodeToString(sum[:]) {
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="invalid_dpop_proof", error_description="bad proof"`)
			writeJSON(w, 401, map[string]string{"error": "invalid_dpop_proof"})
			return
		}
		if is.userinfoNonce != "" && p["nonce"] != is.userinfoNonce {
			w.Header().Set("DPoP-Nonce", is.userinfoNonce)
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`)
			w.WriteHeader(401)
			return
		}
		if at != is.access {
			w.Header().Set("WWW-Authenticate", `Bearer realm="x", DPoP algs="ES256", error="invalid_token", error_description="the access token was revoked"`)
			w.WriteHeader(401)
			return
		}
		writeJSON(w, 200, map[string]any{"sub": subject, "given_name": "Anna"})
	case "/app/v1/devices/B1/challenge":
		writeJSON(w, 201, map[string]any{"challenge_id": "D1", "expires_in": 180,
			"options": map[string]any{"publicKey": map[string]any{"challenge": b64.EncodeToString([]byte("challenge-d")), "rpId": "localhost"}}})
	case "/app/v1/step-up":
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		is.stepUps = append(is.stepUps, body)
		if pr, _ := body["proof"].(map[string]any); pr["pin"] != "470815" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			w.Write([]byte(`{"status":401,"kind":"unauthenticated","detail":"Die PIN ist falsch. / The PIN is wrong."}`))
			return
		}
		a := is.stepUpAnswer
		if a == nil {
			a = map[string]any{"authorization_url": "http://broker.test/authorize?x=1", "step_up_token": "SUT1",
				"token_type": "Bearer", "expires_in": 600}
		}
		writeJSON(w, 201, a)
	case "/app/v1/step-up/confirmation":
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		is.confirmBodies = append(is.confirmBodies, body)
		if r.Header.Get("Authorization") != "Bearer SUT1" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			w.Write([]byte(`{"status":401,"kind":"unauthenticated","detail":"Der Vorgang ist unbekannt. / The process is unknown."}`))
			return
		}
		a := is.confirmAnswer
		if a == nil {
			a = map[string]any{"proofing": "high"}
		}
		writeJSON(w, 200, a)
	case "/revoke":
		r.ParseForm()
		is.revoked = append(is.revoked, r.PostForm)
		w.WriteHeader(200)
	default:
		http.NotFound(w, r)
	}
}

func (is *issuer) set(f func(*issuer)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	f(is)
}

func newClient(t *testing.T, is *issuer) *appclient.Client {
	t.Helper()
	c, err := appclient.Discover(t.Context(), appclient.Config{Issuer: is.url(), ClientID: clientID, RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loginRequest(t *testing.T, pin string) (appclient.LoginRequest, *int) {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	k, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	signed := new(int)
	return appclient.LoginRequest{
		Scope: "profile", PIN: pin, DPoP: k,
		Device: appclient.Device{BindingID: "B1", Key: a, Origin: "http://localhost", Signed: func() error { *signed++; return nil }},
	}, signed
}

func TestLoginFlow(t *testing.T) {
	is := newIssuer(t)
	is.tokenNonce = "nonce-1"
	c := newClient(t, is)
	req, signed := loginRequest(t, "470815")
	var steps []string
	toks, err := c.LoginTraced(t.Context(), req, func(s string) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	if *signed != 1 {
		t.Errorf("Signed called %d times", *signed)
	}
	if strings.Join(steps, ",") != strings.Join([]string{appclient.StepPAR, appclient.StepAuthorize, appclient.StepChallenge, appclient.StepAssertion, appclient.StepToken}, ",") {
		t.Errorf("steps %v", steps)
	}
	// The pushed request: PKCE S256, openid added, the key's thumbprint.
	p := is.pushed
	if p.Get("scope") != "openid profile" || p.Get("code_challenge_method") != "S256" || len(p.Get("code_challenge")) != 43 ||
		p.Get("dpop_jkt") != req.DPoP.Thumbprint() || p.Get("client_id") != clientID || p.Get("redirect_uri") != redirect ||
		len(p.Get("state")) < 20 || len(p.Get("nonce")) < 20 || p.Get("response_type") != "code" || p.Has("acr_values") {
		t.Errorf("pushed request: %v", p)
	}
	// The code exchange: retried once with the nonce; the verifier fits
	// the challenge.
	if len(is.tokenReq) != 2 || is.proofs[0]["nonce"] != nil || is.proofs[1]["nonce"] != "nonce-1" {
		t.Fatalf("token requests %d, proofs %v", len(is.tokenReq), is.proofs)
	}
	v := is.tokenReq[1].Get("code_verifier")
	sum := sha256.Sum256([]byte(v))
	if b64.EncodeToString(sum[:]) != p.Get("code_challenge") || is.tokenReq[1].Get("code") != "CODE1" {
		t.Errorf("code exchange: %v", is.tokenReq[1])
	}
	if c.DPoPNonce() != "nonce-1" {
		t.Errorf("nonce %q not remembered", c.DPoPNonce())
	}
	if toks.TokenType != "DPoP" || toks.AccessToken != "AT-authorization_code" || toks.RefreshToken != "RT1" ||
		toks.Claims["sub"] != subject || toks.Claims["given_name"] != "Anna" || time.Until(toks.ExpiresAt) < 4*time.Minute {
		t.Errorf("tokens %+v", toks)
	}

	// userinfo with ath, and its own nonce.
	is.set(func(is *issuer) { is.userinfoNonce = "nonce-2" })
	claims, err := c.UserInfo(t.Context(), req.DPoP, toks.AccessToken)
	if err != nil || claims["sub"] != subject {
		t.Fatalf("userinfo: %v %v", claims, err)
	}
	if c.DPoPNonce() != "nonce-2" {
		t.Errorf("nonce %q", c.DPoPNonce())
	}

	// refresh, then revoke.
	toks2, err := c.Refresh(t.Context(), req.DPoP, toks.RefreshToken, subject)
	if err != nil || toks2.AccessToken != "AT-refresh_token" {
		t.Fatalf("refresh: %+v %v", toks2, err)
	}
	if _, err := c.Refresh(t.Context(), req.DPoP, toks.RefreshToken, "someone-else"); err == nil || !strings.Contains(err.Error(), "another member") {
		t.Errorf("refresh about another member: %v", err)
	}
	_, err = c.Refresh(t.Context(), req.DPoP, "RT-old", subject)
	var oe *appclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Status != 400 || oe.Endpoint != "token" {
		t.Errorf("refused refresh: %v", err)
	}
	if err := c.Revoke(t.Context(), "RT1", "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if r := is.revoked[0]; r.Get("token") != "RT1" || r.Get("token_type_hint") != "refresh_token" || r.Get("client_id") != clientID {
		t.Errorf("revocation %v", r)
	}
	// A revoked access token at userinfo: the DPoP challenge's error.
	_, err = c.UserInfo(t.Context(), req.DPoP, "AT-revoked")
	if !errors.As(err, &oe) || oe.Code != "invalid_token" || oe.Description != "the access token was revoked" || oe.Status != 401 {
		t.Errorf("revoked access token: %v", err)
	}
}

func TestLoginRefusals(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		knob func(*issuer)
		pin  string
		want string
		as   any
	}{
		{"wrong PIN", nil, "000000", "device key and PIN: Die PIN ist falsch. / The PIN is wrong. (unauthenticated, HTTP 401); PIN attempts left before the device is blocked: 4", new(*appclient.Problem)},
		{"login refused", func(is *issuer) { is.loginError = "access_denied" }, "", "The issuer refused the login: access_denied: level not reachable", new(*appclient.AuthorizationError)},
		{"another issuer (mix-up)", func(is *issuer) { is.issParam = str("https://evil.example") }, "", `names the issuer "https://evil.example"`, nil},
		{"no iss", func(is *issuer) { is.issParam = str("") }, "", `names the issuer ""`, nil},
		{"another state", func(is *issuer) { is.stateParam = str("forged") }, "", "state is not this login's", nil},
		{"a bearer token", func(is *issuer) { is.tokenType = "Bearer" }, "", `issued a "Bearer" token, not one bound to the app's key`, nil},
		{"ID token of another login", func(is *issuer) { is.idNonce = str("other") }, "", "nonce is not this login's", nil},
		{"ID token without nonce", func(is *issuer) { is.idNonce = str("") }, "", "nonce is not this login's", nil},
		{"at_hash of another token", func(is *issuer) { is.atHashOf = "AT-other" }, "", "at_hash", nil},
		{"nonce asked for twice", func(is *issuer) { is.tokenNonce = "n-1" }, "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := newIssuer(t)
			if tc.knob != nil {
				is.set(tc.knob)
			}
			c := newClient(t, is)
			pin := tc.pin
			if pin == "" {
				pin = "470815"
			}
			req, _ := loginRequest(t, pin)
			_, err := c.Login(t.Context(), req)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			var le *appclient.LoginError
			if !errors.As(err, &le) {
				t.Errorf("not a LoginError: %T", err)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("%v is not a %T", err, tc.as)
			}
		})
	}
}

// TestNonceRetriedOnce: an issuer that asks for a new nonce again is not
// asked forever.
func TestNonceRetriedOnce(t *testing.T) {
	is := newIssuer(t)
	c := newClient(t, is)
	req, _ := loginRequest(t, "470815")
	toks, err := c.Login(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	is.set(func(is *issuer) { is.userinfoNonce = "always-new" })
	// The proof carries a nonce the issuer will never accept: it changes
	// its mind after each answer.
	is.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.userinfoNonce += "x"
		is.mu.Unlock()
		is.serve(w, r)
	})
	_, err = c.UserInfo(t.Context(), req.DPoP, toks.AccessToken)
	var oe *appclient.OAuthError
	if !errors.As(err, &oe) || oe.Code != "use_dpop_nonce" {
		t.Fatalf("got %v", err)
	}
	if n := len(is.proofs); n != 1+2 { // one token request, two at userinfo
		t.Errorf("%d proofs, want 3", n)
	}
}

func TestAuthorizePage(t *testing.T) {
	is := newIssuer(t)
	c := newClient(t, is)
	is.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/par" {
			writeJSON(w, 201, map[string]any{"request_uri": "urn:other", "expires_in": 90})
			return
		}
		is.serve(w, r)
	})
	req, _ := loginRequest(t, "470815")
	_, err := c.Login(t.Context(), req)
	if err == nil || !strings.Contains(err.Error(), "authorization request: the authorization endpoint refused the request: unexpected answer: Anmeldung nicht möglich / Login not possible: request_uri unknown (HTTP 400)") {
		t.Fatalf("got %v", err)
	}
}

func TestDiscoverRefusesIncompleteIssuers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"issuer": "http://" + r.Host, "authorization_endpoint": "http://" + r.Host + "/authorize",
			"token_endpoint": "http://" + r.Host + "/token", "jwks_uri": "http://" + r.Host + "/jwks"})
	}))
	defer srv.Close()
	_, err := appclient.Discover(t.Context(), appclient.Config{Issuer: srv.URL, ClientID: clientID, RedirectURI: redirect})
	if err == nil || !strings.Contains(err.Error(), "pushed_authorization_request_endpoint") || !strings.Contains(err.Error(), "revocation_endpoint") {
		t.Fatalf("got %v", err)
	}
	_, err = appclient.Discover(t.Context(), appclient.Config{Issuer: srv.URL + "/other", ClientID: clientID, RedirectURI: redirect})
	if err == nil {
		t.Fatal("an issuer whose metadata names another issuer was accepted")
	}
}

// TestStepUp: the app's eID step-up sends the device key's answer, the
// PIN, the return address and the PKCE challenge, and redeems the code
// with the step-up token and the verifier; answers without what the app
// needs are refused, and the issuer's problems come back as *Problem.
func TestStepUp(t *testing.T) {
	is := newIssuer(t)
	c := newClient(t, is)
	req, signed := loginRequest(t, "470815")
	_, challenge := appclient.NewVerifier()

	up, err := c.BeginStepUp(t.Context(), req.Device, "470815", "http://127.0.0.1:5555/eid", challenge)
	if err != nil {
		t.Fatal(err)
	}
	if up.URL != "http://broker.test/authorize?x=1" || up.Token != "SUT1" || up.ExpiresIn != 600 || *signed != 1 {
		t.Fatalf("step-up %+v, key signed %d times", up, *signed)
	}
	body := is.stepUps[0]
	pr, _ := body["proof"].(map[string]any)
	if pr["challenge_id"] != "D1" || pr["assertion"] == nil || body["return_uri"] != "http://127.0.0.1:5555/eid" ||
		body["code_challenge"] != challenge || body["code_challenge_method"] != "S256" {
		t.Fatalf("step-up request %v", body)
	}
	level, err := c.ConfirmStepUp(t.Context(), up, "CODE9", "verifier-9")
	if err != nil || level != "high" {
		t.Fatalf("confirmation: %q %v", level, err)
	}
	if b := is.confirmBodies[0]; b["code"] != "CODE9" || b["code_verifier"] != "verifier-9" {
		t.Fatalf("confirmation request %v", b)
	}

	// A wrong PIN: the issuer's problem.
	_, err = c.BeginStepUp(t.Context(), req.Device, "000000", "http://127.0.0.1:5555/eid", challenge)
	var p *appclient.Problem
	if !errors.As(err, &p) || p.Status != 401 || p.Kind != "unauthenticated" {
		t.Fatalf("wrong PIN: %v", err)
	}
	// Another token: refused by the issuer.
	if _, err := c.ConfirmStepUp(t.Context(), appclient.StepUp{Token: "SUT-other"}, "CODE9", "v"); !errors.As(err, &p) || p.Status != 401 {
		t.Fatalf("another token: %v", err)
	}
	// Answers that lack what the app needs.
	for name, a := range map[string]map[string]any{
		"no URL":       {"step_up_token": "SUT1", "token_type": "Bearer"},
		"no token":     {"authorization_url": "http://broker.test/a", "token_type": "Bearer"},
		"another type": {"authorization_url": "http://broker.test/a", "step_up_token": "SUT1", "token_type": "DPoP"},
	} {
		is.set(func(is *issuer) { is.stepUpAnswer = a })
		if _, err := c.BeginStepUp(t.Context(), req.Device, "470815", "http://127.0.0.1:5555/eid", challenge); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	is.set(func(is *issuer) { is.confirmAnswer = map[string]any{} })
	if _, err := c.ConfirmStepUp(t.Context(), up, "CODE9", "v"); err == nil {
		t.Error("a confirmation without a level: accepted")
	}
}
