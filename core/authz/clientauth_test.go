package authz_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

func TestAuthenticateClientSecrets(t *testing.T) {
	basic, post := client.AuthSecretBasic, client.AuthSecretPost
	tests := []struct {
		name string
		cr   authz.Credentials
		kind fault.Kind // 0: accepted
	}{
		{"basic client, right secret", authz.Credentials{ClientID: "web", Secret: webSecret, Method: basic}, 0},
		{"post client, right secret", authz.Credentials{ClientID: "form", Secret: formSecret, Method: post}, 0},
		{"public client without secret", authz.Credentials{ClientID: "app"}, 0},
		{"wrong secret", authz.Credentials{ClientID: "web", Secret: webSecret + "x", Method: basic}, fault.Unauthenticated},
		{"another client's secret", authz.Credentials{ClientID: "web", Secret: formSecret, Method: basic}, fault.Unauthenticated},
		{"unknown client", authz.Credentials{ClientID: "nobody", Secret: webSecret, Method: basic}, fault.Unauthenticated},
		{"unknown client without secret", authz.Credentials{ClientID: "nobody"}, fault.Unauthenticated},
		{"confidential client without secret", authz.Credentials{ClientID: "web"}, fault.Unauthenticated},
		{"post client using basic", authz.Credentials{ClientID: "form", Secret: formSecret, Method: basic}, fault.Unauthenticated},
		{"basic client using post", authz.Credentials{ClientID: "web", Secret: webSecret, Method: post}, fault.Unauthenticated},
		{"secret without method", authz.Credentials{ClientID: "web", Secret: webSecret}, fault.Unauthenticated},
		{"public client presenting a secret", authz.Credentials{ClientID: "app", Secret: webSecret, Method: basic}, fault.Unauthenticated},
		{"private_key_jwt client presenting a secret", authz.Credentials{ClientID: "portal", Secret: webSecret, Method: basic}, fault.Unauthenticated},
		{"private_key_jwt client presenting nothing", authz.Credentials{ClientID: "portal"}, fault.Unauthenticated},
		{"the stored hash as secret", authz.Credentials{ClientID: "web", Secret: "hmac-sha256:unknown-client", Method: basic}, fault.Unauthenticated},
		{"missing client_id", authz.Credentials{Secret: webSecret, Method: basic}, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c, err := e.svc.AuthenticateClient(e.ctx, tt.cr)
			if tt.kind == 0 {
				if err != nil || c.ID != tt.cr.ClientID {
					t.Fatalf("AuthenticateClient = %q, %v; want %q", c.ID, err, tt.cr.ClientID)
				}
				return
			}
			wantKind(t, err, tt.kind)
			if c.ID != "" {
				t.Fatalf("a refused authentication returned client %q", c.ID)
			}
		})
	}
}

// An unknown client and a wrong secret must be indistinguishable to the
// caller, or client IDs can be probed.
func TestAuthenticateClientSameAnswer(t *testing.T) {
	e := newEnv(t)
	fails := []authz.Credentials{
		{ClientID: "web", Secret: "wrong", Method: client.AuthSecretBasic},
		{ClientID: "nobody", Secret: "wrong", Method: client.AuthSecretBasic},
		{ClientID: "form", Secret: formSecret, Method: client.AuthSecretBasic},
		{ClientID: "web"},
		{ClientID: "nobody"},
	}
	var kind fault.Kind
	var text string
	for i, cr := range fails {
		_, err := e.svc.AuthenticateClient(e.ctx, cr)
		if err == nil {
			t.Fatalf("%+v accepted", cr)
		}
		if i == 0 {
			kind, text = fault.KindOf(err), fault.PublicOf(err)
			continue
		}
		if fault.KindOf(err) != kind || fault.PublicOf(err) != text {
			t.Errorf("%s: %v %q, want %v %q like a wrong secret", cr.ClientID, fault.KindOf(err), fault.PublicOf(err), kind, text)
		}
	}
}

// assertion is a client assertion for the portal, valid at now.
type assertion struct {
	Issuer   string `json:"iss,omitempty"`
	Subject  string `json:"sub,omitempty"`
	Audience any    `json:"aud,omitempty"`
	Expiry   int64  `json:"exp,omitempty"`
	IssuedAt int64  `json:"iat,omitempty"`
	NotBef   int64  `json:"nbf,omitempty"`
	JTI      string `json:"jti,omitempty"`
}

