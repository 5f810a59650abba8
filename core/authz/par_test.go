package authz_test

import (
	"github.com/pforte-id/pforte/catalog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/dpop"
	"github.com/pforte-id/pforte/core/fault"
)

// push pushes a valid request of the portal and returns the request_uri
// with the verifier of its PKCE challenge.
func (e *env) push(mod func(*authz.AuthorizeRequest)) (string, authz.AuthorizeRequest, string) {
	e.t.Helper()
	req, v := request("portal", portalRedirect, "openid profile")
	if mod != nil {
		mod(&req)
	}
	uri, ttl, err := e.svc.PushAuthorization(e.ctx, e.client("portal"), req, authz.DPoPRequest{})
	if err != nil {
		e.t.Fatalf("PushAuthorization: %v", err)
	}
	if ttl != 90*time.Second {
		e.t.Fatalf("expires_in = %v, want 90s", ttl)
	}
	return uri, req, v
}

func TestPushAuthorization(t *testing.T) {
	e := newEnv(t)
	uri, req, v := e.push(func(r *authz.AuthorizeRequest) { r.DPoPJKT = keyA; r.ACRValues = "x-unknown" })
	secret, ok := strings.CutPrefix(uri, "urn:ietf:params:oauth:request_uri:")
	if !ok || len(secret) != 43 {
		t.Fatalf("request_uri %q: want the URN prefix and 256 random bits", uri)
	}
	// Only the hash of the request_uri's secret is stored, and the pushed
	// request is no pending login until it is used.
	if len(e.st.pushed()) != 1 || len(e.st.requests()) != 0 {
		t.Fatalf("%d pushed, %d pending requests", len(e.st.pushed()), len(e.st.requests()))
	}
	if _, ok := e.st.pushed()[hash(secret)]; !ok {
		t.Fatal("the pushed request is not stored under the hash of the request_uri")
	}

	// At the authorization endpoint only client_id and request_uri count.
	r, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{
		ClientID: "portal", RequestURI: uri, RedirectURI: "https://evil.example/cb", Scope: "openid kvnr",
	})
	if err != nil {
		t.Fatalf("Authorize with request_uri: %v", err)
	}
	if r.ClientID != "portal" || r.RedirectURI != portalRedirect || r.State != req.State || r.Nonce != req.Nonce ||
		r.CodeChallenge != req.CodeChallenge || !slices.Equal(r.Scopes, []string{"openid", "profile"}) ||
		r.DPoPJKT != keyA || !slices.Equal(r.ACRValues, []string{"x-unknown"}) {
		t.Fatalf("request %+v is not the pushed one", r)
	}
	if !r.ExpiresAt.Equal(e.clock.Now().Add(authz.DefaultAuthRequestTTL).Truncate(time.Millisecond)) {
		t.Errorf("request expires %v, want the login time from the push", r.ExpiresAt)
	}
	// It goes on like any login: page, code, tokens.
	if _, _, err := e.svc.PendingLogin(e.ctx, r.ID); err != nil {
		t.Fatalf("PendingLogin: %v", err)
	}
	code := codeOf(t, e, r.ID)
	if _, err := e.svc.ExchangeCode(e.ctx, e.client("portal"), code, portalRedirect, v, e.tokenProof(keyA)); err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
}

// TestPushedRequestURIOnce: a request_uri works once, for its client,
// within 90 s; every refusal is a page, never a redirect.
func TestPushedRequestURIOnce(t *testing.T) {
	tests := []struct {
		name   string
		before func(e *env, uri string)
		client string
		kind   fault.Kind
		text   string
	}{
		{"used twice", func(e *env, uri string) {
			if _, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: "portal", RequestURI: uri}); err != nil {
				e.t.Fatal(err)
			}
		}, "portal", fault.NotFound, "request_uri used or expired"},
		{"after 90 s", func(e *env, _ string) { e.clock.Advance(90 * time.Second) }, "portal", fault.Expired, "request_uri used or expired"},
		{"another client", nil, "web", fault.Forbidden, "another client"},
		{"unknown client", nil, "nobody", fault.Forbidden, "another client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			uri, _, _ := e.push(nil)
			if tt.before != nil {
				tt.before(e, uri)
			}
			_, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: tt.client, RequestURI: uri})
			wantKind(t, err, tt.kind)
			if re := redirectErr(err); re != nil {
				t.Fatalf("refusal redirected to %s", re.RedirectURI)
			}
			text := catalog.English.Error(err) // the page's text
			if fault.CodedOf(err) == nil {
				text = fault.PublicOf(err)
			}
			if !strings.Contains(text, tt.text) {
				t.Errorf("page text %q, want it to say %q", text, tt.text)
			}
		})
	}
	// Just before 90 s it works; another client trying first does not use it up.
	e := newEnv(t)
	uri, _, _ := e.push(nil)
	if _, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: "web", RequestURI: uri}); err == nil {
		t.Fatal("another client used the request_uri")
	}
	e.clock.Advance(89 * time.Second)
	if _, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: "portal", RequestURI: uri}); err != nil {
		t.Fatalf("at 89 s: %v", err)
	}
}

