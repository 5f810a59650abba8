package authz

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/pforte-id/pforte/core/fault"
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
)

// SupportedScopes are advertised in discovery.
var SupportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeAddress, ScopeBirthdate, ScopeKVNR, ScopeOfflineAccess}

// SupportedClaims are advertised in discovery.
var SupportedClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
	"name", "given_name", "family_name", "birthdate", "address", "email", "email_verified", "kvnr", ClaimTelematikID}

// memberClaims releases the claims of subject that scopes allow, and only
// those: a client that did not ask for the address does not get it.
func (s *Service) memberClaims(ctx context.Context, subject string, scopes []string) (Claims, error) {
	out := Claims{"sub": subject}
	needMember := slices.ContainsFunc(scopes, func(sc string) bool {
		return sc == ScopeProfile || sc == ScopeEmail || sc == ScopeAddress || sc == ScopeBirthdate || sc == ScopeKVNR
	})
	if !needMember {
		return out, nil
	}
	a, err := s.st.Accounts.AccountByID(ctx, subject)
	if errors.Is(err, fault.NotFound) {
		return nil, fault.New(fault.Unauthenticated, "authz.memberClaims", "the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if slices.Contains(scopes, ScopeKVNR) {
		out["kvnr"] = a.KVNR.String()
		out[ClaimTelematikID] = a.KVNR.String()
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
