package registration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/clientaddr"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/proof"
)

// RequestInput is a member's request for credentials as the app sends it.
type RequestInput struct {
	KVNR string
	// BirthDate as typed: YYYY-MM-DD or DD.MM.YYYY.
	BirthDate string
	// Method is the proofing method to request; only "letter" is
	// requested this way (the eID is completed directly).
	Method string
	// ClientIP is the address the request came from, as the HTTP layer
	// determined it (an "addr:port" form is accepted).
	ClientIP string
}

// Codes of registration requests; none has parameters.
const (
	// CodeRateLimited: a rate limit refused the request. The error
	// carries RetryAt and RetryAfter.
	CodeRateLimited fault.Code = "registration.rate_limited"
	// CodeBirthDate: the date of birth is malformed or implausible.
	CodeBirthDate fault.Code = "registration.birth_date"
	// CodeMethod: the method cannot be requested by post.
	CodeMethod fault.Code = "registration.method"
	// CodeUnknownMethod: no such method (or not one of this kind).
	CodeUnknownMethod fault.Code = "registration.unknown_method"
)

// Request accepts a member's request for a password letter.
//
// It refuses, in this order and before anything else: a malformed member
// number (kvnr.Parse's fault.Invalid and text), a malformed or implausible
// birth date and an unknown method (fault.Invalid). Then it counts the
// request against the limits per client address and per member number
// (CodeRateLimited, with the wait). Then it queues the request and returns nil.
//
// Member enumeration: whether the number belongs to a member, whether the
// birth date matches, whether the member is eligible and whether a letter
// was sent recently is decided later by ProcessRegistrations, never here.
// The answer, and the work done before it (two counter hits and one
// insert, with the same keys and the same shape of row), are identical for
// all of them, so neither the answer nor its timing tells an attacker who
// is insured here. The limit per member number applies to every
// well-formed number alike for the same reason; it stops flooding one
// member's letterbox (and the queue) from many addresses.
//
// Errors: Invalid; RateLimited (CodeRateLimited, with RetryAt and RetryAfter); Unavailable; Internal
// when ClientIP is empty (a wiring bug of the caller).
func (s *Service) Request(ctx context.Context, in RequestInput) error {
	r, err := s.admit(ctx, "registration.Request", in)
	if err != nil {
		return err
	}
	return s.regs.EnqueueRegistration(ctx, r)
}

// admit checks request in and counts it against the limits (Request's
// steps before queueing) and returns the request to queue.
func (s *Service) admit(ctx context.Context, op string, in RequestInput) (letter.Request, error) {
	k, err := kvnr.Parse(in.KVNR)
	if err != nil {
		return letter.Request{}, err
	}
	now := s.clock()
	birth, ok := plausibleBirthDate(in.BirthDate, now)
	if !ok {
		return letter.Request{}, fault.Coded(fault.Invalid, op, CodeBirthDate)
	}
	if in.Method != string(proof.Letter) {
		return letter.Request{}, fault.Coded(fault.Invalid, op, CodeMethod)
	}
	ip, ok := ipKey(in.ClientIP)
	if !ok {
		return letter.Request{}, fault.New(fault.Internal, op, "")
	}
	if err := s.hit(ctx, op, "registration:ip:"+ip, s.cfg.PerIP, now); err != nil {
		return letter.Request{}, err
	}
	if err := s.hit(ctx, op, "registration:kvnr:"+s.lh.Pseudonym(k), s.cfg.PerKVNR, now); err != nil {
		return letter.Request{}, err
	}
	return letter.Request{ID: letter.NewID(), KVNR: k, BirthDate: birth, RequestedAt: now}, nil
}

func (s *Service) hit(ctx context.Context, op, key string, l Limit, now time.Time) error {
	allowed, retry, err := s.limits.Hit(ctx, key, l.Max, l.Window, now)
	if err != nil {
		return err
	}
	if !allowed {
		return fault.Coded(fault.RateLimited, op, CodeRateLimited).WithRetry(now.Add(retry), retry)
	}
	return nil
}

// plausibleBirthDate normalises a typed birth date and refuses dates in the
// future or before 1900: they are typos, and saying so reveals nothing.
func plausibleBirthDate(typed string, now time.Time) (string, bool) {
	d, ok := member.ParseDate(strings.TrimSpace(typed))
	if !ok || d < "1900-01-01" || d > now.Format("2006-01-02") {
		return "", false
	}
	return d, true
}

// ipKey is the rate limit key of a client address (clientaddr.LimitKey:
// IPv6 per /64).
func ipKey(raw string) (string, bool) { return clientaddr.LimitKey(raw) }

// Outcomes of a registration request, logged as reason codes.
const (
	outcomeCreated      = "letter_created"
	outcomeUnknown      = "unknown_member"
	outcomeBirthDate    = "birthdate_mismatch"
	outcomeIneligible   = "ineligible"
	outcomeNoAddress    = "no_address"
	outcomeTooSoon      = "too_soon"
	outcomeTooSoonTold  = "too_soon_told" // too soon; the member was told by e-mail
	outcomeRetry        = "error_retry"
	logRegistrationDone = "registration decided"
)

