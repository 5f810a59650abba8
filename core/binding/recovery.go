package binding

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// Recovery with the eID on a bound device: the member who lost the PIN (or
// the password, or both) proves the identity with the ID card instead. The
// app proves possession of the bound key twice: when the eID proof begins
// (AssertPossession, then core/registration's BeginAccountProof for the
// binding's account) and when the proof's confirmation is redeemed
// (RecoverWithEID), which sets the new PIN and/or password on that binding
// and account.

// AccountProofs redeems the confirmation of an eID proof begun for an
// account (core/registration.Service.RedeemStepUp).
type AccountProofs interface {
	// RedeemStepUp redeems the one-time code of the proof begun with
	// token, with the app's PKCE verifier, records the proof and returns
	// the account it proved. Errors: Unauthenticated (unknown, spent or
	// another app's code; the card does not match); Expired; Unavailable.
	RedeemStepUp(ctx context.Context, token, code, verifier string) (account.Account, error)
}

// Codes of the recovery with the eID; none has parameters.
const (
	// CodeRecoveryNothing: neither a new PIN nor a new password was given.
	CodeRecoveryNothing fault.Code = "recovery.nothing"
	// CodeRecoveryOtherAccount: the eID proof was made for another
	// account than the device's.
	CodeRecoveryOtherAccount fault.Code = "recovery.other_account"
)

// viaEID names the recovery with the eID in audit events and log lines.
const viaEID = "eid"

// Notifications of the recovery; params: the device name (string) and
// the time (time.Time).
const (
	mailPINResetEID      fault.Code = "mail.pin_reset_eid"
	mailPasswordResetEID fault.Code = "mail.password_reset_eid"
)

// AssertPossession verifies the answer to a BeginDeviceAuth challenge
// without a PIN: the bound key is at hand. It changes nothing but the
// challenge (used up) and is the first step of a recovery with the eID,
// which a blocked binding may take. It returns the binding as stored.
//
// Errors: Unauthenticated (challenge unknown, used or of another purpose;
// the answer does not verify or comes from another key); Expired
// (challenge); Forbidden (binding unknown, revoked, suspect or not
// enrolled; sign counter rollback; account not active); Invalid
// (malformed answer); Unavailable.
func (s *Service) AssertPossession(ctx context.Context, challengeID string, response []byte, ip string) (device.Binding, error) {
	const op = "binding.AssertPossession"
	c, err := s.consume(ctx, op, challengeID, device.Assertion)
	if err != nil {
		return device.Binding{}, err
	}
	as, err := s.assert(ctx, op, c, response, ip)
	if err != nil {
		return device.Binding{}, err
	}
	b, err := s.signed(ctx, op, as, ip)
	if err != nil {
		return device.Binding{}, err
	}
	return b, nil
}

