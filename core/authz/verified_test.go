package authz_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/authz"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
)

// eIDProof is what the electronic ID card proved of Anna.
func (e *env) eIDProof() proof.Proof {
	now := e.clock.Now()
	return proof.Proof{
		Method: proof.EID, Level: loa.High, KVNR: annaKVNR,
		Attributes: proof.Attributes{GivenName: "Anna Lena", FamilyName: "Schmidt", BirthName: "Kühn", BirthDate: "1980-04-01"},
		Evidence: proof.Evidence{
			Type: "electronic_id", Reference: "eid-tx-7", Issuer: "https://eid.example.de", Subject: "pseudonym-hash",
			IssuedAt: now.Add(-20 * time.Second),
		},
		Time: now.Add(-10 * time.Second),
	}
}

// record records proof p for Anna, as an enrollment does.
func (e *env) record(t *testing.T, p proof.Proof) {
	t.Helper()
	now := e.clock.Now()
	sess := enrollment.Session{ID: grant.NewID(), TokenHash: grant.Hash(grant.NewSecret()), KVNR: annaKVNR,
		Method: p.Method, CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL)}
	if _, err := e.st.StartEnrollment(e.ctx, sess, account.Account{ID: annaID, KVNR: annaKVNR}, p); err != nil {
		t.Fatalf("StartEnrollment: %v", err)
	}
}

// verified is the verified_claims of userinfo for a confirmed login of
// clientID with scope, as JSON; "" when there are none.
func (e *env) verified(t *testing.T, clientID, redirect, scope string, confirmed bool) string {
	t.Helper()
	var resp authz.TokenResponse
	if confirmed {
		resp = e.confirmedTokens(clientID, redirect, scope)
	} else {
		resp = e.tokens(clientID, redirect, scope)
	}
	ui, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	vc, ok := ui["verified_claims"]
	if !ok {
		return ""
	}
	b, err := json.Marshal(vc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifiedClaims: a client that may have and asks for the scope
// verified_claims receives, at userinfo, the names and date of birth the
// eID proved, with the trust framework, the time of the verification and
// electronic_record evidence; nobody else does, and nothing is released
// for a member proofed only by letter.
func TestVerifiedClaims(t *testing.T) {
	e := newEnv(t)
	// Letter-proofed: nothing to release.
	e.record(t, proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: annaKVNR, Time: e.clock.Now()})
	if got := e.verified(t, "web", webRedirect, "openid verified_claims", true); got != "" {
		t.Fatalf("letter-proofed member: %s", got)
	}

	p := e.eIDProof()
	e.record(t, p)
	want := `{"claims":{"birth_family_name":"Kühn","birthdate":"1980-04-01","family_name":"Schmidt","given_name":"Anna Lena"},` +
		`"verification":{"evidence":[{"record":{"source":{"name":"https://eid.example.de"},"type":"de_eid"},` +
		`"time":"` + p.Evidence.IssuedAt.UTC().Truncate(time.Second).Format(time.RFC3339) + `","type":"electronic_record"}],` +
		`"time":"` + p.Time.UTC().Truncate(time.Second).Format(time.RFC3339) + `","trust_framework":"de_aml"}}`
	if got := e.verified(t, "web", webRedirect, "openid verified_claims", true); got != want {
		t.Fatalf("verified_claims\n got %s\nwant %s", got, want)
	}
	// The scope only: profile claims still come from the master data.
	resp := e.confirmedTokens("web", webRedirect, "openid profile verified_claims")
	ui, err := e.svc.UserInfo(e.ctx, bearer(resp.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if ui["given_name"] != "Anna" || ui["verified_claims"] == nil {
		t.Fatalf("userinfo %v", ui)
	}

	for _, tc := range []struct {
		name, client, redirect, scope string
		confirmed                     bool
	}{
		{"not asked for", "web", webRedirect, "openid profile", true},
		{"a client that may not have it", "strict", strictRedirect, "openid verified_claims", true},
		{"a password login (low)", "web", webRedirect, "openid verified_claims", false},
	} {
		if got := e.verified(t, tc.client, tc.redirect, tc.scope, tc.confirmed); got != "" {
			t.Errorf("%s: %s", tc.name, got)
		}
	}

	// A newer letter does not hide the eID proof; the ID token never
	// carries verified_claims.
	e.record(t, proof.Proof{Method: proof.Letter, Level: loa.Substantial, KVNR: annaKVNR, Time: e.clock.Now()})
	resp = e.confirmedTokens("web", webRedirect, "openid verified_claims")
	parts := strings.Split(resp.IDToken, ".")
	if len(parts) != 3 || strings.Contains(parts[1], "verified") {
		t.Fatalf("ID token %q", resp.IDToken)
	}
	if got := e.verified(t, "web", webRedirect, "openid verified_claims", true); got != want {
		t.Fatalf("after a newer letter: %s", got)
	}
}

// TestVerifiedClaimsPartialBirthDate: a date the card states only in part
// is not released as birthdate; the configured trust framework is named.
func TestVerifiedClaimsPartialBirthDate(t *testing.T) {
	e := newEnvWith(t, func(c *authz.Config) { c.TrustFramework = "de_kyc_gkv" })
	p := e.eIDProof()
	p.Attributes.BirthDate, p.Attributes.BirthName = "1980-04-00", ""
	e.record(t, p)
	got := e.verified(t, "web", webRedirect, "openid verified_claims", true)
	if !strings.Contains(got, `"trust_framework":"de_kyc_gkv"`) || strings.Contains(got, "birthdate") ||
		strings.Contains(got, "birth_family_name") || !strings.Contains(got, `"given_name":"Anna Lena"`) {
		t.Fatalf("verified_claims %s", got)
	}
}

func TestTrustFrameworkValidated(t *testing.T) {
	for _, tf := range []string{"DE_AML", "de aml", strings.Repeat("a", 65), "de-aml"} {
		c := testConfig()
		c.TrustFramework = tf
		if err := c.Validate(); err == nil {
			t.Errorf("trust framework %q accepted", tf)
		}
	}
	c := testConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
