package selfservice

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/session"
	"github.com/pforte-id/pforte/ports/notify"
)

// mailPasswordChanged tells the member the password was changed; its one
// parameter is the time (time.Time).
const mailPasswordChanged fault.Code = "mail.password_changed"

// replayScope is the scope of spent password tickets in store.Replay.
const replayScope = "account.password"

// ChangePassword sets password pw (repeated as repeat) for member m with
// ticket, which Finish gave after a fresh login with the current password
// and the app's confirmation in the same session. The password must pass
// the rules of a member's own password (PasswordRules); a refused one
// leaves the ticket usable, an accepted one spends it. The change is
// audited (password.set) and the member told.
// Errors: Forbidden, Expired or Conflict (CodeTicket) for a ticket of
// another login, too old or spent; Invalid (CodePasswordMismatch, or the
// code of core/password); Unavailable.
func (s *Service) ChangePassword(ctx context.Context, m Member, ticket, pw, repeat, ip string) error {
	const op = "selfservice.ChangePassword"
	f, ok := s.open("ticket", ticket, 3)
	if !ok || f[0] != m.Session.ID {
		return fault.Coded(fault.Forbidden, op, CodeTicket)
	}
	issued, err := strconv.ParseInt(f[1], 10, 64)
	now := s.clock()
	until := time.Unix(issued, 0).Add(TicketTTL)
	if err != nil || !now.Before(until) {
		return fault.Coded(fault.Expired, op, CodeTicket)
	}
	if pw != repeat {
		return fault.Coded(fault.Invalid, op, CodePasswordMismatch)
	}
	a, err := s.d.Accounts.AccountByID(ctx, m.AccountID)
	if err != nil {
		return err
	}
	if err := s.d.Rules.CheckPassword(ctx, a.KVNR, a.ID, pw); err != nil {
		return err
	}
	hash, err := s.d.Passwords.Hash(ctx, pw)
	if err != nil {
		return err
	}
	// Spent only now, so that a refused password can be corrected with
	// the same confirmation; of two concurrent uses one wins.
	switch err := s.d.Replay.UseOnce(ctx, replayScope, f[2], until, now); {
	case errors.Is(err, fault.Conflict):
		return fault.Coded(fault.Conflict, op, CodeTicket)
	case err != nil:
		return err
	}
	if err := s.d.Accounts.SetPasswordHash(ctx, a.ID, hash, now); err != nil {
		return err
	}
	// The member's other browsers logged in with the old password, maybe
	// the one someone else learned: they end (their relying parties get
	// back-channel logout); this browser's session stays. The password is
	// set already, so a failure here is logged, and "log out everywhere"
	// on this page ends what is left.
	ended, err := s.d.Sessions.EndOthers(ctx, a.ID, m.Session.ID, session.EndPassword)
	if err != nil {
		s.log.WarnContext(ctx, "other sessions not ended after a password change", "account", a.ID, "error", err)
	}
	s.record(ctx, audit.PasswordSet, m, ip, map[string]string{"via": "account_page"})
	s.log.LogAttrs(ctx, slog.LevelInfo, "password changed", slog.String("account", a.ID), slog.Int("sessions_ended", ended))
	s.tell(ctx, m, now)
	return nil
}

// tell sends the member the notice of a password change at at, when the
// directory has an address; a failure is logged: the change is made.
func (s *Service) tell(ctx context.Context, m Member, at time.Time) {
	// Not cancelled with the request: the change is made, and a client
	// that goes away must not take the notice along (the notifier bounds
	// its own time).
	ctx = context.WithoutCancel(ctx)

	if s.d.Notifier == nil {
		return
	}
	rec, err := s.d.Members.MemberByKVNR(ctx, m.KVNR)
	if err != nil || strings.TrimSpace(rec.Email) == "" {
		if err != nil && !errors.Is(err, fault.NotFound) {
			s.log.WarnContext(ctx, "notification not sent", "kind", string(audit.PasswordSet), "error", err)
		}
		return
	}
	subject, body := s.d.Mail(ctx, mailPasswordChanged, at)
	msg := notify.Message{To: strings.TrimSpace(rec.Email), Subject: subject, Body: body, Kind: string(audit.PasswordSet)}
	if err := s.d.Notifier.Notify(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "notification not sent", "kind", string(audit.PasswordSet), "error", err)
	}
}
