package store

import (
	"context"
	"time"

	"github.com/pforte-id/pforte/core/consent"
	"github.com/pforte-id/pforte/core/session"
)

// Sessions stores single sign-on sessions (core/session). A store that
// also implements AuthRequests removes sessions past their ExpiresAt in
// DeleteExpired.
type Sessions interface {
	// CreateSession stores s. Errors: Conflict on a duplicate ID or
	// secret hash.
	CreateSession(ctx context.Context, s session.Session) error
	// SessionBySecret returns the session whose SecretHash is hash,
	// active or not (the caller decides). Errors: NotFound.
	SessionBySecret(ctx context.Context, hash string) (session.Session, error)
	// SessionByID returns session id, active or not. Errors: NotFound.
	SessionByID(ctx context.Context, id string) (session.Session, error)
	// UpdateSession reads session id, calls f with it and, when f returns
	// nil, stores what f changed, in one transaction that holds the row:
	// concurrent updates are serialised and f sees the latest state. f may
	// change only Level, AMR, AuthTime, BindingID, Clients, LastSeenAt and
	// IdleUntil; an ended session is never changed (Conflict, f is not
	// called). f may run more than once. Returns the session as stored.
	// Errors: NotFound; Conflict (ended); Invalid (f changed another
	// field; nothing is stored); f's error; those of the database.
	UpdateSession(ctx context.Context, id string, f func(s *session.Session) error) (session.Session, error)
	// EndSession ends session id at now for reason and revokes, in the
	// same transaction, every active token family issued in it
	// (grant.Family.SessionID), so that no token of the session outlives
	// it: a family stored concurrently (Tokens.CreateFamily checks the
	// session under the same row lock) is either revoked here or refused
	// there. Idempotent: an ended session keeps its first end, and
	// revoked families their first revocation. It returns the session as
	// stored and whether this call ended it (false: it had ended before).
	// Errors: NotFound.
	EndSession(ctx context.Context, id string, reason session.EndReason, now time.Time) (s session.Session, ended bool, err error)
	// MarkNotified records that the back-channel logouts of ended session
	// id were queued at now. Errors: NotFound.
	MarkNotified(ctx context.Context, id string, now time.Time) error
	// UnnotifiedSessions returns up to limit sessions that ended before
	// endedBefore and whose back-channel logouts were not queued, oldest
	// end first: the ones a crash between ending and queueing left behind.
	UnnotifiedSessions(ctx context.Context, endedBefore time.Time, limit int) ([]session.Session, error)
	// ActiveSessions returns the sessions of account accountID that are
	// active at now (session.Session.Active), newest first.
	ActiveSessions(ctx context.Context, accountID string, now time.Time) ([]session.Session, error)
	// ActiveSessionsOfBinding returns the sessions confirmed by device
	// binding bindingID that are active at now. Errors: Invalid for an
	// empty bindingID (it would name every password session).
	ActiveSessionsOfBinding(ctx context.Context, bindingID string, now time.Time) ([]session.Session, error)
}

// Consents stores what members allowed third-party clients
// (core/consent).
type Consents interface {
	// ConsentOf returns the consent of account accountID for client
	// clientID. Errors: NotFound.
	ConsentOf(ctx context.Context, accountID, clientID string) (consent.Consent, error)
	// GrantConsent adds scopes to the consent of account accountID for
	// client clientID (creating it), atomically: of concurrent grants
	// none is lost. Returns the consent as stored.
	GrantConsent(ctx context.Context, accountID, clientID string, scopes []string, now time.Time) (consent.Consent, error)
	// Consents returns the consents of account accountID, by client id.
	Consents(ctx context.Context, accountID string) ([]consent.Consent, error)
	// RevokeConsent deletes the consent of account accountID for client
	// clientID and revokes, in the same transaction, the account's active
	// token families of that client; it returns how many families.
	// Errors: NotFound when there is no such consent.
	RevokeConsent(ctx context.Context, accountID, clientID string, now time.Time) (int, error)
}
