package session

import (
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/loa"
)

// Verdict is what a browser's session can do for an authorization request.
type Verdict int

const (
	// Answer: the session satisfies the request; the code is issued
	// without a login page.
	Answer Verdict = iota
	// Login: the member must log in (no session, prompt=login, max_age
	// exceeded, another member named by a hint, a level the session's
	// methods cannot be raised to).
	Login
	// StepUp: the session's member must add the app's confirmation; the
	// password is not asked again.
	StepUp
)

// Request is what an authorization request asks of a session.
type Request struct {
	// Prompt are the request's prompt values.
	Prompt []string
	// MaxAge is the request's max_age; nil when absent.
	MaxAge *time.Duration
	// Level is the level the request needs (the client's minimum, raised
	// by acr_values).
	Level loa.Level
	// Proofing is the current proofing level of the session's member.
	Proofing loa.Level
	// OtherMember: a login_hint or id_token_hint names someone other than
	// the session's member.
	OtherMember bool
}

// Decide says whether session s (nil: the browser has none) answers
// request q at now. The order is OpenID Connect Core's: prompt=login and
// max_age ask for a fresh login whatever the session is; a hint naming
// another member means this session cannot answer; a session below the
// level needs the app's confirmation when the member's proofing and the
// confirmation together reach it (loa.Reach), otherwise a new login.
func Decide(s *Session, q Request, now time.Time) Verdict {
	switch {
	case s == nil || !s.Active(now):
		return Login
	case slices.Contains(q.Prompt, "login"):
		return Login
	case q.MaxAge != nil && now.Sub(s.AuthTime) > *q.MaxAge:
		return Login
	case q.OtherMember:
		return Login
	case s.Level >= q.Level:
		return Answer
	}
	// Below the level: the app's confirmation adds possession and the PIN
	// to the session's password; the member's proofing caps the result.
	confirmed := loa.Reach(q.Proofing, append(slices.Clone(s.AMR), loa.AMRHardware, loa.AMRPIN))
	if confirmed.Level >= q.Level && slices.Contains(s.AMR, loa.AMRPassword) {
		return StepUp
	}
	return Login
}
