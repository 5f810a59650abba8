package registration

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
)

// Codes of a letter support orders (OrderLetter); support's tools word
// them from the catalog.
const (
	// CodeOrderIneligible: the member is not (or no longer, or not yet)
	// insured within the eligibility window; no letter.
	CodeOrderIneligible fault.Code = "support.letter_ineligible"
	// CodeOrderNoAddress: the directory has no postal address for the
	// member; no letter.
	CodeOrderNoAddress fault.Code = "support.letter_no_address"
	// CodeOrderTooSoon: the last letter was ordered less than the
	// interval ago. Params: when the last one was ordered, from when on
	// the next is possible (time.Time, UTC).
	CodeOrderTooSoon fault.Code = "support.letter_too_soon"
)

// OrderLetter lets support order a password letter for member k at once,
// without the request queue (a member on the phone, verified by the
// insurer's procedure): the same checks as a member's request (in the
// directory, eligible, an address), the letter goes to the address on
// file, and it voids the member's earlier live letter. The letter
// interval (Letter.MinInterval) applies unless override; support's use
// case asks for the reason of an override and records it. The worker
// produces the letter as any other. Returns the letter, hashes cleared.
// Errors: NotFound (no such member); Forbidden coded CodeOrderIneligible
// or CodeOrderNoAddress; Conflict coded CodeOrderTooSoon; Unavailable.
func (s *Service) OrderLetter(ctx context.Context, k kvnr.KVNR, override bool) (letter.Letter, error) {
	const op = "registration.OrderLetter"
	m, err := s.members.MemberByKVNR(ctx, k)
	if err != nil {
		return letter.Letter{}, err
	}
	now := s.clock()
	if !s.cfg.Eligibility.Eligible(m, now) {
		return letter.Letter{}, fault.Coded(fault.Forbidden, op, CodeOrderIneligible)
	}
	to, ok := letter.RecipientOf(m)
	if !ok {
		return letter.Letter{}, fault.Coded(fault.Forbidden, op, CodeOrderNoAddress)
	}
	l := letter.Letter{
		ID: grant.NewID(), KVNR: m.KVNR, Recipient: to, State: letter.Requested,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Letter.Validity),
	}
	notBefore := now.Add(-s.cfg.Letter.MinInterval)
	if override {
		// No letter is created after now: none counts.
		notBefore = now.Add(time.Hour)
	}
	err = s.createLetter(ctx, l, audit.Operator, notBefore, now)
	if errors.Is(err, fault.Conflict) {
		last, lerr := s.letters.LatestLetter(ctx, k)
		if lerr != nil {
			return letter.Letter{}, lerr
		}
		return letter.Letter{}, fault.Coded(fault.Conflict, op, CodeOrderTooSoon,
			last.CreatedAt.UTC(), last.CreatedAt.Add(s.cfg.Letter.MinInterval).UTC())
	}
	if err != nil {
		return letter.Letter{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "letter ordered by support", slog.String("letter", l.ID),
		slog.String("member", s.lh.Pseudonym(k)), slog.Bool("interval_overridden", override))
	return redact(l), nil
}
