package binding

import (
	"context"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
)

// otherLoginText answers a login challenge presented for another
// authorization request than the one it was issued for.
// No parameters.
const otherLoginText fault.Code = "challenge.other_login"

// unknownLoginText answers a login step for a malformed request id.
const unknownLoginText fault.Code = "login.unknown_request"

// maxRequestID bounds authorization request ids; longer ones are no ids
// Pforte issued.
const maxRequestID = 128

// BeginLogin starts the device step of an app login: a challenge of
// purpose device.Login for binding bindingID, bound to the authorization
// request authRequestID (Challenge.Context), single use and valid for
// device.ChallengeTTL. It returns the challenge id and the WebAuthn
// request options (JSON) that allow only the binding's key.
//
// A login challenge is a purpose of its own (device.Login), not an
// Assertion with a context: AuthenticateDevice and ResetPIN refuse it,
// and AuthenticateLogin refuses a device management challenge, by the
// purpose check alone.
//
// Whether the authorization request exists and may be completed by the
// app is the caller's business (core/applogin); here it is only the
// context the answer must be given in. A blocked binding gets no login
// challenge: its member must reset the PIN first.
//
// Errors: Invalid (authRequestID empty or too long); Forbidden, with one
// text for an unknown, revoked, suspect or not yet enrolled binding;
// Locked (pin.CodeBlocked, the binding is blocked); Unavailable.
func (s *Service) BeginLogin(ctx context.Context, bindingID, authRequestID string) (challengeID string, options []byte, err error) {
	const op = "binding.BeginLogin"
	if authRequestID == "" || len(authRequestID) > maxRequestID {
		return "", nil, fault.Coded(fault.Invalid, op, unknownLoginText)
	}
	return s.begin(ctx, op, bindingID, device.Login, authRequestID)
}

// AuthenticateLogin is AuthenticateDevice for a login: the same one path
// checks the answer to a BeginLogin challenge (possession) and the
// release PIN (knowledge), with the same atomic attempt counting, sign
// counter rule, audit events and notifications. In addition the challenge
// must have been issued for authRequestID: one carried to another
// authorization request is refused (Unauthenticated, "this challenge
// belongs to another login") and used up, without a PIN attempt.
//
// It returns what the login proved: the account as subject, the
// account's proofing level, AMR hwk and pin (loa.Reach adds mfa for a
// proofed account), the time of the PIN check by the service's clock,
// and the binding, so that the tokens of the login are tied to it:
// revoking or suspecting the binding revokes their families in the store.
// Because every login checks a fresh PIN, Time is always now; a max_age
// in the request is satisfied by construction.
//
// Errors: those of AuthenticateDevice, where "another purpose" now
// includes a device management challenge; Unauthenticated also for a
// challenge of another authorization request.
func (s *Service) AuthenticateLogin(ctx context.Context, challengeID string, response []byte, pin, ip, authRequestID string) (loa.Authentication, error) {
	const op = "binding.AuthenticateLogin"
	if authRequestID == "" || len(authRequestID) > maxRequestID {
		return loa.Authentication{}, fault.Coded(fault.Unauthenticated, op, otherLoginText)
	}
	v, err := s.authenticate(ctx, op, device.Login, authRequestID, challengeID, response, pin, ip)
	if err != nil {
		return loa.Authentication{}, err
	}
	s.record(ctx, s.event(audit.AppLogin, v.account.ID, ip, map[string]string{"binding": v.binding.ID}))
	return loa.Authentication{
		Subject: v.account.ID, Proofing: v.account.Proofing, AMR: []string{loa.AMRHardware, loa.AMRPIN},
		Time: v.at, BindingID: v.binding.ID,
	}, nil
}
