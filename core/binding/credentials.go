package binding

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/core/session"
)

// The member's credential changes in the app: a new release PIN with the
// current one (ChangePIN), and a new password with the device key and the
// PIN, forgotten (ResetPassword) or known (ChangePassword). ResetPIN
// (auth.go) sets a new PIN with the password instead of the forgotten one.
//
// Each needs the answer to a BeginDeviceAuth challenge: the bound key
// (possession). The PIN is checked and counted by the same atomic
// UpdateBinding as every login (authenticate), so a wrong PIN here counts
// toward the lockout like anywhere else, and a blocked, revoked or suspect
// binding is refused before anything changes. The new value is checked
// before the PIN is looked at: a refused new PIN or password costs no PIN
// attempt (the challenge is used up all the same; the app asks for a new
// one). A current password is checked under the throttling rule and
// counter of the web login (Deps.Passwords).

// viaPasswordReset and viaPasswordChange name the app's password changes
// in audit events and log lines; viaPINChange the app's PIN change.
const (
	viaPasswordReset  = "app_reset"
	viaPasswordChange = "app_change"
	viaPINChange      = "pin_change"
)

// Codes of notifications of credential changes; params as for the other
// notifications: the device name (string) and the time (time.Time).
const (
	mailPINChanged      fault.Code = "mail.pin_changed"
	mailPasswordReset   fault.Code = "mail.password_reset_app"
	mailPasswordChanged fault.Code = "mail.password_changed_app"
)

// ChangePIN sets a new release PIN: the answer to a BeginDeviceAuth
// challenge, the current PIN (checked and counted as AuthenticateDevice
// does) and a new PIN that passes pin.Check. The new PIN is stored in the
// same store write that accepted the current one, so a PIN change and a
// concurrent wrong guess cannot interleave; the counter starts at zero.
// Audit PINSet (by pin_change) and a notification follow.
//
// Errors: those of AuthenticateDevice (a wrong current PIN counts toward
// the lockout: Unauthenticated pin.wrong, RateLimited pin.wait, Locked
// pin.blocked); Invalid (new PIN refused, with the reason; no attempt
// counted); Unavailable.
func (s *Service) ChangePIN(ctx context.Context, challengeID string, response []byte, currentPIN, newPIN, ip string) error {
	const op = "binding.ChangePIN"
	v, err := s.authenticateWith(ctx, op, device.Assertion, "", challengeID, response, currentPIN, ip, hooks{
		before: func(as asserted) error { return s.checkPIN(ctx, as.account.KVNR, as.account.ID, newPIN) },
		apply: func(cur *device.Binding, now time.Time) {
			cur.PINHash = s.pins.Hash(cur.ID, newPIN)
			cur.PINSetAt = now
			cur.PIN = pin.Counter{}
		},
	})
	if err != nil {
		return err
	}
	s.record(ctx, s.event(audit.PINSet, v.binding.AccountID, ip, map[string]string{"binding": v.binding.ID, "by": viaPINChange}))
	s.logInfo(ctx, "PIN changed", slog.String("binding", v.binding.ID), slog.String("account", v.binding.AccountID))
	s.tell(ctx, v.account.KVNR, notice{kind: audit.PINSet, code: mailPINChanged, params: []any{v.binding.Name, v.at}})
	return nil
}

// ResetPassword sets a new password for a member who forgot it: the answer
// to a BeginDeviceAuth challenge and the release PIN (checked and counted
// as AuthenticateDevice does) stand in for the old password. The new one
// must pass the rules of a member's own password with the member's
// personal inputs (Deps.Rules), checked before the PIN is looked at; it is
// stored as an Argon2id hash (Deps.Hasher).
//
// Afterwards every browser session of the member ends (the browsers logged
// in with the old password; their relying parties get back-channel
// logout), the change is audited (PasswordSet, via app_reset, with the
// binding) and the member is told. The app's own logins stay: they were
// made with the key and the PIN, not the password.
//
// Errors: those of AuthenticateDevice (a wrong PIN counts toward the
// lockout; a blocked binding is Locked pin.blocked, a revoked or suspect
// one Forbidden device.gone, and nothing changes); Invalid (the new
// password refused, with the code of core/password; no attempt counted);
// Forbidden (the binding was revoked between the PIN check and the write);
// Unavailable.
func (s *Service) ResetPassword(ctx context.Context, challengeID string, response []byte, p, newPassword, ip string) error {
	const op = "binding.ResetPassword"
	v, err := s.authenticateWith(ctx, op, device.Assertion, "", challengeID, response, p, ip, hooks{
		before: func(as asserted) error {
			return s.rules.CheckPassword(ctx, as.account.KVNR, as.account.ID, newPassword)
		},
	})
	if err != nil {
		return err
	}
	return s.setPassword(ctx, op, v, newPassword, viaPasswordReset, mailPasswordReset, ip)
}

