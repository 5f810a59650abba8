package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

func portal() client.Client {
	return client.Client{
		ID: "portal", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":[]}`),
		RedirectURIs: []string{"https://portal.example/cb"}, GrantTypes: []string{client.GrantCode},
	}
}

func TestSectorIdentifierOK(t *testing.T) {
	for _, s := range []string{"portal.example", "a.b-c.example", "localhost", "x1.example", strings.Repeat("a", 63) + ".example"} {
		if err := client.SectorIdentifierOK(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{
		"", "https://portal.example", "portal.example/path", "portal.example:443", "Portal.example",
		"-a.example", "a-.example", "a..example", ".example", "example.", "10.0.0.1", "::1", "por tal.example",
		"pörtal.example", strings.Repeat("a", 64) + ".example", strings.Repeat("a.", 127) + "ab",
	} {
		if err := client.SectorIdentifierOK(s); !errors.Is(err, fault.Invalid) {
			t.Errorf("%q: got %v, want Invalid", s, err)
		}
	}
}

func TestValidateAppLoginFields(t *testing.T) {
	ok := portal()
	ok.RequirePAR, ok.RequireDPoP, ok.SectorIdentifier = true, true, "portal.example"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid client refused: %v", err)
	}
	for name, c := range map[string]client.Client{
		"bad sector": func() client.Client { c := portal(); c.SectorIdentifier = "https://portal.example"; return c }(),
		"PAR without code grant": func() client.Client {
			return client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
				GrantTypes: []string{client.GrantClientCredentials}, RequirePAR: true}
		}(),
		"sector for a service": func() client.Client {
			return client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
				GrantTypes: []string{client.GrantClientCredentials}, SectorIdentifier: "svc.example"}
		}(),
	} {
		if err := c.Validate(); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
}

