package binding

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/pin"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// Codes of the enrollment steps; none has parameters.
const (
	unknownSessionText fault.Code = "enrollment.unknown"
	expiredSessionText fault.Code = "enrollment.expired"
	passwordFirstText  fault.Code = "enrollment.password_first"
	deviceFirstText    fault.Code = "enrollment.device_first"
	alreadyBoundText   fault.Code = "enrollment.device_bound"
	keyBoundText       fault.Code = "device.key_bound"
	pinAlreadySet      fault.Code = "pin.already_set"
	platformText       fault.Code = "device.platform"
	stepMissingText    fault.Code = "enrollment.incomplete"
	// challengeUnknownText: unknown or used challenge.
	challengeUnknownText fault.Code = "challenge.unknown"
	// challengeExpiredText: the challenge expired; start again.
	challengeExpiredText fault.Code = "challenge.expired"
	// challengeOtherText: the challenge is another enrollment's.
	challengeOtherText fault.Code = "challenge.other_enrollment"
)

// session returns the open enrollment session of a bearer token.
// Errors: Unauthenticated (unknown token); Expired (over or completed).
func (s *Service) session(ctx context.Context, op, token string) (enrollment.Session, error) {
	if token == "" || len(token) > 256 {
		return enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, unknownSessionText)
	}
	sess, err := s.enrolls.EnrollmentByTokenHash(ctx, grant.Hash(token))
	switch {
	case errors.Is(err, fault.NotFound):
		return enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, unknownSessionText)
	case err != nil:
		return enrollment.Session{}, err
	case !sess.Open(s.clock()):
		return enrollment.Session{}, fault.Coded(fault.Expired, op, expiredSessionText)
	}
	return sess, nil
}

// sessionBinding returns the binding made in session sess, if any (a
// revoked one included: one key per enrollment).
func (s *Service) sessionBinding(ctx context.Context, sess enrollment.Session) (device.Binding, bool, error) {
	bs, err := s.devices.ListBindings(ctx, sess.AccountID)
	if err != nil {
		return device.Binding{}, false, err
	}
	for _, b := range bs {
		if b.EnrollmentID == sess.ID {
			return b, true, nil
		}
	}
	return device.Binding{}, false, nil
}

// EnrollmentDevice returns the device bound in the enrollment session the
// token opens, if one is: an app whose answer to FinishBinding was lost
// (the server or the connection died after the binding was stored) learns
// from it which binding its key got, and goes on with the PIN; without it
// the session could neither bind again (Conflict) nor name its device.
//
// Errors: Unauthenticated (unknown token); Expired (session over or
// completed); Unavailable.
func (s *Service) EnrollmentDevice(ctx context.Context, token string) (device.Binding, bool, error) {
	sess, err := s.session(ctx, "binding.EnrollmentDevice", token)
	if err != nil {
		return device.Binding{}, false, err
	}
	return s.sessionBinding(ctx, sess)
}

// BeginBinding starts binding the app's key in the enrollment session the
// token opens. The member must have set their password in this session
// (the order is password → device → PIN), and the session must not have a
// binding yet. It returns the id of a single-use challenge, valid for
// device.ChallengeTTL and only for this session, and the WebAuthn creation
// options (JSON) for the app: user handle = the account id, user name =
// the masked member number; the account's existing keys are excluded, so
// that a phone cannot be bound twice.
//
// Errors: Unauthenticated (unknown token); Expired (session over or
// completed); Forbidden (password not set yet); Conflict (already bound in
// this session); Unavailable.
func (s *Service) BeginBinding(ctx context.Context, token string) (challengeID string, options []byte, err error) {
	const op = "binding.BeginBinding"
	sess, err := s.session(ctx, op, token)
	if err != nil {
		return "", nil, err
	}
	if sess.PasswordSetAt.IsZero() {
		return "", nil, fault.Coded(fault.Forbidden, op, passwordFirstText)
	}
	bs, err := s.devices.ListBindings(ctx, sess.AccountID)
	if err != nil {
		return "", nil, err
	}
	var exclude [][]byte
	for _, b := range bs {
		if b.EnrollmentID == sess.ID {
			return "", nil, fault.Coded(fault.Conflict, op, alreadyBoundText)
		}
		exclude = append(exclude, b.CredentialID)
	}
	name := maskKVNR(sess.KVNR)
	options, state, err := s.ceremony.RegistrationOptions(ctx,
		devicekey.User{Handle: []byte(sess.AccountID), Name: name, DisplayName: name}, exclude)
	if err != nil {
		return "", nil, err
	}
	now := s.clock()
	c := device.Challenge{
		ID: grant.NewID(), Purpose: device.Registration, Subject: sess.ID, State: state,
		CreatedAt: now, ExpiresAt: now.Add(device.ChallengeTTL),
	}
	if err := s.challenges.CreateChallenge(ctx, c); err != nil {
		return "", nil, err
	}
	return c.ID, options, nil
}

