package registration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/ports/notify"
)

// Codes of reports of a lost letter.
const (
	// CodeLostTooSoon: a letter of this member number was reported lost
	// in the app a short while ago. Param: from when the next report (or
	// request) is taken. The error carries RetryAt and RetryAfter.
	CodeLostTooSoon fault.Code = "registration.lost_too_soon"
)

// keyLost counts the reports of a lost letter per member number
// (pseudonym) in the app, in windows of Letter.MinInterval.
const keyLost = "registration:lost:"

// ReportLost takes a member's report, from the app and without login,
// that their letter was lost in the post: the input is a request's
// (member number, birth date, method "letter", client address).
//
// It refuses what Request refuses, in the same order and with the same
// limits (per client address and per member number, the same counters).
// Then it admits at most one report per member number within
// Letter.MinInterval (a sliding window whose estimate is rounded up: a
// report holds for one to two intervals), for every well-formed number
// alike; a further one is refused (RateLimited, CodeLostTooSoon)
// with the time from which the next is taken (by then the interval since
// the replacement has passed, too: a new letter is possible at the latest
// then). This is the guard against mass mailing: a lost letter does not
// hold back its replacement, so without it whoever knows a member's
// number and birth date could have letter after letter mailed to the
// member, each voiding the one before.
// Then it queues the report and returns nil.
//
// The worker (ProcessRegistrations) decides the report as a request,
// after voiding the member's live letter (reason lost, audited) if the
// number and birth date match a member. The new letter is made at once
// (eligibility and the address on file still apply): neither the lost
// letter nor what it replaced counts against the interval, since the
// guard above has admitted the report. The member is told by e-mail that
// the letter was reported lost and a new one is on its way (whoever
// reported it). A member without a live letter gets what a request gets:
// a letter, or, within the interval, an e-mail saying when the next one
// is possible. As with Request, neither the
// answer nor the work before it depends on whether the number belongs to
// a member or whether a letter exists (no enumeration); what the app can
// say is therefore "if your details match, we void your letter and send a
// new one", and the e-mail says what really happened.
//
// Errors: as Request's; RateLimited (CodeLostTooSoon, with the time as
// param and RetryAt, RetryAfter).
func (s *Service) ReportLost(ctx context.Context, in RequestInput) error {
	const op = "registration.ReportLost"
	r, err := s.admit(ctx, op, in)
	if err != nil {
		return err
	}
	if err := s.lostGuard(ctx, op, r.KVNR, r.RequestedAt); err != nil {
		return err
	}
	r.Lost = true
	return s.regs.EnqueueRegistration(ctx, r)
}

// lostGuard counts a report of a lost letter for member number k and
// refuses it while one weighs in the sliding window of
// Letter.MinInterval (the estimate is rounded up: a report weighs in
// until the fixed window after its own is over, one to two intervals). A
// refused report is not counted (Count before Hit), so that reports
// refused cannot keep the guard up. No interval (0): no guard.
func (s *Service) lostGuard(ctx context.Context, op string, k kvnr.KVNR, now time.Time) error {
	w := s.cfg.Letter.MinInterval
	if w <= 0 {
		return nil
	}
	key := keyLost + s.lh.Pseudonym(k)
	n, retry, err := s.limits.Count(ctx, key, 1, w, now)
	if err != nil {
		return err
	}
	if n >= 1 {
		return lostTooSoon(op, now, retry)
	}
	// Concurrent reports all find none: Hit admits one of them.
	allowed, retry, err := s.limits.Hit(ctx, key, 1, w, now)
	if err != nil {
		return err
	}
	if !allowed {
		return lostTooSoon(op, now, retry)
	}
	return nil
}

func lostTooSoon(op string, now time.Time, wait time.Duration) error {
	at := now.Add(wait)
	return fault.Coded(fault.RateLimited, op, CodeLostTooSoon, at).WithRetry(at, wait)
}

// Outcomes of a report of a lost letter beyond those of a request.
const (
	outcomeLostReplaced = "lost_replaced" // the live letter voided, a new one created
)

// mailLetterLost tells a member that their letter was reported lost,
// voided, and a new one is on its way. Params: the time of the report and
// the lost letter's number (grouped).
const mailLetterLost fault.Code = "mail.letter_lost"