// ProcessRegistrations decides up to n queued requests and returns how
// many it decided. For each: the member must be in the directory, the
// birth date must match the one on file, the member must be eligible now
// and have a deliverable address on file; then a letter is created
// (state Requested), addressed to the name and address on file, and every
// earlier open letter of the member is voided — unless the member got a
// letter less than Letter.MinInterval ago (a letter voided by wrong attempts
// does not count). Then the member is told by e-mail, at the address on
// file, when the next letter is possible (see tooSoon): the answer to the
// request had to be the same for everyone, so it could not say so, and the
// member must not wait for a letter that will not come. Every decided request is
// deleted, with the birth date typed in it; what was decided is logged with
// a reason code, the request id and a pseudonym of the member number.
//
// Idempotent: the letter gets the request's ID, so a request decided again
// after a crash (letter created, request not yet deleted) creates no
// second letter (CreateLetter says Conflict, as for "too soon").
//
// A request that fails on an infrastructure error stays queued and is
// retried when its lease ends; the others are still decided, and the
// first error is returned.
func (s *Service) ProcessRegistrations(ctx context.Context, n int) (int, error) {
	now := s.clock()
	reqs, err := s.regs.ClaimRegistrations(ctx, n, now, now.Add(s.cfg.RegistrationLease))
	if err != nil {
		return 0, err
	}
	done := 0
	var first error
	for _, r := range reqs {
		if err := ctx.Err(); err != nil {
			return done, fault.Wrap(fault.Unavailable, "registration.ProcessRegistrations", err)
		}
		outcome, err := s.decide(ctx, r, now)
		if err == nil {
			err = s.regs.DeleteRegistration(ctx, r.ID)
		}
		attrs := []slog.Attr{slog.String("request", r.ID), slog.String("member", s.lh.Pseudonym(r.KVNR))}
		if err != nil {
			first = firstErr(first, err)
			s.log.LogAttrs(ctx, slog.LevelError, logRegistrationDone,
				append(attrs, slog.String("outcome", outcomeRetry), slog.Any("error", err))...)
			continue
		}
		if outcome == outcomeCreated {
			attrs = append(attrs, slog.String("letter", r.ID))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, logRegistrationDone, append(attrs, slog.String("outcome", outcome))...)
		done++
	}
	return done, first
}

func (s *Service) decide(ctx context.Context, r letter.Request, now time.Time) (string, error) {
	m, err := s.members.MemberByKVNR(ctx, r.KVNR)
	switch {
	case errors.Is(err, fault.NotFound):
		return outcomeUnknown, nil
	case err != nil:
		return "", err
	}
	if !m.BirthDateMatches(r.BirthDate) {
		return outcomeBirthDate, nil
	}
	// A report of a lost letter voids the member's live letter, whether
	// or not a new one can be made: the lost one may be in other hands.
	var lost letter.Letter
	if r.Lost {
		if lost, err = s.voidLive(ctx, r.KVNR, audit.Member, r.RequestedAt, now); err != nil {
			return "", err
		}
	}
	if !s.cfg.Eligibility.Eligible(m, now) {
		return outcomeIneligible, nil
	}
	to, ok := letter.RecipientOf(m)
	if !ok {
		return outcomeNoAddress, nil
	}
	l := letter.Letter{
		ID: r.ID, KVNR: m.KVNR, Recipient: to, State: letter.Requested,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Letter.Validity),
	}
	notBefore := now.Add(-s.cfg.Letter.MinInterval)
	if lost.ID != "" {
		notBefore = replacementNotBefore(lost)
	}
	err = s.createLetter(ctx, l, audit.Member, notBefore, now)
	switch {
	case errors.Is(err, fault.Conflict):
		return s.tooSoon(ctx, r, m, now)
	case err != nil:
		return "", err
	}
	if lost.ID != "" {
		// The member learns what became of the letter: if someone else
		// reported it, the member knows to ask.
		s.tell(ctx, r, m, mailLetterLost, r.RequestedAt, letter.Group(lost.ID))
		return outcomeLostReplaced, nil
	}
	return outcomeCreated, nil
}

// mailLetterTooSoon tells a member that a request for a letter came too
// soon after the last letter. Params: when the request was made, when the
// last letter was ordered, from when on the next is possible.
const mailLetterTooSoon fault.Code = "mail.letter_too_soon"

// tooSoon decides request r of member m that CreateLetter refused. The
// refusal is either the interval or the request's own letter, created by
// an earlier run that crashed before deleting the request (the letter has
// the request's ID): then the letter exists and nothing is told. Otherwise
// the member is told, when the directory has an e-mail address, when the
// next letter is possible; a failed delivery is logged and the request is
// decided all the same (a retry would repeat the mail to whoever got it).
//
// Whoever knows a member's number and birth date can make the member get
// such a mail, at most as often as Config.PerKVNR admits requests; it
// tells them nothing, and the member learns that someone asked.
func (s *Service) tooSoon(ctx context.Context, r letter.Request, m member.Member, now time.Time) (string, error) {
	last, err := s.letters.LatestLetter(ctx, r.KVNR)
	switch {
	case err != nil:
		return "", err
	case last.ID == r.ID:
		return outcomeCreated, nil
	}
	next := last.CreatedAt.Add(s.cfg.Letter.MinInterval)
	if !s.tell(ctx, r, m, mailLetterTooSoon, r.RequestedAt, last.CreatedAt, next) {
		return outcomeTooSoon, nil
	}
	return outcomeTooSoonTold, nil
}

// firstErr keeps the first error.
func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