func (e *env) assertion() assertion {
	now := e.clock.Now()
	return assertion{
		Issuer: "portal", Subject: "portal", Audience: issuer,
		Expiry: now.Add(time.Minute).Unix(), IssuedAt: now.Unix(), JTI: "jti-" + newID(),
	}
}

func newID() string { v, _ := newPKCE(); return v[:22] }

func signAssertion(t *testing.T, key []byte, a assertion) string {
	t.Helper()
	raw, err := signJWS(key, jwsHeader{Alg: "HS256", Kid: "portal-1"}, a)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAuthenticateClientAssertion(t *testing.T) {
	tests := []struct {
		name string
		mod  func(e *env, a *assertion, cr *authz.Credentials)
		kind fault.Kind // 0: accepted
	}{
		{"aud issuer", func(*env, *assertion, *authz.Credentials) {}, 0},
		{"aud issuer alone in an array", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = []string{issuer} }, 0},
		// Audience injection (FAPI 2.0 Security Profile §5.3.2.1): an
		// endpoint URL, or the issuer beside another audience, is refused.
		{"aud token endpoint", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = tokenEndpoint }, fault.Unauthenticated},
		{"aud PAR endpoint", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = issuer + "/par" }, fault.Unauthenticated},
		{"aud array with the token endpoint", func(_ *env, a *assertion, _ *authz.Credentials) {
			a.Audience = []string{"https://other.example", tokenEndpoint}
		}, fault.Unauthenticated},
		{"aud array with the issuer and another", func(_ *env, a *assertion, _ *authz.Credentials) {
			a.Audience = []string{issuer, "https://other.example"}
		}, fault.Unauthenticated},
		{"client named by sub only", func(_ *env, _ *assertion, cr *authz.Credentials) { cr.ClientID = "" }, 0},
		{"exp within the clock skew", func(e *env, a *assertion, _ *authz.Credentials) {
			a.Expiry = e.clock.Now().Add(-10 * time.Second).Unix()
		}, 0},
		{"exp 10 minutes ahead", func(e *env, a *assertion, _ *authz.Credentials) {
			a.Expiry = e.clock.Now().Add(10 * time.Minute).Unix()
		}, 0},
		{"other aud", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = "https://other.example/token" }, fault.Unauthenticated},
		{"issuer with trailing slash as aud", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = issuer + "/" }, fault.Unauthenticated},
		{"no aud", func(_ *env, a *assertion, _ *authz.Credentials) { a.Audience = nil }, fault.Unauthenticated},
		{"expired", func(e *env, a *assertion, _ *authz.Credentials) {
			a.Expiry = e.clock.Now().Add(-time.Minute).Unix()
		}, fault.Unauthenticated},
		{"no exp", func(_ *env, a *assertion, _ *authz.Credentials) { a.Expiry = 0 }, fault.Unauthenticated},
		{"exp too far ahead", func(e *env, a *assertion, _ *authz.Credentials) {
			a.Expiry = e.clock.Now().Add(11 * time.Minute).Unix()
		}, fault.Unauthenticated},
		{"iat in the future", func(e *env, a *assertion, _ *authz.Credentials) {
			a.IssuedAt = e.clock.Now().Add(time.Minute).Unix()
		}, fault.Unauthenticated},
		{"nbf in the future", func(e *env, a *assertion, _ *authz.Credentials) {
			a.NotBef = e.clock.Now().Add(time.Minute).Unix()
		}, fault.Unauthenticated},
		{"no jti", func(_ *env, a *assertion, _ *authz.Credentials) { a.JTI = "" }, fault.Unauthenticated},
		{"oversized jti", func(_ *env, a *assertion, _ *authz.Credentials) { a.JTI = strings.Repeat("j", 257) }, fault.Unauthenticated},
		{"iss is another client", func(_ *env, a *assertion, _ *authz.Credentials) { a.Issuer = "web" }, fault.Unauthenticated},
		{"sub is another client", func(_ *env, a *assertion, _ *authz.Credentials) { a.Subject = "web" }, fault.Unauthenticated},
		{"client_id differs from the assertion", func(_ *env, a *assertion, cr *authz.Credentials) {
			cr.ClientID = "web"
		}, fault.Unauthenticated},
		{"assertion for a secret client", func(_ *env, a *assertion, cr *authz.Credentials) {
			a.Issuer, a.Subject, cr.ClientID = "web", "web", "web"
		}, fault.Unauthenticated},
		{"assertion for a secret client that has keys", func(e *env, a *assertion, cr *authz.Credentials) {
			// A client moved from private_key_jwt to a secret may keep
			// its old key set; it must not authenticate with it.
			c := e.client("web")
			c.JWKS = portalKey
			if err := e.st.PutClient(e.ctx, c); err != nil {
				t.Fatal(err)
			}
			a.Issuer, a.Subject, cr.ClientID = "web", "web", "web"
		}, fault.Unauthenticated},
		{"unknown client", func(_ *env, a *assertion, cr *authz.Credentials) {
			a.Issuer, a.Subject, cr.ClientID = "nobody", "nobody", "nobody"
		}, fault.Unauthenticated},
		{"wrong assertion type", func(_ *env, _ *assertion, cr *authz.Credentials) {
			cr.AssertionType = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
		}, fault.Invalid},
		{"missing assertion type", func(_ *env, _ *assertion, cr *authz.Credentials) { cr.AssertionType = "" }, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.assertion()
			cr := authz.Credentials{ClientID: "portal", AssertionType: authz.AssertionType}
			tt.mod(e, &a, &cr)
			cr.Assertion = signAssertion(t, portalKey, a)
			c, err := e.svc.AuthenticateClient(e.ctx, cr)
			if tt.kind == 0 {
				if err != nil || c.ID != "portal" {
					t.Fatalf("AuthenticateClient = %q, %v; want portal", c.ID, err)
				}
				return
			}
			wantKind(t, err, tt.kind)
		})
	}
}