// replacementNotBefore is the notBefore of CreateLetter for the letter
// that replaces lost: only a letter newer than the lost one (created
// concurrently) stops it. Neither the lost letter nor what it replaced
// holds it back: the guard against mass mailing is the one on reports
// (lostGuard), which has admitted this one. The lost letter still counts
// for later requests, like the replacement, so that a report refused by
// the guard cannot be followed by a request that gets a letter at once.
func replacementNotBefore(lost letter.Letter) time.Time {
	return lost.CreatedAt.Add(time.Millisecond)
}

// voidLive voids the live letter of member k, if there is one, as lost,
// and records it by actor, for the report made at reported. Returns the
// letter voided; also the latest letter if it was voided as lost since
// reported (by this report, in a run that crashed before it was
// decided: the guard admits no other report meanwhile); the zero letter
// when there was none (or it was used or voided otherwise).
func (s *Service) voidLive(ctx context.Context, k kvnr.KVNR, actor audit.Actor, reported, now time.Time) (letter.Letter, error) {
	l, err := s.letters.LatestLetter(ctx, k)
	switch {
	case errors.Is(err, fault.NotFound):
		return letter.Letter{}, nil
	case err != nil:
		return letter.Letter{}, err
	case l.State == letter.Voided && l.VoidReason == letter.ReasonLost && !l.VoidedAt.Before(reported):
		return l, nil
	case !l.Live():
		return letter.Letter{}, nil
	}
	switch err := s.letters.VoidLetter(ctx, l.ID, letter.ReasonLost, now); {
	case errors.Is(err, fault.Conflict), errors.Is(err, fault.NotFound):
		return letter.Letter{}, nil
	case err != nil:
		return letter.Letter{}, err
	}
	s.recordLetter(ctx, audit.LetterVoided, actor, l.ID, k, letter.ReasonLost)
	return l, nil
}

// tell sends member m the letter mail code with params, when there is a
// notifier and an address; a failure is logged (the decision stands).
func (s *Service) tell(ctx context.Context, r letter.Request, m member.Member, code fault.Code, params ...any) bool {
	// Not cancelled with the request: the change is made, and a client
	// that goes away must not take the notice along (the notifier bounds
	// its own time).
	ctx = context.WithoutCancel(ctx)

	to := strings.TrimSpace(m.Email)
	if s.notifier == nil || to == "" {
		return false
	}
	subject, body := s.mail(ctx, code, params...)
	if err := s.notifier.Notify(ctx, notify.Message{To: to, Subject: subject, Body: body, Kind: string(code)}); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.String("request", r.ID),
			slog.String("member", s.lh.Pseudonym(r.KVNR)), slog.Any("error", err))
		return false
	}
	return true
}

// LostReport is support's report that a member's letter was lost: the
// letter by its number, or the member's live letter by member number
// (exactly one of them), who reports it and why.
type LostReport struct {
	LetterID string
	KVNR     string
	// Operator names the person acting; Reason says what the member told
	// (one line). Both are recorded in the audit log.
	Operator string
	Reason   string
}

// LostResult is what became of a LostReport.
type LostResult struct {
	// Voided is the letter reported lost, now voided (hashes cleared).
	Voided letter.Letter
	// Replacement is the new letter, handed over to the outbox (or, when
	// a worker rendered it at the same moment, as the worker left it: on
	// its way); the zero letter when none was made (then NextPossible or
	// Refused says why).
	Replacement letter.Letter
	// NextPossible is set when a letter of the member was reported lost
	// within Letter.MinInterval (the guard): from then on the member can
	// have a new letter (a request in the app, or another report).
	NextPossible time.Time
	// Refused says why no letter could be made for the member now (not in
	// the directory, not eligible, no deliverable address).
	Refused string
}

// Bounds of a LostReport's texts.
const (
	MaxOperatorName = 100
	MaxLostReason   = 200
)

