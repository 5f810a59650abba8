package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// fakeVerifier accepts the proof "good" and refuses anything else with err.
type fakeVerifier struct{ err error }

func (f fakeVerifier) Verify(_ context.Context, raw string) (dpop.Proof, error) {
	if raw == "good" {
		return dpop.Proof{JKT: "jkt", JTI: "j"}, nil
	}
	if f.err != nil {
		return dpop.Proof{}, f.err
	}
	return dpop.Proof{}, dpop.InvalidProof("fake", "DPoP proof signature is invalid")
}

func TestReadProof(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		v       fakeVerifier
		proof   bool
		code    fault.Code
	}{
		{"no header", nil, fakeVerifier{}, false, ""},
		{"one good header", []string{"good"}, fakeVerifier{}, true, ""},
		{"one bad header", []string{"bad"}, fakeVerifier{}, false, dpop.CodeInvalidProof},
		{"empty header", []string{""}, fakeVerifier{}, false, dpop.CodeInvalidProof},
		{"two headers", []string{"good", "good"}, fakeVerifier{}, false, dpop.CodeInvalidProof},
		{"verifier failing otherwise", []string{"bad"}, fakeVerifier{err: errors.New("boom")}, false, dpop.CodeInvalidProof},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add("DPoP", v)
			}
			pop, err := readProof(context.Background(), tt.v, h, http.MethodPost, pathToken)
			if got := codeOf(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.code)
			}
			if (pop.Proof != nil) != tt.proof || pop.Method != http.MethodPost || pop.Path != pathToken {
				t.Fatalf("DPoPRequest %+v", pop)
			}
		})
	}
}

func TestAccessTokenScheme(t *testing.T) {
	tests := []struct {
		name, method, auth, form string
		tok, scheme              string
		ok                       bool
	}{
		{"bearer", "GET", "Bearer abc", "", "abc", "Bearer", true},
		{"bearer in lower case", "GET", "bearer abc", "", "abc", "Bearer", true},
		{"DPoP", "GET", "DPoP abc", "", "abc", "DPoP", true},
		{"dpop in lower case", "GET", "dpop abc", "", "abc", "DPoP", true},
		{"form", "POST", "", "access_token=abc", "abc", "Bearer", true},
		{"form with GET", "GET", "", "", "", "", false},
		{"other scheme", "GET", "Basic YTpi", "", "", "", false},
		{"scheme only", "GET", "DPoP", "", "", "", false},
		{"scheme and blank", "GET", "DPoP  ", "", "", "", false},
		{"nothing", "GET", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/userinfo", strings.NewReader(tt.form))
			if tt.form != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			tok, scheme, ok := accessToken(r)
			if tok != tt.tok || scheme != tt.scheme || ok != tt.ok {
				t.Fatalf("accessToken = %q, %q, %v", tok, scheme, ok)
			}
		})
	}
}