// The defaults of each kind, and a stated require_par or require_dpop
// winning over them either way.
func TestWithDefaults(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name              string
		c                 client.Client
		par, dpop         *bool
		wantAuth          client.AuthMethod
		wantGrants        string
		wantPAR, wantDPoP bool
	}{
		{"native", client.Client{ID: "a", Kind: client.Native}, nil, nil, client.AuthNone, "authorization_code refresh_token", false, true},
		{"native without DPoP", client.Client{ID: "a", Kind: client.Native}, nil, &no, client.AuthNone, "authorization_code refresh_token", false, false},
		{"web", client.Client{ID: "a", Kind: client.Web}, nil, nil, client.AuthSecretBasic, "authorization_code refresh_token", false, false},
		{"web with both", client.Client{ID: "a", Kind: client.Web}, &yes, &yes, client.AuthSecretBasic, "authorization_code refresh_token", true, true},
		{"portal", client.Client{ID: "a", Kind: client.Portal}, nil, nil, client.AuthPrivateKeyJWT, "authorization_code refresh_token", true, false},
		{"portal without PAR", client.Client{ID: "a", Kind: client.Portal}, &no, nil, client.AuthPrivateKeyJWT, "authorization_code refresh_token", false, false},
		{"portal of client_credentials", client.Client{ID: "a", Kind: client.Portal, GrantTypes: []string{client.GrantClientCredentials}}, nil, nil, client.AuthPrivateKeyJWT, "client_credentials", false, false},
		{"service", client.Client{ID: "a", Kind: client.Service}, nil, nil, client.AuthSecretPost, "client_credentials", false, false},
		{"stated auth method", client.Client{ID: "a", Kind: client.Web, AuthMethod: client.AuthSecretPost}, nil, nil, client.AuthSecretPost, "authorization_code refresh_token", false, false},
	} {
		got := tc.c.WithDefaults(tc.par, tc.dpop)
		if got.Name != "a" || got.AuthMethod != tc.wantAuth || strings.Join(got.GrantTypes, " ") != tc.wantGrants ||
			got.RequirePAR != tc.wantPAR || got.RequireDPoP != tc.wantDPoP {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
	if _, ok := client.DefaultsOf("robot", nil); ok {
		t.Error("an unknown kind has defaults")
	}
}

func TestHashNew(t *testing.T) {
	h, err := client.NewSecretHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Repeat("s", client.MinSecretLength-1)
	if _, err := h.HashNew(short); !errors.Is(err, fault.Invalid) {
		t.Errorf("HashNew(%d characters) = %v, want fault.Invalid", len(short), err)
	}
	for _, secret := range []string{strings.Repeat("s", client.MinSecretLength), client.GenerateSecret()} {
		stored, err := h.HashNew(secret)
		if err != nil {
			t.Fatalf("HashNew(%d characters): %v", len(secret), err)
		}
		if !h.Verify(secret, stored) {
			t.Errorf("Verify does not accept what HashNew stored for %d characters", len(secret))
		}
	}
}

func TestValidateIntrospectionAudiences(t *testing.T) {
	ok := portal()
	ok.IntrospectionAudiences = []string{"antraege-api", "postfach-api"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid audiences refused: %v", err)
	}
	for name, auds := range map[string][]string{
		"itself":     {"portal"},
		"twice":      {"antraege-api", "antraege-api"},
		"empty":      {""},
		"with colon": {"a:b"},
		"with space": {"a b"},
		"too long":   {strings.Repeat("a", 129)},
	} {
		c := portal()
		c.IntrospectionAudiences = auds
		if err := c.Validate(); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
}

// Who sees a client's access token at introspection: the client, and a
// resource server registered for it that the token also names; nobody
// else, whatever the token or the registration alone says.
func TestMayIntrospect(t *testing.T) {
	c := portal()
	c.IntrospectionAudiences = []string{"antraege-api"}
	const issuer = "https://login.example"
	for _, tc := range []struct {
		caller string
		aud    []string
		want   bool
	}{
		{"portal", []string{issuer}, true},
		{"portal", nil, true},
		{"antraege-api", []string{issuer, "antraege-api"}, true},
		{"antraege-api", []string{issuer}, false},                 // issued before it was registered
		{"postfach-api", []string{issuer, "postfach-api"}, false}, // no longer registered
		{"other-form", []string{issuer, "antraege-api"}, false},
		{issuer, []string{issuer}, false},
		{"", []string{issuer, ""}, false},
	} {
		if got := c.MayIntrospect(tc.caller, tc.aud); got != tc.want {
			t.Errorf("MayIntrospect(%q, %q) = %v, want %v", tc.caller, tc.aud, got, tc.want)
		}
	}
	if got := portal().MayIntrospect("antraege-api", []string{"antraege-api"}); got {
		t.Error("a client without introspection audiences lets a resource server introspect")
	}
}

// A back-channel logout URI follows the rule of redirect URIs (https, or
// http on loopback), without fragment or user information; a service
// client, which logs no member in, has none.
func TestValidateBackchannelLogoutURI(t *testing.T) {
	for _, uri := range []string{
		"https://portal.example/backchannel",
		"https://portal.example:8443/logout?tenant=kasse",
		"http://127.0.0.1:9000/logout",
		"http://[::1]/logout",
		"http://localhost:3000/logout",
	} {
		c := portal()
		c.BackchannelLogoutURI = uri
		if err := c.Validate(); err != nil {
			t.Errorf("%s refused: %v", uri, err)
		}
	}
	for name, uri := range map[string]string{
		"plain http":         "http://portal.example/logout",
		"http on a LAN":      "http://10.0.0.5/logout",
		"relative":           "/logout",
		"no host":            "https:///logout",
		"opaque":             "https:portal.example",
		"fragment":           "https://portal.example/logout#x",
		"empty fragment":     "https://portal.example/logout#",
		"user information":   "https://rp:secret@portal.example/logout",
		"other scheme":       "ftp://portal.example/logout",
		"javascript":         "javascript:alert(1)",
		"not a URL":          "https://portal.example/%zz",
		"too long":           "https://portal.example/" + strings.Repeat("a", client.MaxBackchannelLogoutURI),
		"white space inside": "https://portal .example/logout",
	} {
		c := portal()
		c.BackchannelLogoutURI = uri
		err := c.Validate()
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("%s (%s): got %v, want Invalid", name, uri, err)
		} else if !strings.Contains(fault.PublicOf(err), "backchannel_logout_uri") {
			t.Errorf("%s: the refusal does not name the setting: %v", name, fault.PublicOf(err))
		}
	}
	svc := client.Client{ID: "api", Kind: client.Service, AuthMethod: client.AuthSecretPost, SecretHash: "h",
		GrantTypes: []string{client.GrantClientCredentials}, BackchannelLogoutURI: "https://api.example/logout"}
	if err := svc.Validate(); !errors.Is(err, fault.Invalid) {
		t.Errorf("service client with a back-channel logout URI: got %v, want Invalid", err)
	}
}

func TestRotateSecret(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc := client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretPost, SecretHash: "old"}
	tests := []struct {
		name     string
		c        client.Client
		until    time.Time
		wantPrev string
		invalid  bool
	}{
		{"rollover", svc, now.Add(client.DefaultRollover), "old", false},
		{"at once", svc, time.Time{}, "", false},
		{"at the most", svc, now.Add(client.MaxRollover), "old", false},
		{"too long", svc, now.Add(client.MaxRollover + time.Second), "", true},
		{"in the past", svc, now.Add(-time.Second), "", true},
		{"now", svc, now, "", true},
		{"public client", client.Client{ID: "app", Kind: client.Native, AuthMethod: client.AuthNone}, now.Add(time.Hour), "", true},
		{"private_key_jwt", client.Client{ID: "p", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT}, now.Add(time.Hour), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.RotateSecret("new", tt.until, now)
			if tt.invalid {
				if !errors.Is(err, fault.Invalid) {
					t.Fatalf("err = %v, want Invalid", err)
				}
				if got.SecretHash != tt.c.SecretHash {
					t.Fatal("a refused rotation changed the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SecretHash != "new" || got.PreviousSecretHash != tt.wantPrev {
				t.Fatalf("got secret %q, previous %q", got.SecretHash, got.PreviousSecretHash)
			}
			if got.RolloverOpen(now) != (tt.wantPrev != "") || got.RolloverOpen(tt.until) {
				t.Fatalf("rollover open now: %v, at its end: %v", got.RolloverOpen(now), got.RolloverOpen(tt.until))
			}
			fin, had := got.FinishRollover()
			if had != (tt.wantPrev != "") || fin.PreviousSecretHash != "" || fin.RolloverOpen(now) || fin.SecretHash != "new" {
				t.Fatalf("FinishRollover = %+v, %v", fin, had)
			}
		})
	}
}
