package registration

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
	"github.com/pforte-id/pforte/ports/store"
)

// Codes of proofing by redirect; none has parameters. The mismatch code is
// the one answer for an unknown member and for attributes that are not the
// member's: only a proofing service's verified answer gets this far, and it
// must not tell its holder whether some other member number exists.
const (
	textUnknownMethod              = CodeUnknownMethod
	textNoProofing      fault.Code = "proofing.unknown"    // unknown or finished already; start again
	textProofingExpired fault.Code = "proofing.expired"    // took too long; start again
	textMismatch        fault.Code = "proofing.mismatch"   // the document's data do not match the member number
	textIneligible      fault.Code = "proofing.ineligible" // no registration possible with this member number now
)

// BeginProofing begins a proofing of member k with a method that sends the
// member to a proofing service (a proofing.Redirector: the eID) and
// returns the service's URL to send the member to, and the enrollment
// token of the session a successful proofing opens. The service answers at
// callbackURL (an absolute http or https URL of the driving adapter), and
// FinishProofing takes the answer. Core makes the state (256 bits, single
// use, proof.PendingTTL) and keeps its hash, the member and the method's
// data (store.Proofings); the state itself is kept nowhere.
//
// The token (256 bits) is made here and only its hash kept, so that it
// belongs to whoever began (the app) and never travels with the state:
// the browser that brings the service's answer back cannot continue the
// enrollment with it, and the one who began learns that the proofing
// succeeded when the token opens a session (EnrollmentStatus).
//
// Whether k is a member is not looked at here: the answer is the same for
// every well-formed number (member enumeration), and FinishProofing
// matches the verified attributes to the record. Begins are counted per
// client address with the activation attempts' limit, so that one place
// cannot fill the store with proofings.
//
// Errors: Invalid for an unknown method, one that does not redirect, or a
// malformed member number; RateLimited (CodeRateLimited, with the wait); Unavailable;
// Internal when clientIP is empty, callbackURL is not an absolute URL, or
// the method returns no URL.
func (s *Service) BeginProofing(ctx context.Context, clientIP string, method proof.Method, k kvnr.KVNR, callbackURL string) (redirectURL, enrollmentToken string, err error) {
	const op = "registration.BeginProofing"
	m, ok := s.methods[method].(proofing.Redirector)
	if !ok {
		return "", "", fault.Coded(fault.Invalid, op, textUnknownMethod)
	}
	k, err = kvnr.Parse(string(k))
	if err != nil {
		return "", "", err
	}
	ip, ok := ipKey(clientIP)
	if !ok {
		return "", "", fault.New(fault.Internal, op, "")
	}
	if u, err := url.Parse(callbackURL); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fault.New(fault.Internal, op, "")
	}
	now := s.clock()
	if err := s.hit(ctx, "proofing:ip:"+ip, s.cfg.ActivationsPerIP, now); err != nil {
		return "", "", err
	}
	state := grant.NewSecret()
	token := grant.NewSecret()
	p := proof.Pending{
		StateHash: grant.Hash(state), Method: method, KVNR: k, CreatedAt: now, ExpiresAt: now.Add(proof.PendingTTL),
		TokenHash: grant.Hash(token),
	}
	r, err := m.Begin(ctx, proofing.Begin{State: secret.String(state), CallbackURL: callbackURL, ExpiresAt: p.ExpiresAt})
	if err != nil {
		return "", "", err
	}
	if r.URL == "" {
		return "", "", fault.New(fault.Internal, op, "")
	}
	p.Data = r.Data
	if err := s.proofings.BeginProofing(ctx, p); err != nil {
		return "", "", err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "proofing begun",
		slog.String("method", string(method)), slog.String("member", s.lh.Pseudonym(k)))
	return r.URL, token, nil
}