func TestPushCredentials(t *testing.T) {
	basicAuth := func(id, secret string) http.Header {
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header
	}
	tests := []struct {
		name   string
		header http.Header
		form   url.Values
		want   authz.Credentials
		kind   fault.Kind // 0: accepted
	}{
		{"public client", http.Header{}, url.Values{"client_id": {"app"}},
			authz.Credentials{ClientID: "app", Method: client.AuthSecretPost}, 0},
		{"client_secret_basic", basicAuth("web:1", "s&cret"), url.Values{},
			authz.Credentials{ClientID: "web:1", Secret: "s&cret", Method: client.AuthSecretBasic}, 0},
		{"client_secret_basic with the same client_id", basicAuth("web", "s"), url.Values{"client_id": {"web"}},
			authz.Credentials{ClientID: "web", Secret: "s", Method: client.AuthSecretBasic}, 0},
		{"client_secret_post", http.Header{}, url.Values{"client_id": {"web"}, "client_secret": {"s"}},
			authz.Credentials{ClientID: "web", Secret: "s", Method: client.AuthSecretPost}, 0},
		{"private_key_jwt", http.Header{}, url.Values{"client_assertion": {"a.b.c"}, "client_assertion_type": {authz.AssertionType}},
			authz.Credentials{Method: client.AuthSecretPost, Assertion: "a.b.c", AssertionType: authz.AssertionType}, 0},
		{"basic with another client_id", basicAuth("web", "s"), url.Values{"client_id": {"portal"}}, authz.Credentials{}, fault.Invalid},
		{"basic and a posted secret", basicAuth("web", "s"), url.Values{"client_secret": {"s"}}, authz.Credentials{}, fault.Invalid},
		{"basic and an assertion", basicAuth("web", "s"), url.Values{"client_assertion": {"a.b.c"}}, authz.Credentials{}, fault.Invalid},
		{"secret and assertion", http.Header{}, url.Values{"client_secret": {"s"}, "client_assertion": {"a.b.c"}}, authz.Credentials{}, fault.Invalid},
		{"other authorization scheme", http.Header{"Authorization": {"Bearer x"}}, url.Values{}, authz.Credentials{}, fault.Unauthenticated},
		{"basic with bad encoding", http.Header{"Authorization": {"Basic %%%"}}, url.Values{}, authz.Credentials{}, fault.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pushCredentials(tt.header, tt.form)
			if tt.kind != 0 {
				if err == nil || fault.KindOf(err) != tt.kind {
					t.Fatalf("err = %v, want kind %v", err, tt.kind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pushCredentials = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestResourceErrorChallenges: which WWW-Authenticate a refused userinfo
// request gets.
func TestResourceErrorChallenges(t *testing.T) {
	p := &Provider{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	bound := fault.Wrap(fault.Unauthenticated, "authz.UserInfo", authz.ErrDPoPBound).WithPublic("bound")
	tests := []struct {
		name      string
		err       error
		scheme    string
		status    int
		challenge string
		code      string
	}{
		{"invalid proof", dpop.InvalidProof("x", "DPoP proof ath does not match the access token"), "DPoP",
			401, `DPoP error="invalid_dpop_proof", algs="ES256"`, "invalid_dpop_proof"},
		{"nonce", dpop.UseNonce("x", "DPoP proof has no nonce"), "DPoP",
			401, `DPoP error="use_dpop_nonce", algs="ES256"`, "use_dpop_nonce"},
		{"invalid token under DPoP", fault.New(fault.Unauthenticated, "x", "the access token is invalid"), "DPoP",
			401, `DPoP error="invalid_token", algs="ES256"`, "invalid_token"},
		{"bound token sent as Bearer", bound, "Bearer",
			401, `DPoP error="invalid_token", algs="ES256"`, "invalid_token"},
		{"invalid bearer token", fault.New(fault.Unauthenticated, "x", "the access token is invalid"), "Bearer",
			401, `Bearer realm="pforte", error="invalid_token"`, "invalid_token"},
		{"insufficient scope", fault.New(fault.Forbidden, "x", "no openid"), "Bearer",
			403, `Bearer realm="pforte", error="insufficient_scope"`, "insufficient_scope"},
		{"outage", fault.Wrap(fault.Unavailable, "x", errors.New("dial tcp 10.0.0.5")), "DPoP",
			503, "", "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.resourceError(rec, httptest.NewRequest(http.MethodGet, "/userinfo", nil), tt.err, tt.scheme)
			if rec.Code != tt.status || rec.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != tt.code {
				t.Fatalf("body %s", rec.Body)
			}
			if strings.Contains(rec.Body.String(), "10.0.0.5") {
				t.Fatal("the body leaks the cause")
			}
		})
	}
}

func TestDiscoveryAdvertisesPARAndDPoP(t *testing.T) {
	for _, withOIDC := range []bool{true, false} {
		b, err := json.Marshal(discoveryDocument("https://id.example", nil, []string{"sub", "kvnr"}, withOIDC))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["pushed_authorization_request_endpoint"] != "https://id.example/par" ||
			m["require_pushed_authorization_requests"] != false {
			t.Errorf("PAR metadata: %v, %v", m["pushed_authorization_request_endpoint"], m["require_pushed_authorization_requests"])
		}
		if algs, _ := m["dpop_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "ES256" {
			t.Errorf("dpop_signing_alg_values_supported = %v", m["dpop_signing_alg_values_supported"])
		}
		if withOIDC {
			if st, _ := m["subject_types_supported"].([]any); len(st) != 2 || st[1] != "pairwise" {
				t.Errorf("subject_types_supported = %v", m["subject_types_supported"])
			}
			if cl, _ := m["claims_supported"].([]any); len(cl) != 2 || cl[1] != "kvnr" {
				t.Errorf("claims_supported = %v", m["claims_supported"])
			}
		}
	}
}
