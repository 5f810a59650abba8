package registration

import (
	"context"
	"errors"
	"log/slog"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/ports/store"
)

// Codes of the step-up; none has parameters.
const (
	// CodeAlreadyHigh: the account is proofed at level high already.
	CodeAlreadyHigh fault.Code = "proofing.already_high"
	// CodeStepUpUnavailable: the account cannot be stepped up now (not
	// active).
	CodeStepUpUnavailable fault.Code = "proofing.step_up_unavailable"
)

// Reconfirmer confirms a device binding again after the member proved
// their identity with the eID from it (binding.Service).
type Reconfirmer interface {
	ReconfirmWithEID(ctx context.Context, bindingID, accountID, ip string) (device.Binding, error)
}

// BeginStepUp begins a proofing by redirect (the eID) that raises the
// account accountID of a logged-in member to the level the method proves:
// the caller has authenticated the member (device key and release PIN).
// It works as BeginProofing does — the same return address, challenge,
// state and single use, and the token returned is the app's for
// RedeemStepUp — with the member number of the account: the attributes
// the service verifies must match that member's record, so a step-up can
// only ever prove the member who is logged in.
//
// With in.BindingID set (the binding whose key and PIN the caller
// checked), the step-up also confirms that binding again once the proof
// is recorded (device.Reconfirm): the way an account proven at high
// confirms its devices, so such an account may begin one too.
//
// Errors: those of BeginProofing; Conflict (CodeAlreadyHigh) for an
// account at high already, unless in.BindingID is set; Forbidden
// (CodeStepUpUnavailable) for an account that is not active; Internal for an unknown account or a
// service built without Deps.Accounts.
func (s *Service) BeginStepUp(ctx context.Context, in ProofingStart, accountID string) (redirectURL, stepUpToken string, err error) {
	return s.beginForAccount(ctx, "registration.BeginStepUp", in, accountID, true)
}

// BeginAccountProof begins an eID proof for account accountID of a member
// who holds a device bound to it but lost its release PIN or the
// password: the caller has checked possession of the device's key. It is
// BeginStepUp for an account at any level (one proofed by the eID
// already proves it again); the token returned is redeemed by
// RedeemStepUp, which records the proof, so a letter-proofed account is
// at level high afterwards. core/binding's RecoverWithEID redeems it and
// sets the new PIN or password.
//
// Errors: those of BeginProofing; Forbidden (CodeStepUpUnavailable) for
// an account that is not active; Internal as BeginStepUp.
func (s *Service) BeginAccountProof(ctx context.Context, in ProofingStart, accountID string) (redirectURL, token string, err error) {
	return s.beginForAccount(ctx, "registration.BeginAccountProof", in, accountID, false)
}

// beginForAccount begins an eID proof for an existing, active account;
// raise: only to raise its level (an account at high is a Conflict).
func (s *Service) beginForAccount(ctx context.Context, op string, in ProofingStart, accountID string, raise bool) (string, string, error) {
	if s.accounts == nil || accountID == "" {
		return "", "", fault.New(fault.Internal, op, "")
	}
	a, err := s.accounts.AccountByID(ctx, accountID)
	switch {
	case errors.Is(err, fault.NotFound):
		return "", "", fault.New(fault.Internal, op, "")
	case err != nil:
		return "", "", err
	case a.Status != account.Active:
		return "", "", fault.Coded(fault.Forbidden, op, CodeStepUpUnavailable)
	case raise && a.Proofing >= loa.High && in.BindingID == "":
		return "", "", fault.Coded(fault.Conflict, op, CodeAlreadyHigh)
	case in.BindingID != "" && s.devices == nil:
		return "", "", fault.New(fault.Internal, op, "")
	}
	in.KVNR = a.KVNR
	return s.begin(ctx, op, in, a.ID)
}

// RedeemStepUp is RedeemProofing for a step-up: with the one-time code,
// the token BeginStepUp returned and the verifier, it records the proof
// for the account that began and raises its level (no enrollment session:
// the member keeps the devices, password and PIN they have). It returns
// the account as stored.
//
// Errors: as RedeemProofing (Unauthenticated for an unknown, spent or
// foreign code, or a registration's; proofing.mismatch for a card linked
// to another member number; Expired); Unavailable.
func (s *Service) RedeemStepUp(ctx context.Context, token, code, verifier string) (account.Account, error) {
	const op = "registration.RedeemStepUp"
	c, err := s.redeem(ctx, op, token, code, verifier, true)
	if err != nil {
		return account.Account{}, err
	}
	a, err := s.enrolls.RecordProof(ctx, c.AccountID, c.Proof)
	switch {
	case errors.Is(err, store.ErrHolderLinked):
		return account.Account{}, s.holderLinked(ctx, op, c.Proof)
	case errors.Is(err, fault.NotFound), errors.Is(err, fault.Invalid):
		// The account is gone, or no longer the member's: nothing to raise.
		return account.Account{}, fault.Coded(fault.Unauthenticated, op, CodeConfirmationUnknown)
	case err != nil:
		return account.Account{}, err
	}
	s.metrics.Registration(ctx, c.Proof.Method)
	s.log.LogAttrs(ctx, slog.LevelInfo, "account stepped up",
		slog.String("account", a.ID), slog.String("method", string(c.Proof.Method)),
		slog.String("level", a.Proofing.String()), slog.String("evidence", c.Proof.Evidence.Reference))
	if c.BindingID != "" && s.devices != nil {
		// The proof stays recorded; a binding revoked meanwhile is not
		// confirmed, and the app is told so (Forbidden, device.gone).
		if _, err := s.devices.ReconfirmWithEID(ctx, c.BindingID, a.ID, ""); err != nil {
			return account.Account{}, err
		}
	}
	return a, nil
}
