package e2e

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/client"
)

// The app login, end to end, as the Service-App does it after the letter
// registration: the reference client's login (package appclient, the code
// behind `pforte-app login`, `token --refresh`, `userinfo` and `logout`)
// pushes the authorization request with PKCE and the DPoP key's
// thumbprint, follows the authorization request to the login it waits
// for, answers the login challenge with the bound device key and the
// release PIN, checks state and iss of the redirect, and redeems the code
// with a DPoP proof. The test verifies the ID token once more with
// go-oidc, independently of the client.

// serviceApp is the app client as configs/dev/clients.yaml defines it:
// public, native, DPoP required, the loopback and the app's own redirect,
// with the world's service as its resource server (claims-service there).
var serviceApp = client.Client{
	ID: "pforte-app", Name: "Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
	RedirectURIs: []string{"http://127.0.0.1/callback", "de.hkk.serviceapp:/oauth2redirect"},
	GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
	Scopes:       []string{"openid", "profile", "birthdate", "address", "email", "kvnr", "verified_claims", "offline_access"},
	RequireDPoP:  true,
	// The world's service (newWorld).
	IntrospectionAudiences: []string{"e2e-service"},
}

// withServiceApp registers the app client.
func withServiceApp(o *server.Options) { o.Clients = append(o.Clients, serviceApp) }

const appPIN = "470815"

// appClient discovers in as the Service-App, with the server's clock for
// the DPoP proofs and the ID token checks.
func (in *instance) appClient(t *testing.T, redirectURI string) *appclient.Client {
	t.Helper()
	c, err := appclient.Discover(t.Context(), appclient.Config{
		Issuer: in.issuer, ClientID: serviceApp.ID, RedirectURI: redirectURI, HTTP: httpClient, Now: in.clock.Now,
	})
	if err != nil {
		t.Fatalf("discover as the app: %v", err)
	}
	return c
}

// device is ph's bound key as the app client uses it.
func (ph *phone) device(t *testing.T, in *instance) appclient.Device {
	t.Helper()
	return appclient.Device{BindingID: ph.binding, Key: ph.auth, Origin: in.origin(t)}
}

func newDPoPKey(t testing.TB) *dpop.Key {
	t.Helper()
	k, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyWithGoOIDC verifies the ID token of a login with go-oidc, as any
// relying party would: signature against the JWKS, issuer, audience,
// expiry, then nonce-independent at_hash.
func verifyWithGoOIDC(t *testing.T, in *instance, raw, accessToken string) (*oidc.IDToken, map[string]any) {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), httpClient)
	p, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: serviceApp.ID, Now: in.clock.Now}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(accessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return idt, claims
}

// memberClaimNames are the claims scopes release; everything else in an
// ID token is about the token or the login.
var memberClaimNames = []string{"given_name", "family_name", "name", "birthdate", "address", "email", "email_verified",
	"kvnr", "urn:telematik:claims:id"}

// wantMemberClaims checks that claims hold the member claims of want and
// no other member claim. inIDToken: the ID token need not carry them
// (they may be at userinfo only), but it must not carry others.
func wantMemberClaims(t *testing.T, what string, claims map[string]any, want []string, all bool) {
	t.Helper()
	for _, k := range memberClaimNames {
		_, has := claims[k]
		switch {
		case has && !slices.Contains(want, k):
			t.Errorf("%s has %s, which was not asked for", what, k)
		case !has && all && slices.Contains(want, k):
			t.Errorf("%s lacks %s", what, k)
		}
	}
}

// userinfoRaw calls userinfo with an Authorization header and a DPoP
// header of its own making.
func userinfoRaw(t *testing.T, in *instance, authorization, proof string) result {
	t.Helper()
	h := map[string]string{"Authorization": authorization}
	if proof != "" {
		h["DPoP"] = proof
	}
	return get(t, in.base+"/userinfo", h)
}

