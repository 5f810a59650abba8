package support

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letter"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/session"
)

// OrderLetter orders a password letter for member k
// (registration.OrderLetter); override sets the letter interval aside and
// needs a reason. Audited as SupportLetterOrdered on the member's account
// (none when the member has no account yet), with the letter id, whether
// the interval was overridden and the reason.
// Errors: those of registration.OrderLetter (NotFound is coded
// CodeUnknownMember); Invalid coded CodeReason or CodeAgent; Unavailable.
func (s *Service) OrderLetter(ctx context.Context, a Agent, k kvnr.KVNR, override bool, reason string) (letter.Letter, error) {
	const op = "support.OrderLetter"
	a, err := a.check(op)
	if err != nil {
		return letter.Letter{}, err
	}
	if override || reason != "" {
		if reason, err = reasonOK(op, reason); err != nil {
			return letter.Letter{}, err
		}
	}
	l, err := s.d.Letters.OrderLetter(ctx, k, override)
	if errors.Is(err, fault.NotFound) {
		return letter.Letter{}, fault.Coded(fault.NotFound, op, CodeUnknownMember)
	}
	if err != nil {
		return letter.Letter{}, err
	}
	var accountID string
	if acc, err := s.d.Accounts.AccountByKVNR(ctx, k); err == nil {
		accountID = acc.ID
	}
	d := map[string]string{"letter": l.ID, "interval_overridden": strconv.FormatBool(override)}
	if reason != "" {
		d["reason"] = reason
	}
	s.record(ctx, a, audit.SupportLetterOrdered, accountID, d)
	return l, nil
}

// ReportLetterLost voids member k's current letter as lost and, when the
// guard against mass mailing admits it, sends a new one at once
// (registration.Service.ReportLostByOperator, which records the voiding
// as letter.voided with the agent as operator and reason as note). It
// records support.letter_lost (Detail "letter", "replacement", "reason")
// whenever a letter was voided, also when the new letter then failed.
// Errors: Invalid coded CodeAgent or CodeReason; NotFound (the member has
// no letter); Conflict (the letter was used or is voided already);
// Unavailable.
func (s *Service) ReportLetterLost(ctx context.Context, a Agent, k kvnr.KVNR, reason string) (registration.LostResult, error) {
	const op = "support.ReportLetterLost"
	a, err := a.check(op)
	if err != nil {
		return registration.LostResult{}, err
	}
	if reason, err = reasonOK(op, reason); err != nil {
		return registration.LostResult{}, err
	}
	res, err := s.d.Letters.ReportLostByOperator(ctx, registration.LostReport{KVNR: string(k), Operator: a.Name, Reason: reason})
	if res.Voided.ID == "" {
		return res, err
	}
	var accountID string
	if acc, err := s.d.Accounts.AccountByKVNR(ctx, k); err == nil {
		accountID = acc.ID
	}
	s.record(ctx, a, audit.SupportLetterLost, accountID,
		map[string]string{"letter": res.Voided.ID, "replacement": res.Replacement.ID, "reason": reason})
	return res, err
}

// deviceOf returns binding id when it belongs to account accountID.
// Errors: NotFound coded CodeUnknownDevice (also for another member's
// device: support cannot reach it by its id); Unavailable.
func (s *Service) deviceOf(ctx context.Context, op, accountID, id string) (device.Binding, error) {
	bs, err := s.d.Devices.ListBindings(ctx, accountID)
	if err != nil {
		return device.Binding{}, err
	}
	for _, b := range bs {
		if b.ID == id {
			return b, nil
		}
	}
	return device.Binding{}, fault.Coded(fault.NotFound, op, CodeUnknownDevice)
}

