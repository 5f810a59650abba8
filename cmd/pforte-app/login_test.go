package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// enrolled runs the whole registration against p (letter, password,
// device, PIN) and returns the state file of the active app.
func enrolled(t *testing.T, p *pforteServer) string {
	t.Helper()
	stateFile := enrollToPassword(t, p)
	wantExit(t, app(t, stateFile, "", nil, "bind-device", "--name", "Annas Laptop"), 0, "bind-device")
	wantExit(t, app(t, stateFile, "", nil, "set-pin", "--pin", testPIN), 0, "set-pin")
	return stateFile
}

// copyFile copies the state file, as an attacker or a backup would.
func copyFile(t *testing.T, from string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "copy.json")
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// claimsOf parses the JSON that userinfo prints.
func claimsOf(t *testing.T, r appResult) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("userinfo output is not JSON: %v\n%s", err, r.stdout)
	}
	return m
}

func wantKeys(t *testing.T, what string, m map[string]any, want, not []string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %s: %v", what, k, m)
		}
	}
	for _, k := range not {
		if _, ok := m[k]; ok {
			t.Errorf("%s has %s, which was not asked for: %v", what, k, m)
		}
	}
}

// TestLoginRefreshUserinfoLogout is the app's whole session: login with
// key and PIN, the claims of the verified ID token, userinfo and refresh
// with the DPoP key, logout; afterwards the tokens are worthless, even
// in a copy of the state file.
func TestLoginRefreshUserinfoLogout(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	at := func(args ...string) appResult { return appAt(t, p.clock.Now, stateFile, "", nil, args...) }
	before := signCount(t, stateFile)

	r := appAt(t, p.clock.Now, stateFile, "", []string{testPIN}, "login", "--scope", "openid profile kvnr")
	wantExit(t, r, 0, "login")
	for _, want := range []string{
		"Logged in.", "nonce, at_hash",
		"acr        http://eidas.europa.eu/LoA/substantial",
		"amr        hwk pin mfa",
		"auth_time  ",
		"Claims of the scopes (userinfo, DPoP):",
		"  family_name              Beispiel\n",
		"  urn:telematik:claims:id  " + testKVNR + "\n",
		"Access token (DPoP, key ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("login output lacks %q:\n%s", want, r.stdout)
		}
	}
	st := readState(t, stateFile)
	s := st.Session
	if s == nil || s.AccessToken == "" || s.RefreshToken == "" || s.IDToken == "" || s.DPoPKey == nil || s.Subject == "" {
		t.Fatalf("session after login: %+v", s)
	}
	if s.ACR != "http://eidas.europa.eu/LoA/substantial" || strings.Join(s.AMR, " ") != "hwk pin mfa" || s.ClientID != "pforte-app" {
		t.Errorf("session: acr %q amr %v client %q", s.ACR, s.AMR, s.ClientID)
	}
	if !strings.Contains(r.stdout, "  sub        "+s.Subject+"\n") || strings.Contains(s.Subject, testKVNR) {
		t.Errorf("sub %q: not printed, or the KVNR", s.Subject)
	}
	if !strings.Contains(r.stdout, s.DPoPKey.Thumbprint()) {
		t.Errorf("the key's thumbprint is not shown:\n%s", r.stdout)
	}
	for _, secret := range []string{s.AccessToken, s.RefreshToken, s.IDToken} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Error("login printed a token")
		}
	}
	if n := signCount(t, stateFile); n != before+1 {
		t.Errorf("sign count %v after the login, want %v", n, before+1)
	}
	fam := jwtPayload(t, s.AccessToken)
	if cnf, _ := fam["cnf"].(map[string]any); cnf["jkt"] != s.DPoPKey.Thumbprint() {
		t.Errorf("access token cnf %v, want jkt %s", fam["cnf"], s.DPoPKey.Thumbprint())
	}

	// token shows the session without its secrets.
	r = at("token")
	wantExit(t, r, 0, "token")
	out := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"member (sub) " + s.Subject, "amr hwk pin mfa", "access token DPoP, valid until", "refresh token kept",
		"DPoP key " + s.DPoPKey.Thumbprint(), "scope openid profile kvnr"} {
		if !strings.Contains(out, want) {
			t.Errorf("token output lacks %q:\n%s", want, r.stdout)
		}
	}

	// userinfo: exactly the claims of the scopes.
	r = at("userinfo")
	wantExit(t, r, 0, "userinfo")
	claims := claimsOf(t, r)
	wantKeys(t, "userinfo", claims, []string{"sub", "given_name", "family_name", "name", "kvnr", "urn:telematik:claims:id"},
		[]string{"birthdate", "address", "email", "email_verified"})
	if claims["sub"] != s.Subject || claims["kvnr"] != testKVNR || claims["given_name"] != "Anna" {
		t.Errorf("userinfo claims: %v", claims)
	}

	// Refresh: the refresh token rotates, the key stays.
	r = at("token", "--refresh")
	wantExit(t, r, 0, "token --refresh")
	if !strings.Contains(r.stdout, "Tokens refreshed (DPoP, key "+s.DPoPKey.Thumbprint()) {
		t.Errorf("refresh: %q", r.stdout)
	}
	s2 := readState(t, stateFile).Session
	if s2.RefreshToken == s.RefreshToken || s2.AccessToken == s.AccessToken || s2.DPoPKey.Thumbprint() != s.DPoPKey.Thumbprint() || s2.RefreshedAt.IsZero() {
		t.Errorf("session after refresh: rotated %v, new access %v, same key %v",
			s2.RefreshToken != s.RefreshToken, s2.AccessToken != s.AccessToken, s2.DPoPKey.Thumbprint() == s.DPoPKey.Thumbprint())
	}
	wantExit(t, at("userinfo"), 0, "userinfo after refresh")

	// Logout revokes the family; the state file forgets the session.
	backup := copyFile(t, stateFile)
	r = at("logout")
	wantExit(t, r, 0, "logout")
	if !strings.Contains(r.stdout, "Logged out") {
		t.Errorf("logout: %q", r.stdout)
	}
	if st := readState(t, stateFile); st.Session != nil || st.Device == nil {
		t.Errorf("state after logout: session %+v, device %+v", st.Session, st.Device)
	}
	wantStderr(t, at("token", "--refresh"), 1, "refresh after logout", "not logged in (no session in "+stateFile+"): log in with pforte-app login")
	wantStderr(t, at("userinfo"), 1, "userinfo after logout", "not logged in")
	wantStderr(t, at("logout"), 1, "logout twice", "not logged in")

	// The copy still holds the tokens and the key: the issuer refuses
	// them. The access token was revoked with its family.
	r = appAt(t, p.clock.Now, backup, "", nil, "userinfo")
	wantStderr(t, r, 1, "userinfo with a revoked access token", "the userinfo endpoint refused the request: invalid_token", "(HTTP 401)")
	r = appAt(t, p.clock.Now, backup, "", nil, "token", "--refresh")
	wantStderr(t, r, 1, "refresh after logout", "the token endpoint refused the request: invalid_grant", "the session is over: log in again with pforte-app login")
	if st := readState(t, backup); st.Session != nil {
		t.Errorf("a refused refresh kept the session: %+v", st.Session)
	}

	// A new login works with the same device and PIN.
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login again")
}