// TestAppLoginEndToEnd: registration by letter, device and PIN, then the
// app login, userinfo and refresh with DPoP, logout, and the tokens of
// the session are worthless.
func TestAppLoginEndToEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Henrike", "Oltmanns", "1971-06-05", w.clock.Now())
		m.Email = "henrike.oltmanns@example.org"
		en := w.enroll(t, eng, m, appPIN, withServiceApp)
		in, ph := en.in, en.phone
		acct := in.account(t, m)

		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		key := newDPoPKey(t)
		var steps []string
		toks, err := c.LoginTraced(t.Context(), appclient.LoginRequest{
			Scope: "openid profile kvnr", Device: ph.device(t, in), PIN: appPIN, DPoP: key,
		}, func(s string) { steps = append(steps, s) })
		if err != nil {
			t.Fatalf("app login: %v", err)
		}
		if len(steps) != 5 {
			t.Errorf("login steps %v", steps)
		}
		if toks.TokenType != "DPoP" || toks.RefreshToken == "" {
			t.Fatalf("tokens: type %q, refresh token %v", toks.TokenType, toks.RefreshToken != "")
		}

		// The ID token, verified once more with go-oidc.
		idt, claims := verifyWithGoOIDC(t, in, toks.IDToken, toks.AccessToken)
		if claims["acr"] != "http://eidas.europa.eu/LoA/substantial" {
			t.Errorf("acr = %v, want substantial (letter + key + PIN)", claims["acr"])
		}
		if amr, _ := claims["amr"].([]any); len(amr) != 3 || amr[0] != "hwk" || amr[1] != "pin" || amr[2] != "mfa" {
			t.Errorf("amr = %v, want [hwk pin mfa]", claims["amr"])
		}
		if at, ok := claims["auth_time"].(float64); !ok || time.Unix(int64(at), 0).Before(w.clock.Now().Add(-time.Minute)) {
			t.Errorf("auth_time = %v, want the login's time", claims["auth_time"])
		}
		if idt.Subject == "" || strings.Contains(idt.Subject, m.KVNR.String()) || idt.Subject != acct.ID {
			t.Errorf("sub = %q: want the account's opaque id, never the KVNR", idt.Subject)
		}
		wantMemberClaims(t, "ID token", claims, []string{"given_name", "family_name", "name", "kvnr", "urn:telematik:claims:id"}, false)

		// The access token is bound to the key (cnf.jkt, RFC 9449 §6).
		_, atClaims := jwtParts(t, toks.AccessToken)
		if cnf, _ := atClaims["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
			t.Errorf("access token cnf = %v, want jkt %s", atClaims["cnf"], key.Thumbprint())
		}
		if in := w.introspect(t, in, toks.AccessToken); !active(in) || in["token_type"] == "Bearer" {
			t.Errorf("introspection of the access token: %v", in)
		} else if cnf, _ := in["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
			t.Errorf("introspection cnf = %v, want jkt %s", in["cnf"], key.Thumbprint())
		}

		// userinfo with DPoP: the claims of the scopes, and no others.
		ui, err := c.UserInfo(t.Context(), key, toks.AccessToken)
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		wantMemberClaims(t, "userinfo", ui, []string{"given_name", "family_name", "name", "kvnr", "urn:telematik:claims:id"}, true)
		if ui["sub"] != idt.Subject || ui["given_name"] != "Henrike" || ui["kvnr"] != m.KVNR.String() || ui["urn:telematik:claims:id"] != m.KVNR.String() {
			t.Errorf("userinfo: %v", ui)
		}
		// The same token as a bearer token, or with a proof of another
		// key, is refused (RFC 9449 §7).
		if r := userinfoRaw(t, in, "Bearer "+toks.AccessToken, ""); r.status != http.StatusUnauthorized {
			t.Errorf("the DPoP-bound token as a bearer token: status %d", r.status)
		}
		other := newDPoPKey(t)
		proof, _ := other.Proof(http.MethodGet, in.issuer+"/userinfo", toks.AccessToken, c.DPoPNonce(), w.clock.Now())
		if r := userinfoRaw(t, in, "DPoP "+toks.AccessToken, proof); r.status != http.StatusUnauthorized {
			t.Errorf("the token with another key's proof: status %d", r.status)
		}

		// Refresh with a proof of the same key: rotated, still DPoP-bound.
		// Another key cannot use the refresh token (§5: it is bound).
		if _, err := c.Refresh(t.Context(), other, toks.RefreshToken, idt.Subject); err == nil {
			t.Fatal("refresh with another key's proof succeeded")
		}
		toks2, err := c.Refresh(t.Context(), key, toks.RefreshToken, idt.Subject)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if toks2.RefreshToken == "" || toks2.RefreshToken == toks.RefreshToken || toks2.AccessToken == toks.AccessToken {
			t.Error("refresh did not rotate the tokens")
		}
		if toks2.Claims != nil {
			if toks2.Claims["acr"] != claims["acr"] || toks2.Claims["auth_time"] != claims["auth_time"] {
				t.Errorf("refreshed ID token: acr %v auth_time %v, want the login's", toks2.Claims["acr"], toks2.Claims["auth_time"])
			}
		}
		if _, err := c.UserInfo(t.Context(), key, toks2.AccessToken); err != nil {
			t.Fatalf("userinfo after refresh: %v", err)
		}

		// Logout: the refresh token's family is revoked.
		if err := c.Revoke(t.Context(), toks2.RefreshToken, "refresh_token"); err != nil {
			t.Fatalf("logout: %v", err)
		}
		_, err = c.Refresh(t.Context(), key, toks2.RefreshToken, idt.Subject)
		var oe *appclient.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_grant" {
			t.Fatalf("refresh after logout: %v, want invalid_grant", err)
		}
		_, err = c.UserInfo(t.Context(), key, toks2.AccessToken)
		if !errors.As(err, &oe) || oe.Code != "invalid_token" || oe.Status != http.StatusUnauthorized {
			t.Fatalf("userinfo after logout: %v, want invalid_token", err)
		}

		// The device and PIN log in again; sub is stable.
		toks3, err := in.appClient(t, "http://127.0.0.1:53117/callback").Login(t.Context(), appclient.LoginRequest{
			Scope: "openid", Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t),
		})
		if err != nil {
			t.Fatalf("second login (loopback redirect, another port): %v", err)
		}
		if toks3.Claims["sub"] != idt.Subject {
			t.Errorf("sub changed between logins: %v, %v", toks3.Claims["sub"], idt.Subject)
		}
		wantMemberClaims(t, "ID token of scope openid", toks3.Claims, nil, false)
		if b := in.stored(t, ph.binding); b.SignCount < 2 {
			t.Errorf("binding sign count %d after two logins", b.SignCount)
		}
		wantNoSecrets(t, "server log", in.logs.String(), []string{appPIN},
			toks.AccessToken, toks.RefreshToken, toks2.RefreshToken, toks.IDToken)
	})
}

