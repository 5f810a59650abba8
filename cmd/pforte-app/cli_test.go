package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func fakeIssuer(t *testing.T, mutate func(map[string]any)) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			md := map[string]any{
				"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
				"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"},
				"code_challenge_methods_supported":               []string{"S256"},
				"authorization_response_iss_parameter_supported": true,
				"id_token_signing_alg_values_supported":          []string{"ES256"},
			}
			if mutate != nil {
				mutate(md)
			}
			writeJSON(w, md)
		case "/jwks":
			writeJSON(w, map[string]any{"keys": []map[string]string{{"kid": "k1", "alg": "ES256"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}

func TestDiscoverAcceptsAGoodIssuer(t *testing.T) {
	srv := fakeIssuer(t, nil)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"discover", "--issuer", srv.URL}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok: the app can log in") {
		t.Fatalf("output: %s", out.String())
	}
}

func TestDiscoverRefusesWhatTheAppCannotUse(t *testing.T) {
	for name, mutate := range map[string]func(map[string]any){
		"issuer mismatch": func(m map[string]any) { m["issuer"] = "https://evil.example" },
		"no PKCE S256":    func(m map[string]any) { m["code_challenge_methods_supported"] = []string{"plain"} },
		"no iss param":    func(m map[string]any) { m["authorization_response_iss_parameter_supported"] = false },
		"RS256 only":      func(m map[string]any) { m["id_token_signing_alg_values_supported"] = []string{"RS256"} },
	} {
		srv := fakeIssuer(t, mutate)
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"discover", "--issuer", srv.URL}, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1 (%s)", name, code, errb.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"discover", "--no-such-flag"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"discover", "--issuer", "http://127.0.0.1:1"}, &out, &errb); code != 1 {
		t.Fatalf("unreachable issuer: exit %d, want 1", code)
	}
}
