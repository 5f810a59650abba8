package eid_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeOP is an eID broker for the adapter's tests whose every answer can
// be bent: its ID tokens' claims, their signing key, its userinfo. The
// development broker (devbroker) is the honest one; this one is for the
// answers an honest broker never gives.
type fakeOP struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// par: offer pushed authorization requests; issParam: announce RFC 9207.
	par, issParam bool
	// noClaimsParam: do not announce the claims request parameter.
	noClaimsParam bool
	// discoveryIssuer, when set, is the issuer the discovery document names.
	discoveryIssuer string
	key, otherKey   *ecdsa.PrivateKey
	// signWithOther signs ID tokens with a key the JWKS does not have.
	signWithOther bool
	// idToken edits the ID token's claims before signing.
	idToken func(c map[string]any)
	// userinfo is the userinfo response (sub is set unless present).
	userinfo map[string]any
	acr      string
	sub      string

	// requests are the authorization requests, by request_uri (PAR) or
	// by state.
	pushed map[string]url.Values
	codes  map[string]url.Values
	tokens map[string]bool
}

const (
	clientID     = "pforte-test"
	clientSecret = "secret-of-pforte-at-the-broker"
)

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeOP{
		t: t, key: k1, otherKey: k2, acr: "http://eidas.europa.eu/LoA/high", sub: "card-pseudonym-1",
		pushed: map[string]url.Values{}, codes: map[string]url.Values{}, tokens: map[string]bool{},
		userinfo: map[string]any{
			"given_name": "Anna Lena", "family_name": "Schmidt", "birth_name": "Meyer", "birthdate": "1984-07-09",
			"place_of_birth": map[string]any{"locality": "Bremen", "country": "DE"},
			"address": map[string]any{
				"street_address": "Lindenallee 7", "postal_code": "20259", "locality": "Hamburg", "country": "DE",
			},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /jwks", f.jwks)
	mux.HandleFunc("POST /par", f.pushRequest)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", f.userinfoHandler)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOP) issuer() string { return f.srv.URL }

func (f *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	iss := f.issuer()
	d := map[string]any{
		"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
		"userinfo_endpoint": iss + "/userinfo", "jwks_uri": iss + "/jwks",
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"pairwise"},
		"claims_parameter_supported":            !f.noClaimsParam,
	}
	if f.discoveryIssuer != "" {
		d["issuer"] = f.discoveryIssuer
	}
	if f.par {
		d["pushed_authorization_request_endpoint"] = iss + "/par"
	}
	if f.issParam {
		d["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, d)
}

func (f *fakeOP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"},
	}})
}

func (f *fakeOP) clientAuthenticated(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok && id == clientID && secret == clientSecret
}

func (f *fakeOP) pushRequest(w http.ResponseWriter, r *http.Request) {
	if !f.clientAuthenticated(r) || r.ParseForm() != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	uri := "urn:ietf:params:oauth:request_uri:" + fmt.Sprint(len(f.pushed)+1)
	f.pushed[uri] = r.PostForm
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": 60})
}

// authorize is the member at the broker: it reads the authorization
// request the URL carries (or the pushed one it names) and returns the
// broker's answer as the callback's parameters, with the request.
func (f *fakeOP) authorize(rawURL string) (params map[string]string, req url.Values) {
	f.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || !strings.HasPrefix(rawURL, f.issuer()+"/authorize?") {
		f.t.Fatalf("authorization URL %q", rawURL)
	}
	req = u.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	if uri := req.Get("request_uri"); uri != "" {
		if req.Get("client_id") != clientID {
			f.t.Fatalf("pushed request without client_id: %q", rawURL)
		}
		req = f.pushed[uri]
	}
	code := fmt.Sprintf("code-%d", len(f.codes)+1)
	f.codes[code] = req
	params = map[string]string{"code": code}
	if f.issParam {
		params["iss"] = f.issuer()
	}
	return params, req
}

func (f *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	if !f.clientAuthenticated(r) || r.ParseForm() != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bad := func(why string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": why})
	}
	req, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // single use
	switch {
	case !ok:
		bad("unknown code")
		return
	case r.PostForm.Get("redirect_uri") != req.Get("redirect_uri"):
		bad("redirect_uri")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != req.Get("code_challenge") || req.Get("code_challenge_method") != "S256" {
		bad("PKCE")
		return
	}
	at := fmt.Sprintf("at-%d", len(f.tokens)+1)
	f.tokens[at] = true
	now := time.Now()
	claims := map[string]any{
		"iss": f.issuer(), "sub": f.sub, "aud": clientID, "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
		"nonce": req.Get("nonce"), "acr": f.acr, "jti": "broker-tx-" + at,
	}
	if f.idToken != nil {
		f.idToken(claims)
	}
	key := f.key
	if f.signWithOther {
		key = f.otherKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		f.t.Error(err)
		return
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		f.t.Error(err)
		return
	}
	idToken, _ := jws.CompactSerialize()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

func (f *fakeOP) userinfoHandler(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !f.tokens[at] {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	info := maps.Clone(f.userinfo)
	if _, ok := info["sub"]; !ok {
		info["sub"] = f.sub
	}
	writeJSON(w, http.StatusOK, info)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