// TestLoginAccessTokenExpires: after five minutes the access token is
// refused at userinfo with a hint to refresh; the refresh works.
func TestLoginAccessTokenExpires(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login")
	p.clock.Advance(5*time.Minute + time.Second)
	r := appAt(t, p.clock.Now, stateFile, "", nil, "userinfo")
	wantStderr(t, r, 1, "expired access token", "invalid_token", "the access token expired at ", "pforte-app token --refresh")
	r = appAt(t, p.clock.Now, stateFile, "", nil, "token")
	if !strings.Contains(r.stdout, "expired at") {
		t.Errorf("token status of an expired access token: %q", r.stdout)
	}
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "token", "--refresh"), 0, "refresh")
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "userinfo"), 0, "userinfo after refresh")
}

// TestLoginScopes: the claims follow the scopes, in the ID token and at
// userinfo.
func TestLoginScopes(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	r := appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN, "--scope", "openid birthdate address")
	wantExit(t, r, 0, "login")
	for _, not := range []string{"given_name", "kvnr", "urn:telematik:claims:id", "email"} {
		if strings.Contains(r.stdout, not) {
			t.Errorf("login shows %s, which was not asked for:\n%s", not, r.stdout)
		}
	}
	if out := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(out, "Claims of the scopes (userinfo, DPoP): address ") ||
		!strings.Contains(out, "birthdate "+testBirth) || !strings.Contains(out, `"locality":"Bremen"`) {
		t.Errorf("login output lacks the claims of the scopes:\n%s", r.stdout)
	}
	claims := claimsOf(t, appAt(t, p.clock.Now, stateFile, "", nil, "userinfo"))
	wantKeys(t, "userinfo", claims, []string{"sub", "birthdate", "address"},
		[]string{"given_name", "family_name", "name", "kvnr", "urn:telematik:claims:id", "email"})
	if claims["birthdate"] != testBirth {
		t.Errorf("birthdate %v", claims["birthdate"])
	}
}

