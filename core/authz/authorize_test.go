package authz_test

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

func TestConfigValidate(t *testing.T) {
	ok := testConfig()
	tests := []struct {
		name string
		mod  func(*authz.Config)
		ok   bool
	}{
		{"defaults", func(*authz.Config) {}, true},
		{"no issuer", func(c *authz.Config) { c.Issuer = "" }, false},
		{"trailing slash", func(c *authz.Config) { c.Issuer += "/" }, false},
		{"http issuer", func(c *authz.Config) { c.Issuer = "http://id.kasse.example" }, false},
		{"http issuer on loopback", func(c *authz.Config) { c.Issuer = "http://127.0.0.1:8080" }, true},
		{"issuer with query", func(c *authz.Config) { c.Issuer += "?x=1" }, false},
		{"issuer with user", func(c *authz.Config) { c.Issuer = "https://u@id.kasse.example" }, false},
		{"token lifetime above 1h", func(c *authz.Config) { c.AccessTokenTTL = time.Hour + time.Second }, false},
		{"refresh idle above 30 days", func(c *authz.Config) { c.RefreshIdleTTL, c.RefreshAbsoluteTTL = 31*24*time.Hour, 40*24*time.Hour }, false},
		{"code lifetime 60s", func(c *authz.Config) { c.CodeTTL = 60 * time.Second }, true},
		{"code lifetime above 60s", func(c *authz.Config) { c.CodeTTL = 61 * time.Second }, false},
		{"idle above absolute", func(c *authz.Config) { c.RefreshIdleTTL, c.RefreshAbsoluteTTL = 2*time.Hour, time.Hour }, false},
		{"negative access lifetime", func(c *authz.Config) { c.AccessTokenTTL = -time.Second }, false},
		{"pushed request lifetime 90s", func(c *authz.Config) { c.PushedRequestTTL = 90 * time.Second }, true},
		{"pushed request lifetime above 90s", func(c *authz.Config) { c.PushedRequestTTL = 91 * time.Second }, false},
		{"no DPoP nonce key", func(c *authz.Config) { c.DPoPNonces.Key = nil }, false},
		{"short DPoP nonce key", func(c *authz.Config) { c.DPoPNonces.Key = nonceKey[:31] }, false},
		{"no pairwise key", func(c *authz.Config) { c.PairwiseKey = nil }, false},
		{"short pairwise key", func(c *authz.Config) { c.PairwiseKey = pairwiseKey[:31] }, false},
		{"one KVNR claim", func(c *authz.Config) { c.KVNRClaims = []string{"urn:telematik:claims:id"} }, true},
		{"KVNR claim sub", func(c *authz.Config) { c.KVNRClaims = []string{"kvnr", "sub"} }, false},
		{"KVNR claim email", func(c *authz.Config) { c.KVNRClaims = []string{"email"} }, false},
		{"KVNR claim twice", func(c *authz.Config) { c.KVNRClaims = []string{"kvnr", "kvnr"} }, false},
		{"empty KVNR claim", func(c *authz.Config) { c.KVNRClaims = []string{""} }, false},
		{"KVNR claim with a space", func(c *authz.Config) { c.KVNRClaims = []string{"kv nr"} }, false},
		{"KVNR claim with a quote", func(c *authz.Config) { c.KVNRClaims = []string{`kv"nr`} }, false},
		{"KVNR claim of 257 characters", func(c *authz.Config) { c.KVNRClaims = []string{strings.Repeat("k", 257)} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tt.ok {
				wantKind(t, err, fault.Invalid)
			}
		})
	}
	s, err := authz.New(ok, authz.Stores{}, nil, nil, newEnvSecrets(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Config().CodeTTL; got != authz.DefaultCodeTTL {
		t.Errorf("effective CodeTTL = %v, want %v", got, authz.DefaultCodeTTL)
	}
	if got := s.Config().PushedRequestTTL; got != authz.DefaultPushedRequestTTL {
		t.Errorf("effective PushedRequestTTL = %v, want 90s", got)
	}
	if got := s.Config().KVNRClaims; !slices.Equal(got, []string{"kvnr", "urn:telematik:claims:id"}) {
		t.Errorf("effective KVNRClaims = %q", got)
	}
	// The effective configuration is handed around; the keys are not.
	if c := s.Config(); c.PairwiseKey != nil || c.DPoPNonces.Key != nil {
		t.Error("Config() returns key material")
	}
}

// TestAuthorizeRefusals covers every refusal of Authorize, and above all
// which of them may be redirected: only errors after the redirect URI is
// validated, or Pforte becomes an open redirector.
func TestAuthorizeRefusals(t *testing.T) {
	const state = "st-123"
	tests := []struct {
		name     string
		mod      func(*authz.AuthorizeRequest)
		kind     fault.Kind
		redirect bool // a error for the client
	}{
		{"missing client_id", func(r *authz.AuthorizeRequest) { r.ClientID = "" }, fault.Invalid, false},
		{"unknown client", func(r *authz.AuthorizeRequest) { r.ClientID = "nobody" }, fault.NotFound, false},
		{"oversized client_id", func(r *authz.AuthorizeRequest) { r.ClientID = strings.Repeat("c", 257) }, fault.Invalid, false},
		{"missing redirect_uri", func(r *authz.AuthorizeRequest) { r.RedirectURI = "" }, fault.Invalid, false},
		{"unregistered redirect_uri", func(r *authz.AuthorizeRequest) { r.RedirectURI = "https://evil.example/cb" }, fault.Invalid, false},
		{"redirect_uri with extra path", func(r *authz.AuthorizeRequest) { r.RedirectURI = webRedirect + "/x" }, fault.Invalid, false},
		{"redirect_uri with extra query", func(r *authz.AuthorizeRequest) { r.RedirectURI = webRedirect + "?next=evil" }, fault.Invalid, false},
		{"redirect_uri with other case", func(r *authz.AuthorizeRequest) { r.RedirectURI = strings.ToUpper(webRedirect) }, fault.Invalid, false},
		{"web client, loopback on another port", func(r *authz.AuthorizeRequest) { r.RedirectURI = "http://127.0.0.1:9001/callback" }, fault.Invalid, false},
		{"web client, loopback without port", func(r *authz.AuthorizeRequest) { r.RedirectURI = "http://127.0.0.1/callback" }, fault.Invalid, false},
		{"native client, localhost on another port", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "app", "http://localhost:8001/callback"
		}, fault.Invalid, false},
		{"native client, loopback on another path", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "app", "http://127.0.0.1:5000/other"
		}, fault.Invalid, false},
		{"native client, other loopback address", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "app", "http://127.0.0.2:5000/callback"
		}, fault.Invalid, false},
		{"native client, loopback over https", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "app", "https://127.0.0.1:5000/callback"
		}, fault.Invalid, false},
		{"oversized redirect_uri", func(r *authz.AuthorizeRequest) { r.RedirectURI = webRedirect + strings.Repeat("x", 2048) }, fault.Invalid, false},

		// From here on the redirect URI is known: errors go to the client.
		{"response_type token", func(r *authz.AuthorizeRequest) { r.ResponseType = "token" }, fault.Invalid, true},
		{"response_type code id_token", func(r *authz.AuthorizeRequest) { r.ResponseType = "code id_token" }, fault.Invalid, true},
		{"response_type missing", func(r *authz.AuthorizeRequest) { r.ResponseType = "" }, fault.Invalid, true},
		{"response_mode fragment", func(r *authz.AuthorizeRequest) { r.ResponseMode = "fragment" }, fault.Invalid, true},
		{"response_mode form_post", func(r *authz.AuthorizeRequest) { r.ResponseMode = "form_post" }, fault.Invalid, true},
		{"client without the code grant", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI = "batch", "https://batch.kasse.example/cb"
		}, fault.Forbidden, true},
		{"confidential client without code_challenge", func(r *authz.AuthorizeRequest) {
			r.CodeChallenge, r.CodeChallengeMethod = "", ""
		}, fault.Invalid, true},
		{"confidential client, challenge but no method", func(r *authz.AuthorizeRequest) { r.CodeChallengeMethod = "" }, fault.Invalid, true},
		{"public client without code_challenge", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RedirectURI, r.CodeChallenge, r.CodeChallengeMethod = "app", appRedirect, "", ""
		}, fault.Invalid, true},
		{"plain method", func(r *authz.AuthorizeRequest) {
			r.CodeChallenge, r.CodeChallengeMethod = strings.Repeat("a", 43), "plain"
		}, fault.Invalid, true},
		{"lower-case s256", func(r *authz.AuthorizeRequest) { r.CodeChallengeMethod = "s256" }, fault.Invalid, true},
		{"challenge 42 characters", func(r *authz.AuthorizeRequest) { r.CodeChallenge = r.CodeChallenge[:42] }, fault.Invalid, true},
		{"challenge 44 characters", func(r *authz.AuthorizeRequest) { r.CodeChallenge += "A" }, fault.Invalid, true},
		{"challenge in padded base64", func(r *authz.AuthorizeRequest) { r.CodeChallenge = r.CodeChallenge[:42] + "=" }, fault.Invalid, true},
		{"challenge in standard base64", func(r *authz.AuthorizeRequest) { r.CodeChallenge = r.CodeChallenge[:42] + "+" }, fault.Invalid, true},
		{"challenge with a dot", func(r *authz.AuthorizeRequest) { r.CodeChallenge = r.CodeChallenge[:42] + "." }, fault.Invalid, true},
		{"challenge with a tilde", func(r *authz.AuthorizeRequest) { r.CodeChallenge = r.CodeChallenge[:42] + "~" }, fault.Invalid, true},
		{"request object", func(r *authz.AuthorizeRequest) { r.Request = "eyJhbGciOiJub25lIn0.e30." }, fault.Invalid, true},
		{"unknown request_uri", func(r *authz.AuthorizeRequest) { r.RequestURI = "urn:ietf:params:oauth:request_uri:abc" }, fault.NotFound, false},
		{"request_uri of another form", func(r *authz.AuthorizeRequest) { r.RequestURI = "https://rp.example/request.jwt" }, fault.Invalid, false},
		{"request_uri without client_id", func(r *authz.AuthorizeRequest) {
			r.ClientID, r.RequestURI = "", "urn:ietf:params:oauth:request_uri:abc"
		}, fault.Invalid, false},
		{"dpop_jkt too short", func(r *authz.AuthorizeRequest) { r.DPoPJKT = strings.Repeat("k", 42) }, fault.Invalid, true},
		{"dpop_jkt not base64url", func(r *authz.AuthorizeRequest) { r.DPoPJKT = strings.Repeat("k", 42) + "=" }, fault.Invalid, true},
		{"oversized nonce", func(r *authz.AuthorizeRequest) { r.Nonce = strings.Repeat("n", 513) }, fault.Invalid, true},
		{"oversized scope", func(r *authz.AuthorizeRequest) { r.Scope = strings.Repeat("s", 2049) }, fault.Invalid, true},
		{"oversized acr_values", func(r *authz.AuthorizeRequest) { r.ACRValues = strings.Repeat("a", 2049) }, fault.Invalid, true},
		{"oversized login_hint", func(r *authz.AuthorizeRequest) { r.LoginHint = strings.Repeat("h", 257) }, fault.Invalid, true},
		{"too many scopes", func(r *authz.AuthorizeRequest) { r.Scope = strings.Repeat("openid ", 33) }, fault.Invalid, true},
		{"forged id_token_hint", func(r *authz.AuthorizeRequest) { r.IDTokenHint = "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" }, fault.Invalid, true},
		{"prompt=none login", func(r *authz.AuthorizeRequest) { r.Prompt = "none login" }, fault.Invalid, true},
		{"unknown prompt", func(r *authz.AuthorizeRequest) { r.Prompt = "create" }, fault.Invalid, true},
		{"negative max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "-1" }, fault.Invalid, true},
		{"fractional max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "1.5" }, fault.Invalid, true},
		{"textual max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "ten" }, fault.Invalid, true},
		{"signed max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "+60" }, fault.Invalid, true},
		{"huge max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "99999999999" }, fault.Invalid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request("web", webRedirect, "openid profile")
			tt.mod(&req)
			_, err := e.svc.Authorize(e.ctx, req)
			wantKind(t, err, tt.kind)
			re := redirectErr(err)
			switch {
			case tt.redirect && re == nil:
				t.Fatalf("err = %v, want a error for the client", err)
			case !tt.redirect && re != nil:
				t.Fatalf("err = %v is a error for the client to %q; it must be shown, never redirected", err, re.RedirectURI)
			case tt.redirect:
				if re.RedirectURI != req.RedirectURI || re.State != state {
					t.Fatalf("redirect{%q, %q}, want {%q, %q}", re.RedirectURI, re.State, req.RedirectURI, state)
				}
			}
			if n := len(e.st.requests()); n != 0 {
				t.Fatalf("%d authorization requests stored after a refusal", n)
			}
		})
	}
}

func TestAuthorizeOversizedStateIsNotEchoed(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid")
	req.State = strings.Repeat("s", 1025)
	_, err := e.svc.Authorize(e.ctx, req)
	wantKind(t, err, fault.Invalid)
	re := redirectErr(err)
	if re == nil || re.RedirectURI != webRedirect {
		t.Fatalf("err = %v, want a error for the client to %s", err, webRedirect)
	}
	if re.State != "" {
		t.Fatalf("the oversized state is echoed back (%d bytes)", len(re.State))
	}

	req.State = strings.Repeat("s", 1024)
	if _, err := e.svc.Authorize(e.ctx, req); err != nil {
		t.Fatalf("state of 1024 bytes: %v", err)
	}
}

func TestAuthorizeRedirectURIs(t *testing.T) {
	tests := []struct {
		name, client, uri string
	}{
		{"exact", "web", webRedirect},
		{"exact loopback of a web client", "web", "http://127.0.0.1:9000/callback"},
		{"exact with query", "form", formRedirect},
		// RFC 8252 §7.3: the app listens on a port it picks at run time.
		{"native loopback IPv4, any port", "app", "http://127.0.0.1:51234/callback"},
		{"native loopback IPv6, any port", "app", "http://[::1]:51234/callback"},
		{"native localhost, exact", "app", "http://localhost:8000/callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request(tt.client, tt.uri, "openid")
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if r.RedirectURI != tt.uri {
				t.Fatalf("stored redirect URI %q, want the one used, %q", r.RedirectURI, tt.uri)
			}
		})
	}
}