// ReportLostByOperator voids the letter of report rep as lost and, when
// the member may get a letter now, makes a new one at once (rendered and
// handed over to the outbox, as RenderLetter does). It is the use case
// behind the operator command and the admin API.
//
// The letter must be live (requested, rendered or handed over); it is
// voided in any case (it may be in other hands). The new letter is
// subject to the guard against mass mailing of reports in the app
// (ReportLost), on the same count: at most one lost letter per member
// number is replaced in a window of Letter.MinInterval, whether the app
// or support reported it; otherwise NextPossible says from when the
// member can have one (an override of the interval is a separate,
// explicit order). The lost letter does not hold back its replacement. The
// member must still be in the directory, eligible and have a deliverable
// address on file (else Refused), and the new letter goes to the address
// on file now. The voiding is recorded (letter.voided, reason lost, actor
// operator, Detail "operator" and "note" with the reason), and so is the
// new letter's order.
//
// Errors: Invalid (neither or both of letter and member number, a
// malformed member number, no operator, a reason that is not one line of
// at most MaxLostReason bytes); NotFound (no such letter, or the member
// has none); Conflict (the letter was used or is voided already, or
// changed meanwhile); those of the ports.
func (s *Service) ReportLostByOperator(ctx context.Context, rep LostReport) (LostResult, error) {
	const op = "registration.ReportLostByOperator"
	rep.Operator, rep.Reason = strings.TrimSpace(rep.Operator), strings.TrimSpace(rep.Reason)
	switch {
	case (rep.LetterID == "") == (rep.KVNR == ""):
		return LostResult{}, fault.New(fault.Invalid, op, "name the letter or the member number, one of them")
	case rep.Operator == "" || len(rep.Operator) > MaxOperatorName || strings.ContainsFunc(rep.Operator, isControl):
		return LostResult{}, fault.New(fault.Invalid, op, "name the operator (at most 100 printable characters)")
	case rep.Reason == "" || len(rep.Reason) > MaxLostReason || strings.ContainsFunc(rep.Reason, isControl):
		return LostResult{}, fault.New(fault.Invalid, op, "give the reason in one line of at most 200 bytes")
	}
	var l letter.Letter
	if rep.LetterID != "" {
		var err error
		if l, err = s.letters.LetterByID(ctx, rep.LetterID); err != nil {
			return LostResult{}, err
		}
	} else {
		k, err := kvnr.Parse(rep.KVNR)
		if err != nil {
			return LostResult{}, err
		}
		if l, err = s.letters.LatestLetter(ctx, k); errors.Is(err, fault.NotFound) {
			return LostResult{}, fault.New(fault.NotFound, op, "the member has no letter")
		} else if err != nil {
			return LostResult{}, err
		}
	}
	if !l.Live() {
		return LostResult{}, stateConflict(op, l)
	}
	now := s.clock()
	switch err := s.letters.VoidLetter(ctx, l.ID, letter.ReasonLost, now); {
	case errors.Is(err, fault.Conflict):
		return LostResult{}, fault.New(fault.Conflict, op, "the letter was used or voided meanwhile")
	case err != nil:
		return LostResult{}, err
	}
	s.recordLetter(ctx, audit.LetterVoided, audit.Operator, l.ID, l.KVNR, letter.ReasonLost, "operator", rep.Operator, "note", rep.Reason)
	s.log.LogAttrs(ctx, slog.LevelWarn, "letter reported lost by operator", slog.String("letter", l.ID))
	res := LostResult{}
	if cur, err := s.letters.LetterByID(ctx, l.ID); err == nil {
		res.Voided = redact(cur)
	} else {
		res.Voided = redact(l)
	}

	if err := s.lostGuard(ctx, op, l.KVNR, now); err != nil {
		if e := fault.CodedOf(err); e != nil && e.Code == CodeLostTooSoon {
			// The first of: the guard ends, or a request is no longer
			// too soon after the lost letter (which counts for requests).
			res.NextPossible = e.RetryAt
			if req := l.CreatedAt.Add(s.cfg.Letter.MinInterval); req.Before(res.NextPossible) {
				res.NextPossible = req
			}
			return res, nil
		}
		return res, err
	}
	m, err := s.members.MemberByKVNR(ctx, l.KVNR)
	switch {
	case errors.Is(err, fault.NotFound):
		res.Refused = "the member is no longer in the directory"
		return res, nil
	case err != nil:
		return res, err
	}
	to, ok := letter.RecipientOf(m)
	switch {
	case !s.cfg.Eligibility.Eligible(m, now):
		res.Refused = "the member is not eligible now"
		return res, nil
	case !ok:
		res.Refused = "the member has no deliverable address on file"
		return res, nil
	}
	repl := letter.Letter{
		ID: letter.NewID(), KVNR: m.KVNR, Recipient: to, State: letter.Requested,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Letter.Validity),
	}
	switch err := s.createLetter(ctx, repl, audit.Operator, replacementNotBefore(l), now); {
	case errors.Is(err, fault.Conflict):
		res.Refused = "a newer letter was created meanwhile"
		return res, nil
	case err != nil:
		return res, err
	}
	res.Replacement, err = s.produceNow(ctx, op, repl)
	if errors.Is(err, fault.Conflict) && res.Replacement.ID != "" {
		// A worker rendered the new letter at the same moment and hands
		// it over (or a newer letter replaced it): it is on its way.
		return res, nil
	}
	return res, err
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
