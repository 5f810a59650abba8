package authz

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
)

// OpenID Connect for Identity Assurance 1.0.
//
// A client asks for verified_claims with the scope ScopeVerifiedClaims
// (in its clients file entry's scopes, and in the request), not with the
// claims request parameter: Pforte releases every claim by scope, and a
// relying party of the insurer wants all of the few claims an eID verifies
// or none. They are released at userinfo, as all member claims are, and
// only for a member whose identity was proven at level high by the
// electronic ID card: a letter proves that the member receives post at
// the address on file, not names or a date of birth.
const (
	// ScopeVerifiedClaims releases verified_claims.
	ScopeVerifiedClaims = "verified_claims"
	// DefaultTrustFramework is the trust framework named when
	// Config.TrustFramework is empty: identification under the German
	// anti-money laundering act's rules (eID of the ID card, §12 GwG).
	DefaultTrustFramework = "de_aml"
	// EvidenceElectronicRecord is the evidence type of an eID proof: the
	// data read from the card's chip, signed by the eID service.
	EvidenceElectronicRecord = "electronic_record"
	// RecordTypeEID is the record's type: the eID function of a German
	// identity document.
	RecordTypeEID = "de_eid"
)

// validTrustFramework reports whether tf is a trust framework identifier:
// 1 to 64 lower-case letters, digits and underscores.
func validTrustFramework(tf string) bool {
	if tf == "" || len(tf) > 64 {
		return false
	}
	for _, r := range tf {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// verifiedClaims returns the verified_claims object of account a: the
// names and date of birth of its newest eID proof at level high, with
// the trust framework, the time of the verification and the evidence. ok
// is false when there is no such proof (a letter-proofed member).
func (s *Service) verifiedClaims(ctx context.Context, a account.Account) (out map[string]any, ok bool, err error) {
	if s.st.Proofs == nil {
		return nil, false, nil
	}
	proofs, err := s.st.Proofs.Proofs(ctx, a.ID)
	if err != nil {
		return nil, false, err
	}
	var p proof.Proof
	for i := len(proofs) - 1; i >= 0; i-- {
		if proofs[i].Method == proof.EID && proofs[i].Level >= loa.High && proofs[i].KVNR == a.KVNR {
			p, ok = proofs[i], true
			break
		}
	}
	if !ok {
		return nil, false, nil
	}
	claims := map[string]any{}
	if p.Attributes.GivenName != "" {
		claims["given_name"] = p.Attributes.GivenName
	}
	if p.Attributes.FamilyName != "" {
		claims["family_name"] = p.Attributes.FamilyName
	}
	if p.Attributes.BirthName != "" {
		claims["birth_family_name"] = p.Attributes.BirthName
	}
	// A date the card states only in part (unknown day or month) is not
	// a birthdate claim: it would be read as a full date.
	if _, err := time.Parse(time.DateOnly, p.Attributes.BirthDate); err == nil {
		claims["birthdate"] = p.Attributes.BirthDate
	}
	if len(claims) == 0 {
		return nil, false, nil
	}
	evidence := map[string]any{
		"type": EvidenceElectronicRecord,
		"time": idaTime(p.Time),
		"record": map[string]any{
			"type":   RecordTypeEID,
			"source": map[string]any{"name": p.Evidence.Issuer},
		},
	}
	if !p.Evidence.IssuedAt.IsZero() {
		evidence["time"] = idaTime(p.Evidence.IssuedAt)
	}
	return map[string]any{
		"verification": map[string]any{
			"trust_framework": s.cfg.TrustFramework,
			"time":            idaTime(p.Time),
			"evidence":        []any{evidence},
		},
		"claims": claims,
	}, true, nil
}

// idaTime is a time as Identity Assurance writes it (ISO 8601, UTC,
// seconds).
func idaTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