// UnblockDevice unblocks device id of member k after support verified
// the member (binding.UnblockDeviceBy: the wrong PIN entries are reset;
// audited there as device.unblocked with the agent). It reports whether
// there was anything to unblock or reset.
// Errors: NotFound coded CodeUnknownMember, CodeNoAccount or
// CodeUnknownDevice; Conflict (revoked or suspect: the member binds
// anew); Invalid coded CodeAgent; Unavailable.
func (s *Service) UnblockDevice(ctx context.Context, a Agent, k kvnr.KVNR, id string) (bool, error) {
	const op = "support.UnblockDevice"
	a, err := a.check(op)
	if err != nil {
		return false, err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return false, err
	}
	b, err := s.deviceOf(ctx, op, acc.ID, id)
	if err != nil {
		return false, err
	}
	if err := s.d.Bindings.UnblockDeviceBy(ctx, b.ID, a.Name, a.ClientID); err != nil {
		return false, err
	}
	return b.Status == device.Blocked || b.PIN.Blocked || b.PIN.Failures > 0, nil
}

// RevokeDevice revokes device id of member k (a lost or stolen phone):
// binding.RevokeDeviceBy, audited there as device.revoked with the agent.
// Revoking a revoked device changes nothing.
// Errors: NotFound coded CodeUnknownMember, CodeNoAccount or
// CodeUnknownDevice; Invalid coded CodeAgent; Unavailable.
func (s *Service) RevokeDevice(ctx context.Context, a Agent, k kvnr.KVNR, id string) error {
	const op = "support.RevokeDevice"
	a, err := a.check(op)
	if err != nil {
		return err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return err
	}
	if _, err := s.deviceOf(ctx, op, acc.ID, id); err != nil {
		return err
	}
	return s.d.Bindings.RevokeDeviceBy(ctx, acc.ID, id, a.Name, a.ClientID)
}