func TestAuthenticateClientAssertionSignature(t *testing.T) {
	e := newEnv(t)
	a := e.assertion()
	tests := []struct{ name, raw string }{
		{"signed with another key", signAssertion(t, []byte("someone-elses-key"), a)},
		{"unsigned", strings.Join(strings.Split(signAssertion(t, portalKey, a), ".")[:2], ".") + "."},
		{"not a JWS", "not-a-jws"},
		{"oversized", strings.Repeat("a", 8193)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range []string{"portal", ""} {
				_, err := e.svc.AuthenticateClient(e.ctx, authz.Credentials{ClientID: id, Assertion: tt.raw, AssertionType: authz.AssertionType})
				wantKind(t, err, fault.Unauthenticated)
			}
		})
	}
}

// A captured assertion must not authenticate twice (RFC 7523 §3).
func TestAuthenticateClientAssertionReplay(t *testing.T) {
	e := newEnv(t)
	a := e.assertion()
	cr := authz.Credentials{ClientID: "portal", AssertionType: authz.AssertionType, Assertion: signAssertion(t, portalKey, a)}
	if _, err := e.svc.AuthenticateClient(e.ctx, cr); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	_, err := e.svc.AuthenticateClient(e.ctx, cr)
	wantKind(t, err, fault.Unauthenticated)

	// A new assertion with the same jti is the same replay.
	a.Expiry++
	cr.Assertion = signAssertion(t, portalKey, a)
	_, err = e.svc.AuthenticateClient(e.ctx, cr)
	wantKind(t, err, fault.Unauthenticated)

	// A fresh jti works.
	a.JTI = "jti-" + newID()
	cr.Assertion = signAssertion(t, portalKey, a)
	if _, err := e.svc.AuthenticateClient(e.ctx, cr); err != nil {
		t.Fatalf("a fresh jti: %v", err)
	}
}

func TestAuthenticateClientAssertionStoreDown(t *testing.T) {
	e := newEnv(t)
	e.st.failWith("UseOnce", unavailable("fake.UseOnce"))
	cr := authz.Credentials{ClientID: "portal", AssertionType: authz.AssertionType, Assertion: signAssertion(t, portalKey, e.assertion())}
	_, err := e.svc.AuthenticateClient(e.ctx, cr)
	wantKind(t, err, fault.Unavailable)

	e.st.failWith("UseOnce", nil)
	e.st.failWith("ClientByID", unavailable("fake.ClientByID"))
	_, err = e.svc.AuthenticateClient(e.ctx, authz.Credentials{ClientID: "web", Secret: webSecret, Method: client.AuthSecretBasic})
	wantKind(t, err, fault.Unavailable)
}
