package authz_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/token"
)

func TestIntrospectAccessToken(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	in, err := e.svc.Introspect(e.ctx, e.client("svc"), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	switch {
	case !in.Active, in.Kind != "access_token", in.TokenType != "Bearer", in.JKT != "":
		t.Fatalf("active %v kind %q type %q jkt %q", in.Active, in.Kind, in.TokenType, in.JKT)
	case in.ClientID != "web", in.Subject != annaID, !slices.Equal(in.Scopes, []string{"openid", "profile"}):
		t.Errorf("client %q sub %q scopes %q", in.ClientID, in.Subject, in.Scopes)
	case !slices.Equal(in.Audience, []string{issuer, "svc"}), in.JTI == "":
		t.Errorf("aud %q jti %q", in.Audience, in.JTI)
	case in.ExpiresAt.Unix() != now.Add(authz.DefaultAccessTokenTTL).Unix(), in.IssuedAt.Unix() != now.Unix():
		t.Errorf("iat %v exp %v", in.IssuedAt, in.ExpiresAt)
	case in.ACR != loa.EIDAS.Low, !slices.Equal(in.AMR, []string{"pwd"}), in.AuthTime.IsZero():
		t.Errorf("acr %q amr %q auth_time %v", in.ACR, in.AMR, in.AuthTime)
	}
}

func TestIntrospectInactive(t *testing.T) {
	tests := []struct {
		name string
		tok  func(e *env, resp authz.TokenResponse) string
	}{
		{"revoked access token", func(e *env, r authz.TokenResponse) string {
			if err := e.svc.Revoke(e.ctx, e.client("web"), r.AccessToken, "access_token"); err != nil {
				t.Fatal(err)
			}
			return r.AccessToken
		}},
		{"expired access token", func(e *env, r authz.TokenResponse) string {
			e.clock.Advance(authz.DefaultAccessTokenTTL)
			return r.AccessToken
		}},
		{"ID token", func(_ *env, r authz.TokenResponse) string { return r.IDToken }},
		{"access token with a forged signature", func(_ *env, r authz.TokenResponse) string {
			return r.AccessToken[:strings.LastIndex(r.AccessToken, ".")+1] + "AAAA"
		}},
		{"access token of another issuer", func(e *env, r authz.TokenResponse) string {
			cl := e.accessClaims(r.AccessToken)
			cl.Issuer = "https://evil.example"
			raw, _ := e.jws.Sign(e.ctx, token.TypeAccess, cl)
			return raw
		}},
		{"access token never issued", func(e *env, r authz.TokenResponse) string {
			cl := e.accessClaims(r.AccessToken)
			cl.JTI = "never-issued"
			raw, _ := e.jws.Sign(e.ctx, token.TypeAccess, cl)
			return raw
		}},
		{"rotated refresh token", func(e *env, r authz.TokenResponse) string {
			if _, err := e.svc.Refresh(e.ctx, e.client("web"), r.RefreshToken, "", noPoP); err != nil {
				t.Fatal(err)
			}
			return r.RefreshToken
		}},
		{"refresh token after idle time", func(e *env, r authz.TokenResponse) string {
			e.clock.Advance(authz.DefaultRefreshIdleTTL)
			return r.RefreshToken
		}},
		{"unknown opaque token", func(*env, authz.TokenResponse) string { return "bm90LWEtdG9rZW4" }},
		{"empty", func(*env, authz.TokenResponse) string { return "" }},
		{"oversized", func(*env, authz.TokenResponse) string { return strings.Repeat("a.", 5000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := tt.tok(e, e.webTokens())
			in, err := e.svc.Introspect(e.ctx, e.client("svc"), tok)
			if err != nil {
				t.Fatalf("Introspect: %v (an invalid token is inactive, not an error)", err)
			}
			if in.Active || in.Subject != "" || in.ClientID != "" {
				t.Fatalf("introspection %+v, want inactive and nothing else", in)
			}
		})
	}
}

func TestIntrospectRefreshToken(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	// Another confidential client (a resource server) never sees a
	// refresh token as active.
	if in, err := e.svc.Introspect(e.ctx, e.client("svc"), resp.RefreshToken); err != nil || in.Active {
		t.Fatalf("foreign client introspection = %+v, %v; want inactive", in, err)
	}
	in, err := e.svc.Introspect(e.ctx, e.client("web"), resp.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.Kind != "refresh_token" || in.TokenType != "" || in.ClientID != "web" || in.Subject != annaID ||
		!slices.Equal(in.Scopes, []string{"openid", "profile"}) {
		t.Fatalf("introspection %+v", in)
	}
	next, err := e.svc.Refresh(e.ctx, e.client("web"), resp.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	if e.active(resp.RefreshToken) {
		t.Error("the rotated refresh token is active")
	}
	if !e.active(next.RefreshToken) {
		t.Error("the new refresh token is not active")
	}
}

func TestIntrospectPublicCaller(t *testing.T) {
	e := newEnv(t)
	resp := e.tokens("app", appRedirect, "openid")
	_, err := e.svc.Introspect(e.ctx, e.client("app"), resp.AccessToken)
	wantKind(t, err, fault.Forbidden)
}

func TestIntrospectStoreDown(t *testing.T) {
	for _, tc := range []struct{ method, which string }{{"AccessToken", "access"}, {"RefreshToken", "refresh"}} {
		t.Run(tc.method, func(t *testing.T) {
			e := newEnv(t)
			resp := e.webTokens()
			tok := resp.AccessToken
			if tc.which == "refresh" {
				tok = resp.RefreshToken
			}
			e.st.failWith(tc.method, unavailable("fake."+tc.method))
			_, err := e.svc.Introspect(e.ctx, e.client("svc"), tok)
			wantKind(t, err, fault.Unavailable)
		})
	}
}

// TestIntrospectStoreDownOnTheTokensClient: the token's client is looked
// up (it may have been removed); a fault there is the server's, not an
// inactive token.
func TestIntrospectStoreDownOnTheTokensClient(t *testing.T) {
	e := newEnv(t)
	tok := e.webTokens().AccessToken
	e.clock.Advance(authz.DefaultClientCacheTTL) // the client "web" is read again
	e.st.failWith("ClientByID", unavailable("fake.ClientByID"))
	_, err := e.svc.Introspect(e.ctx, client.Client{ID: "svc", SecretHash: "x"}, tok)
	wantKind(t, err, fault.Unavailable)
}

// TestRemovedClientsTokens: once the operator removed a client, its access
// tokens are refused at introspection and userinfo — after the client
// cache's TTL, as the README says.
func TestRemovedClientsTokens(t *testing.T) {
	e := newEnv(t)
	web := e.webTokens()
	svc, err := e.svc.ClientCredentials(e.ctx, e.client("svc"), "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	introspector := e.client("svc")
	active := func(tok string) bool {
		t.Helper()
		in, err := e.svc.Introspect(e.ctx, introspector, tok)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}
	if err := e.st.DeleteClient(e.ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if !active(web.AccessToken) {
		t.Error("refused before the client cache's TTL; the README promises up to 5 s")
	}
	e.clock.Advance(authz.DefaultClientCacheTTL)
	if active(web.AccessToken) {
		t.Error("a removed client's token is still active")
	}
	_, err = e.svc.UserInfo(e.ctx, bearer(web.AccessToken))
	wantKind(t, err, fault.Unauthenticated)
	if !active(svc.AccessToken) {
		t.Error("another client's token became inactive")
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name   string
		caller string
		tok    func(r authz.TokenResponse) string
		hint   string
		// what is active afterwards
		accessActive, refreshActive bool
	}{
		{"refresh token revokes the family", "web", func(r authz.TokenResponse) string { return r.RefreshToken }, "refresh_token", false, false},
		{"refresh token without hint", "web", func(r authz.TokenResponse) string { return r.RefreshToken }, "", false, false},
		{"refresh token with the wrong hint", "web", func(r authz.TokenResponse) string { return r.RefreshToken }, "access_token", false, false},
		{"access token revokes itself", "web", func(r authz.TokenResponse) string { return r.AccessToken }, "access_token", false, true},
		{"access token without hint", "web", func(r authz.TokenResponse) string { return r.AccessToken }, "", false, true},
		{"access token with the wrong hint", "web", func(r authz.TokenResponse) string { return r.AccessToken }, "refresh_token", false, true},
		{"another client's refresh token", "form", func(r authz.TokenResponse) string { return r.RefreshToken }, "", true, true},
		{"another client's access token", "form", func(r authz.TokenResponse) string { return r.AccessToken }, "", true, true},
		{"unknown token", "web", func(authz.TokenResponse) string { return "bm90LWEtdG9rZW4" }, "", true, true},
		{"unknown JWT", "web", func(authz.TokenResponse) string { return "eyJhbGciOiJub25lIn0.e30.AAAA" }, "", true, true},
		{"empty", "web", func(authz.TokenResponse) string { return "" }, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.webTokens()
			if err := e.svc.Revoke(e.ctx, e.client(tt.caller), tt.tok(resp), tt.hint); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if got := e.active(resp.AccessToken); got != tt.accessActive {
				t.Errorf("access token active %v, want %v", got, tt.accessActive)
			}
			if got := e.active(resp.RefreshToken); got != tt.refreshActive {
				t.Errorf("refresh token active %v, want %v", got, tt.refreshActive)
			}
			_, err := e.svc.Refresh(e.ctx, e.client("web"), resp.RefreshToken, "", noPoP)
			if (err == nil) != tt.refreshActive {
				t.Errorf("refresh after revocation: %v, want success %v", err, tt.refreshActive)
			}
		})
	}
}

func TestRevokeTwiceAndStoreDown(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	for range 2 {
		if err := e.svc.Revoke(e.ctx, e.client("web"), resp.RefreshToken, ""); err != nil {
			t.Fatalf("Revoke is not idempotent: %v", err)
		}
	}
	resp = e.webTokens()
	e.st.failWith("RefreshToken", unavailable("fake.RefreshToken"))
	err := e.svc.Revoke(e.ctx, e.client("web"), resp.RefreshToken, "")
	wantKind(t, err, fault.Unavailable)
}

func TestUserInfo(t *testing.T) {
	tests := []struct {
		scope  string
		want   []string // claim names
		absent []string
	}{
		{"openid", []string{"sub"}, []string{"name", "kvnr", "address", "email", "birthdate"}},
		{"openid profile", []string{"sub", "name", "given_name", "family_name"}, []string{"address", "email", "birthdate", "kvnr", authz.ClaimTelematikID}},
		{"openid kvnr", []string{"sub", "kvnr", authz.ClaimTelematikID}, []string{"name", "address"}},
		{"openid address", []string{"sub", "address"}, []string{"name", "email"}},
		{"openid email birthdate", []string{"sub", "email", "email_verified", "birthdate"}, []string{"name", "address"}},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			e := newEnv(t)
			resp := e.confirmedTokens("web", webRedirect, tt.scope)
			cl, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.want {
				if _, ok := cl[k]; !ok {
					t.Errorf("claim %s missing: %v", k, cl)
				}
			}
			for _, k := range tt.absent {
				if _, ok := cl[k]; ok {
					t.Errorf("claim %s released without its scope", k)
				}
			}
			if cl["sub"] != annaID {
				t.Errorf("sub = %v", cl["sub"])
			}
			if _, ok := cl["kvnr"]; ok && (cl["kvnr"] != annaKVNR.String() || cl[authz.ClaimTelematikID] != annaKVNR.String()) {
				t.Errorf("kvnr %v, %s %v; want %s", cl["kvnr"], authz.ClaimTelematikID, cl[authz.ClaimTelematikID], annaKVNR)
			}
			if _, ok := cl["name"]; ok && cl["name"] != "Anna Schmidt" {
				t.Errorf("name = %v", cl["name"])
			}
			if ad, ok := cl["address"].(map[string]string); ok && (ad["locality"] != "Hamburg" || ad["country"] != "DE") {
				t.Errorf("address = %v", ad)
			}
			if _, ok := cl["email"]; ok && cl["email_verified"] != false {
				t.Errorf("email_verified = %v; Pforte does not verify addresses", cl["email_verified"])
			}
		})
	}
}

func TestUserInfoWithoutMasterData(t *testing.T) {
	e := newEnv(t)
	e.st.hide("member:" + annaKVNR.String())
	resp := e.confirmedTokens("web", webRedirect, "openid profile kvnr")
	cl, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if cl["kvnr"] != annaKVNR.String() || cl["name"] != nil {
		t.Fatalf("claims %v, want the KVNR from the account and no name", cl)
	}
}

func TestUserInfoRefusals(t *testing.T) {
	tests := []struct {
		name string
		tok  func(e *env) string
		kind fault.Kind
	}{
		{"without openid", func(e *env) string { return e.tokens("web", webRedirect, "profile address").AccessToken }, fault.Forbidden},
		{"openid narrowed away by refresh", func(e *env) string {
			resp, err := e.svc.Refresh(e.ctx, e.client("web"), e.webTokens().RefreshToken, "profile", noPoP)
			if err != nil {
				t.Fatal(err)
			}
			return resp.AccessToken
		}, fault.Forbidden},
		{"revoked", func(e *env) string {
			resp := e.webTokens()
			if err := e.svc.Revoke(e.ctx, e.client("web"), resp.RefreshToken, ""); err != nil {
				t.Fatal(err)
			}
			return resp.AccessToken
		}, fault.Unauthenticated},
		{"expired", func(e *env) string {
			tok := e.webTokens().AccessToken
			e.clock.Advance(authz.DefaultAccessTokenTTL)
			return tok
		}, fault.Unauthenticated},
		{"ID token", func(e *env) string { return e.webTokens().IDToken }, fault.Unauthenticated},
		{"refresh token", func(e *env) string { return e.webTokens().RefreshToken }, fault.Unauthenticated},
		{"garbage", func(*env) string { return "a.b.c" }, fault.Unauthenticated},
		{"account deleted", func(e *env) string {
			tok := e.webTokens().AccessToken
			e.st.hide("account:" + annaID)
			return tok
		}, fault.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tok := tt.tok(e)
			cl, err := e.svc.UserInfo(e.ctx, bearer(tok))
			wantKind(t, err, tt.kind)
			if cl != nil {
				t.Fatalf("claims %v released with an error", cl)
			}
		})
	}
}

func TestEndSession(t *testing.T) {
	tests := []struct {
		name string
		in   func(e *env) authz.EndSessionRequest
		want string
		kind fault.Kind // 0: accepted
	}{
		{"hint, registered URI and state", func(e *env) authz.EndSessionRequest {
			return authz.EndSessionRequest{IDTokenHint: e.webTokens().IDToken, PostLogoutRedirectURI: webLogout, State: "bye 1"}
		}, webLogout + "?state=bye+1", 0},
		{"hint names the client", func(e *env) authz.EndSessionRequest {
			return authz.EndSessionRequest{IDTokenHint: e.webTokens().IDToken, ClientID: "web", PostLogoutRedirectURI: webLogout}
		}, webLogout, 0},
		{"client_id, registered URI", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{ClientID: "web", PostLogoutRedirectURI: webLogout}
		}, webLogout, 0},
		{"expired hint", func(e *env) authz.EndSessionRequest {
			tok := e.webTokens().IDToken
			e.clock.Advance(24 * time.Hour)
			return authz.EndSessionRequest{IDTokenHint: tok, ClientID: "web", PostLogoutRedirectURI: webLogout}
		}, webLogout, 0},
		{"nothing: Pforte's own page", func(*env) authz.EndSessionRequest { return authz.EndSessionRequest{} }, "", 0},
		{"hint only", func(e *env) authz.EndSessionRequest {
			return authz.EndSessionRequest{IDTokenHint: e.webTokens().IDToken}
		}, "", 0},
		{"unregistered URI", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{ClientID: "web", PostLogoutRedirectURI: "https://evil.example/"}
		}, "", fault.Invalid},
		{"another client's URI", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{ClientID: "form", PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"URI without client", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"unknown client", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{ClientID: "nobody", PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"forged hint", func(e *env) authz.EndSessionRequest {
			cl := e.idClaims(e.webTokens().IDToken)
			raw, err := signJWS([]byte("attacker-key"), jwsHeader{Alg: "HS256", Typ: token.TypeID}, cl)
			if err != nil {
				t.Fatal(err)
			}
			return authz.EndSessionRequest{IDTokenHint: raw, PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"access token as hint", func(e *env) authz.EndSessionRequest {
			return authz.EndSessionRequest{IDTokenHint: e.webTokens().AccessToken, PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"hint of another issuer", func(e *env) authz.EndSessionRequest {
			cl := e.idClaims(e.webTokens().IDToken)
			cl.Issuer = "https://evil.example"
			raw, _ := e.jws.Sign(e.ctx, token.TypeID, cl)
			return authz.EndSessionRequest{IDTokenHint: raw, PostLogoutRedirectURI: webLogout}
		}, "", fault.Invalid},
		{"hint issued to another client", func(e *env) authz.EndSessionRequest {
			return authz.EndSessionRequest{IDTokenHint: e.webTokens().IDToken, ClientID: "form", PostLogoutRedirectURI: formLogout}
		}, "", fault.Invalid},
		{"oversized state", func(*env) authz.EndSessionRequest {
			return authz.EndSessionRequest{ClientID: "web", PostLogoutRedirectURI: webLogout, State: strings.Repeat("s", 1025)}
		}, "", fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			out, err := e.svc.EndSession(e.ctx, tt.in(e))
			if tt.kind != 0 {
				wantKind(t, err, tt.kind)
				if out.To != "" {
					t.Fatalf("redirect %q with an error", out.To)
				}
				return
			}
			if err != nil || out.To != tt.want {
				t.Fatalf("EndSession = %q, %v; want %q", out.To, err, tt.want)
			}
		})
	}
}

func TestUserInfoRefusedAfterAccountBlocked(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	if _, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken)); err != nil {
		t.Fatalf("UserInfo before blocking: %v", err)
	}
	if err := e.st.SetAccountStatus(e.ctx, annaID, account.Blocked, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	wantKind(t, err, fault.Unauthenticated)
}

func TestRefreshRefusedAfterGrantRemoved(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	c := e.client("web")
	c.GrantTypes = []string{client.GrantCode}
	if err := e.st.PutClient(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(e.ctx, e.client("web"), resp.RefreshToken, "", noPoP)
	wantKind(t, err, fault.Forbidden)
}

// TestUserInfoDatabaseFaultIsNotAnInvalidToken: when the account cannot be
// read, the client must not be told to throw its token away.
func TestUserInfoDatabaseFaultIsNotAnInvalidToken(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	e.st.failWith("AccountByID", unavailable("fake.AccountByID"))
	_, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	wantKind(t, err, fault.Unavailable)
}

// TestIntrospectWhoMaySee: a member's access token is active at
// introspection for the client it was issued to and for the resource
// server registered as its audience; every other confidential client gets
// exactly what an unknown token gets, with nothing of the token in it.
func TestIntrospectWhoMaySee(t *testing.T) {
	e := newEnv(t)
	resp := e.webTokens()
	neverIssued := e.accessClaims(resp.AccessToken)
	neverIssued.JTI = "never-issued"
	unknown, err := e.jws.Sign(e.ctx, token.TypeAccess, neverIssued)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller string
		want   bool
	}{
		{"web", true},   // the client the token was issued to
		{"svc", true},   // its registered resource server
		{"form", false}, // confidential, not registered for web
		{"batch", false},
		{"portal", false}, // private_key_jwt, and registers svc itself
		{"shop", false},
	} {
		t.Run(tc.caller, func(t *testing.T) {
			in, err := e.svc.Introspect(e.ctx, e.client(tc.caller), resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want {
				if !in.Active || in.ClientID != "web" || in.Subject != annaID {
					t.Fatalf("introspection %+v, want the active token", in)
				}
				return
			}
			asUnknown, err := e.svc.Introspect(e.ctx, e.client(tc.caller), unknown)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, authz.Introspection{}) || !reflect.DeepEqual(in, asUnknown) {
				t.Fatalf("foreign introspection %+v, unknown token %+v: want both the bare inactive answer", in, asUnknown)
			}
		})
	}
	// A client's own client_credentials token is its own: the resource
	// server of other clients does not see it, nor does any other client.
	own, err := e.svc.ClientCredentials(e.ctx, e.client("batch"), "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	for caller, want := range map[string]bool{"batch": true, "svc": false, "web": false} {
		in, err := e.svc.Introspect(e.ctx, e.client(caller), own.AccessToken)
		if err != nil || in.Active != want {
			t.Errorf("%s introspects batch's own token: %+v, %v; want active %v", caller, in, err, want)
		}
	}
}

// TestIntrospectForeignReadsNoRecord: a foreign caller's answer is decided
// before the token's record is read, so a revoked and a live token look
// the same to it, in answer and in work; with the record's table down it
// still gets the inactive answer, where the token's client gets a 5xx.
func TestIntrospectForeignReadsNoRecord(t *testing.T) {
	e := newEnv(t)
	live, revoked := e.webTokens(), e.webTokens()
	if err := e.svc.Revoke(e.ctx, e.client("web"), revoked.AccessToken, "access_token"); err != nil {
		t.Fatal(err)
	}
	e.st.failWith("AccessToken", unavailable("fake.AccessToken"))
	for _, tok := range []string{live.AccessToken, revoked.AccessToken} {
		in, err := e.svc.Introspect(e.ctx, e.client("form"), tok)
		if err != nil || !reflect.DeepEqual(in, authz.Introspection{}) {
			t.Errorf("foreign introspection %+v, %v; want inactive without reading the record", in, err)
		}
	}
	_, err := e.svc.Introspect(e.ctx, e.client("web"), live.AccessToken)
	wantKind(t, err, fault.Unavailable)
}

// TestIntrospectAudienceChanges: a resource server sees a token only while
// it is registered for the token's client and only when the token names
// it: removing it takes effect within the client cache's TTL, and one
// added later does not see tokens issued before.
func TestIntrospectAudienceChanges(t *testing.T) {
	e := newEnv(t)
	before := e.webTokens()
	web := e.client("web")
	web.IntrospectionAudiences = nil
	if err := e.st.PutClient(e.ctx, web); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(authz.DefaultClientCacheTTL)
	if introspectActive(t, e, "svc", before.AccessToken) {
		t.Error("a resource server no longer registered still sees the token")
	}
	unnamed := e.webTokens()
	if got := e.accessClaims(unnamed.AccessToken).Audience; !slices.Equal(got, []string{issuer}) {
		t.Errorf("aud %q without a registered resource server, want the issuer alone", got)
	}
	web.IntrospectionAudiences = []string{"svc"}
	if err := e.st.PutClient(e.ctx, web); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(authz.DefaultClientCacheTTL)
	if introspectActive(t, e, "svc", unnamed.AccessToken) {
		t.Error("a resource server registered after the token was issued sees it")
	}
	if !introspectActive(t, e, "svc", before.AccessToken) {
		t.Error("registered again, the resource server the token names does not see it")
	}
	if !introspectActive(t, e, "web", unnamed.AccessToken) {
		t.Error("the token's own client does not see it")
	}
}

func introspectActive(t *testing.T, e *env, caller, tok string) bool {
	t.Helper()
	in, err := e.svc.Introspect(e.ctx, e.client(caller), tok)
	if err != nil {
		t.Fatal(err)
	}
	return in.Active
}