// TestLoginWrongPIN: a wrong PIN is counted and the attempts left are
// shown; no session is kept, the key's counter is.
func TestLoginWrongPIN(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	before := signCount(t, stateFile)
	r := appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", "000001")
	wantStderr(t, r, 1, "wrong PIN", "device key and PIN: ", "Die PIN ist falsch", "(unauthenticated, HTTP 401)",
		"PIN attempts left before the device is blocked: 4")
	st := readState(t, stateFile)
	if st.Session != nil {
		t.Errorf("a refused login kept a session: %+v", st.Session)
	}
	if n := signCount(t, stateFile); n != before+1 {
		t.Errorf("the counter of a refused login was not kept: %v after %v", n, before)
	}
	r = appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", "000002")
	wantStderr(t, r, 1, "second wrong PIN", "PIN attempts left before the device is blocked: 3")
	// The right PIN still works, and counts from zero again.
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", []string{testPIN}, "login"), 0, "login with the PIN from the terminal")
}

// TestLoginACRTooHigh: a letter-proofed member cannot reach high; the
// issuer says so on the redirect, and the app shows it.
func TestLoginACRTooHigh(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	r := appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN, "--acr-values", "http://eidas.europa.eu/LoA/high")
	wantStderr(t, r, 1, "acr high", "Die Anmeldung wurde abgelehnt. / The issuer refused the login: access_denied: ",
		"requires the level of assurance high", "password letter")
	if st := readState(t, stateFile); st.Session != nil {
		t.Errorf("a refused login kept a session")
	}
}

// TestLoginErrors: what is missing or wrong before or around the login
// is said clearly.
func TestLoginErrors(t *testing.T) {
	p := startServer(t)

	// No device yet.
	half := enrollToPassword(t, p)
	r := appAt(t, p.clock.Now, half, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "no device", "no device is bound in "+half+": bind one with pforte-app bind-device")
	wantExit(t, app(t, half, "", nil, "bind-device", "--name", "Annas Laptop"), 0, "bind-device")
	r = appAt(t, p.clock.Now, half, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "no PIN", "has no release PIN yet: set it with pforte-app set-pin")
	wantExit(t, app(t, half, "", nil, "set-pin", "--pin", testPIN), 0, "set-pin")
	stateFile := half

	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"login", "--pin", "12345"}, 2, []string{"the PIN must be exactly 6 digits"}},
		{[]string{"login"}, 2, []string{"stdin is not a terminal: give --pin"}},
		{[]string{"login", "--pin", testPIN, "extra"}, 2, []string{`unknown command "extra"`}},
		{[]string{"login", "--pin", testPIN, "--client-id", "no-such-app"}, 1,
			[]string{"pushed authorization request: the pushed authorization endpoint refused the request: invalid_client"}},
		{[]string{"login", "--pin", testPIN, "--redirect-uri", "https://evil.example/cb"}, 1,
			[]string{"pushed authorization request: the pushed authorization endpoint refused the request: "}},
		{[]string{"token"}, 1, []string{"not logged in (no session in " + stateFile + ")"}},
		{[]string{"userinfo"}, 1, []string{"not logged in"}},
		{[]string{"logout"}, 1, []string{"not logged in"}},
	} {
		r := appAt(t, p.clock.Now, stateFile, "", nil, tc.args...)
		wantStderr(t, r, tc.code, strings.Join(tc.args, " "), tc.want...)
	}

	// An issuer that is not there.
	down := copyFile(t, stateFile)
	var st state
	b, _ := os.ReadFile(down)
	json.Unmarshal(b, &st)
	st.Issuer = "http://127.0.0.1:1"
	saveState(down, st)
	r = appAt(t, p.clock.Now, down, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "issuer down", "discovery of http://127.0.0.1:1")
}

// TestRevokedDeviceEndsTheSession: revoking the device itself ends its
// session at the issuer and in the state file.
func TestRevokedDeviceEndsTheSession(t *testing.T) {
	p := startServer(t)
	stateFile := enrolled(t, p)
	wantExit(t, appAt(t, p.clock.Now, stateFile, "", nil, "login", "--pin", testPIN), 0, "login")
	backup := copyFile(t, stateFile)
	id := readState(t, stateFile).Device.BindingID
	wantExit(t, app(t, stateFile, "", nil, "devices", "revoke", "--pin", testPIN, "--", id), 0, "revoke self")
	if st := readState(t, stateFile); st.Session != nil {
		t.Errorf("the session of a revoked device stays in the state file")
	}
	r := appAt(t, p.clock.Now, backup, "", nil, "token", "--refresh")
	wantStderr(t, r, 1, "refresh of a revoked device's session", "invalid_grant")
	r = appAt(t, p.clock.Now, backup, "", nil, "login", "--pin", testPIN)
	wantStderr(t, r, 1, "login with a revoked device", "login challenge: ")
}

// jwtPayload decodes the claims of a JWT without verifying it.
func jwtPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
