package session

import (
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/loa"
)

// Policy is how long sessions live.
type Policy struct {
	// Idle ends a session that was not used for this long.
	Idle time.Duration
	// Absolute ends a session this long after its login, used or not.
	Absolute time.Duration
}

// DefaultPolicy: 30 minutes idle, 12 hours absolute.
var DefaultPolicy = Policy{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// Validate checks the policy: the one place its bounds are written.
// Errors: fault.Invalid whose Op names the field.
func (p Policy) Validate() error {
	switch {
	case p.Idle < time.Minute || p.Idle > 24*time.Hour:
		return fault.New(fault.Invalid, "session.Policy.Idle", "must be between 1m and 24h")
	case p.Absolute < p.Idle || p.Absolute > 7*24*time.Hour:
		return fault.New(fault.Invalid, "session.Policy.Absolute", "must be at least the idle time and at most 168h")
	}
	return nil
}

// EndReason says why a session ended.
type EndReason string

const (
	// EndLogout: the member logged out at a relying party or at Pforte.
	EndLogout EndReason = "logout"
	// EndEverywhere: the member ended all sessions on the account page.
	EndEverywhere EndReason = "everywhere"
	// EndDevice: the device binding that confirmed the session was revoked
	// or blocked.
	EndDevice EndReason = "device"
	// EndSupport: support or an operator ended it.
	EndSupport EndReason = "support"
	// EndReplaced: the browser logged in again as another member, or again
	// after prompt=login, and got a new session.
	EndReplaced EndReason = "replaced"
	// EndPassword: the member's password was changed or reset; the
	// browsers logged in with the old one log in again.
	EndPassword EndReason = "password"
	// EndDeleted: the member's account was deleted (on request, by
	// support, or after the retention period).
	EndDeleted EndReason = "deleted"
)

// Session is one browser's single sign-on session.
type Session struct {
	// ID is public: the sid of ID tokens and logout tokens.
	ID string
	// SecretHash is grant.Hash of the cookie's secret.
	SecretHash string
	AccountID  string
	// Level is what the session's login reached (loa.Reach).
	Level loa.Level
	AMR   []string
	// AuthTime is when the member last authenticated in this session: the
	// password, or the app's confirmation of a step-up.
	AuthTime time.Time
	// BindingID is the device binding that confirmed the login; empty for
	// the password alone. Revoking it ends the session.
	BindingID string
	// Browser is a coarse description for the account page ("Firefox,
	// Windows").
	Browser string
	// Clients are the relying parties the session served, in order.
	Clients    []string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// IdleUntil moves with every use; ExpiresAt never moves.
	IdleUntil time.Time
	ExpiresAt time.Time
	EndedAt   time.Time
	EndReason EndReason
	// NotifiedAt is when the back-channel logouts of the ended session
	// were queued; zero until then (store.Sessions.UnnotifiedSessions).
	NotifiedAt time.Time
}

// New returns a session for login a of the browser described by browser,
// at level, with a fresh id and the hash of secret.
func (p Policy) New(a loa.Authentication, level loa.Level, amr []string, browser, secret string, now time.Time) Session {
	return Session{
		ID: grant.NewID(), SecretHash: grant.Hash(secret), AccountID: a.Subject, Level: level,
		AMR: slices.Clone(amr), AuthTime: a.Time.UTC(), BindingID: a.BindingID, Browser: browser,
		CreatedAt: now, LastSeenAt: now, IdleUntil: now.Add(p.Idle), ExpiresAt: now.Add(p.Absolute),
	}
}

// Active reports whether the session can serve a request at now.
func (s Session) Active(now time.Time) bool {
	return s.EndedAt.IsZero() && now.Before(s.IdleUntil) && now.Before(s.ExpiresAt)
}

// Touch records a use at now: the idle time starts again, never past
// ExpiresAt.
func (s Session) Touch(p Policy, now time.Time) Session {
	s.LastSeenAt = now
	s.IdleUntil = now.Add(p.Idle)
	if s.IdleUntil.After(s.ExpiresAt) {
		s.IdleUntil = s.ExpiresAt
	}
	return s
}

// Served records that the session served client id (once in the list).
func (s Session) Served(clientID string) Session {
	if !slices.Contains(s.Clients, clientID) {
		s.Clients = append(slices.Clone(s.Clients), clientID)
	}
	return s
}

// StepUp raises the session with a stronger login of the same member
// (the app's confirmation after the password): level, amr, auth_time and
// the binding become the new login's. Errors: Forbidden for another member.
func (s Session) StepUp(a loa.Authentication, level loa.Level, amr []string) (Session, error) {
	if a.Subject != s.AccountID {
		return s, fault.New(fault.Forbidden, "session.StepUp", "the login is another member's")
	}
	if level < s.Level {
		return s, nil
	}
	s.Level, s.AMR, s.AuthTime, s.BindingID = level, slices.Clone(amr), a.Time.UTC(), a.BindingID
	return s, nil
}

// End ends the session at now for reason; an ended session keeps its
// first end. Errors: none.
func (s Session) End(reason EndReason, now time.Time) Session {
	if s.EndedAt.IsZero() {
		s.EndedAt, s.EndReason = now, reason
	}
	return s
}

// Authentication is the session's login, as the authorization server
// records it on a request the session answers.
func (s Session) Authentication(proofing loa.Level) loa.Authentication {
	return loa.Authentication{
		Subject: s.AccountID, Proofing: proofing, AMR: slices.Clone(s.AMR), Time: s.AuthTime,
		BindingID: s.BindingID, SessionID: s.ID,
	}
}
