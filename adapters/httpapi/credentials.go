package httpapi

import (
	"context"
	"net/http"

	"github.com/pforte-id/pforte/core/binding"
)

// The member's credential changes in the app. Each carries a proof of the
// bound key (an assertion over a challenge of POST /devices/{id}/challenge)
// and the release PIN, which counts toward the lockout like every other
// PIN entry; the use cases are core/binding's.

// Credentials changes a member's PIN and password (core/binding.Service).
type Credentials interface {
	ChangePIN(ctx context.Context, challengeID string, response []byte, currentPIN, newPIN, ip string) error
	ResetPassword(ctx context.Context, challengeID string, response []byte, pin, newPassword, ip string) error
	ChangePassword(ctx context.Context, challengeID string, response []byte, pin, currentPassword, newPassword, ip string) error
}

var _ Credentials = (*binding.Service)(nil)

// pinChangeRequest is the body of POST /pin/change: the proof with the
// current PIN, and the new one.
type pinChangeRequest struct {
	Proof  proof  `json:"proof"`
	NewPIN string `json:"new_pin"`
}

// passwordResetRequest is the body of POST /password/reset: the key and
// the PIN stand in for the forgotten password. A current password is an
// unknown field here: the member who knows it changes it
// (POST /password/change), where it is checked.
type passwordResetRequest struct {
	Proof       proof  `json:"proof"`
	NewPassword string `json:"new_password"`
}

// passwordChangeRequest is the body of POST /password/change.
type passwordChangeRequest struct {
	Proof           proof  `json:"proof"`
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *API) changePIN(w http.ResponseWriter, r *http.Request) {
	var in pinChangeRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if err := a.creds.ChangePIN(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, in.NewPIN, a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	var in passwordResetRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if err := a.creds.ResetPassword(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, in.NewPassword, a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var in passwordChangeRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if err := a.creds.ChangePassword(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN,
		in.CurrentPassword, in.NewPassword, a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
