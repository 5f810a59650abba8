package weblogin

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/ports/notify"
)

// Pending is an approval as the app shows it: whose login, when, from
// which browser, and the three numbers to choose from — never which of
// them is right.
type Pending struct {
	ID         string
	ClientID   string
	ClientName string
	Browser    string
	Choices    [3]int
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// List returns the approvals waiting for the member of the device that
// answered challenge challengeID (a BeginDeviceAuth challenge; possession
// alone, binding.AuthenticateKey: reading the list decides nothing, and
// every decision asks for the PIN too), oldest first, with the binding.
// Errors: those of binding.AuthenticateKey; Unavailable.
func (s *Service) List(ctx context.Context, challengeID string, assertion []byte, ip string) (device.Binding, []Pending, error) {
	b, err := s.d.Devices.AuthenticateKey(ctx, challengeID, assertion, ip)
	if err != nil {
		return device.Binding{}, nil, err
	}
	as, err := s.d.Approvals.PendingApprovals(ctx, b.AccountID, s.clock())
	if err != nil {
		return device.Binding{}, nil, err
	}
	out := make([]Pending, 0, len(as))
	for _, a := range as {
		out = append(out, Pending{
			ID: a.ID, ClientID: a.ClientID, ClientName: s.clientName(ctx, a.ClientID), Browser: a.Browser,
			Choices: a.Choices, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt,
		})
	}
	return b, out, nil
}

// clientName is the name a client shows to members (its id when it has
// none, or when it is gone).
func (s *Service) clientName(ctx context.Context, id string) string {
	c, err := s.d.Clients.ClientByID(ctx, id)
	if err != nil || strings.TrimSpace(c.Name) == "" {
		return id
	}
	return c.Name
}

// decidable returns approval id if the member of binding bindingID may
// decide it now: it exists, is the binding's member's, is pending and has
// not expired. An approval of another member is unknown (NotFound), so a
// device learns nothing of other members' logins.
func (s *Service) decidable(ctx context.Context, op, id, bindingID string) (approval.Approval, error) {
	unknown := fault.Coded(fault.NotFound, op, CodeUnknown)
	if id == "" || len(id) > maxID || bindingID == "" || len(bindingID) > maxID {
		return approval.Approval{}, unknown
	}
	a, err := s.d.Approvals.ApprovalByID(ctx, id)
	switch {
	case errors.Is(err, fault.NotFound):
		return approval.Approval{}, unknown
	case err != nil:
		return approval.Approval{}, err
	}
	b, err := s.d.Bindings.BindingByID(ctx, bindingID)
	switch {
	case errors.Is(err, fault.NotFound):
		return approval.Approval{}, unknown
	case err != nil:
		return approval.Approval{}, err
	case b.AccountID != a.AccountID:
		s.log.LogAttrs(ctx, slog.LevelWarn, "approval asked for by another member's device",
			slog.String("approval", id), slog.String("binding", bindingID))
		return approval.Approval{}, unknown
	case a.Status != approval.Pending:
		return approval.Approval{}, fault.Coded(fault.Conflict, op, CodeDecided)
	case a.Expired(s.clock()):
		return approval.Approval{}, fault.Coded(fault.Expired, op, CodeExpired)
	}
	return a, nil
}

// Begin starts the device step of a decision on approval id with binding
// bindingID: the approval must be the binding's member's, pending and
// unexpired; the challenge (binding.BeginApproval) answers only this
// approval, once. Errors: NotFound (CodeUnknown: no such approval, or
// another member's); Conflict (CodeDecided); Expired (CodeExpired);
// those of binding.BeginApproval; Unavailable.
func (s *Service) Begin(ctx context.Context, id, bindingID string) (challengeID string, options []byte, err error) {
	if _, err := s.decidable(ctx, "weblogin.Begin", id, bindingID); err != nil {
		return "", nil, err
	}
	return s.d.Devices.BeginApproval(ctx, bindingID, id)
}

// Decision is the member's answer to an approval in the app.
type Decision struct {
	// Approve: the member confirms the login with Number; false: "Das war
	// ich nicht".
	Approve bool
	Number  int
	// BindingID is the device that decides (the one Begin's challenge was
	// issued for): it names the member before any PIN is spent.
	BindingID string
	// ChallengeID, Assertion and PIN are the device step of Begin's
	// challenge; a denial needs them too, so that nobody but the member
	// can end the member's logins or make Pforte write to them.
	ChallengeID string
	Assertion   []byte
	PIN         string
}

// Decide records the member's decision on approval id: the approval is
// checked first (the device's member's, pending, unexpired), so that no
// PIN attempt is spent on one that cannot be decided; then the device key
// and the PIN (binding.AuthenticateApproval: the challenge must be this
// approval's, a wrong PIN counts toward the device's block); then
// approval.Decide in one atomic store update, of which exactly one of
// concurrent decisions wins. A denial — by the member, or a number the
// browser did not show — is audited (login.web_denied) and told to the
// member; an approval is audited (login.web_approved). It returns the
// approval as decided.
//
// Errors: NotFound (CodeUnknown: no such approval, or another member's);
// Conflict (CodeDecided); Expired (CodeExpired); those of
// binding.AuthenticateApproval (the pin codes for a wrong, early or
// blocked PIN); Unavailable.
func (s *Service) Decide(ctx context.Context, id string, d Decision, ip string) (approval.Approval, error) {
	const op = "weblogin.Decide"
	if _, err := s.decidable(ctx, op, id, d.BindingID); err != nil {
		return approval.Approval{}, err
	}
	b, err := s.d.Devices.AuthenticateApproval(ctx, d.ChallengeID, d.Assertion, d.PIN, ip, id)
	if err != nil {
		return approval.Approval{}, err
	}
	now := s.clock()
	a, err := s.d.Approvals.UpdateApproval(ctx, id, func(cur *approval.Approval) error {
		if cur.AccountID != b.AccountID {
			// decidable checked the binding the app named; this is the
			// binding whose key and PIN answered the challenge, which is
			// what counts: another member's device decides nothing.
			return fault.Coded(fault.NotFound, op, CodeUnknown)
		}
		next, err := cur.Decide(d.Approve, d.Number, b.ID, now)
		*cur = next
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, fault.NotFound):
		s.log.LogAttrs(ctx, slog.LevelWarn, "approval decided by another member's device",
			slog.String("approval", id), slog.String("binding", b.ID))
		return approval.Approval{}, fault.Coded(fault.NotFound, op, CodeUnknown)
	case fault.KindOf(err) == fault.Conflict:
		return approval.Approval{}, fault.Coded(fault.Conflict, op, CodeDecided)
	case fault.KindOf(err) == fault.Expired:
		return approval.Approval{}, fault.Coded(fault.Expired, op, CodeExpired)
	case err != nil:
		return approval.Approval{}, err
	}
	detail := map[string]string{"approval": a.ID, "binding": b.ID, "client": a.ClientID}
	if a.Status == approval.Approved {
		s.record(ctx, audit.WebLoginApproved, a.AccountID, ip, detail)
		s.log.LogAttrs(ctx, slog.LevelInfo, "web login approved in the app", slog.String("approval", a.ID),
			slog.String("binding", b.ID))
		return a, nil
	}
	detail["reason"] = string(a.Reason)
	s.record(ctx, audit.WebLoginDenied, a.AccountID, ip, detail)
	s.log.LogAttrs(ctx, slog.LevelWarn, "web login denied in the app", slog.String("approval", a.ID),
		slog.String("binding", b.ID), slog.String("reason", string(a.Reason)))
	s.tell(ctx, b.AccountID, a, now)
	return a, nil
}

// record appends an audit event of the member acting in the app; a lost
// event is logged, never an error (the decision is stored already).
func (s *Service) record(ctx context.Context, kind audit.Kind, accountID, ip string, detail map[string]string) {
	e := audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: kind, Actor: audit.Member, AccountID: accountID,
		ClientID: s.cfg.AppClientID, IPHash: audit.IPHash(s.cfg.IPKey, ip), Detail: detail,
	}
	if err := s.d.Audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "audit event lost", slog.String("kind", string(kind)),
			slog.String("account", accountID), slog.Any("error", err))
	}
}

// tell sends the member the notice of a denied login, if the directory
// has an e-mail address; failures are logged.
func (s *Service) tell(ctx context.Context, accountID string, a approval.Approval, at time.Time) {
	// Not cancelled with the request: the change is made, and a client
	// that goes away must not take the notice along (the notifier bounds
	// its own time).
	ctx = context.WithoutCancel(ctx)

	if s.d.Notifier == nil {
		return
	}
	acct, err := s.d.Accounts.AccountByID(ctx, accountID)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.Any("error", err))
		return
	}
	m, err := s.d.Members.MemberByKVNR(ctx, acct.KVNR)
	switch {
	case errors.Is(err, fault.NotFound) || (err == nil && strings.TrimSpace(m.Email) == ""):
		return
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.Any("error", err))
		return
	}
	subject, body := s.d.Mail(ctx, mailDenied, s.clientName(ctx, a.ClientID), at, a.Browser)
	msg := notify.Message{To: strings.TrimSpace(m.Email), Subject: subject, Body: body, Kind: string(audit.WebLoginDenied)}
	if err := s.d.Notifier.Notify(ctx, msg); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "notification not sent", slog.Any("error", err))
	}
}
