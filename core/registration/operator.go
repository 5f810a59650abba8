package registration

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/letter"
)

// Limits of ListLetters.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListLetters returns letters in state (every state when empty), newest
// first, at most limit (<= 0: DefaultListLimit; capped at MaxListLimit).
// The stored hashes are cleared: operators need the state, not them.
// Errors: Invalid for an unknown state; Unavailable.
func (s *Service) ListLetters(ctx context.Context, state letter.State, limit int) ([]letter.Letter, error) {
	switch state {
	case "", letter.Requested, letter.Rendered, letter.HandedOver, letter.Activated, letter.Voided:
	default:
		return nil, fault.New(fault.Invalid, "registration.ListLetters", "unknown letter state "+string(state))
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	ls, err := s.letters.ListLetters(ctx, state, min(limit, MaxListLimit))
	if err != nil {
		return nil, err
	}
	for i := range ls {
		ls[i] = redact(ls[i])
	}
	return ls, nil
}

// RenderLetter produces letter id now, as ProcessLetters would, without
// waiting for a worker: a Requested or Rendered letter ends HandedOver.
// It is safe while workers run (see ProcessLetters: a concurrent render
// of the same letter makes one of them give up, and only the stored
// render can activate). Returns the letter as stored afterwards, hashes
// cleared. Errors: NotFound; Conflict (with a text for the operator) when
// the letter is in another state or was voided meanwhile; those of the
// ports.
func (s *Service) RenderLetter(ctx context.Context, id string) (letter.Letter, error) {
	const op = "registration.RenderLetter"
	l, err := s.letters.LetterByID(ctx, id)
	if err != nil {
		return letter.Letter{}, err
	}
	if l.State != letter.Requested && l.State != letter.Rendered {
		return redact(l), stateConflict(op, l)
	}
	return s.produceNow(ctx, op, l)
}

// RetryLetter makes sure letter id reaches the member:
//
//   - Requested or Rendered (stuck, e.g. the renderer failed): produce it
//     now, as RenderLetter does.
//   - HandedOver and its file still in the outbox: nothing to do (the
//     print service has not collected it yet): Conflict saying so.
//   - HandedOver and its file gone (collected, and the member says it
//     never arrived): a replacement letter with new secrets, for the name
//     and address on file now, produced at once. Creating it voids the old
//     letter in the same transaction (Letters.CreateLetter), so there is
//     never more than one valid letter, whatever was printed. The old
//     letter is never rendered again: its state cannot go back, and its
//     secrets may be in the mail already. The replacement is an operator
//     decision and ignores Letter.MinInterval; eligibility and the address
//     on file still apply (Forbidden otherwise).
//   - Activated or Voided: Conflict; the member requests a new letter.
//
// Returns the letter that is now on its way (the replacement, if one was
// made), hashes cleared. Errors: NotFound; Conflict; Forbidden; those of
// the ports.
func (s *Service) RetryLetter(ctx context.Context, id string) (letter.Letter, error) {
	const op = "registration.RetryLetter"
	l, err := s.letters.LetterByID(ctx, id)
	if err != nil {
		return letter.Letter{}, err
	}
	switch l.State {
	case letter.Requested, letter.Rendered:
		return s.produceNow(ctx, op, l)
	case letter.HandedOver:
	default:
		return redact(l), stateConflict(op, l)
	}
	inOutbox, err := s.outbox.Exists(ctx, l.OutboxName)
	if err != nil {
		return letter.Letter{}, err
	}
	if inOutbox {
		return redact(l), fault.New(fault.Conflict, op,
			"the letter is still in the outbox, waiting for the print service: nothing to retry")
	}
	m, err := s.members.MemberByKVNR(ctx, l.KVNR)
	if errors.Is(err, fault.NotFound) {
		return redact(l), fault.New(fault.Forbidden, op, "the member is no longer in the directory: no replacement")
	} else if err != nil {
		return letter.Letter{}, err
	}
	now := s.clock()
	to, ok := letter.RecipientOf(m)
	switch {
	case !s.cfg.Eligibility.Eligible(m, now):
		return redact(l), fault.New(fault.Forbidden, op, "the member is not eligible now: no replacement")
	case !ok:
		return redact(l), fault.New(fault.Forbidden, op, "the member has no deliverable address on file: no replacement")
	}
	repl := letter.Letter{
		ID: letter.NewID(), KVNR: m.KVNR, Recipient: to, State: letter.Requested,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Letter.Validity),
	}
	// notBefore just after now: only a letter created later than this
	// very moment (a concurrent request) stops the replacement.
	if err := s.createLetter(ctx, repl, audit.Operator, now.Add(time.Nanosecond), now); errors.Is(err, fault.Conflict) {
		return redact(l), fault.New(fault.Conflict, op, "a newer letter was created meanwhile: nothing to retry")
	} else if err != nil {
		return letter.Letter{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "letter replaced by operator",
		slog.String("letter", l.ID), slog.String("replacement", repl.ID))
	return s.produceNow(ctx, op, repl)
}

func (s *Service) produceNow(ctx context.Context, op string, l letter.Letter) (letter.Letter, error) {
	outcome, err := s.produce(ctx, l, time.Time{})
	if err != nil {
		return letter.Letter{}, err
	}
	cur, err := s.letters.LetterByID(ctx, l.ID)
	if err != nil {
		return letter.Letter{}, err
	}
	if outcome != producedHandedOver {
		return redact(cur), fault.New(fault.Conflict, op, "the letter was not handed over: "+outcome)
	}
	return redact(cur), nil
}

func stateConflict(op string, l letter.Letter) error {
	msg := "the letter is " + string(l.State)
	switch l.State {
	case letter.HandedOver:
		msg += ": it is printed or waiting in the outbox; use retry if it was lost"
	case letter.Activated:
		msg += ": it was used"
	case letter.Voided:
		msg += " (" + l.VoidReason + "): the member must request a new letter"
	}
	return fault.New(fault.Conflict, op, msg)
}

func redact(l letter.Letter) letter.Letter {
	l.PasswordHash, l.CodeHash = "", ""
	return l
}
