package httpapi

import (
	"net/http"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	coreproof "github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
)

// stepUpRequest is the body of POST /step-up: the logged-in member's
// device proof (key + PIN) and the app's binding of the eID proofing to
// itself, as at the registration with the eID.
type stepUpRequest struct {
	Proof               proof  `json:"proof"`
	ReturnURI           string `json:"return_uri"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
	// Reconfirm: the step-up also confirms this device again
	// (device.reconfirm_eid); an account at high may run it for that.
	Reconfirm bool `json:"reconfirm,omitempty"`
}

// stepUpResponse says where to send the member, and the token the app
// redeems the confirmation with.
type stepUpResponse struct {
	Status           string `json:"status"`
	AuthorizationURL string `json:"authorization_url"`
	StepUpToken      string `json:"step_up_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
}

// beginStepUp begins the eID proofing that raises the account of the
// member who proves key and PIN here to high: the eID service's answer
// must match that member's record, and the app redeems the confirmation
// at POST /step-up/confirmation.
func (a *API) beginStepUp(w http.ResponseWriter, r *http.Request) {
	var in stepUpRequest
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
	b, err := a.bind.AuthenticateDevice(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	start := registration.ProofingStart{
		ClientIP: a.clientIP(r), Method: coreproof.EID, CallbackURL: a.cfg.EIDCallbackURL,
		ReturnURI: in.ReturnURI, CodeChallenge: in.CodeChallenge,
	}
	if in.Reconfirm {
		start.BindingID = b.ID
	}
	u, token, err := a.reg.BeginStepUp(r.Context(), start, b.AccountID)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", stepUpResponse{
		Status: "redirect", AuthorizationURL: u, StepUpToken: token, TokenType: "Bearer",
		ExpiresIn: int(coreproof.PendingTTL / time.Second),
	})
}

// redeemStepUp raises the account: the app presents its step-up token,
// the one-time code its return_uri received and the verifier.
func (a *API) redeemStepUp(w http.ResponseWriter, r *http.Request) {
	token, in, ok := a.readRedeem(w, r)
	if !ok {
		return
	}
	acct, err := a.reg.RedeemStepUp(r.Context(), token, in.Code, in.CodeVerifier)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]string{"proofing": acct.Proofing.String()})
}
