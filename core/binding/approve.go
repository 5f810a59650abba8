package binding

import (
	"context"
	"log/slog"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

// otherApprovalText answers an approval challenge presented for another
// approval than the one it was issued for. No parameters.
const otherApprovalText fault.Code = "challenge.other_approval"

// maxApprovalID bounds approval ids; longer ones are no ids Pforte issued.
const maxApprovalID = 128

// BeginApproval starts the device step of a decision on a web login's
// approval: a challenge of purpose device.Approval for binding bindingID,
// bound to approval approvalID (Challenge.Context), single use and valid
// for device.ChallengeTTL. It returns the challenge id and the WebAuthn
// request options (JSON) that allow only the binding's key.
//
// Whether the approval exists, is pending and belongs to the binding's
// member is the caller's business (core/weblogin); here it is only the
// context the answer must be given in. A blocked binding gets no
// challenge: its PIN must be reset first.
//
// Errors: Invalid (approvalID empty or too long); Forbidden, with one text
// for an unknown, revoked, suspect or not yet enrolled binding; Locked
// (pin.CodeBlocked); Unavailable.
func (s *Service) BeginApproval(ctx context.Context, bindingID, approvalID string) (challengeID string, options []byte, err error) {
	const op = "binding.BeginApproval"
	if approvalID == "" || len(approvalID) > maxApprovalID {
		return "", nil, fault.Coded(fault.Invalid, op, otherApprovalText)
	}
	return s.begin(ctx, op, bindingID, device.Approval, approvalID)
}

// AuthenticateApproval is AuthenticateDevice for a decision on approval
// approvalID: the same one path checks the answer to a BeginApproval
// challenge (possession) and the release PIN (knowledge), with the same
// atomic attempt counting — a wrong PIN here counts toward the same
// block as one in the app login or device management — the same sign
// counter rule, audit events and notifications. The challenge must have
// been issued for approvalID: one carried to another approval is refused
// (Unauthenticated, challenge.other_approval) and used up, without a PIN
// attempt.
//
// It returns the binding as stored afterwards; the caller checks that it
// belongs to the approval's member before it stores the decision.
//
// Errors: those of AuthenticateDevice, where "another purpose" includes
// device management and login challenges; Unauthenticated also for a
// challenge of another approval.
func (s *Service) AuthenticateApproval(ctx context.Context, challengeID string, response []byte, pin, ip, approvalID string) (device.Binding, error) {
	const op = "binding.AuthenticateApproval"
	if approvalID == "" || len(approvalID) > maxApprovalID {
		return device.Binding{}, fault.Coded(fault.Unauthenticated, op, otherApprovalText)
	}
	v, err := s.authenticate(ctx, op, device.Approval, approvalID, challengeID, response, pin, ip)
	return v.binding, err
}

// AuthenticateKey checks possession alone: the answer to a
// BeginDeviceAuth challenge, signed by the binding's key, with the sign
// counter rule of AuthenticateDevice (a counter that did not grow marks
// the binding Suspect and refuses). It authorises reading, never a
// change: the app's list of approvals waiting for its member, whose every
// decision then asks for the PIN as well (AuthenticateApproval). The
// challenge is used up; no PIN attempt is counted.
//
// Errors: Unauthenticated (challenge unknown, used or of another purpose;
// answer does not verify or comes from another key); Expired (challenge);
// Locked (pin.CodeBlocked: a blocked binding decides nothing, so it need
// not read either); Forbidden (binding unknown, revoked, suspect or not
// enrolled; sign counter rollback; account not active); Invalid
// (malformed answer); Unavailable.
func (s *Service) AuthenticateKey(ctx context.Context, challengeID string, response []byte, ip string) (device.Binding, error) {
	const op = "binding.AuthenticateKey"
	c, err := s.consume(ctx, op, challengeID, device.Assertion)
	if err != nil {
		return device.Binding{}, err
	}
	as, err := s.assert(ctx, op, c, response, ip)
	if err != nil {
		return device.Binding{}, err
	}
	if blocked(as.binding) {
		return device.Binding{}, pin.Blocked(op)
	}
	b, err := s.signed(ctx, op, as, ip)
	if err != nil {
		return device.Binding{}, err
	}
	s.logInfo(ctx, "device key authenticated", slog.String("binding", b.ID), slog.String("purpose", "read"))
	return b, nil
}
