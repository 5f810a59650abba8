package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/fault"
	coreproof "github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
)

// The recovery with the eID on a bound device (core/binding's
// RecoverWithEID): the member who lost the PIN or the password proves the
// identity with the ID card, bound to the app as at the registration.

// recoveryRequest is the body of POST /recovery: possession of the bound
// key (an answer to a challenge of POST /devices/{id}/challenge, no PIN)
// and the app's binding of the eID proofing to itself.
type recoveryRequest struct {
	ChallengeID         string          `json:"challenge_id"`
	Assertion           json.RawMessage `json:"assertion"`
	ReturnURI           string          `json:"return_uri"`
	CodeChallenge       string          `json:"code_challenge"`
	CodeChallengeMethod string          `json:"code_challenge_method"`
}

// recoveryResponse says where to send the member, and the token the app
// redeems the confirmation with.
type recoveryResponse struct {
	Status           string `json:"status"`
	AuthorizationURL string `json:"authorization_url"`
	RecoveryToken    string `json:"recovery_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
}

// recoveryConfirmation is the body of POST /recovery/confirmation (with
// the recovery token as bearer): the one-time code and verifier, the bound
// key's answer to a fresh challenge, and what the member sets.
type recoveryConfirmation struct {
	Code         string          `json:"code"`
	CodeVerifier string          `json:"code_verifier"`
	ChallengeID  string          `json:"challenge_id"`
	Assertion    json.RawMessage `json:"assertion"`
	NewPIN       string          `json:"new_pin,omitempty"`
	NewPassword  string          `json:"new_password,omitempty"`
}

func (a *API) beginRecovery(w http.ResponseWriter, r *http.Request) {
	var in recoveryRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if a.cfg.EIDCallbackURL == "" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", registration.CodeUnknownMethod))
		return
	}
	if in.CodeChallengeMethod != "S256" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", registration.CodeChallenge))
		return
	}
	b, err := a.bind.AssertPossession(r.Context(), in.ChallengeID, in.Assertion, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	u, token, err := a.reg.BeginAccountProof(r.Context(), registration.ProofingStart{
		ClientIP: a.clientIP(r), Method: coreproof.EID, CallbackURL: a.cfg.EIDCallbackURL,
		ReturnURI: in.ReturnURI, CodeChallenge: in.CodeChallenge,
	}, b.AccountID)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", recoveryResponse{
		Status: "redirect", AuthorizationURL: u, RecoveryToken: token, TokenType: "Bearer",
		ExpiresIn: int(coreproof.PendingTTL / time.Second),
	})
}

func (a *API) confirmRecovery(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeTokenMissing))
		return
	}
	var in recoveryConfirmation
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if a.cfg.EIDCallbackURL == "" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", registration.CodeUnknownMethod))
		return
	}
	err := a.bind.RecoverWithEID(r.Context(), binding.Recovery{
		ChallengeID: in.ChallengeID, Response: in.Assertion, Token: token, Code: in.Code, Verifier: in.CodeVerifier,
		NewPIN: in.NewPIN, NewPassword: in.NewPassword,
	}, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
