package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// metadata is the part of the discovery documents the tests look at.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	UserinfoEndpoint              string   `json:"userinfo_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ResponseTypes                 []string `json:"response_types_supported"`
	ResponseModes                 []string `json:"response_modes_supported"`
	GrantTypes                    []string `json:"grant_types_supported"`
	CodeChallengeMethods          []string `json:"code_challenge_methods_supported"`
	IDTokenAlgs                   []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods              []string `json:"token_endpoint_auth_methods_supported"`
	ISSParameterSupported         *bool    `json:"authorization_response_iss_parameter_supported"`
	RequestURIParameterSupported  bool     `json:"request_uri_parameter_supported"`
	RequestParameterSupported     bool     `json:"request_parameter_supported"`
	ACRValues                     []string `json:"acr_values_supported"`
	IntrospectionEndpoint         string   `json:"introspection_endpoint"`
	RevocationEndpoint            string   `json:"revocation_endpoint"`
	IntrospectionEndpointAuthMeth []string `json:"introspection_endpoint_auth_methods_supported"`
	BackchannelLogout             *bool    `json:"backchannel_logout_supported"`
	BackchannelLogoutSession      *bool    `json:"backchannel_logout_session_supported"`
	FrontchannelLogout            *bool    `json:"frontchannel_logout_supported"`
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// checkAdvertised checks that a metadata document advertises exactly the
// code flow with PKCE S256 and the three grants, and RFC 9207.
func checkAdvertised(t *testing.T, m metadata, issuer string) {
	t.Helper()
	if m.Issuer != issuer {
		t.Errorf("issuer = %q, want %q", m.Issuer, issuer)
	}
	if !slices.Equal(m.ResponseTypes, []string{"code"}) {
		t.Errorf("response_types_supported = %v, want only code (no implicit, no hybrid)", m.ResponseTypes)
	}
	if !slices.Equal(m.CodeChallengeMethods, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want only S256", m.CodeChallengeMethods)
	}
	if !sameSet(m.GrantTypes, []string{"authorization_code", "refresh_token", "client_credentials"}) {
		t.Errorf("grant_types_supported = %v, want code, refresh and client_credentials only", m.GrantTypes)
	}
	if m.ISSParameterSupported == nil || !*m.ISSParameterSupported {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	if !slices.Equal(m.ResponseModes, []string{"query"}) {
		t.Errorf("response_modes_supported = %v, want query", m.ResponseModes)
	}
	if m.RequestParameterSupported || m.RequestURIParameterSupported {
		t.Error("request objects are advertised but not supported")
	}
	if m.TokenEndpoint != issuer+"/token" || m.AuthorizationEndpoint != issuer+"/authorize" || m.JWKSURI != issuer+"/jwks" {
		t.Errorf("endpoints are not under the issuer: %+v", m)
	}
	if slices.Contains(m.IntrospectionEndpointAuthMeth, "none") {
		t.Error("introspection advertises auth method none; only confidential clients may introspect")
	}
}

func TestDiscovery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		in := w.start(t, eng.storage(t))

		// go-oidc checks that the document's issuer is the one asked for.
		rp := in.rp(t, w.web, nil)
		var m metadata
		if err := rp.provider.Claims(&m); err != nil {
			t.Fatal(err)
		}
		checkAdvertised(t, m, in.issuer)
		if !slices.Equal(m.IDTokenAlgs, []string{"ES256"}) {
			t.Errorf("id_token_signing_alg_values_supported = %v, want ES256", m.IDTokenAlgs)
		}
		if m.UserinfoEndpoint != in.issuer+"/userinfo" || rp.provider.UserInfoEndpoint() != m.UserinfoEndpoint {
			t.Errorf("userinfo_endpoint = %q", m.UserinfoEndpoint)
		}
		if !slices.Contains(m.ACRValues, "http://eidas.europa.eu/LoA/low") {
			t.Errorf("acr_values_supported = %v", m.ACRValues)
		}
		// Back-channel logout with sid; front-channel logout stated as
		// not supported rather than left out.
		for name, v := range map[string]*bool{
			"backchannel_logout_supported": m.BackchannelLogout, "backchannel_logout_session_supported": m.BackchannelLogoutSession,
		} {
			if v == nil || !*v {
				t.Errorf("%s is not true", name)
			}
		}
		if m.FrontchannelLogout == nil || *m.FrontchannelLogout {
			t.Errorf("frontchannel_logout_supported = %v, want false", m.FrontchannelLogout)
		}

		// RFC 8414 metadata: the same promises, without the OpenID parts.
		r := get(t, in.base+"/.well-known/oauth-authorization-server", nil)
		if r.status != http.StatusOK {
			t.Fatalf("RFC 8414 metadata: status %d", r.status)
		}
		var as metadata
		if err := json.Unmarshal(r.body, &as); err != nil {
			t.Fatal(err)
		}
		checkAdvertised(t, as, in.issuer)
		if as.UserinfoEndpoint != "" {
			t.Errorf("RFC 8414 metadata carries userinfo_endpoint %q", as.UserinfoEndpoint)
		}
		if as.BackchannelLogout != nil || as.FrontchannelLogout != nil {
			t.Error("RFC 8414 metadata carries OpenID Connect logout metadata")
		}

		// Conditional requests: a matching If-None-Match is 304 without a
		// body, anything else the full document.
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"} {
			first := get(t, in.base+path, nil)
			etag := first.header.Get("ETag")
			if first.status != http.StatusOK || etag == "" || len(first.body) == 0 {
				t.Fatalf("%s: status %d, ETag %q", path, first.status, etag)
			}
			again := get(t, in.base+path, map[string]string{"If-None-Match": etag})
			if again.status != http.StatusNotModified || len(again.body) != 0 {
				t.Errorf("%s with If-None-Match %s: status %d, %d body bytes; want 304 and none", path, etag, again.status, len(again.body))
			}
			if again.header.Get("ETag") != etag {
				t.Errorf("%s: the 304 carries ETag %q, want %q", path, again.header.Get("ETag"), etag)
			}
			other := get(t, in.base+path, map[string]string{"If-None-Match": `"something-else"`})
			if other.status != http.StatusOK || string(other.body) != string(first.body) {
				t.Errorf("%s with a stale ETag: status %d, want 200 and the document", path, other.status)
			}
		}

		// The JWKS holds public P-256 keys only.
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(get(t, in.base+"/jwks", nil).body, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) < 2 {
			t.Errorf("JWKS has %d keys; want the active and the published next key", len(set.Keys))
		}
		for _, k := range set.Keys {
			if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["kid"] == "" {
				t.Errorf("JWKS key %v is not an ES256 P-256 key with kid", k)
			}
			if _, ok := k["d"]; ok {
				t.Fatal("JWKS publishes a private key")
			}
		}
	})
}