// consume takes challenge id out of the store: it answers once, within
// device.ChallengeTTL, and only for its purpose. A replayed answer (the
// same challenge again) finds nothing.
// Errors: Unauthenticated (unknown, used, other purpose); Expired.
func (s *Service) consume(ctx context.Context, op, id string, purpose device.Purpose) (device.Challenge, error) {
	unknown := fault.Coded(fault.Unauthenticated, op, challengeUnknownText)
	if id == "" || len(id) > 128 {
		return device.Challenge{}, unknown
	}
	c, err := s.challenges.ConsumeChallenge(ctx, id, s.clock())
	switch {
	case errors.Is(err, fault.NotFound):
		return device.Challenge{}, unknown
	case errors.Is(err, fault.Expired):
		return device.Challenge{}, fault.Coded(fault.Expired, op, challengeExpiredText)
	case err != nil:
		return device.Challenge{}, err
	case c.Purpose != purpose:
		return device.Challenge{}, unknown
	}
	return c, nil
}

func validPlatform(p device.Platform) bool {
	return p == device.Android || p == device.IOS || p == device.Software
}

// FinishBinding verifies the app's answer to a BeginBinding challenge and
// binds the new key to the account, in the enrollment session the token
// opens. The challenge must be one issued for this very session: a
// challenge of another session or of a device assertion is refused, and
// is used up. The key's attestation must pass the configured policy (no
// synced passkeys; production: hardware-backed keys of the insurer's app);
// a refusal is logged with its reason. The software platform of the
// reference client is accepted only where unattested keys are (development).
// The member with an e-mail address on file is told about the new device.
//
// The binding is Active but has no PIN yet; it cannot authenticate until
// SetPIN completes the enrollment.
//
// Errors: Unauthenticated (unknown token; challenge unknown, used, or not
// this session's; the key's answer does not verify); Expired (session or
// challenge); Invalid (device name, platform, malformed answer); Forbidden
// (password not set; attestation refused, with the reason); Conflict
// (already bound in this session, or this key is bound already);
// Unavailable.
func (s *Service) FinishBinding(ctx context.Context, token, challengeID string, response []byte, name string,
	platform device.Platform, ip string) (device.Binding, error) {
	const op = "binding.FinishBinding"
	sess, err := s.session(ctx, op, token)
	if err != nil {
		return device.Binding{}, err
	}
	if err := device.NameOK(name); err != nil {
		return device.Binding{}, err
	}
	if !validPlatform(platform) || (platform == device.Software && !s.cfg.Device.AllowUnattested) {
		return device.Binding{}, fault.Coded(fault.Invalid, op, platformText)
	}
	if sess.PasswordSetAt.IsZero() {
		return device.Binding{}, fault.Coded(fault.Forbidden, op, passwordFirstText)
	}
	c, err := s.consume(ctx, op, challengeID, device.Registration)
	if err != nil {
		return device.Binding{}, err
	}
	if c.Subject != sess.ID {
		// A challenge issued to another enrollment session: whoever
		// answers it here did not get it from this session.
		s.logWarn(ctx, "registration challenge of another session", slog.String("session", sess.ID))
		return device.Binding{}, fault.Coded(fault.Unauthenticated, op, challengeOtherText)
	}
	key, err := s.ceremony.VerifyRegistration(ctx, c.State, response)
	if err != nil {
		return device.Binding{}, err
	}
	if err := s.cfg.Device.Accept(key.Attestation); err != nil {
		// The reason code and what the attestation showed, so that
		// support can tell a member why and operators can see a pattern
		// (many unlocked bootloaders, a revoked batch key).
		reason, _ := fault.CodeOf(err)
		a := key.Attestation
		s.logWarn(ctx, "device key refused", slog.String("session", sess.ID), slog.String("account", sess.AccountID),
			slog.String("format", a.Format), slog.String("reason", string(reason)),
			slog.Bool("trusted", a.Trusted), slog.String("attestation_level", string(a.AttestationLevel)),
			slog.String("key_level", string(a.KeyLevel)), slog.String("boot_state", string(a.BootState)),
			slog.Bool("device_locked", a.DeviceLocked), slog.String("revocation", string(a.Revocation)),
			slog.Bool("revocation_checked", a.RevocationChecked))
		return device.Binding{}, err
	}
	now := s.clock()
	b := device.Binding{
		ID: grant.NewID(), AccountID: sess.AccountID, EnrollmentID: sess.ID, Name: strings.TrimSpace(name),
		Platform: platform, CredentialID: key.CredentialID, PublicKey: key.PublicKey, SignCount: key.SignCount,
		AAGUID: key.Attestation.AAGUID, AttestationFormat: key.Attestation.Format, Status: device.Active,
		CreatedAt: now,
	}
	switch err := s.devices.BindDevice(ctx, b, now); {
	case errors.Is(err, fault.NotFound):
		return device.Binding{}, fault.Coded(fault.Unauthenticated, op, unknownSessionText)
	case errors.Is(err, fault.Expired):
		return device.Binding{}, fault.Coded(fault.Expired, op, expiredSessionText)
	case errors.Is(err, fault.Conflict):
		if _, bound, lerr := s.sessionBinding(ctx, sess); lerr == nil && bound {
			return device.Binding{}, fault.Coded(fault.Conflict, op, alreadyBoundText)
		}
		return device.Binding{}, fault.Coded(fault.Conflict, op, keyBoundText)
	case err != nil:
		return device.Binding{}, err
	}
	s.record(ctx, s.event(audit.DeviceBound, b.AccountID, ip, map[string]string{
		"binding": b.ID, "session": sess.ID, "name": b.Name, "platform": string(b.Platform), "format": b.AttestationFormat,
	}))
	s.logInfo(ctx, "device bound", slog.String("session", sess.ID), slog.String("account", b.AccountID),
		slog.String("binding", b.ID), slog.String("platform", string(b.Platform)), slog.String("format", b.AttestationFormat))
	s.tell(ctx, sess.KVNR, deviceBound(b.Name, now))
	return b, nil
}

