package binding

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// Codes of device authentication; none has parameters.
const (
	// deviceGoneText is the one answer for an unknown, revoked, suspect or
	// not yet enrolled binding: which of them it is, is nobody's business
	// but the member's, who sees it in the device list.
	deviceGoneText fault.Code = "device.gone"
	// otherKeyText: the assertion was not made by the binding's key.
	otherKeyText fault.Code = "device.other_key"
	// accountText: the member's account is not active.
	accountText fault.Code = "account.inactive"
	// wrongPasswordText: the member's password is wrong.
	wrongPasswordText fault.Code = "password.wrong"
)

// viaPINReset names the PIN reset in the password checks' audit events
// and log lines (the same word as login.ViaPINReset).
const viaPINReset = "pin_reset"

// gone reports whether binding b can never authenticate again, or not yet:
// revoked, suspect, or without a PIN (its enrollment is not complete).
func gone(b device.Binding) bool {
	return b.Status == device.Revoked || b.Status == device.Suspect || b.PINHash == ""
}

func blocked(b device.Binding) bool { return b.Status == device.Blocked || b.PIN.Blocked }

// BeginDeviceAuth starts a device assertion for binding bindingID: for the
// device management calls and a PIN reset (the app login has BeginLogin).
// It returns the id of a single-use challenge, valid for
// device.ChallengeTTL and only for this binding, and the WebAuthn request
// options (JSON) that allow only the binding's key. A blocked binding gets
// a challenge too: ResetPIN needs one.
//
// Errors: Forbidden, with one text for an unknown, revoked, suspect or not
// yet enrolled binding; Unavailable.
func (s *Service) BeginDeviceAuth(ctx context.Context, bindingID string) (challengeID string, options []byte, err error) {
	return s.begin(ctx, "binding.BeginDeviceAuth", bindingID, device.Assertion, "")
}

// begin issues a challenge of purpose (Assertion, Login or Approval) for
// binding bindingID, bound to boundTo (the authorization request of a
// login, the approval of a decision; empty for Assertion). A blocked
// binding is refused a login or approval challenge: it cannot log in or
// approve before its PIN is reset, and the app should say so before the
// member enters a PIN.
func (s *Service) begin(ctx context.Context, op, bindingID string, purpose device.Purpose, boundTo string) (string, []byte, error) {
	refused := fault.Coded(fault.Forbidden, op, deviceGoneText)
	if bindingID == "" || len(bindingID) > 128 {
		return "", nil, refused
	}
	b, err := s.devices.BindingByID(ctx, bindingID)
	switch {
	case errors.Is(err, fault.NotFound):
		return "", nil, refused
	case err != nil:
		return "", nil, err
	case gone(b):
		return "", nil, refused
	case (purpose == device.Login || purpose == device.Approval) && blocked(b):
		return "", nil, pin.Blocked(op)
	case (purpose == device.Login || purpose == device.Approval) && s.cfg.Reconfirm.Due(b, s.clock()):
		a, err := s.accounts.AccountByID(ctx, b.AccountID)
		if err != nil {
			return "", nil, err
		}
		return "", nil, s.reconfirmDue(ctx, op, b, a)
	}
	options, state, err := s.ceremony.AssertionOptions(ctx, [][]byte{b.CredentialID})
	if err != nil {
		return "", nil, err
	}
	now := s.clock()
	c := device.Challenge{
		ID: grant.NewID(), Purpose: purpose, Subject: b.ID, Context: boundTo, State: state,
		CreatedAt: now, ExpiresAt: now.Add(device.ChallengeTTL),
	}
	if err := s.challenges.CreateChallenge(ctx, c); err != nil {
		return "", nil, err
	}
	return c.ID, options, nil
}

// asserted is a verified device assertion.
type asserted struct {
	binding   device.Binding
	signCount uint32
	account   account.Account
}

