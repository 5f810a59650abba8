package registration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
)

// Outcomes of producing a letter, logged as reason codes.
const (
	producedHandedOver = "handed_over"      // the letter is in the outbox and activatable
	producedVoided     = "voided"           // voided meanwhile (a newer letter); skipped
	producedGone       = "gone"             // the letter does not exist (any more)
	producedOvertaken  = "overtaken"        // another render of the letter won; ours is void
	producedLeaseLost  = "lease_lost"       // our lease ran out; another worker takes over
	producedFailed     = "failed_retry"     // an error; retried when the lease ends
	logLetterProduced  = "letter processed" // log message
)

// ProcessLetters drives up to n letters that are Requested or Rendered to
// HandedOver and returns how many it handed over. Any number of workers on
// any number of replicas may run it; a letter is claimed for
// Config.LetterLease.
//
// For each letter:
//
//  1. Rendered, and the file named in the row is in the outbox: mark it
//     HandedOver. (An earlier run crashed after writing the file.)
//  2. Otherwise draw fresh secrets and store their hashes together with a
//     new, never reused file name (MarkRendered) — first, before any file
//     exists; then render the document and put it into the outbox under
//     that name; then mark the letter HandedOver.
//
// Why a crash at any point loses no letter and leaves at most one valid:
//
//   - The row and the file are tied by the file name: MarkRendered writes
//     the hashes and the name in one atomic step, the name is fresh for
//     every render, and only the file written from exactly those secrets
//     is ever put under it. So "the file the row names exists" means "a
//     file that activates this row exists".
//   - Crash before MarkRendered: the letter is still Requested (or
//     Rendered from an earlier run); it is claimed again when the lease
//     ends and rendered from scratch. Nothing was printed.
//   - Crash after MarkRendered, before or during Put (Put is atomic: the
//     file is complete or absent): the row names a file that does not
//     exist. The next run finds it absent, draws new secrets and a new
//     name, and MarkRendered replaces the hashes: nothing anyone could
//     hold matches the old ones.
//   - Crash after Put, before MarkHandedOver: the next run finds the named
//     file and only marks the letter HandedOver: one file, matching the row.
//     If the print service collected the file in between, the next run
//     cannot tell "collected" from "never written", renders again and
//     replaces the hashes: the member may receive the first print too, but
//     it cannot activate anything (the row no longer matches it). Two
//     letters in the mail, one valid: never two valid, never none.
//   - Crash after MarkHandedOver: done.
//   - A letter voided meanwhile (a newer letter superseded it) refuses
//     MarkRendered and MarkHandedOver (Conflict) and is skipped; a file
//     already put for it cannot activate, since a voided letter never
//     activates.
//
// Workers that are not dead but slow (a paused VM) are handled by the
// lease: a worker checks its lease before Put and before MarkHandedOver
// and gives up when it ran out, and before MarkHandedOver it re-reads the
// row and gives up unless its own render is still the one stored. The
// lease must therefore be far longer than rendering one letter takes.
//
// Errors of single letters are logged and the letter is retried when its
// lease ends; the others are still processed and the first error is
// returned. Errors: those of the ports.
func (s *Service) ProcessLetters(ctx context.Context, n int) (int, error) {
	now := s.clock()
	lease := now.Add(s.cfg.LetterLease)
	ls, err := s.letters.ClaimLetters(ctx, n, now, lease)
	if err != nil {
		return 0, err
	}
	handed := 0
	var first error
	for _, l := range ls {
		if err := ctx.Err(); err != nil {
			return handed, fault.Wrap(fault.Unavailable, "registration.ProcessLetters", err)
		}
		outcome, err := s.produce(ctx, l, lease)
		if err != nil {
			first = firstErr(first, err)
		}
		if outcome == producedHandedOver {
			handed++
		}
	}
	return handed, first
}

// produce is one run of the procedure ProcessLetters describes. lease is
// the end of the caller's claim; zero for an operator's direct call.
func (s *Service) produce(ctx context.Context, l letter.Letter, lease time.Time) (outcome string, err error) {
	defer func() {
		attrs := []slog.Attr{slog.String("letter", l.ID), slog.String("from", string(l.State))}
		level := slog.LevelInfo
		if err != nil {
			outcome, level = producedFailed, slog.LevelError
			attrs = append(attrs, slog.Any("error", err))
		}
		s.log.LogAttrs(ctx, level, logLetterProduced, append(attrs, slog.String("outcome", outcome))...)
	}()
	if l.State == letter.Rendered && l.OutboxName != "" {
		exists, err := s.outbox.Exists(ctx, l.OutboxName)
		if err != nil {
			return "", err
		}
		if exists {
			return s.handOver(ctx, l, l.PasswordHash, l.OutboxName, lease)
		}
	}
	secrets := letter.NewSecrets()
	pwHash, codeHash := s.lh.Password(secrets.InitialPassword), s.lh.Code(secrets.ActivationCode)
	name := fileName(l.ID)
	now := s.clock()
	// Hashes first: from here on no earlier file of this letter can
	// activate it, and the file about to be written is the one that will.
	switch err := s.letters.MarkRendered(ctx, l.ID, pwHash, codeHash, name, now); {
	case errors.Is(err, fault.Conflict):
		return producedVoided, nil
	case errors.Is(err, fault.NotFound):
		return producedGone, nil
	case err != nil:
		return "", err
	}
	s.recordLetter(ctx, audit.LetterRendered, audit.System, l.ID, l.KVNR, "")
	doc := letter.NewDocument(l, secrets, s.cfg.Issuer, s.cfg.Sender, now)
	doc.ContactPhone, doc.ContactAddress, doc.AppStoreURL = s.cfg.ContactPhone, s.cfg.ContactAddress, s.cfg.AppStoreURL
	file, err := s.renderer.Render(ctx, doc)
	if err != nil {
		return "", err
	}
	if s.leaseLost(lease) {
		return producedLeaseLost, nil
	}
	if err := s.outbox.Put(ctx, name, file); err != nil {
		return "", err
	}
	return s.handOver(ctx, l, pwHash, name, lease)
}