func TestAuthorizeStoresTheRequest(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid profile address admin openid offline_access")
	req.MaxAge = "300"
	req.ACRValues = "http://eidas.europa.eu/LoA/substantial  http://eidas.europa.eu/LoA/high"
	req.Prompt = "login"
	req.UILocales = "de en"
	req.LoginHint = "A123456780"
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.st.AuthRequestByID(e.ctx, r.ID)
	if err != nil {
		t.Fatalf("the request was not stored: %v", err)
	}
	// Scopes outside the client's list are dropped, duplicates too, the
	// order of the request is kept.
	if want := []string{"openid", "profile", "address"}; !slices.Equal(stored.Scopes, want) {
		t.Errorf("scopes = %q, want %q", stored.Scopes, want)
	}
	if stored.MaxAge == nil || *stored.MaxAge != 300*time.Second {
		t.Errorf("max_age = %v, want 300s", stored.MaxAge)
	}
	if want := []string{"http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high"}; !slices.Equal(stored.ACRValues, want) {
		t.Errorf("acr_values = %q, want %q", stored.ACRValues, want)
	}
	if !slices.Equal(stored.Prompt, []string{"login"}) || !slices.Equal(stored.UILocales, []string{"de", "en"}) || stored.LoginHint != req.LoginHint {
		t.Errorf("prompt %q, ui_locales %q, login_hint %q not kept", stored.Prompt, stored.UILocales, stored.LoginHint)
	}
	if stored.State != req.State || stored.Nonce != req.Nonce || stored.CodeChallenge != req.CodeChallenge || stored.CodeChallengeMethod != "S256" {
		t.Errorf("state, nonce or challenge not kept: %+v", stored)
	}
	if stored.Login != nil {
		t.Error("a new request already has a login")
	}
	if got, want := stored.ExpiresAt.Sub(e.clock.Now()), authz.DefaultAuthRequestTTL; got > want || got < want-time.Millisecond {
		t.Errorf("request lives %v, want %v", got, want)
	}
	if r.ID == "" || len(r.ID) < 22 {
		t.Errorf("request ID %q is too short to be unguessable", r.ID)
	}
}