// birthDates are the member's dates of birth a PIN must not spell: the
// directory's and those of every proof (an eID may differ from the
// directory). It always holds at least "" so that the other rules run.
func (s *Service) birthDates(ctx context.Context, k kvnr.KVNR, accountID string) ([]string, error) {
	out := []string{""}
	m, err := s.members.MemberByKVNR(ctx, k)
	switch {
	case err == nil:
		out = append(out, m.BirthDate)
	case !errors.Is(err, fault.NotFound):
		return nil, err
	}
	proofs, err := s.enrolls.Proofs(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, p := range proofs {
		out = append(out, p.Attributes.BirthDate)
	}
	return out, nil
}

// checkPIN applies pin.Check against every known date of birth.
// Errors: Invalid with the reason.
func (s *Service) checkPIN(ctx context.Context, k kvnr.KVNR, accountID, p string) error {
	dates, err := s.birthDates(ctx, k, accountID)
	if err != nil {
		return err
	}
	for _, d := range dates {
		if err := pin.Check(p, d); err != nil {
			return err
		}
	}
	return nil
}

// SetPIN sets the release PIN of the device bound in the enrollment
// session the token opens, and completes the enrollment: in one store
// transaction the account becomes active, the session is closed and the
// event EnrollmentCompleted is appended (EnrollmentCompletion). The member
// with an e-mail address on file is told.
//
// The PIN must pass pin.Check against the member's date of birth; it is
// stored as a keyed hash bound to the binding. It is set at most once: the
// check that no PIN is stored and the write are one UpdateBinding, so two
// concurrent calls cannot both set one. When the PIN was stored but the
// completion failed (a store outage), calling SetPIN again with the same
// PIN completes the enrollment; another PIN is a Conflict.
//
// Errors: Unauthenticated (unknown token); Expired (session over or
// completed); Forbidden (no device bound in this session, the binding was
// revoked meanwhile, or a step is missing); Invalid (PIN refused, with the
// reason); Conflict (a PIN is set already); Unavailable.
func (s *Service) SetPIN(ctx context.Context, token, p, ip string) (account.Account, error) {
	const op = "binding.SetPIN"
	sess, err := s.session(ctx, op, token)
	if err != nil {
		return account.Account{}, err
	}
	b, bound, err := s.sessionBinding(ctx, sess)
	switch {
	case err != nil:
		return account.Account{}, err
	case !bound:
		return account.Account{}, fault.Coded(fault.Forbidden, op, deviceFirstText)
	case b.Status != device.Active:
		return account.Account{}, fault.Coded(fault.Forbidden, op, deviceGoneText)
	}
	if err := s.checkPIN(ctx, sess.KVNR, sess.AccountID, p); err != nil {
		return account.Account{}, err
	}
	now := s.clock()
	set := true
	stored, err := s.devices.UpdateBinding(ctx, b.ID, func(cur *device.Binding) error {
		switch {
		case cur.Status != device.Active:
			return fault.Coded(fault.Forbidden, op, deviceGoneText)
		case cur.PINHash != "":
			// Set before: the same PIN again is a retry after a failed
			// completion; anything else is a second PIN.
			if again, _ := s.pins.Verify(cur.ID, p, cur.PINHash); again {
				return errUnchanged
			}
			return fault.Coded(fault.Conflict, op, pinAlreadySet)
		}
		cur.PINHash = s.pins.Hash(cur.ID, p)
		cur.PINSetAt = now
		cur.PIN = pin.Counter{}
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		set = false
	case err != nil:
		return account.Account{}, err
	default:
		b = stored
	}
	if set {
		s.record(ctx, s.event(audit.PINSet, sess.AccountID, ip, map[string]string{"binding": b.ID, "session": sess.ID}))
	}
	a, err := s.completion.CompleteEnrollment(ctx, sess.ID,
		s.event(audit.EnrollmentCompleted, sess.AccountID, ip, map[string]string{"binding": b.ID, "session": sess.ID}), s.clock())
	switch {
	case errors.Is(err, fault.NotFound):
		return account.Account{}, fault.Coded(fault.Unauthenticated, op, unknownSessionText)
	case errors.Is(err, fault.Expired):
		return account.Account{}, fault.Coded(fault.Expired, op, expiredSessionText)
	case errors.Is(err, fault.Forbidden):
		return account.Account{}, fault.Coded(fault.Forbidden, op, stepMissingText)
	case err != nil:
		return account.Account{}, err
	}
	s.logInfo(ctx, "enrollment completed", slog.String("session", sess.ID), slog.String("account", a.ID),
		slog.String("binding", b.ID))
	s.tell(ctx, sess.KVNR, enrollmentDone(b.Name, now))
	return a, nil
}