// ChangePassword sets a new password for a member who knows the current
// one: the answer to a BeginDeviceAuth challenge, the release PIN (checked
// and counted as AuthenticateDevice does), and the current password,
// checked after the PIN under the throttling rule and counter of the web
// login (a wrong one counts there; while checks are delayed the answer is
// RateLimited with the wait). The new password is checked, stored and
// followed up as by ResetPassword (audit via app_change).
//
// Errors: those of ResetPassword; Unauthenticated (password.wrong) for a
// wrong current password; RateLimited (login.wait) while password checks
// are delayed.
func (s *Service) ChangePassword(ctx context.Context, challengeID string, response []byte, p, currentPassword, newPassword, ip string) error {
	const op = "binding.ChangePassword"
	v, err := s.authenticateWith(ctx, op, device.Assertion, "", challengeID, response, p, ip, hooks{
		before: func(as asserted) error {
			return s.rules.CheckPassword(ctx, as.account.KVNR, as.account.ID, newPassword)
		},
	})
	if err != nil {
		return err
	}
	switch err := s.passwords.CheckAccountPassword(ctx, v.account, currentPassword, viaPasswordChange, s.cfg.AppClientID, ip); {
	case errors.Is(err, fault.Unauthenticated):
		s.logWarn(ctx, "password change: wrong current password", slog.String("binding", v.binding.ID),
			slog.String("account", v.account.ID))
		return fault.Coded(fault.Unauthenticated, op, wrongPasswordText)
	case err != nil:
		return err
	}
	return s.setPassword(ctx, op, v, newPassword, viaPasswordChange, mailPasswordChanged, ip)
}

// setPassword stores newPassword for the account of v, whose key and PIN
// were just checked, and follows it up: the binding must still be usable
// (revoked or blocked in the meantime: Forbidden or Locked, nothing
// changes), then the hash is stored, the member's browser sessions end,
// and the change is audited and told.
func (s *Service) setPassword(ctx context.Context, op string, v verified, newPassword, via string, mail fault.Code, ip string) error {
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	cur, err := s.devices.BindingByID(ctx, v.binding.ID)
	switch {
	case errors.Is(err, fault.NotFound):
		return fault.Coded(fault.Forbidden, op, deviceGoneText)
	case err != nil:
		return err
	case gone(cur) || cur.AccountID != v.account.ID:
		return fault.Coded(fault.Forbidden, op, deviceGoneText)
	case blocked(cur):
		return pin.Blocked(op)
	}
	now := s.clock()
	if err := s.accounts.SetPasswordHash(ctx, v.account.ID, hash, now); err != nil {
		return err
	}
	// Guesses of the old password say nothing about the new one: a member
	// who reset a forgotten password after a few wrong tries logs in at
	// once instead of waiting out the delay those tries earned.
	if err := s.passwords.ForgetFailures(ctx, v.account.KVNR); err != nil {
		s.logWarn(ctx, "failed password checks not forgotten after a new password", slog.String("account", v.account.ID),
			slog.Any("error", err))
	}
	ended := 0
	if s.sessions != nil {
		// The password is set; sessions that could not be ended are
		// logged, and the member can end them on the account page.
		n, err := s.sessions.EndAll(ctx, v.account.ID, session.EndPassword)
		ended = n
		if err != nil {
			s.logWarn(ctx, "browser sessions not ended after a password change", slog.String("account", v.account.ID),
				slog.Any("error", err))
		}
	}
	s.record(ctx, s.event(audit.PasswordSet, v.account.ID, ip, map[string]string{"binding": v.binding.ID, "via": via}))
	s.logInfo(ctx, "password set in the app", slog.String("binding", v.binding.ID), slog.String("account", v.account.ID),
		slog.String("via", via), slog.Int("sessions_ended", ended))
	s.tell(ctx, v.account.KVNR, notice{kind: audit.PasswordSet, code: mail, params: []any{v.binding.Name, now}})
	return nil
}