func TestAuthorizeMaxAge(t *testing.T) {
	tests := []struct {
		in   string
		want *time.Duration
	}{
		{"", nil},
		{"0", ptr(time.Duration(0))},
		{"60", ptr(time.Minute)},
		{"2147483647", ptr(2147483647 * time.Second)},
	}
	for _, tt := range tests {
		t.Run("max_age="+tt.in, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request("web", webRedirect, "openid")
			req.MaxAge = tt.in
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && r.MaxAge != nil:
				t.Fatalf("MaxAge = %v, want nil", *r.MaxAge)
			case tt.want != nil && (r.MaxAge == nil || *r.MaxAge != *tt.want):
				t.Fatalf("MaxAge = %v, want %v", r.MaxAge, *tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestErrorRedirect(t *testing.T) {
	e := newEnv(t)
	req, _ := request("form", formRedirect, "openid")
	req.ResponseType = "token"
	_, err := e.svc.Authorize(e.ctx, req)
	re := redirectErr(err)
	if re == nil {
		t.Fatalf("err = %v, want a error for the client", err)
	}
	to := e.svc.ErrorRedirect(fault.Redirect{URI: re.RedirectURI, State: re.State}, "unsupported_response_type", fault.PublicOf(err))
	u, perr := url.Parse(to)
	if perr != nil {
		t.Fatal(perr)
	}
	q := u.Query()
	if q.Get("form") != "umzug" {
		t.Errorf("the registered query is lost: %s", to)
	}
	if q.Get("error") != "unsupported_response_type" || q.Get("state") != "st-123" || q.Get("iss") != issuer {
		t.Errorf("error redirect %s lacks error, state or iss", to)
	}
	if q.Get("error_description") != fault.PublicOf(err) {
		t.Errorf("error_description = %q, want the public text %q", q.Get("error_description"), fault.PublicOf(err))
	}
}

func TestCompleteLoginIssuesACode(t *testing.T) {
	tests := []struct {
		name, client, redirect, state string
	}{
		{"with state", "web", webRedirect, "st-123"},
		{"without state", "web", webRedirect, ""},
		{"redirect URI with query", "form", formRedirect, "st-123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request(tt.client, tt.redirect, "openid")
			req.State = tt.state
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pr, c, err := e.svc.PendingLogin(e.ctx, r.ID)
			if err != nil || pr.ID != r.ID || c.ID != tt.client {
				t.Fatalf("PendingLogin = %v, %v, %v", pr.ID, c.ID, err)
			}
			to, err := e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
			if err != nil {
				t.Fatalf("CompleteLogin: %v", err)
			}
			base, _, _ := strings.Cut(tt.redirect, "?")
			if !strings.HasPrefix(to, base+"?") {
				t.Fatalf("redirect %s does not go to %s", to, tt.redirect)
			}
			u, err := url.Parse(to)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if len(q.Get("code")) < 43 {
				t.Errorf("code %q is missing or short", q.Get("code"))
			}
			if q.Get("iss") != issuer {
				t.Errorf("iss = %q, want %q (RFC 9207)", q.Get("iss"), issuer)
			}
			if _, has := q["state"]; has != (tt.state != "") || q.Get("state") != tt.state {
				t.Errorf("state = %q (present %v), want %q", q.Get("state"), has, tt.state)
			}
			if tt.client == "form" && q.Get("form") != "umzug" {
				t.Errorf("registered query lost: %s", to)
			}
			if n := len(e.st.codes()); n != 1 {
				t.Fatalf("%d codes stored, want 1", n)
			}
			for h := range e.st.codes() {
				if h == q.Get("code") || h != hash(q.Get("code")) {
					t.Fatal("the code is not stored as its hash")
				}
				if c := e.st.codes()[h]; c.ExpiresAt.Sub(e.clock.Now()) > authz.MaxCodeTTL {
					t.Fatalf("code lives %v, more than 60s", c.ExpiresAt.Sub(e.clock.Now()))
				}
			}
		})
	}
}

func TestCompleteLoginRefusals(t *testing.T) {
	eidas := loa.EIDAS
	pwd := func(e *env) loa.Authentication { return e.passwordLogin() }
	tests := []struct {
		name     string
		mod      func(*authz.AuthorizeRequest)
		auth     func(*env) loa.Authentication
		before   func(*env) // runs after Authorize
		kind     fault.Kind
		redirect bool
	}{
		{"acr substantial with a password", func(r *authz.AuthorizeRequest) { r.ACRValues = eidas.Substantial }, pwd, nil, fault.Forbidden, true},
		{"acr high with a password", func(r *authz.AuthorizeRequest) { r.ACRValues = eidas.High }, pwd, nil, fault.Forbidden, true},
		{"acr high with two factors, letter-proofed", func(r *authz.AuthorizeRequest) { r.ACRValues = eidas.High }, func(e *env) loa.Authentication {
			a := e.passwordLogin()
			a.AMR = []string{loa.AMRHardware, loa.AMRPIN}
			return a
		}, nil, fault.Forbidden, true},
		{"authentication older than max_age", func(r *authz.AuthorizeRequest) { r.MaxAge = "60" }, func(e *env) loa.Authentication {
			a := e.passwordLogin()
			a.Time = a.Time.Add(-2 * time.Minute)
			return a
		}, nil, fault.Unauthenticated, true},
		{"no method used", nil, func(e *env) loa.Authentication {
			a := e.passwordLogin()
			a.AMR = nil
			return a
		}, nil, fault.Unauthenticated, false},
		{"expired request", nil, pwd, func(e *env) { e.clock.Advance(authz.DefaultAuthRequestTTL) }, fault.Expired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, _ := request("web", webRedirect, "openid")
			if tt.mod != nil {
				tt.mod(&req)
			}
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if tt.before != nil {
				tt.before(e)
			}
			_, err = e.svc.CompleteLogin(e.ctx, r.ID, tt.auth(e))
			wantKind(t, err, tt.kind)
			if re := redirectErr(err); (re != nil) != tt.redirect {
				t.Fatalf("err = %v, for the client: %v, want %v", err, re != nil, tt.redirect)
			} else if re != nil && (re.RedirectURI != webRedirect || re.State != req.State) {
				t.Fatalf("redirect{%q, %q}", re.RedirectURI, re.State)
			}
			if len(e.st.codes()) != 0 {
				t.Fatal("a code was issued for a refused login")
			}
		})
	}
}

func TestCompleteLoginLevels(t *testing.T) {
	eidas := loa.EIDAS
	tests := []struct {
		name    string
		acr     string
		amr     []string
		wantACR string
		wantAMR []string
	}{
		{"password, no acr_values", "", []string{loa.AMRPassword}, eidas.Low, []string{"pwd"}},
		{"password, acr low", eidas.Low, []string{loa.AMRPassword}, eidas.Low, []string{"pwd"}},
		{"password, unknown acr ignored", "urn:other:loa", []string{loa.AMRPassword}, eidas.Low, []string{"pwd"}},
		{"password, low or substantial", eidas.Substantial + " " + eidas.Low, []string{loa.AMRPassword}, eidas.Low, []string{"pwd"}},
		{"device and PIN, acr substantial", eidas.Substantial, []string{loa.AMRHardware, loa.AMRPIN}, eidas.Substantial, []string{"hwk", "pin", "mfa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req, v := request("web", webRedirect, "openid")
			req.ACRValues = tt.acr
			r, err := e.svc.Authorize(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			a := e.passwordLogin()
			a.AMR = tt.amr
			to, err := e.svc.CompleteLogin(e.ctx, r.ID, a)
			if err != nil {
				t.Fatalf("CompleteLogin: %v", err)
			}
			u, _ := url.Parse(to)
			resp, err := e.exchange(flow{client: "web", code: u.Query().Get("code"), verifier: v, redirectURI: webRedirect})
			if err != nil {
				t.Fatal(err)
			}
			id := e.idClaims(resp.IDToken)
			if id.ACR != tt.wantACR || !slices.Equal(id.AMR, tt.wantAMR) {
				t.Fatalf("acr %q amr %q, want %q %q", id.ACR, id.AMR, tt.wantACR, tt.wantAMR)
			}
		})
	}
}

func TestCompleteLoginMaxAgeWithinLimit(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid")
	req.MaxAge = "60"
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	a := e.passwordLogin()
	a.Time = a.Time.Add(-30 * time.Second)
	if _, err := e.svc.CompleteLogin(e.ctx, r.ID, a); err != nil {
		t.Fatalf("a login 30s ago with max_age=60: %v", err)
	}
}

// A refused level leaves the request pending, so a stronger login can
// still complete it.
func TestCompleteLoginStepUpAfterRefusal(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid")
	req.ACRValues = loa.EIDAS.Substantial
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin()); redirectErr(err) == nil {
		t.Fatalf("password login for substantial: %v, want an error for the client", err)
	}
	a := e.passwordLogin()
	a.AMR = []string{loa.AMRHardware, loa.AMRPIN}
	if _, err := e.svc.CompleteLogin(e.ctx, r.ID, a); err != nil {
		t.Fatalf("two-factor login after the refused password login: %v", err)
	}
}

func TestCompleteLoginTwice(t *testing.T) {
	t.Run("after the code was issued", func(t *testing.T) {
		e := newEnv(t)
		req, _ := request("web", webRedirect, "openid")
		r, err := e.svc.Authorize(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin()); err != nil {
			t.Fatal(err)
		}
		// IssueCode deleted the request (ports/store), so it is gone.
		_, err = e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
		wantKind(t, err, fault.NotFound)
		if len(e.st.codes()) != 1 {
			t.Fatalf("%d codes, want 1", len(e.st.codes()))
		}
	})
	t.Run("after the login was recorded", func(t *testing.T) {
		e := newEnv(t)
		req, _ := request("web", webRedirect, "openid")
		r, err := e.svc.Authorize(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		e.st.failWith("IssueCode", unavailable("fake.IssueCode"))
		_, err = e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
		wantKind(t, err, fault.Unavailable)
		e.st.failWith("IssueCode", nil)
		_, err = e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin())
		wantKind(t, err, fault.Conflict)
		if len(e.st.codes()) != 0 {
			t.Fatal("a second completion issued a code")
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		e := newEnv(t)
		req, _ := request("web", webRedirect, "openid")
		r, err := e.svc.Authorize(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = e.svc.CompleteLogin(e.ctx, r.ID, e.passwordLogin()) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case fault.KindOf(err) != fault.Conflict && fault.KindOf(err) != fault.NotFound:
				t.Errorf("a losing completion: %v, want Conflict or NotFound", err)
			}
		}
		if wins != 1 || len(e.st.codes()) != 1 {
			t.Fatalf("%d completions won, %d codes; want exactly one", wins, len(e.st.codes()))
		}
	})
}

func TestPendingLogin(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.svc.PendingLogin(e.ctx, "no-such-request")
	wantKind(t, err, fault.NotFound)
	_, err = e.svc.CompleteLogin(e.ctx, "no-such-request", e.passwordLogin())
	wantKind(t, err, fault.NotFound)

	req, _ := request("web", webRedirect, "openid")
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(authz.DefaultAuthRequestTTL - time.Second)
	if _, _, err := e.svc.PendingLogin(e.ctx, r.ID); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	_, _, err = e.svc.PendingLogin(e.ctx, r.ID)
	wantKind(t, err, fault.Expired)
}

// TestMaxAgeCountsLoginsMadeForTheRequest: a login made after the request
// began is fresh however long the member took to confirm it (max_age=0
// with the app's confirmation); one from before, older than max_age, is
// not.
func TestMaxAgeCountsLoginsMadeForTheRequest(t *testing.T) {
	e := newEnv(t)
	req, _ := request("web", webRedirect, "openid")
	req.MaxAge = "0"
	r, err := e.svc.Authorize(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second) // the password, then the app
	a := e.passwordLogin()
	e.clock.Advance(3 * time.Second) // the browser's "Weiter"
	if _, err := e.svc.CompleteLogin(e.ctx, r.ID, a); err != nil {
		t.Fatalf("a login made for the request, completed 3 s later with max_age=0: %v", err)
	}
}
