package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/pforte-id/pforte/core/fault"
)

// AdminScope is the scope a client's own token (client_credentials) must
// carry to call the admin API, and which the client must be registered
// with.
const AdminScope = "admin"

// AdminCaller is the client an admin API call was made with.
type AdminCaller struct {
	ClientID string
	// JTI identifies the token, for the audit trail of a call.
	JTI string
}

// AdminToken verifies the bearer token of an admin API call: a JWT
// access token Pforte issued by client_credentials (the client's own
// token: its subject is the client and it belongs to no member's login),
// unexpired and unrevoked, whose scope has AdminScope, of a client that
// still exists and is still registered with AdminScope (so that taking the
// scope away takes effect at once, not when the token expires).
//
// A DPoP-bound token is refused: the admin API takes no DPoP proofs, and a
// bound token without its proof must not pass as a bearer token.
//
// Errors: Unauthenticated (no, invalid, expired or revoked token, or a
// bound one); Forbidden (a valid token that is not an admin token: a
// member's token, or a client's token without the admin scope);
// Unavailable.
func (s *Service) AdminToken(ctx context.Context, raw string) (AdminCaller, error) {
	const op = "authz.AdminToken"
	if raw == "" || strings.Count(raw, ".") != 2 {
		return AdminCaller{}, fault.New(fault.Unauthenticated, op, "an access token is required")
	}
	cl, owner, err := s.verifyAccess(ctx, raw)
	if err != nil {
		return AdminCaller{}, err
	}
	rec, err := s.accessRecord(ctx, cl)
	if err != nil {
		return AdminCaller{}, err
	}
	switch {
	case rec.DPoPJKT != "":
		return AdminCaller{}, fault.New(fault.Unauthenticated, op, "the admin API takes bearer tokens only")
	case cl.SID != "" || cl.Subject != cl.ClientID:
		return AdminCaller{}, fault.New(fault.Forbidden, op, "a member's token cannot call the admin API")
	case !slices.Contains(strings.Fields(cl.Scope), AdminScope) || !slices.Contains(owner.Scopes, AdminScope):
		return AdminCaller{}, fault.New(fault.Forbidden, op, "the token lacks the admin scope")
	}
	return AdminCaller{ClientID: cl.ClientID, JTI: cl.JTI}, nil
}