// signed stores the sign counter of a verified assertion on its binding
// (the key answered: a copy is detected as early as possible) and returns
// the binding as stored. A rollback marks it suspect and refuses.
func (s *Service) signed(ctx context.Context, op string, as asserted, ip string) (device.Binding, error) {
	b, err := s.devices.UpdateBinding(ctx, as.binding.ID, func(cur *device.Binding) error {
		switch {
		case gone(*cur):
			return fault.Coded(fault.Forbidden, op, deviceGoneText)
		case rollback(cur, as.signCount):
			return nil
		}
		cur.SignCount = as.signCount
		return nil
	})
	switch {
	case err != nil:
		return device.Binding{}, err
	case b.Status == device.Suspect:
		if err := s.suspected(ctx, b, as.signCount, ip); err != nil {
			return device.Binding{}, err
		}
		return device.Binding{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	}
	return b, nil
}

// Recovery is a recovery with the eID: the device's answer to a fresh
// BeginDeviceAuth challenge, the eID proof's confirmation (the token
// BeginAccountProof returned, the one-time code the app's return address
// received, the PKCE verifier), and what the member sets: a new PIN, a
// new password, or both.
type Recovery struct {
	ChallengeID string
	Response    []byte
	Token       string
	Code        string
	Verifier    string
	NewPIN      string
	NewPassword string
}

// RecoverWithEID sets a new PIN and/or a new password after an eID proof
// for the account, on the binding whose key answers r's challenge:
//
//  1. the key's answer is verified (possession; a blocked binding passes,
//     a revoked or suspect one is refused);
//  2. the new values are checked (the PIN rules, the password rules with
//     the member's personal inputs) before the one-time code is spent; a
//     blocked binding without a new PIN is refused (its PIN must be set
//     before anything else is done with it);
//  3. the confirmation is redeemed (Deps.Proofs): the eID proved the
//     member whose account it was begun for, which must be the binding's;
//  4. a new PIN replaces the old one, resets the counter and unblocks the
//     binding (audit device.unblocked when it was blocked, pin.set by
//     eid, e-mail); a new password is stored (Argon2id), every browser
//     session of the member ends, audit password.set via eid, e-mail.
//
// Errors: Invalid (CodeRecoveryNothing; a refused PIN or password, with
// the reason); Locked (pin.blocked: a blocked binding and no new PIN);
// those of AssertPossession; those of the confirmation (Unauthenticated
// proofing.confirmation_unknown or proofing.mismatch, Expired); Forbidden
// (CodeRecoveryOtherAccount; the binding was revoked meanwhile);
// Internal (a service without Deps.Proofs); Unavailable.
func (s *Service) RecoverWithEID(ctx context.Context, r Recovery, ip string) error {
	const op = "binding.RecoverWithEID"
	if r.NewPIN == "" && r.NewPassword == "" {
		return fault.Coded(fault.Invalid, op, CodeRecoveryNothing)
	}
	if s.proofs == nil {
		return fault.New(fault.Internal, op, "")
	}
	c, err := s.consume(ctx, op, r.ChallengeID, device.Assertion)
	if err != nil {
		return err
	}
	as, err := s.assert(ctx, op, c, r.Response, ip)
	if err != nil {
		return err
	}
	if r.NewPIN != "" {
		if err := s.checkPIN(ctx, as.account.KVNR, as.account.ID, r.NewPIN); err != nil {
			return err
		}
	} else if blocked(as.binding) {
		return pin.Blocked(op)
	}
	if r.NewPassword != "" {
		if err := s.rules.CheckPassword(ctx, as.account.KVNR, as.account.ID, r.NewPassword); err != nil {
			return err
		}
	}
	proven, err := s.proofs.RedeemStepUp(ctx, r.Token, r.Code, r.Verifier)
	if err != nil {
		return err
	}
	if proven.ID != as.account.ID {
		s.logWarn(ctx, "eID recovery: the proof is for another account than the device's",
			slog.String("binding", as.binding.ID), slog.String("account", as.account.ID), slog.String("proven", proven.ID))
		return fault.Coded(fault.Forbidden, op, CodeRecoveryOtherAccount)
	}
	v := verified{binding: as.binding, account: as.account, at: s.clock()}
	if r.NewPIN != "" {
		if v.binding, err = s.setPINAfterProof(ctx, op, as, r.NewPIN, ip); err != nil {
			return err
		}
	} else if v.binding, err = s.signed(ctx, op, as, ip); err != nil {
		return err
	}
	if r.NewPassword != "" {
		return s.setPassword(ctx, op, v, r.NewPassword, viaEID, mailPasswordResetEID, ip)
	}
	return nil
}

// setPINAfterProof stores newPIN on the binding of as after an eID proof:
// counter 0, active again, the sign counter recorded; audited and told.
func (s *Service) setPINAfterProof(ctx context.Context, op string, as asserted, newPIN, ip string) (device.Binding, error) {
	now := s.clock()
	var wasBlocked bool
	b, err := s.devices.UpdateBinding(ctx, as.binding.ID, func(cur *device.Binding) error {
		wasBlocked = blocked(*cur)
		switch {
		case gone(*cur):
			return fault.Coded(fault.Forbidden, op, deviceGoneText)
		case rollback(cur, as.signCount):
			return nil
		}
		cur.SignCount = as.signCount
		cur.PINHash = s.pins.Hash(cur.ID, newPIN)
		cur.PINSetAt = now
		cur.PIN = pin.Counter{}
		cur.Status = device.Active
		cur.LastUsedAt = now
		return nil
	})
	switch {
	case err != nil:
		return device.Binding{}, err
	case b.Status == device.Suspect:
		if err := s.suspected(ctx, b, as.signCount, ip); err != nil {
			return device.Binding{}, err
		}
		return device.Binding{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	}
	if wasBlocked {
		s.record(ctx, s.event(audit.DeviceUnblocked, b.AccountID, ip, map[string]string{"binding": b.ID, "by": viaEID}))
	}
	s.record(ctx, s.event(audit.PINSet, b.AccountID, ip, map[string]string{"binding": b.ID, "by": viaEID}))
	s.logInfo(ctx, "PIN reset after an eID proof", slog.String("binding", b.ID), slog.String("account", b.AccountID),
		slog.String("was_blocked", strconv.FormatBool(wasBlocked)))
	s.tell(ctx, as.account.KVNR, notice{kind: audit.PINSet, code: mailPINResetEID, params: []any{b.Name, now}})
	return b, nil
}
