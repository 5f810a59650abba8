package authz

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// Claims are released member claims, ready to be encoded as JSON.
type Claims map[string]any

// Scopes Pforte knows, with the claims each releases (OpenID Connect Core
// §5.4 and the telematik KVNR claim).
const (
	ScopeProfile   = "profile"
	ScopeEmail     = "email"
	ScopeAddress   = "address"
	ScopeBirthdate = "birthdate"
	ScopeKVNR      = "kvnr"
	// ClaimTelematikID is the KVNR claim of the gematik specification.
	ClaimTelematikID = "urn:telematik:claims:id"
	// ClaimKVNR is the plain KVNR claim.
	ClaimKVNR = "kvnr"
)

// DefaultKVNRClaims are the claims the kvnr scope releases the member
// number in unless Config.KVNRClaims says otherwise.
var DefaultKVNRClaims = []string{ClaimKVNR, ClaimTelematikID}

// SupportedScopes are advertised in discovery.
var SupportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeAddress, ScopeBirthdate, ScopeKVNR, ScopeVerifiedClaims, ScopeOfflineAccess}

// standardClaims are the claims Pforte issues besides the KVNR claims.
var standardClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
	"cnf", "name", "given_name", "family_name", "birthdate", "address", "email", "email_verified", "verified_claims"}

// SupportedClaims are advertised in discovery: the standard claims and the
// configured KVNR claims.
func (s *Service) SupportedClaims() []string {
	return append(slices.Clone(standardClaims), s.cfg.KVNRClaims...)
}

// CheckKVNRClaims checks names for Config.KVNRClaims: at least one, each
// 1 to 256 printable ASCII characters without spaces or quotes, none
// twice, and none a claim Pforte issues for something else (a KVNR in
// sub or email would be read as what those claims mean).
// Errors: fault.Invalid.
func CheckKVNRClaims(names []string) error {
	bad := func(msg string) error { return fault.New(fault.Invalid, "authz.CheckKVNRClaims", "KVNR claims: "+msg) }
	if len(names) == 0 {
		return bad("name at least one claim")
	}
	for i, n := range names {
		if n == "" || len(n) > 256 {
			return bad("a claim name must have 1 to 256 characters")
		}
		for _, r := range n {
			if r <= ' ' || r > '~' || r == '"' || r == '\\' {
				return bad("claim name " + n + " must be printable ASCII without spaces or quotes")
			}
		}
		if slices.Contains(standardClaims, n) {
			return bad(n + " is a standard claim with a meaning of its own")
		}
		if slices.Contains(names[:i], n) {
			return bad(n + " is named twice")
		}
	}
	return nil
}

// subjectFor is the sub client c sees for account accountID (OpenID
// Connect Core §8): the account id (opaque, never the KVNR) for clients
// without a sector identifier, else the pairwise identifier
// base64url(HMAC-SHA-256(PairwiseKey, sector ‖ 0x00 ‖ account id)). The
// zero byte separates the two, so that no other sector and account give
// the same input; sector identifiers are host names and cannot contain
// it. Clients of one sector see the same sub; clients of different
// sectors cannot link theirs, and without the key nobody can compute
// one from an account id. Lookups inside Pforte keep using the account
// id (stored records), never this value.
func (s *Service) subjectFor(c client.Client, accountID string) string {
	if c.SectorIdentifier == "" {
		return accountID
	}
	m := hmac.New(sha256.New, s.cfg.PairwiseKey)
	m.Write([]byte(c.SectorIdentifier))
	m.Write([]byte{0})
	m.Write([]byte(accountID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ClientSubject is the sub client c received for account accountID in
// its ID tokens and userinfo (see subjectFor): what a logout token for the
// client must name (core/backchannel).
func (s *Service) ClientSubject(c client.Client, accountID string) string {
	return s.subjectFor(c, accountID)
}

// personalScopes are the scopes that release personal data a login must
// be worth: the member number, the address, the date of birth and the
// verified identity.
var personalScopes = []string{ScopeKVNR, ScopeAddress, ScopeBirthdate, ScopeVerifiedClaims}

// MinPersonalLevel is the lowest level at which personalScopes are
// released, whatever the client may ask for: a password alone (low) is
// one guessable factor, and it must not be enough to learn a member's
// number and address.
const MinPersonalLevel = loa.Substantial

// ReleasableScopes returns scopes without personalScopes when level is
// below MinPersonalLevel; the code, its tokens and the claims then carry
// only what is left.
func ReleasableScopes(scopes []string, level loa.Level) []string {
	if level >= MinPersonalLevel {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return slices.Contains(personalScopes, sc) })
}

// memberClaims releases the claims of account a that scopes allow,
// and only those: a client that did not ask for the address does not get
// it. sub is what the client sees as the member's sub (subjectFor).
func (s *Service) memberClaims(ctx context.Context, a account.Account, sub string, scopes []string) (Claims, error) {
	out := Claims{"sub": sub}
	if slices.Contains(scopes, ScopeVerifiedClaims) {
		vc, ok, err := s.verifiedClaims(ctx, a)
		if err != nil {
			return nil, err
		}
		if ok {
			out["verified_claims"] = vc
		}
	}
	needMember := slices.ContainsFunc(scopes, func(sc string) bool {
		return sc == ScopeProfile || sc == ScopeEmail || sc == ScopeAddress || sc == ScopeBirthdate || sc == ScopeKVNR
	})
	if !needMember {
		return out, nil
	}
	if slices.Contains(scopes, ScopeKVNR) {
		for _, name := range s.cfg.KVNRClaims {
			out[name] = a.KVNR.String()
		}
	}
	m, err := s.st.Members.MemberByKVNR(ctx, a.KVNR)
	if errors.Is(err, fault.NotFound) {
		return out, nil // no master data: only what the account knows
	}
	if err != nil {
		return nil, err
	}
	if slices.Contains(scopes, ScopeProfile) {
		out["given_name"] = m.GivenName
		out["family_name"] = m.FamilyName
		out["name"] = strings.TrimSpace(m.GivenName + " " + m.FamilyName)
	}
	if slices.Contains(scopes, ScopeBirthdate) && m.BirthDate != "" {
		out["birthdate"] = m.BirthDate
	}
	if slices.Contains(scopes, ScopeEmail) && m.Email != "" {
		out["email"] = m.Email
		// The insurer's address on file is not verified by Pforte.
		out["email_verified"] = false
	}
	if slices.Contains(scopes, ScopeAddress) && m.Address.Street != "" {
		ad := m.Address
		country := ad.Country
		if country == "" {
			country = "DE"
		}
		out["address"] = map[string]string{
			"street_address": ad.Street,
			"postal_code":    ad.PostalCode,
			"locality":       ad.Locality,
			"country":        country,
			"formatted":      ad.Street + "\n" + ad.PostalCode + " " + ad.Locality,
		}
	}
	return out, nil
}