// TestPushAuthorizationRefusals: the pushed request is validated exactly
// as Authorize validates, and the errors are for the client (JSON), never
// redirects; nothing is stored.
func TestPushAuthorizationRefusals(t *testing.T) {
	tests := []struct {
		name   string
		client string
		mod    func(*authz.AuthorizeRequest)
		kind   fault.Kind
	}{
		{"client_id of another client", "portal", func(r *authz.AuthorizeRequest) { r.ClientID = "web" }, fault.Invalid},
		{"request_uri pushed", "portal", func(r *authz.AuthorizeRequest) { r.RequestURI = authz.RequestURIPrefix + "x" }, fault.Invalid},
		{"request object", "portal", func(r *authz.AuthorizeRequest) { r.Request = "eyJhbGciOiJub25lIn0.e30." }, fault.Invalid},
		{"no redirect_uri", "portal", func(r *authz.AuthorizeRequest) { r.RedirectURI = "" }, fault.Invalid},
		{"unregistered redirect_uri", "portal", func(r *authz.AuthorizeRequest) { r.RedirectURI = "https://evil.example/cb" }, fault.Invalid},
		{"oversized redirect_uri", "portal", func(r *authz.AuthorizeRequest) { r.RedirectURI += strings.Repeat("x", 2048) }, fault.Invalid},
		{"response_type token", "portal", func(r *authz.AuthorizeRequest) { r.ResponseType = "token" }, fault.Invalid},
		{"no code_challenge", "portal", func(r *authz.AuthorizeRequest) { r.CodeChallenge = "" }, fault.Invalid},
		{"plain PKCE", "portal", func(r *authz.AuthorizeRequest) { r.CodeChallengeMethod = "plain" }, fault.Invalid},
		{"bad dpop_jkt", "portal", func(r *authz.AuthorizeRequest) { r.DPoPJKT = "abc" }, fault.Invalid},
		{"forged id_token_hint", "portal", func(r *authz.AuthorizeRequest) { r.IDTokenHint = "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" }, fault.Invalid},
		{"oversized state", "portal", func(r *authz.AuthorizeRequest) { r.State = strings.Repeat("s", 1025) }, fault.Invalid},
		{"client without the code grant", "batch", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "", "https://batch.kasse.example/cb"
		}, fault.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request("portal", portalRedirect, "openid")
			tt.mod(&req)
			uri, _, err := e.svc.PushAuthorization(e.ctx, e.client(tt.client), req, authz.DPoPRequest{})
			wantKind(t, err, tt.kind)
			if re := redirectErr(err); re != nil {
				t.Fatalf("a pushed request's error is a redirect: %v", err)
			}
			if uri != "" || len(e.st.pushed()) != 0 || len(e.st.requests()) != 0 {
				t.Fatal("something was stored after a refusal")
			}
		})
	}
}

// TestRequirePARRefusesPlainRequests: a client with RequirePAR must push;
// its plain request goes back to its (validated) redirect URI with
// invalid_request, but an unvalidated redirect URI is still only a page.
func TestRequirePARRefusesPlainRequests(t *testing.T) {
	e := newEnv(t)
	req, _ := request("portal", portalRedirect, "openid")
	_, err := e.svc.Authorize(e.ctx, req)
	wantKind(t, err, fault.Invalid)
	re := redirectErr(err)
	if re == nil || re.RedirectURI != portalRedirect || re.State != req.State {
		t.Fatalf("err = %v, want a redirect to the portal with its state", err)
	}
	if got := fault.PublicOf(err); got != "pushed authorization request required" {
		t.Errorf("public text %q", got)
	}
	req.RedirectURI = "https://evil.example/cb"
	_, err = e.svc.Authorize(e.ctx, req)
	if redirectErr(err) != nil {
		t.Fatal("an unregistered redirect URI got a redirect")
	}
	if len(e.st.requests()) != 0 {
		t.Fatal("a plain request of a PAR client was stored")
	}
	// Clients without the switch may push too.
	web, _ := request("web", webRedirect, "openid")
	if _, _, err := e.svc.PushAuthorization(e.ctx, e.client("web"), web, authz.DPoPRequest{}); err != nil {
		t.Fatalf("a web client's push: %v", err)
	}
}

