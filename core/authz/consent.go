package authz

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

// Consent for third parties: a client whose Consent setting is on (a
// partner portal, not one of the insurer's own services) gets a member's
// data only after the member allowed it on the consent page, once per
// client and scope set; a request for more scopes asks again, and
// prompt=consent asks every time, for any client. What was allowed is
// remembered (store.Consents) and can be revoked on the account page,
// which also ends the client's tokens.

// CodeConsentUnknown: no consent is waiting for this browser under this
// id (also one of another browser: which, is nobody's business).
const CodeConsentUnknown fault.Code = "consent.unknown"

// ConsentScopes are the scopes of request r a consent is asked for: those
// its login's level releases.
func (s *Service) ConsentScopes(r grant.AuthRequest) []string {
	level := loa.None
	if r.Login != nil {
		level, _ = s.cfg.Vocabulary.Level(r.Login.ACR)
	}
	return ReleasableScopes(r.Scopes, level)
}

// NeedsConsent reports whether account accountID must allow client c the
// scopes of request r (whose login is recorded) before the code is issued.
// Errors: Unavailable.
func (s *Service) NeedsConsent(ctx context.Context, r grant.AuthRequest, c client.Client, accountID string) (bool, error) {
	if slices.Contains(r.Prompt, "consent") {
		return true, nil
	}
	if !c.Consent {
		return false, nil
	}
	have, err := s.st.Consents.ConsentOf(ctx, accountID, c.ID)
	switch {
	case errors.Is(err, fault.NotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return !have.Covers(s.ConsentScopes(r)), nil
}

// PendingConsent returns request id waiting for its member's consent in
// the browser whose SSO session is sessionID, with its client. Errors:
// NotFound (CodeConsentUnknown: no such request, no login yet, or another
// browser's); Expired (CodeLoginExpired); Unavailable.
func (s *Service) PendingConsent(ctx context.Context, id, sessionID string) (grant.AuthRequest, client.Client, error) {
	const op = "authz.PendingConsent"
	r, err := s.st.Requests.AuthRequestByID(ctx, id)
	switch {
	case errors.Is(err, fault.NotFound):
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.NotFound, op, CodeConsentUnknown)
	case err != nil:
		return grant.AuthRequest{}, client.Client{}, err
	case r.Login == nil || sessionID == "" || r.Login.SessionID != sessionID:
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.NotFound, op, CodeConsentUnknown)
	case !s.clock().Before(r.ExpiresAt):
		return grant.AuthRequest{}, client.Client{}, fault.Coded(fault.Expired, op, CodeLoginExpired)
	}
	c, err := s.clients.ClientByID(ctx, r.ClientID)
	if err != nil {
		return grant.AuthRequest{}, client.Client{}, err
	}
	return r, c, nil
}

// DecideConsent records the member's answer on the consent page of
// request id in the browser of session sessionID: allowed, the consent is
// remembered (its scopes added to what the member allowed the client
// before) and the code issued; refused, the client gets access_denied.
// Either way it returns the client's redirect URI. Errors: those of
// PendingConsent; NotFound when the request was answered meanwhile (the
// code is issued once); Unavailable.
func (s *Service) DecideConsent(ctx context.Context, id, sessionID string, allow bool) (string, error) {
	r, _, err := s.PendingConsent(ctx, id, sessionID)
	if err != nil {
		return "", err
	}
	back := fault.Redirect{URI: r.RedirectURI, State: r.State}
	if !allow {
		return s.ErrorRedirect(back, "access_denied", "the member did not allow the client access"), nil
	}
	now := s.clock()
	granted, err := s.st.Consents.GrantConsent(ctx, r.Login.Subject, r.ClientID, s.ConsentScopes(r), now)
	if err != nil {
		return "", err
	}
	if s.st.Audit != nil {
		// The consent is stored; a failed audit entry does not undo it.
		_ = s.st.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event{
			ID: grant.NewID(), Time: now, Kind: audit.ConsentGranted, Actor: audit.Member, AccountID: r.Login.Subject,
			ClientID: r.ClientID, Detail: map[string]string{"scopes": strings.Join(granted.Scopes, " ")},
		})
	}
	to, err := s.issueCode(ctx, r, now)
	if errors.Is(err, fault.NotFound) || errors.Is(err, fault.Forbidden) {
		return "", fault.Coded(fault.NotFound, "authz.DecideConsent", CodeConsentUnknown)
	}
	return to, err
}