// RevokeAllDevices revokes every device of member k that is not revoked
// yet, each as RevokeDevice, and returns how many it revoked. Calling it
// again after a failure finishes the rest.
// Errors: as RevokeDevice.
func (s *Service) RevokeAllDevices(ctx context.Context, a Agent, k kvnr.KVNR) (int, error) {
	const op = "support.RevokeAllDevices"
	a, err := a.check(op)
	if err != nil {
		return 0, err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return 0, err
	}
	bs, err := s.d.Devices.ListBindings(ctx, acc.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range bs {
		if b.Status == device.Revoked {
			continue
		}
		if err := s.d.Bindings.RevokeDeviceBy(ctx, acc.ID, b.ID, a.Name, a.ClientID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// EndSessions ends every active browser session of member k (reason
// support; the relying parties get back-channel logout) and returns how
// many ended. Audited as SupportSessionsEnded with the count (each
// session's end is audited as session.ended too).
// Errors: NotFound coded CodeUnknownMember or CodeNoAccount; Invalid
// coded CodeAgent; Unavailable (some may have ended; calling again
// finishes).
func (s *Service) EndSessions(ctx context.Context, a Agent, k kvnr.KVNR) (int, error) {
	const op = "support.EndSessions"
	a, err := a.check(op)
	if err != nil {
		return 0, err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return 0, err
	}
	n, err := s.d.Sessions.EndAll(ctx, acc.ID, session.EndSupport)
	if n > 0 || err == nil {
		s.record(ctx, a, audit.SupportSessionsEnded, acc.ID, map[string]string{"sessions": strconv.Itoa(n)})
	}
	return n, err
}

// Lock locks member k's account: it cannot log in anywhere (app, browser,
// account page; refresh tokens are refused), its browser sessions end
// and the app logins of its devices are revoked. The devices stay bound:
// Unlock lets the member in again with them. A locked account is left as
// it is (false). Audited as AccountLocked with the reason.
// Errors: NotFound coded CodeUnknownMember or CodeNoAccount; Conflict
// coded CodeNotActive (a pending account); Invalid coded CodeReason or
// CodeAgent; Unavailable (the account is locked once the status is
// stored; calling again ends what is left).
func (s *Service) Lock(ctx context.Context, a Agent, k kvnr.KVNR, reason string) (bool, error) {
	const op = "support.Lock"
	a, err := a.check(op)
	if err != nil {
		return false, err
	}
	if reason, err = reasonOK(op, reason); err != nil {
		return false, err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return false, err
	}
	changed := false
	switch acc.Status {
	case account.Blocked:
	case account.Active:
		if err := s.d.Accounts.SetAccountStatus(ctx, acc.ID, account.Blocked, s.clock()); err != nil {
			return false, err
		}
		changed = true
		s.record(ctx, a, audit.AccountLocked, acc.ID, map[string]string{"reason": reason})
		s.log.LogAttrs(ctx, slog.LevelInfo, "account locked by support", slog.String("account", acc.ID),
			slog.String("operator", a.Name), slog.String("client", a.ClientID))
	default:
		return false, fault.Coded(fault.Conflict, op, CodeNotActive)
	}
	// Also for an account locked before: what a failure left is ended.
	if _, err := s.d.Sessions.EndAll(ctx, acc.ID, session.EndSupport); err != nil {
		return changed, err
	}
	bs, err := s.d.Devices.ListBindings(ctx, acc.ID)
	if err != nil {
		return changed, err
	}
	now := s.clock()
	for _, b := range bs {
		if _, err := s.d.Families.RevokeFamiliesOfBinding(ctx, b.ID, now); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// Unlock unlocks member k's locked account: the member may log in again
// with the devices and password they have. An account that is not locked
// is refused. Audited as AccountUnlocked with the reason.
// Errors: NotFound coded CodeUnknownMember or CodeNoAccount; Conflict
// coded CodeNotLocked; Invalid coded CodeReason or CodeAgent;
// Unavailable.
func (s *Service) Unlock(ctx context.Context, a Agent, k kvnr.KVNR, reason string) error {
	const op = "support.Unlock"
	a, err := a.check(op)
	if err != nil {
		return err
	}
	if reason, err = reasonOK(op, reason); err != nil {
		return err
	}
	acc, err := s.accountOf(ctx, op, k)
	if err != nil {
		return err
	}
	if acc.Status != account.Blocked {
		return fault.Coded(fault.Conflict, op, CodeNotLocked)
	}
	if err := s.d.Accounts.SetAccountStatus(ctx, acc.ID, account.Active, s.clock()); err != nil {
		return err
	}
	s.record(ctx, a, audit.AccountUnlocked, acc.ID, map[string]string{"reason": reason})
	return nil
}

// AuditQuery selects audit events for support.
type AuditQuery struct {
	// KVNR narrows the query to one member (empty: every member).
	KVNR     string
	Kinds    []string
	From, To time.Time
	// Limit bounds the answer (<= 0: DefaultAuditLimit; at most
	// MaxAuditLimit).
	Limit int
}

// Audit returns the audit events q selects, newest first. The query is
// audited (SupportRead, "what" audit) on the member's account when it
// names one. Errors: Invalid coded CodeQuery (malformed KVNR, unknown
// kind, From not before To) or CodeAgent; NotFound coded
// CodeUnknownMember or CodeNoAccount; Unavailable.
func (s *Service) Audit(ctx context.Context, a Agent, q AuditQuery) ([]audit.Event, error) {
	const op = "support.Audit"
	a, err := a.check(op)
	if err != nil {
		return nil, err
	}
	kinds, err := Kinds(q.Kinds)
	if err != nil {
		return nil, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, fault.Coded(fault.Invalid, op, CodeQuery, "from")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	aq := audit.Query{Kinds: kinds, From: q.From, To: q.To, Limit: min(limit, MaxAuditLimit)}
	if q.KVNR != "" {
		k, err := kvnr.Parse(q.KVNR)
		if err != nil {
			return nil, fault.Coded(fault.Invalid, op, CodeQuery, "kvnr")
		}
		acc, err := s.accountOf(ctx, op, k)
		if err != nil {
			return nil, err
		}
		aq.AccountID = acc.ID
	}
	es, err := s.d.AuditQuery.QueryAudit(ctx, aq)
	if err != nil {
		return nil, err
	}
	s.record(ctx, a, audit.SupportRead, aq.AccountID, map[string]string{"what": "audit", "found": strconv.Itoa(len(es))})
	return es, nil
}