// TestPushedRequestLifetime: the request_uri never outlives the request
// it names; a shorter login time shortens it.
func TestPushedRequestLifetime(t *testing.T) {
	e := newEnvWith(t, func(c *authz.Config) { c.AuthRequestTTL = 30 * time.Second })
	req, _ := request("portal", portalRedirect, "openid")
	_, ttl, err := e.svc.PushAuthorization(e.ctx, e.client("portal"), req, authz.DPoPRequest{})
	if err != nil || ttl != 30*time.Second {
		t.Fatalf("expires_in %v, %v; want 30s", ttl, err)
	}
	e = newEnvWith(t, func(c *authz.Config) { c.PushedRequestTTL = 10 * time.Second })
	_, ttl, err = e.svc.PushAuthorization(e.ctx, e.client("portal"), req, authz.DPoPRequest{})
	if err != nil || ttl != 10*time.Second {
		t.Fatalf("expires_in %v, %v; want 10s", ttl, err)
	}
}

// TestPushAuthorizationStoreDown: an outage is Unavailable, not a client
// error.
func TestPushAuthorizationStoreDown(t *testing.T) {
	e := newEnv(t)
	e.st.failWith("CreatePushedRequest", unavailable("fake.CreatePushedRequest"))
	req, _ := request("portal", portalRedirect, "openid")
	_, _, err := e.svc.PushAuthorization(e.ctx, e.client("portal"), req, authz.DPoPRequest{})
	wantKind(t, err, fault.Unavailable)
	e.st.failWith("CreatePushedRequest", nil)
	uri, _, _ := e.push(nil)
	e.st.failWith("ConsumePushedRequest", unavailable("fake.ConsumePushedRequest"))
	_, err = e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: "portal", RequestURI: uri})
	wantKind(t, err, fault.Unavailable)
}

// TestPushedRequestDPoPProof: RFC 9449 §10.1: a DPoP proof at the pushed
// request binds the code to its key as dpop_jkt does; with both, they must
// agree; a proof that does not fit is refused like one at the token
// endpoint.
func TestPushedRequestDPoPProof(t *testing.T) {
	e := newEnv(t)
	req, _ := request("portal", portalRedirect, "openid")
	uri, _, err := e.svc.PushAuthorization(e.ctx, e.client("portal"), req, e.proof(keyA, "POST", "/par", ""))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Authorize(e.ctx, authz.AuthorizeRequest{ClientID: "portal", RequestURI: uri})
	if err != nil || r.DPoPJKT != keyA {
		t.Fatalf("pushed request's dpop_jkt %q, %v; want the proof's key", r.DPoPJKT, err)
	}
	req.DPoPJKT = keyB
	_, _, err = e.svc.PushAuthorization(e.ctx, e.client("portal"), req, e.proof(keyA, "POST", "/par", ""))
	wantNotDPoP(t, err, fault.Invalid)
	req.DPoPJKT = keyA
	if _, _, err := e.svc.PushAuthorization(e.ctx, e.client("portal"), req, e.proof(keyA, "POST", "/par", "")); err != nil {
		t.Fatalf("dpop_jkt and a proof of the same key: %v", err)
	}
	_, _, err = e.svc.PushAuthorization(e.ctx, e.client("portal"), req, changed(e.proof(keyA, "POST", "/par", ""), func(p *dpop.Proof) { p.HTU = issuer + "/token" }))
	wantDPoP(t, err, dpop.CodeInvalidProof)
	_, _, err = e.svc.PushAuthorization(e.ctx, e.client("portal"), req, changed(e.proof(keyA, "POST", "/par", ""), func(p *dpop.Proof) { p.Nonce = "" }))
	wantDPoP(t, err, dpop.CodeUseNonce)
}
