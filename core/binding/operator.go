package binding

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/pin"
)

// OperatorClientID is the client id of operator actions in audit events.
const OperatorClientID = "operator"

// UnblockDevice lets support unblock binding bindingID after they have
// verified the member by other means: the PIN counter is reset and the
// binding is Active again. operator names the person acting (recorded in
// the audit event with actor Operator). A binding that is neither blocked
// nor has failed attempts is left as it is, and nothing is recorded.
// Errors: Invalid (operator name missing); NotFound; Conflict (revoked or
// suspect: the member binds the device anew; or no PIN was ever set);
// Unavailable.
func (s *Service) UnblockDevice(ctx context.Context, bindingID, operator string) error {
	return s.UnblockDeviceBy(ctx, bindingID, operator, OperatorClientID)
}

// OperatorOK reports whether name may name the person acting for support
// in the audit log: 1 to 100 printable characters after trimming.
func OperatorOK(name string) bool {
	name = strings.TrimSpace(name)
	return name != "" && len(name) <= 100 && !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// UnblockDeviceBy is UnblockDevice by an operator acting through clientID
// (the admin API's client, or OperatorClientID for the CLI), which the
// audit event names.
func (s *Service) UnblockDeviceBy(ctx context.Context, bindingID, operator, clientID string) error {
	const op = "binding.UnblockDevice"
	operator = strings.TrimSpace(operator)
	if !OperatorOK(operator) {
		return fault.New(fault.Invalid, op, "name the operator (at most 100 printable characters)")
	}
	var wasBlocked bool // the state before, for the record
	b, err := s.devices.UpdateBinding(ctx, bindingID, func(b *device.Binding) error {
		wasBlocked = blocked(*b)
		switch {
		case b.Status == device.Revoked || b.Status == device.Suspect:
			return fault.New(fault.Conflict, op, "the binding is revoked or suspect and cannot be unblocked; the member binds the device anew")
		case b.PINHash == "":
			return fault.New(fault.Conflict, op, "the binding has no PIN yet: its enrollment was never completed")
		case !wasBlocked && b.PIN == (pin.Counter{}):
			return errUnchanged
		}
		b.PIN, b.Status = pin.Counter{}, device.Active
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return err
	}
	s.record(ctx, audit.Event{
		ID: grant.NewID(), Time: s.clock(), Kind: audit.DeviceUnblocked, Actor: audit.Operator, AccountID: b.AccountID,
		ClientID: clientID, Detail: map[string]string{"binding": b.ID, "operator": operator, "was_blocked": boolText(wasBlocked)},
	})
	s.logInfo(ctx, "device unblocked by operator", slog.String("binding", b.ID), slog.String("account", b.AccountID),
		slog.String("operator", operator))
	if wasBlocked {
		s.tellAccount(ctx, b.AccountID, operatorUnblocked(b.Name, s.clock()))
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// AccountDevices returns every binding of an account, revoked ones
// included, oldest first: what support sees before unblocking or when a
// member calls about a device. Errors: Invalid (no account id);
// Unavailable.
func (s *Service) AccountDevices(ctx context.Context, accountID string) ([]Device, error) {
	if accountID == "" {
		return nil, fault.New(fault.Invalid, "binding.AccountDevices", "account id missing")
	}
	bs, err := s.devices.ListBindings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(bs))
	for _, b := range bs {
		out = append(out, s.view(b, ""))
	}
	return out, nil
}

// Audit log page sizes.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditLog returns an account's audit events, newest first, at most limit
// (≤ 0: DefaultAuditLimit; capped at MaxAuditLimit).
// Errors: Invalid (no account id); Unavailable.
func (s *Service) AuditLog(ctx context.Context, accountID string, limit int) ([]audit.Event, error) {
	if accountID == "" {
		return nil, fault.New(fault.Invalid, "binding.AuditLog", "account id missing")
	}
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	return s.audit.AuditEvents(ctx, accountID, min(limit, MaxAuditLimit))
}

// RevokeDeviceBy lets support revoke device id of account accountID (a
// lost or stolen phone), as RevokeMemberDevice does for the member: its
// app logins end at once and its browser sessions with it, the member is
// told. operator names the person acting and clientID the client they act
// through; the audit event has actor Operator. Revoking a revoked device
// changes nothing. Errors: Invalid (operator name); NotFound (no such
// device of this account: another member's device is the same answer);
// Unavailable.
func (s *Service) RevokeDeviceBy(ctx context.Context, accountID, id, operator, clientID string) error {
	const op = "binding.RevokeDeviceBy"
	operator = strings.TrimSpace(operator)
	if !OperatorOK(operator) {
		return fault.New(fault.Invalid, op, "name the operator (at most 100 printable characters)")
	}
	if accountID == "" {
		return fault.Coded(fault.NotFound, op, deviceNotFoundText)
	}
	return s.revoke(ctx, op, actor{account: accountID, client: clientID, operator: operator}, id, "")
}
