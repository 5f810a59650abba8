package devbroker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/core/fault"
)

func config() devbroker.Config {
	return devbroker.Config{
		Issuer: "http://127.0.0.1:5556", Environment: "development",
		Clients: []devbroker.Client{{ID: "pforte", Secret: "dev-secret", RedirectURIs: []string{"http://127.0.0.1:8080/cb"}}},
		Identities: []devbroker.Identity{{
			Label: "Anna Schmidt", GivenName: "Anna", FamilyName: "Schmidt", BirthDate: "1984-07-09", RestrictedID: "0a1b",
		}},
	}
}

func TestRefusesProduction(t *testing.T) {
	for _, env := range []string{"production", "Production", " PRODUCTION "} {
		c := config()
		c.Environment = env
		_, err := devbroker.New(c, nil)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != "devbroker.Config.Environment" {
			t.Fatalf("%q: %v", env, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := config().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(c *devbroker.Config)
	}{
		{"Issuer", func(c *devbroker.Config) { c.Issuer = "https://127.0.0.1:5556" }},
		{"Issuer", func(c *devbroker.Config) { c.Issuer = "http://eid.example.de" }},
		{"Issuer", func(c *devbroker.Config) { c.Issuer = "http://192.0.2.1:5556" }},
		{"Issuer", func(c *devbroker.Config) { c.Issuer = "http://127.0.0.1:5556/eid" }},
		{"Clients", func(c *devbroker.Config) { c.Clients = nil }},
		{"Clients", func(c *devbroker.Config) { c.Clients[0].Secret = "" }},
		{"Clients", func(c *devbroker.Config) { c.Clients[0].RedirectURIs = []string{"/cb"} }},
		{"Identities", func(c *devbroker.Config) { c.Identities = nil }},
		{"Identities", func(c *devbroker.Config) { c.Identities[0].BirthDate = "" }},
		{"Identities", func(c *devbroker.Config) { c.Identities = append(c.Identities, c.Identities[0]) }},
		{"ACR", func(c *devbroker.Config) { c.ACR = "a b" }},
		{"TokenLifetime", func(c *devbroker.Config) { c.TokenLifetime = 1 }},
	} {
		c := config()
		c.Clients = append([]devbroker.Client(nil), c.Clients...)
		c.Identities = append([]devbroker.Identity(nil), c.Identities...)
		tc.edit(&c)
		var fe *fault.Error
		if err := c.Validate(); !errors.As(err, &fe) || fe.Op != "devbroker.Config."+tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}

func TestServesOnLoopbackOnly(t *testing.T) {
	b, err := devbroker.New(config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skipf("cannot listen on all interfaces: %v", err)
	}
	defer l.Close()
	if err := b.Serve(context.Background(), l); !errors.Is(err, fault.Invalid) {
		t.Fatalf("Serve on all interfaces: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	b, err := devbroker.New(config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		w := httptest.NewRecorder()
		b.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:5556"+path, nil))
		return w.Result()
	}
	resp := get("/.well-known/openid-configuration")
	var d struct {
		Issuer  string   `json:"issuer"`
		JWKS    string   `json:"jwks_uri"`
		Methods []string `json:"code_challenge_methods_supported"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.Issuer != "http://127.0.0.1:5556" ||
		!strings.Contains(strings.Join(d.Methods, " "), "S256") || strings.Join(d.Algs, " ") != "ES256" {
		t.Fatalf("discovery %+v %v", d, err)
	}
	if resp.Header.Get("X-Pforte-Development-Tool") == "" {
		t.Fatal("not marked as a development tool")
	}
	resp = get(strings.TrimPrefix(d.JWKS, "http://127.0.0.1:5556"))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"crv":"P-256"`) || strings.Contains(string(body), `"d":`) {
		t.Fatalf("JWKS %s %s", resp.Status, body)
	}
	// An unknown request: no page.
	if resp := get("/dev/identity?id=unknown"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("page of an unknown request: %s", resp.Status)
	}
	// Without PKCE the broker refuses the request.
	resp = get("/authorize?client_id=pforte&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&state=s&nonce=n")
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_request") {
		t.Fatalf("without PKCE: %s %q", resp.Status, loc)
	}
}
