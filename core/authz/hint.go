package authz

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/token"
)

// MaxHintAge bounds how old an ID token may be to serve as id_token_hint
// at the authorization and end-session endpoints. A hint's exp is not
// checked (a relying party's last ID token is usually expired when it
// asks with prompt=none or logs out; OpenID Connect RP-Initiated Logout
// 1.0 §2), but one issued before the longest a session can live
// (session.Policy.Absolute at most) cannot name a session that is still
// alive and is refused as stale.
const MaxHintAge = 7 * 24 * time.Hour

// Hint is what a verified id_token_hint says.
type Hint struct {
	// Subject is the sub, as the client in Audience received it.
	Subject  string
	Audience []string
	// SID is the session the ID token was issued in; empty when it had
	// none.
	SID string
}

// client is the one client the hint was issued to, "" for none or several.
func (h Hint) client() string {
	if len(h.Audience) == 1 {
		return h.Audience[0]
	}
	return ""
}

// readHint verifies raw, an id_token_hint sent with a request of client
// clientID ("": any client): signed by Pforte, issued by this issuer to
// that client, not older than MaxHintAge. An empty raw is no hint.
// Errors: Invalid, naming what is wrong.
func (s *Service) readHint(ctx context.Context, raw, clientID string) (Hint, *fault.Error) {
	const op = "authz.IDTokenHint"
	if raw == "" {
		return Hint{}, nil
	}
	var cl IDClaims
	if len(raw) > maxTokenLen || s.signer.Verify(ctx, raw, token.TypeID, &cl) != nil || cl.Issuer != s.cfg.Issuer || cl.Subject == "" {
		return Hint{}, fault.New(fault.Invalid, op, "id_token_hint is not a valid ID token of this issuer")
	}
	if clientID != "" && !slices.Contains(cl.Audience, clientID) {
		return Hint{}, fault.New(fault.Invalid, op, "id_token_hint was not issued to this client")
	}
	if s.clock().Sub(time.Unix(cl.IssuedAt, 0)) > MaxHintAge {
		return Hint{}, fault.New(fault.Invalid, op, "id_token_hint is too old to name a session")
	}
	return Hint{Subject: cl.Subject, Audience: cl.Audience, SID: cl.SID}, nil
}

// SubjectFor returns the sub client clientID received for account
// accountID (pairwise for a client with a sector). Errors: NotFound
// (unknown client); Unavailable.
func (s *Service) SubjectFor(ctx context.Context, clientID, accountID string) (string, error) {
	c, err := s.clients.ClientByID(ctx, clientID)
	if err != nil {
		return "", err
	}
	return s.subjectFor(c, accountID), nil
}

// HintNames reports whether the request's id_token_hint (r.HintSubject
// for r.HintClientID) names account accountID; true when the request has
// no hint. Errors: Unavailable.
func (s *Service) HintNames(ctx context.Context, hintSubject, hintClient, accountID string) (bool, error) {
	if hintSubject == "" {
		return true, nil
	}
	if hintClient == "" {
		// Several audiences: the public sub is the only one the hint can
		// compare without knowing which client's it is.
		return hintSubject == accountID, nil
	}
	sub, err := s.SubjectFor(ctx, hintClient, accountID)
	if errors.Is(err, fault.NotFound) {
		return false, nil
	}
	return sub == hintSubject, err
}
