package authz_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/authz"
)

// pairwise is the sub OpenID Connect Core §8.1 asks for, computed here
// independently of the service: base64url(HMAC-SHA-256(key, sector 0x00 account)).
func pairwise(key []byte, sector, account string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sector + "\x00" + account))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// subjects logs in at clientID and returns the sub of the ID token, the
// access token, userinfo and introspection, and the tokens.
func (e *env) subjects(clientID, redirect string) ([]string, authz.TokenResponse) {
	e.t.Helper()
	resp := e.tokens(clientID, redirect, "openid profile")
	ui, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		e.t.Fatal(err)
	}
	in, err := e.svc.Introspect(e.ctx, e.client("svc"), resp.AccessToken)
	if err != nil {
		e.t.Fatal(err)
	}
	sub, _ := ui["sub"].(string)
	return []string{e.idClaims(resp.IDToken).Subject, e.accessClaims(resp.AccessToken).Subject, sub, in.Subject}, resp
}

// TestPairwiseSubject: clients with a sector identifier see the pairwise
// sub everywhere they see one; one sector sees one sub, another sector
// another; it is stable across logins and refreshes; Pforte's own records
// keep the account id.
func TestPairwiseSubject(t *testing.T) {
	e := newEnv(t)
	want := pairwise(pairwiseKey, "portal.partner.example", annaID)
	shop, resp := e.subjects("shop", sectorRedirect)
	for i, s := range shop {
		if s != want {
			t.Errorf("shop sub #%d (ID token, access token, userinfo, introspection) = %q, want %q", i, s, want)
		}
	}
	if rec := e.st.access()[e.accessClaims(resp.AccessToken).JTI]; rec.Subject != annaID {
		t.Errorf("access token record subject %q, want the account id", rec.Subject)
	}
	again, _ := e.subjects("shop", sectorRedirect)
	if again[0] != want {
		t.Errorf("second login: sub %q, want the same %q", again[0], want)
	}
	reha, _ := e.subjects("reha", otherRedirect)
	if reha[0] == want || reha[0] != pairwise(pairwiseKey, "reha.other.example", annaID) {
		t.Errorf("another sector's sub %q", reha[0])
	}
	public, _ := e.subjects("web", webRedirect)
	if public[0] != annaID {
		t.Errorf("a client without sector sees %q, want the account id", public[0])
	}
	if strings.Contains(want, annaKVNR.String()) || want == annaID {
		t.Error("the pairwise sub reveals the account")
	}

	// Refresh keeps it, and the refresh token introspects with it.
	next, err := e.svc.Refresh(e.ctx, e.client("shop"), resp.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	if e.idClaims(next.IDToken).Subject != want || e.accessClaims(next.AccessToken).Subject != want {
		t.Error("refresh changed the sub")
	}
	in, err := e.svc.Introspect(e.ctx, e.client("shop"), next.RefreshToken)
	if err != nil || in.Subject != want {
		t.Errorf("refresh token introspection sub %q, %v", in.Subject, err)
	}
	// Revocation finds the token by jti, not by sub.
	if err := e.svc.Revoke(e.ctx, e.client("shop"), next.AccessToken, "access_token"); err != nil || e.active(next.AccessToken) {
		t.Errorf("revoking a pairwise token: %v", err)
	}

	// Another key gives other subs: the key, not only the sector, decides.
	other := newEnvWith(t, func(c *authz.Config) { c.PairwiseKey = []byte("another-pairwise-key-of-32-bytes") })
	if s, _ := other.subjects("shop", sectorRedirect); s[0] == want {
		t.Error("the pairwise sub does not depend on the key")
	}
}

// TestKVNRClaims: the kvnr scope releases the KVNR in the configured
// claims, by default both, and discovery lists them.
func TestKVNRClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims []string
		want   []string
	}{
		{"default", nil, []string{"kvnr", "urn:telematik:claims:id"}},
		{"gematik only", []string{"urn:telematik:claims:id"}, []string{"urn:telematik:claims:id"}},
		{"own name", []string{"versichertennummer"}, []string{"versichertennummer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(c *authz.Config) { c.KVNRClaims = tt.claims })
			resp := e.confirmedTokens("web", webRedirect, "openid kvnr")
			cl, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, name := range []string{"kvnr", "urn:telematik:claims:id", "versichertennummer"} {
				if v, ok := cl[name]; ok {
					got = append(got, name)
					if v != annaKVNR.String() {
						t.Errorf("%s = %v", name, v)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("KVNR claims %q, want %q", got, tt.want)
			}
			sup := e.svc.SupportedClaims()
			for _, name := range tt.want {
				if !slices.Contains(sup, name) {
					t.Errorf("discovery claims %q lack %s", sup, name)
				}
			}
			if len(tt.claims) > 0 && slices.Contains(sup, "kvnr") {
				t.Error("discovery advertises kvnr although it is not configured")
			}
			// Without the kvnr scope, none.
			plain, err := e.svc.UserInfo(e.ctx, bearer(e.tokens("web", webRedirect, "openid profile").AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.want {
				if _, ok := plain[name]; ok {
					t.Errorf("%s released without the kvnr scope", name)
				}
			}
		})
	}
}

// TestAuthTimeInEveryIDToken: auth_time is in the ID token of the code
// exchange and of every refresh, as a claim (not only a non-zero field).
func TestAuthTimeInEveryIDToken(t *testing.T) {
	e := newEnv(t)
	f := e.codeFor("web", webRedirect, "openid")
	resp, err := e.exchange(f)
	if err != nil {
		t.Fatal(err)
	}
	next, err := e.svc.Refresh(e.ctx, e.client("web"), resp.RefreshToken, "", noPoP)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{resp.IDToken, next.IDToken} {
		var m map[string]any
		parts := strings.Split(raw, ".")
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(b, &m) != nil {
			t.Fatalf("ID token payload: %v", err)
		}
		if at, ok := m["auth_time"].(float64); !ok || int64(at) != f.authTime.Unix() {
			t.Errorf("auth_time = %v, want %d", m["auth_time"], f.authTime.Unix())
		}
	}
}
