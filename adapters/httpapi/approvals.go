package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/pforte-id/pforte/core/approval"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/weblogin"
)

// The web login's approvals: a browser login of the member waits for a
// decision in the app, which lists them, and approves one with the number
// the browser shows (or denies it) with its device key and release PIN.

// Approvals is the app's side of the web login (core/weblogin.Service).
type Approvals interface {
	List(ctx context.Context, challengeID string, assertion []byte, ip string) (device.Binding, []weblogin.Pending, error)
	Begin(ctx context.Context, id, bindingID string) (challengeID string, options []byte, err error)
	Decide(ctx context.Context, id string, d weblogin.Decision, ip string) (approval.Approval, error)
}

var _ Approvals = (*weblogin.Service)(nil)

// Headers of GET /approvals: the answer to a device challenge
// (POST /devices/{id}/challenge) — a GET has no body to carry it.
const (
	headerChallenge = "Pforte-Device-Challenge"
	// headerAssertion is the WebAuthn assertion (JSON), base64url without
	// padding.
	headerAssertion = "Pforte-Device-Assertion"
)

// codeProofMissing: GET /approvals came without the device's answer.
const codeProofMissing fault.Code = "api.device_proof_missing"

// approvalOut is a pending approval as the app shows it.
type approvalOut struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Browser    string    `json:"browser"`
	Choices    [3]int    `json:"choices"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) {
	challenge := r.Header.Get(headerChallenge)
	assertion, err := base64.RawURLEncoding.DecodeString(r.Header.Get(headerAssertion))
	if challenge == "" || err != nil || len(assertion) == 0 || int64(len(assertion)) > a.cfg.MaxBodyBytes {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeProofMissing))
		return
	}
	b, ps, err := a.approvals.List(r.Context(), challenge, assertion, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	out := make([]approvalOut, len(ps))
	for i, p := range ps {
		out[i] = approvalOut{ID: p.ID, ClientID: p.ClientID, ClientName: p.ClientName, Browser: p.Browser,
			Choices: p.Choices, CreatedAt: p.CreatedAt.UTC(), ExpiresAt: p.ExpiresAt.UTC()}
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]any{"binding_id": b.ID, "approvals": out})
}

// approvalChallengeRequest is the body of POST /approvals/{id}/challenge.
type approvalChallengeRequest struct {
	BindingID string `json:"binding_id"`
}

func (a *API) beginApproval(w http.ResponseWriter, r *http.Request) {
	var in approvalChallengeRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	id, options, err := a.approvals.Begin(r.Context(), r.PathValue("id"), in.BindingID)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", challengeOut(id, options))
}

// decisionRequest is the body of POST /approvals/{id}.
type decisionRequest struct {
	// Decision is "approve" or "deny".
	Decision string `json:"decision"`
	// Number is the number the member chose (approve only).
	Number    int    `json:"number,omitempty"`
	BindingID string `json:"binding_id"`
	Proof     proof  `json:"proof"`
}

// decisionResponse says how the approval was decided: "approved", or
// "denied" with the reason ("member", "wrong_number").
type decisionResponse struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// codeDecision: the decision is neither approve nor deny.
const codeDecision fault.Code = "api.approval_decision"

func (a *API) decideApproval(w http.ResponseWriter, r *http.Request) {
	var in decisionRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if in.Decision != "approve" && in.Decision != "deny" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", codeDecision))
		return
	}
	d, err := a.approvals.Decide(r.Context(), r.PathValue("id"), weblogin.Decision{
		Approve: in.Decision == "approve", Number: in.Number, BindingID: in.BindingID,
		ChallengeID: in.Proof.ChallengeID, Assertion: in.Proof.Assertion, PIN: in.Proof.PIN,
	}, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", decisionResponse{Status: string(d.Status), Reason: string(d.Reason)})
}
