package sso

import (
	"context"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/session"
)

// End ends session sid for reason: the store ends it and revokes every
// token family issued in it in one transaction; then the relying parties
// it served are told (back-channel logout) and the end is audited. Ending
// an ended session again changes nothing but completes a notification an
// earlier call could not queue. Errors: NotFound; Unavailable.
func (s *Service) End(ctx context.Context, sid string, reason session.EndReason) error {
	ss, first, err := s.d.Sessions.EndSession(ctx, sid, reason, s.clock())
	if err != nil {
		return err
	}
	if first {
		s.log.LogAttrs(ctx, slog.LevelInfo, "sso session ended", slog.String("sid", ss.ID),
			slog.String("account", ss.AccountID), slog.String("reason", string(reason)))
		if err := s.d.Audit.AppendAudit(context.WithoutCancel(ctx), audit.Event{
			ID: grant.NewID(), Time: ss.EndedAt, Kind: audit.SessionEnded, Actor: actorOf(reason),
			AccountID: ss.AccountID, Detail: map[string]string{"sid": ss.ID, "reason": string(reason)},
		}); err != nil {
			// The session has ended; the notification below and Sweep do
			// not depend on the audit entry.
			s.log.ErrorContext(ctx, "audit of an ended session failed", "sid", ss.ID, "err", err)
		}
	}
	return s.notify(ctx, ss)
}

func actorOf(r session.EndReason) audit.Actor {
	switch r {
	case session.EndSupport:
		return audit.Operator
	case session.EndDevice:
		return audit.System
	}
	return audit.Member
}

// notify queues the back-channel logouts of ended session ss, once.
func (s *Service) notify(ctx context.Context, ss session.Session) error {
	if !ss.NotifiedAt.IsZero() || s.deferNotify {
		return nil
	}
	if s.d.BackChannel != nil && len(ss.Clients) > 0 {
		if err := s.d.BackChannel.EnqueueSession(ctx, ss.ID, ss.AccountID, ss.Clients); err != nil {
			return err
		}
	}
	return s.d.Sessions.MarkNotified(ctx, ss.ID, s.clock())
}

// EndAll ends every active session of account accountID for reason ("sign
// out everywhere", a blocked account) and returns how many ended.
// Errors: Unavailable (some may have ended; calling again finishes).
func (s *Service) EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error) {
	all, err := s.d.Sessions.ActiveSessions(ctx, accountID, s.clock())
	if err != nil {
		return 0, err
	}
	return s.endEach(ctx, all, reason)
}

// EndOthers ends every active session of account accountID but session
// keep (a password changed in that session's browser) for reason, and
// returns how many ended. Errors: Unavailable (some may have ended;
// calling again finishes).
func (s *Service) EndOthers(ctx context.Context, accountID, keep string, reason session.EndReason) (int, error) {
	all, err := s.d.Sessions.ActiveSessions(ctx, accountID, s.clock())
	if err != nil {
		return 0, err
	}
	others := all[:0]
	for _, ss := range all {
		if ss.ID != keep {
			others = append(others, ss)
		}
	}
	return s.endEach(ctx, others, reason)
}

// EndOfBinding ends the active sessions device binding bindingID confirmed
// (the device was revoked, or blocked by a lockout) and returns how many.
// Errors: Invalid for an empty id; Unavailable.
func (s *Service) EndOfBinding(ctx context.Context, bindingID string) (int, error) {
	all, err := s.d.Sessions.ActiveSessionsOfBinding(ctx, bindingID, s.clock())
	if err != nil {
		return 0, err
	}
	return s.endEach(ctx, all, session.EndDevice)
}

func (s *Service) endEach(ctx context.Context, all []session.Session, reason session.EndReason) (int, error) {
	n := 0
	for _, ss := range all {
		if err := s.End(ctx, ss.ID, reason); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SweepAfter is how long after its end a session whose logouts were not
// queued is taken up by Sweep: long enough for the call that ended it to
// have queued them itself.
const SweepAfter = time.Minute

// Sweep queues the back-channel logouts that a crash or an outage left
// unqueued after their session ended, and returns how many sessions it
// completed. Run it periodically (every replica may; queueing twice
// queues once). Errors: Unavailable.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	left, err := s.d.Sessions.UnnotifiedSessions(ctx, s.clock().Add(-SweepAfter), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ss := range left {
		if err := s.notify(ctx, ss); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Ender ends sessions from an operator command that runs beside the
// servers (the CLI), without the authorization server and without the
// back-channel sender: it ends the sessions, revokes their tokens and
// audits as Service.End does, but queues no logout tokens itself. The
// sessions stay unnotified, so that a serving replica's Sweep (run with
// its janitor) queues their back-channel logouts SweepAfter after their
// end: the relying parties are told, a little later.
type Ender struct{ s *Service }

// NewEnder returns an Ender over d.Sessions and d.Audit (d.Accounts,
// d.Authz and d.BackChannel are not used). Errors: Invalid.
func NewEnder(d Deps) (*Ender, error) {
	if d.Sessions == nil || d.Audit == nil {
		return nil, fault.New(fault.Invalid, "sso.NewEnder", "a dependency is missing")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.BackChannel = nil
	return &Ender{s: &Service{d: d, log: d.Logger, deferNotify: true}}, nil
}

// EndAll is Service.EndAll, the logouts left to the servers' Sweep.
func (e *Ender) EndAll(ctx context.Context, accountID string, reason session.EndReason) (int, error) {
	return e.s.EndAll(ctx, accountID, reason)
}

// EndOfBinding is Service.EndOfBinding, the logouts left to the servers'
// Sweep.
func (e *Ender) EndOfBinding(ctx context.Context, bindingID string) (int, error) {
	return e.s.EndOfBinding(ctx, bindingID)
}