// handOver marks letter l HandedOver if the render with pwHash and name
// is still the one stored.
func (s *Service) handOver(ctx context.Context, l letter.Letter, pwHash, name string, lease time.Time) (string, error) {
	id := l.ID
	if s.leaseLost(lease) {
		return producedLeaseLost, nil
	}
	cur, err := s.letters.LetterByID(ctx, id)
	switch {
	case errors.Is(err, fault.NotFound):
		return producedGone, nil
	case err != nil:
		return "", err
	case cur.PasswordHash != pwHash || cur.OutboxName != name:
		return producedOvertaken, nil
	case cur.State == letter.HandedOver:
		// Another worker finished this very render.
		return producedHandedOver, nil
	case cur.State != letter.Rendered:
		return producedVoided, nil
	}
	switch err := s.letters.MarkHandedOver(ctx, id, s.clock()); {
	case errors.Is(err, fault.Conflict):
		return producedVoided, nil
	case errors.Is(err, fault.NotFound):
		return producedGone, nil
	case err != nil:
		return "", err
	}
	s.recordLetter(ctx, audit.LetterHandedOver, audit.System, id, l.KVNR, "")
	return producedHandedOver, nil
}

// createLetter stores letter l (store.Letters.CreateLetter with notBefore)
// and records it ordered by actor, and the voiding of the letter it
// superseded: the member's latest letter, read before, if it was live and
// is now voided as superseded (at most one letter of a member is live).
// Errors: those of the store; Conflict as CreateLetter's.
func (s *Service) createLetter(ctx context.Context, l letter.Letter, actor audit.Actor, notBefore, now time.Time) error {
	prev, err := s.letters.LatestLetter(ctx, l.KVNR)
	found := err == nil
	if err != nil && !errors.Is(err, fault.NotFound) {
		return err
	}
	if err := s.letters.CreateLetter(ctx, l, notBefore, now); err != nil {
		return err
	}
	s.recordLetter(ctx, audit.LetterOrdered, actor, l.ID, l.KVNR, "")
	if !found || prev.ID == l.ID || prev.State == letter.Activated || prev.State == letter.Voided {
		return nil
	}
	cur, err := s.letters.LetterByID(ctx, prev.ID)
	if err != nil {
		// The new letter stands; only the record of the old one's end is
		// missing.
		s.log.ErrorContext(ctx, "reading a superseded letter failed", "letter", prev.ID, "err", err)
		return nil
	}
	if cur.State == letter.Voided && cur.VoidReason == letter.ReasonSuperseded {
		s.recordLetter(ctx, audit.LetterVoided, audit.System, prev.ID, l.KVNR, letter.ReasonSuperseded)
	}
	return nil
}

// recordLetter appends the audit entry of kind for letter id of member k
// (letter.Hasher.AuditEvent), with Detail "reason" when reason is set and
// the further Detail pairs (key, value, …) of detail. A failure is
// logged: the letter's state, already stored, stands.
func (s *Service) recordLetter(ctx context.Context, kind audit.Kind, actor audit.Actor, id string, k kvnr.KVNR, reason string, detail ...string) {
	if s.audit == nil {
		return
	}
	e := s.lh.AuditEvent(kind, id, k, s.clock())
	e.ID, e.Actor = grant.NewID(), actor
	if reason != "" {
		e.Detail["reason"] = reason
	}
	for i := 0; i+1 < len(detail); i += 2 {
		e.Detail[detail[i]] = detail[i+1]
	}
	if err := s.audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit of a letter failed", "letter", id, "kind", string(kind), "err", err)
	}
}

func (s *Service) leaseLost(lease time.Time) bool {
	return !lease.IsZero() && !s.clock().Before(lease)
}

// fileName is the outbox name of one render of letter id:
// pforte-letter-<id>-<random>.pdf. It is never reused, so that the name
// stored with a render's hashes identifies the file written from that
// render's secrets (see ProcessLetters).
func fileName(id string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "pforte-letter-" + id + "-" + hex.EncodeToString(b) + ".pdf"
}