// TestAppLoginACRHighRefused: a member proofed by letter cannot reach
// high; the login ends with an error for the app on its redirect URI,
// saying why, and issues nothing.
func TestAppLoginACRHighRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Okko", "Janssen", "1988-10-30", w.clock.Now())
		en := w.enroll(t, eng, m, appPIN, withServiceApp)
		in, ph := en.in, en.phone
		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		_, err := c.Login(t.Context(), appclient.LoginRequest{
			Scope: "openid profile", ACRValues: "http://eidas.europa.eu/LoA/high",
			Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t),
		})
		var ae *appclient.AuthorizationError
		if !errors.As(err, &ae) {
			t.Fatalf("login for acr high: %v, want an error on the redirect", err)
		}
		if ae.Code != "access_denied" || !strings.Contains(ae.Description, "level of assurance high") ||
			!strings.Contains(ae.Description, "password letter") {
			t.Errorf("error %q: %q; want access_denied saying high needs the eID and the account has the letter", ae.Code, ae.Description)
		}
		// The PIN was right: it is not counted against the member.
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
			t.Errorf("PIN failures %d after a right PIN", b.PIN.Failures)
		}
		// Substantial, or no acr_values, works.
		if _, err := c.Login(t.Context(), appclient.LoginRequest{
			Scope: "openid", ACRValues: "http://eidas.europa.eu/LoA/substantial",
			Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t),
		}); err != nil {
			t.Fatalf("login for substantial: %v", err)
		}
	})
}

// TestAppLoginWrongPIN: the app learns how many attempts are left; the
// authorization request stays open for the right PIN.
func TestAppLoginWrongPIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Gesa", "Hinrichs", "1979-04-22", w.clock.Now())
		en := w.enroll(t, eng, m, appPIN, withServiceApp)
		in, ph := en.in, en.phone
		c := in.appClient(t, "de.hkk.serviceapp:/oauth2redirect")
		_, err := c.Login(t.Context(), appclient.LoginRequest{Scope: "openid", Device: ph.device(t, in), PIN: "000001", DPoP: newDPoPKey(t)})
		var p *appclient.Problem
		if !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong PIN: %v", err)
		}
		if n, ok := p.AttemptsRemaining(); !ok || n != 4 {
			t.Errorf("attempts remaining %v %v, want 4", n, ok)
		}
		var le *appclient.LoginError
		if !errors.As(err, &le) || le.Step != appclient.StepAssertion {
			t.Errorf("failed step: %v", err)
		}
		if _, err := c.Login(t.Context(), appclient.LoginRequest{Scope: "openid", Device: ph.device(t, in), PIN: appPIN, DPoP: newDPoPKey(t)}); err != nil {
			t.Fatalf("right PIN: %v", err)
		}
	})
}