// assert verifies the answer to assertion challenge c: the binding it was
// issued for still exists and may authenticate, its key signed the
// challenge, the sign counter grew (else the binding is marked suspect),
// and the account is active. Blocked bindings pass; the caller decides.
// Errors: Forbidden; Unauthenticated; Invalid; Unavailable.
func (s *Service) assert(ctx context.Context, op string, c device.Challenge, response []byte, ip string) (asserted, error) {
	refused := fault.Coded(fault.Forbidden, op, deviceGoneText)
	b, err := s.devices.BindingByID(ctx, c.Subject)
	switch {
	case errors.Is(err, fault.NotFound):
		return asserted{}, refused
	case err != nil:
		return asserted{}, err
	case gone(b):
		return asserted{}, refused
	}
	a, err := s.ceremony.VerifyAssertion(ctx, c.State, response,
		devicekey.Key{CredentialID: b.CredentialID, PublicKey: b.PublicKey, SignCount: b.SignCount})
	if err != nil {
		// The client learns only that the key was not verified; the log
		// says why (a forged signature, an answer to another challenge, a
		// wrong origin, a malformed answer), so that an attack on a member's
		// device binding is visible beside the request log's 401.
		s.logWarn(ctx, "device key not verified", slog.String("binding", b.ID), slog.String("account", b.AccountID),
			slog.String("purpose", string(c.Purpose)), slog.String("reason", fault.ReasonOf(err)), slog.String("cause", err.Error()))
		return asserted{}, err
	}
	// The challenge names the binding; the answer must come from that
	// binding's key, not from another key of the member or of anyone.
	if !bytes.Equal(a.CredentialID, b.CredentialID) {
		s.logWarn(ctx, "device assertion by another key", slog.String("binding", b.ID))
		return asserted{}, fault.Coded(fault.Unauthenticated, op, otherKeyText)
	}
	if _, err := device.CounterAfter(b.SignCount, a.SignCount); err != nil {
		return asserted{}, s.suspect(ctx, op, b.ID, a.SignCount, ip)
	}
	acct, err := s.accounts.AccountByID(ctx, b.AccountID)
	switch {
	case errors.Is(err, fault.NotFound):
		return asserted{}, refused
	case err != nil:
		return asserted{}, err
	case !acct.CanLogIn():
		return asserted{}, fault.Coded(fault.Forbidden, op, accountText)
	}
	return asserted{binding: b, signCount: a.SignCount, account: acct}, nil
}

// rollback marks cur suspect when reported does not grow its sign
// counter: two copies of the key exist (WebAuthn §6.1.1), and the copy
// that answered may be the attacker's. For UpdateBinding closures.
func rollback(cur *device.Binding, reported uint32) bool {
	if _, err := device.CounterAfter(cur.SignCount, reported); err == nil {
		return false
	}
	cur.Status = device.Suspect
	return true
}