// FinishProofing takes the proofing service's answer c to a proofing that
// BeginProofing began with method, and, when the method accepts it and the
// attributes it verified match the record of the member who began
// (proof.Compare), records the proof and opens an enrollment session
// exactly as Activate does, with the token BeginProofing returned (a
// proofing stored without one is refused as unknown). The state is spent by the first answer that
// names it, whatever the outcome: an answer cannot be replayed, and a
// failed proofing begins anew.
//
// Errors: Invalid for an unknown method or one that does not redirect;
// Unauthenticated for an unknown, spent or foreign state, and (one text)
// for attributes that do not match, or need a person's review
// (proof.Review: refused for now, its reason code logged), a card linked
// to another member number (store.ErrHolderLinked), or a member not in
// the directory;
// Expired when the proofing took longer than proof.PendingTTL; Forbidden
// for a member who is not eligible now; those of the method, unchanged
// (Unauthenticated, Forbidden — see ports/proofing.Redirector);
// Unavailable; Internal when the method returns a proof that does not fit.
func (s *Service) FinishProofing(ctx context.Context, method proof.Method, c proofing.Callback) (session enrollment.Session, err error) {
	const op = "registration.FinishProofing"
	m, ok := s.methods[method].(proofing.Redirector)
	if !ok {
		return enrollment.Session{}, fault.Coded(fault.Invalid, op, textUnknownMethod)
	}
	unknown := fault.Coded(fault.Unauthenticated, op, textNoProofing)
	state := c.State.Reveal()
	if state == "" || len(state) > 256 {
		return enrollment.Session{}, unknown
	}
	now := s.clock()
	p, err := s.proofings.TakeProofing(ctx, grant.Hash(state), now)
	switch {
	case errors.Is(err, fault.NotFound):
		return enrollment.Session{}, unknown
	case errors.Is(err, fault.Expired):
		return enrollment.Session{}, fault.Coded(fault.Expired, op, textProofingExpired)
	case err != nil:
		return enrollment.Session{}, err
	case p.Method != method:
		// A state begun for another method: spent all the same, so that
		// it cannot be tried against each method in turn.
		return enrollment.Session{}, unknown
	case p.TokenHash == "":
		// A session without a token nobody could continue.
		return enrollment.Session{}, unknown
	}
	pr, err := m.Finish(ctx, p.Data, c)
	if err != nil {
		return enrollment.Session{}, err
	}
	if pr.KVNR != "" {
		return enrollment.Session{}, fault.New(fault.Internal, op, "")
	}
	pr.KVNR = p.KVNR
	if !s.fits(m, pr) {
		return enrollment.Session{}, fault.New(fault.Internal, op, "")
	}
	if err := s.matchMember(ctx, pr, now); err != nil {
		return enrollment.Session{}, err
	}
	session, err = s.enroll(ctx, pr, p.TokenHash)
	if errors.Is(err, store.ErrHolderLinked) {
		// The card (the service's pseudonym of its holder) registered
		// another member number before: one card, one member. The member
		// hears what a mismatch hears; support staff find the reason.
		// WARN, unlike a mismatch: one card for two member numbers is what
		// fraud looks like, and an operator should look.
		s.log.LogAttrs(ctx, slog.LevelWarn, "proofing refused: attributes do not match the record",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
			slog.String("evidence", pr.Evidence.Reference),
			slog.String("outcome", proof.Mismatch.String()), slog.String("reason", reasonHolderLinked))
		return enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, textMismatch)
	}
	return session, err
}

// reasonHolderLinked is the log's reason code for a card whose pseudonym
// is linked to another member.
const reasonHolderLinked = "holder_linked"

// matchMember checks that the attributes of pr are those on record for
// pr.KVNR and that the member is eligible at now (see FinishProofing).
func (s *Service) matchMember(ctx context.Context, pr proof.Proof, now time.Time) error {
	const op = "registration.FinishProofing"
	mismatch := fault.Coded(fault.Unauthenticated, op, textMismatch)
	mem, err := s.members.MemberByKVNR(ctx, pr.KVNR)
	switch {
	case errors.Is(err, fault.NotFound):
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing refused: no such member",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)))
		return mismatch
	case err != nil:
		return err
	}
	// Only a full match opens an account. A result that needs a person's
	// review (a probable name change, a partial date of birth, a name
	// equal only without accents) is refused too until support staff can
	// review it; its reason code, never the attributes, is logged so that
	// they can tell the member why. Matching comes before eligibility, so
	// that a card of another person learns nothing about the member.
	if r := proof.Compare(mem, pr.Attributes); r.Outcome != proof.Match {
		// INFO: a typing error or a card of another person, answered as a
		// mismatch; the reason code is for support staff.
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing refused: attributes do not match the record",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
			slog.String("evidence", pr.Evidence.Reference),
			slog.String("outcome", r.Outcome.String()), slog.String("reason", string(r.Reason)))
		return mismatch
	} else if r.Reason != "" {
		// A match with a note (a partial date of birth the address
		// corroborated): kept for the audit trail.
		s.log.LogAttrs(ctx, slog.LevelInfo, "proofing matched the record",
			slog.String("method", string(pr.Method)), slog.String("member", s.lh.Pseudonym(pr.KVNR)),
			slog.String("evidence", pr.Evidence.Reference), slog.String("reason", string(r.Reason)))
	}
	if !s.cfg.Eligibility.Eligible(mem, now) {
		return fault.Coded(fault.Forbidden, op, textIneligible)
	}
	return nil
}
