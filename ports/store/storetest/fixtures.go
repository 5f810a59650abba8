package storetest

import (
	"fmt"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/signkey"
)

// Fixtures with every field set, so that a column the adapter forgets shows.

func kvnrOf(i int) kvnr.KVNR {
	k, err := kvnr.WithCheckDigit(fmt.Sprintf("X%08d", i))
	if err != nil {
		panic(err)
	}
	return k
}

func newAccount(i int) account.Account {
	return account.Account{
		ID:           fmt.Sprintf("acct-%d", i),
		KVNR:         kvnrOf(i),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Status:       account.Active,
		Proofing:     loa.Substantial,
		CreatedAt:    t0.Add(-48 * time.Hour),
		UpdatedAt:    t0.Add(-time.Hour),
	}
}

func newMember(i int) member.Member {
	return member.Member{
		KVNR:       kvnrOf(i),
		GivenName:  "Jürgen",
		FamilyName: "Müller-Lüdenscheidt",
		BirthDate:  "1970-01-31",
		Address: member.Address{
			Street:     "Hauptstraße 1a",
			PostalCode: "28195",
			Locality:   "Bremen",
			Country:    "DE",
		},
		Email:       "juergen@example.org",
		InsuredFrom: time.Date(2001, 4, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt:   t0,
	}
}

func newClient(id string) client.Client {
	return client.Client{
		ID:                     id,
		Name:                   "Online-Formular " + id,
		NameEN:                 "Online form " + id,
		Kind:                   client.Portal,
		AuthMethod:             client.AuthPrivateKeyJWT,
		SecretHash:             "hmac-sha256:abc",
		JWKS:                   []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}`),
		RedirectURIs:           []string{"https://portal.example/cb", "https://portal.example/cb2"},
		PostLogoutRedirectURIs: []string{"https://portal.example/bye"},
		GrantTypes:             []string{client.GrantCode, client.GrantRefresh},
		Scopes:                 []string{"openid", "profile", "email"},
		AccessTokenTTL:         4*time.Minute + 30*time.Second,
		IDTokenTTL:             3 * time.Minute,
		RequirePAR:             true,
		RequireDPoP:            true,
		SectorIdentifier:       "portal.example",
		IntrospectionAudiences: []string{"antraege-api", "postfach-api"},
		Consent:                true,
		BackchannelLogoutURI:   "https://portal.example/backchannel-logout?tenant=1",
		CreatedAt:              t0,
	}
}

func newAuthRequest(id string) grant.AuthRequest {
	maxAge := 15 * time.Minute
	return grant.AuthRequest{
		ID:                  id,
		ClientID:            "portal",
		RedirectURI:         "https://portal.example/cb",
		Scopes:              []string{"openid", "profile"},
		State:               "state-" + id,
		Nonce:               "nonce-" + id,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              &maxAge,
		ACRValues:           []string{"http://eidas.europa.eu/LoA/high", "http://eidas.europa.eu/LoA/substantial"},
		UILocales:           []string{"de-DE", "en"},
		LoginHint:           "X000000001",
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		HintSubject:         "sub-of-acct-1",
		HintClientID:        "portal",
		CreatedAt:           t0.Add(-time.Minute),
		ExpiresAt:           t0.Add(10 * time.Minute),
	}
}

func newLogin() grant.Login {
	return grant.Login{
		Subject:   "acct-1",
		AuthTime:  t0.Add(-30 * time.Second),
		AMR:       []string{loa.AMRPassword, loa.AMRHardware, loa.AMRMulti},
		ACR:       "http://eidas.europa.eu/LoA/substantial",
		BindingID: "bind-login",
		SessionID: "sess-login",
	}
}

// completedRequest returns a request with a login, as stored and as
// snapshotted in a code.
func completedRequest(id string) grant.AuthRequest {
	r := newAuthRequest(id)
	l := newLogin()
	r.Login = &l
	return r
}

func newCode(hash string, r grant.AuthRequest) grant.Code {
	return grant.Code{
		Hash:      hash,
		Request:   r,
		CreatedAt: t0,
		ExpiresAt: t0.Add(time.Minute),
	}
}

func newFamily(id, codeHash string) grant.Family {
	return grant.Family{
		ID:       id,
		ClientID: "portal",
		Subject:  "acct-1",
		Scopes:   []string{"openid", "offline_access"},
		AuthTime: t0.Add(-time.Minute),
		AMR:      []string{loa.AMRPassword},
		ACR:      "http://eidas.europa.eu/LoA/low",
		CodeHash: codeHash,
		// BindingID stays empty: a family of a device login needs the
		// binding stored (see bindingFamily).
		DPoPJKT:   "fam-jkt-NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		CreatedAt: t0,
		ExpiresAt: t0.Add(12 * time.Hour),
	}
}

func newRefreshToken(hash, familyID string) grant.RefreshToken {
	return grant.RefreshToken{
		Hash:      hash,
		FamilyID:  familyID,
		CreatedAt: t0,
		ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func newAccessToken(jti, familyID string) grant.AccessToken {
	return grant.AccessToken{
		JTI:       jti,
		FamilyID:  familyID,
		ClientID:  "portal",
		Subject:   "acct-1",
		Scopes:    []string{"openid", "profile"},
		DPoPJKT:   "at-jkt-NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		IssuedAt:  t0,
		ExpiresAt: t0.Add(5 * time.Minute),
	}
}

func newKey(id string, state signkey.State, created time.Time) signkey.Key {
	k := signkey.Key{
		ID:        id,
		Algorithm: "ES256",
		State:     state,
		PublicJWK: []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		Sealed:    []byte{0x00, 0x01, 0xfe, 0xff, 0x80, 0x00, 'k', 'e', 'y'}, // not UTF-8, has NULs
		CreatedAt: created,
	}
	switch state {
	case signkey.Active:
		k.ActivatedAt = created.Add(time.Hour)
	case signkey.Retired:
		k.ActivatedAt = created.Add(time.Hour)
		k.RetiredAt = created.Add(2 * time.Hour)
	}
	return k
}