// suspect marks binding id suspect after a sign counter rollback, records
// and tells it, ends its app logins, and returns the refusal.
func (s *Service) suspect(ctx context.Context, op, id string, reported uint32, ip string) error {
	b, err := s.devices.UpdateBinding(ctx, id, func(cur *device.Binding) error {
		if cur.Status == device.Revoked || cur.Status == device.Suspect || !rollback(cur, reported) {
			return errUnchanged
		}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
	case err != nil:
		return err
	default:
		if err := s.suspected(ctx, b, reported, ip); err != nil {
			return err
		}
	}
	return fault.Coded(fault.Forbidden, op, deviceGoneText)
}

// suspected follows the write that marked b suspect: it records and tells
// it and ends the binding's app logins (endLogins' error is returned; the
// binding stays suspect and refuses all the same). A rollback leaves the
// sign counter as it was, so b.SignCount is the stored count the reported
// one fell behind.
func (s *Service) suspected(ctx context.Context, b device.Binding, reported uint32, ip string) error {
	now := s.clock()
	ended := s.endLogins(ctx, b.ID, now)
	e := s.event(audit.DeviceSuspect, b.AccountID, ip, map[string]string{
		"binding": b.ID, "stored_count": strconv.FormatUint(uint64(b.SignCount), 10),
		"reported_count": strconv.FormatUint(uint64(reported), 10),
	})
	e.Actor = audit.System
	s.record(ctx, e)
	s.logWarn(ctx, "sign counter went backwards: binding suspect", slog.String("binding", b.ID),
		slog.String("account", b.AccountID), slog.Uint64("stored", uint64(b.SignCount)), slog.Uint64("reported", uint64(reported)))
	s.tellAccount(ctx, b.AccountID, deviceSuspect(b.Name, now))
	return ended
}

// AuthenticateDevice checks possession and knowledge: the answer to a
// BeginDeviceAuth challenge, signed by the binding's key, and the release
// PIN. It returns the binding as stored afterwards, for the device
// management calls. The binding carries the PIN hash and the public key:
// callers hand it on and never show it (ListDevices returns Device views
// for that). The app login goes through AuthenticateLogin, which makes
// exactly these checks on a login challenge.
//
// The challenge answers once, within device.ChallengeTTL, and only for the
// binding it was issued for. A sign counter that did not grow marks the
// binding Suspect (audit DeviceSuspect, notification) and refuses.
//
// The PIN is checked and counted in ONE UpdateBinding: the closure reads
// the counter, lets pin.Policy.Try decide whether a guess may be evaluated
// at all, compares, and stores the outcome, while the store holds the row.
// Concurrent guesses are therefore serialised, and no more than
// MaxFailures of them are ever compared, however many arrive at once.
// Every compared entry stores the new sign counter (the key did answer);
// a correct PIN also resets the counter, sets LastUsedAt, and rehashes the
// PIN when its pepper version is no longer the current one. The wrong PIN that reaches MaxFailures blocks the binding (audit
// PINLocked, notification); every other wrong PIN is audited PINFailed.
//
// Errors: Unauthenticated (challenge unknown, used or of another purpose —
// a login challenge included; the answer does not verify or comes from
// another key; wrong PIN: pin.CodeWrong with Remaining); RateLimited
// (pin.CodeWait with RetryAt: the entry was not evaluated); Locked
// (pin.CodeBlocked: the binding is blocked — the member resets the PIN with
// their password, ResetPIN); Expired (challenge); Forbidden (binding
// unknown, revoked, suspect or not enrolled; sign counter rollback;
// account not active); Invalid (malformed answer); Unavailable.
func (s *Service) AuthenticateDevice(ctx context.Context, challengeID string, response []byte, p, ip string) (device.Binding, error) {
	v, err := s.authenticate(ctx, "binding.AuthenticateDevice", device.Assertion, "", challengeID, response, p, ip)
	return v.binding, err
}

// verified is a binding whose key and PIN were just checked.
type verified struct {
	// binding is as stored after the PIN check.
	binding device.Binding
	account account.Account
	// at is when the PIN was checked, by the service's clock.
	at time.Time
}

// authenticate is the one path of possession and knowledge for
// AuthenticateDevice and AuthenticateLogin: it consumes challenge
// challengeID, which must be of purpose and bound to boundTo (empty for
// Assertion, the authorization request for Login), verifies the answer
// (assert) and then checks and counts PIN p atomically, as
// AuthenticateDevice describes. The context is compared before the
// answer is verified and the PIN looked at, so a challenge carried to
// another login costs no PIN attempt — and is used up.
func (s *Service) authenticate(ctx context.Context, op string, purpose device.Purpose, boundTo, challengeID string,
	response []byte, p, ip string) (verified, error) {
	return s.authenticateWith(ctx, op, purpose, boundTo, challengeID, response, p, ip, hooks{})
}

// hooks let a use case take part in authenticate: the credential changes
// (credentials.go) check their new value before the PIN is looked at, and
// set a new PIN in the very write that checked the current one.
type hooks struct {
	// before runs once the key's answer is verified and before the PIN is
	// looked at; its error is returned, and no PIN attempt is counted.
	before func(as asserted) error
	// apply runs inside the store's UpdateBinding when the PIN is correct,
	// after the counter was reset; it may run more than once (the store
	// retries), so it only sets fields.
	apply func(cur *device.Binding, now time.Time)
}

// authenticateWith is authenticate with hooks h.
func (s *Service) authenticateWith(ctx context.Context, op string, purpose device.Purpose, boundTo, challengeID string,
	response []byte, p, ip string, h hooks) (verified, error) {
	c, err := s.consume(ctx, op, challengeID, purpose)
	if err != nil {
		return verified{}, err
	}
	if c.Context != boundTo {
		// A login challenge is bound to its authorization request: an
		// answer replayed or relayed into another login (a phished
		// request id, a second tab) must not complete that one.
		s.logWarn(ctx, "challenge answered in another context", slog.String("binding", c.Subject),
			slog.String("purpose", string(purpose)))
		if purpose == device.Approval {
			// The app tells the member to open the approval again, not
			// to start a login.
			return verified{}, fault.Coded(fault.Unauthenticated, op, otherApprovalText)
		}
		return verified{}, fault.Coded(fault.Unauthenticated, op, otherLoginText)
	}
	as, err := s.assert(ctx, op, c, response, ip)
	if err != nil {
		return verified{}, err
	}
	if blocked(as.binding) {
		return verified{}, pin.Blocked(op)
	}
	if h.before != nil {
		if err := h.before(as); err != nil {
			return verified{}, err
		}
	}
	now := s.clock()
	if (purpose == device.Login || purpose == device.Approval) && s.cfg.Reconfirm.Due(as.binding, now) {
		// Due since the challenge was issued: refused before the PIN is
		// looked at, so no attempt is spent.
		return verified{}, s.reconfirmDue(ctx, op, as.binding, as.account)
	}
	// att is the PIN policy's verdict in the run of the closure whose
	// outcome counts (the last one).
	var att pin.Attempt
	b, err := s.devices.UpdateBinding(ctx, as.binding.ID, func(cur *device.Binding) error {
		att = pin.Attempt{}
		switch {
		case gone(*cur):
			return fault.Coded(fault.Forbidden, op, deviceGoneText)
		case blocked(*cur):
			return pin.Blocked(op)
		case rollback(cur, as.signCount):
			return nil
		}
		var stale bool
		att = s.cfg.PIN.Try(cur.PIN, now, func() bool {
			var ok bool
			ok, stale = s.pins.Verify(cur.ID, p, cur.PINHash)
			return ok
		})
		if !att.Evaluated {
			return errUnchanged
		}
		// The key answered this challenge: its counter is recorded
		// whatever the PIN, so that a copy of the key is detected as early
		// as possible.
		cur.SignCount = as.signCount
		cur.PIN = att.Next
		if att.OK {
			cur.LastUsedAt = now
			if stale {
				cur.PINHash = s.pins.Hash(cur.ID, p)
			}
			if h.apply != nil {
				h.apply(cur, now)
			}
		} else if att.Next.Blocked {
			cur.Status = device.Blocked
		}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		s.logInfo(ctx, "PIN entry too early", slog.String("binding", as.binding.ID), slog.Time("retry_at", att.RetryAt))
		return verified{}, att.Err(op, now)
	case err != nil:
		return verified{}, err
	case b.Status == device.Suspect:
		// Only a rollback stores Suspect here (a suspect binding is gone).
		if err := s.suspected(ctx, b, as.signCount, ip); err != nil {
			return verified{}, err
		}
		return verified{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	case att.OK:
		s.logInfo(ctx, "device authenticated", slog.String("binding", b.ID), slog.String("account", b.AccountID),
			slog.String("purpose", string(purpose)))
		return verified{binding: b, account: as.account, at: now}, nil
	case att.Next.Blocked:
		s.record(ctx, s.event(audit.PINLocked, b.AccountID, ip, map[string]string{
			"binding": b.ID, "failures": strconv.Itoa(att.Next.Failures),
		}))
		s.logWarn(ctx, "PIN wrong too often: binding blocked", slog.String("binding", b.ID), slog.String("account", b.AccountID))
		s.tell(ctx, as.account.KVNR, pinLocked(b.Name, now))
		// The browser sessions the device confirmed end with it; their
		// relying parties are told (back-channel logout).
		_ = s.endSessions(ctx, b.ID)
		return verified{}, att.Err(op, now)
	default:
		s.record(ctx, s.event(audit.PINFailed, b.AccountID, ip, map[string]string{
			"binding": b.ID, "failures": strconv.Itoa(att.Next.Failures), "remaining": strconv.Itoa(att.Remaining),
		}))
		s.logInfo(ctx, "PIN wrong", slog.String("binding", b.ID), slog.Int("remaining", att.Remaining))
		return verified{}, att.Err(op, now)
	}
}

// ResetPIN sets a new release PIN with the member's password instead of
// the old PIN: the answer to a BeginDeviceAuth challenge (possession; a
// blocked binding is accepted here), the account password (knowledge),
// and a new PIN that passes pin.Check. The counter is reset and a blocked
// binding is Active again (audit DeviceUnblocked); audit PINSet and a
// notification follow.
//
// The password is checked under the same throttling rule and counter as
// the web login (Deps.Passwords): a wrong one counts, and while checks
// are delayed the answer is RateLimited with the wait. The PIN counter and
// the binding's status are not touched by a wrong password.
//
// Errors: Unauthenticated (challenge unknown, used or of another purpose;
// answer does not verify or comes from another key; wrong password);
// Expired (challenge); Invalid (new PIN refused, with the reason;
// malformed answer); Forbidden (binding unknown, revoked, suspect or not
// enrolled; sign counter rollback; account not active); RateLimited
// (password checks delayed); Unavailable.
func (s *Service) ResetPIN(ctx context.Context, challengeID string, response []byte, pw, newPIN, ip string) error {
	const op = "binding.ResetPIN"
	c, err := s.consume(ctx, op, challengeID, device.Assertion)
	if err != nil {
		return err
	}
	as, err := s.assert(ctx, op, c, response, ip)
	if err != nil {
		return err
	}
	if err := s.checkPIN(ctx, as.account.KVNR, as.account.ID, newPIN); err != nil {
		return err
	}
	switch err := s.passwords.CheckAccountPassword(ctx, as.account, pw, viaPINReset, s.cfg.AppClientID, ip); {
	case errors.Is(err, fault.Unauthenticated):
		s.logWarn(ctx, "PIN reset: wrong password", slog.String("binding", as.binding.ID), slog.String("account", as.account.ID))
		return fault.Coded(fault.Unauthenticated, op, wrongPasswordText)
	case err != nil:
		// RateLimited (with the wait) or an outage, as they are.
		return err
	}
	now := s.clock()
	var wasBlocked bool // the state before, for the record
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
		return err
	case b.Status == device.Suspect:
		// Only a rollback stores Suspect here (a suspect binding is gone).
		if err := s.suspected(ctx, b, as.signCount, ip); err != nil {
			return err
		}
		return fault.Coded(fault.Forbidden, op, deviceGoneText)
	}
	if wasBlocked {
		s.record(ctx, s.event(audit.DeviceUnblocked, b.AccountID, ip, map[string]string{"binding": b.ID, "by": "pin_reset"}))
	}
	s.record(ctx, s.event(audit.PINSet, b.AccountID, ip, map[string]string{"binding": b.ID, "by": "pin_reset"}))
	s.logInfo(ctx, "PIN reset with password", slog.String("binding", b.ID), slog.String("account", b.AccountID),
		slog.Bool("was_blocked", wasBlocked))
	s.tell(ctx, as.account.KVNR, pinReset(b.Name, now, wasBlocked))
	return nil
}
