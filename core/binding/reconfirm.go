package binding

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// viaReconfirm names the re-confirmation in the password checks' audit
// events and log lines (the same word as login.ViaReconfirm).
const viaReconfirm = "reconfirm"

// withEID reports whether binding b of account a confirms again with the
// eID rather than the password (device.WithEID).
func (s *Service) withEID(a account.Account) bool {
	return device.WithEID(a.Proofing >= loa.High, s.cfg.ReconfirmEID)
}

// reconfirmDue is the refusal of a login or approval by binding b of
// account a whose confirmation is due: Forbidden, with the code that
// tells the app how to confirm it (device.CodeReconfirmPassword or
// device.CodeReconfirmEID).
func (s *Service) reconfirmDue(ctx context.Context, op string, b device.Binding, a account.Account) error {
	code := device.CodeReconfirmPassword
	if s.withEID(a) {
		code = device.CodeReconfirmEID
	}
	s.logInfo(ctx, "device needs a re-confirmation", slog.String("binding", b.ID), slog.String("account", b.AccountID),
		slog.Time("due_since", s.cfg.Reconfirm.By(b)), slog.String("with", string(code)))
	return fault.Coded(fault.Forbidden, op, code)
}

// ReconfirmBy is when binding bindingID needs a re-confirmation
// (device.Reconfirm.By): the app login tells the app ahead of time.
// Errors: NotFound; Unavailable.
func (s *Service) ReconfirmBy(ctx context.Context, bindingID string) (time.Time, error) {
	b, err := s.devices.BindingByID(ctx, bindingID)
	if err != nil {
		return time.Time{}, err
	}
	return s.cfg.Reconfirm.By(b), nil
}

// Reconfirm confirms binding b again with the member's password: the
// answer to a BeginDeviceAuth challenge and the release PIN (one
// AuthenticateDevice, with its PIN counting), then the account password,
// checked under the throttling rule of every password check (a wrong one
// counts there as at the web login, and while checks are delayed the
// answer is RateLimited). The binding's ConfirmedAt becomes now, and the
// next re-confirmation is due a device.Reconfirm.Period later. A
// binding may be confirmed before it is due; the period then starts anew.
//
// An account whose identity was proven with the eID, where the eID is
// offered, confirms with the eID instead (ReconfirmWithEID): the password
// is refused (Forbidden, device.CodeReconfirmNotPassword), before it is
// looked at.
//
// It returns the binding as stored. Errors: those of AuthenticateDevice
// (the PIN codes for a wrong, early or blocked PIN); Unauthenticated
// (password.wrong); RateLimited (password checks delayed); Forbidden
// (device.CodeReconfirmNotPassword; the binding was revoked meanwhile);
// Unavailable.
func (s *Service) Reconfirm(ctx context.Context, challengeID string, response []byte, p, pw, ip string) (device.Binding, error) {
	const op = "binding.Reconfirm"
	v, err := s.authenticate(ctx, op, device.Assertion, "", challengeID, response, p, ip)
	if err != nil {
		return device.Binding{}, err
	}
	if s.withEID(v.account) {
		return device.Binding{}, fault.Coded(fault.Forbidden, op, device.CodeReconfirmNotPassword)
	}
	switch err := s.passwords.CheckAccountPassword(ctx, v.account, pw, viaReconfirm, s.cfg.AppClientID, ip); {
	case errors.Is(err, fault.Unauthenticated):
		s.logWarn(ctx, "re-confirmation: wrong password", slog.String("binding", v.binding.ID), slog.String("account", v.account.ID))
		return device.Binding{}, fault.Coded(fault.Unauthenticated, op, wrongPasswordText)
	case err != nil:
		return device.Binding{}, err
	}
	return s.confirmed(ctx, op, v.binding.ID, v.account.ID, "password", ip)
}

// ReconfirmWithEID confirms binding bindingID of account accountID again
// after the member proved their identity with the eID from that device
// (the eID step-up begun with the binding's key and PIN; core/registration
// calls it once the proof is recorded). Errors: Forbidden (the binding is
// gone or another account's); Unavailable.
func (s *Service) ReconfirmWithEID(ctx context.Context, bindingID, accountID, ip string) (device.Binding, error) {
	return s.confirmed(ctx, "binding.ReconfirmWithEID", bindingID, accountID, "eid", ip)
}

// confirmed sets ConfirmedAt of binding id (of account accountID) to now,
// records and logs it.
func (s *Service) confirmed(ctx context.Context, op, id, accountID, by, ip string) (device.Binding, error) {
	now := s.clock()
	b, err := s.devices.UpdateBinding(ctx, id, func(cur *device.Binding) error {
		if gone(*cur) || cur.AccountID != accountID {
			return fault.Coded(fault.Forbidden, op, deviceGoneText)
		}
		cur.ConfirmedAt = now
		return nil
	})
	switch {
	case errors.Is(err, fault.NotFound):
		return device.Binding{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	case err != nil:
		return device.Binding{}, err
	}
	s.record(ctx, s.event(audit.DeviceReconfirmed, b.AccountID, ip, map[string]string{"binding": b.ID, "by": by}))
	s.logInfo(ctx, "device confirmed again", slog.String("binding", b.ID), slog.String("account", b.AccountID),
		slog.String("by", by), slog.Time("next_due", s.cfg.Reconfirm.By(b)))
	return b, nil
}
