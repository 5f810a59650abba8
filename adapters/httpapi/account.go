package httpapi

import (
	"net/http"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/lifecycle"
)

// codeDeleteConfirm: a deletion request without "confirm": true.
const codeDeleteConfirm fault.Code = "account.delete_confirm"

// deleteRequest is the body of POST /account/delete: the device key and
// PIN (as for device management) and the member's explicit confirmation.
type deleteRequest struct {
	Proof   proof `json:"proof"`
	Confirm bool  `json:"confirm"`
}

// deleteAccount deletes the account of the binding that signed the
// request (core/lifecycle.DeleteAccount). A second request finds no
// binding any more and is refused as any unknown key is: the app tells
// the member from its own state that the account is gone.
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) {
	var in deleteRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if !in.Confirm {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi.deleteAccount", codeDeleteConfirm))
		return
	}
	if a.accounts == nil {
		writeProblem(w, r, a.log, fault.Coded(fault.NotFound, "httpapi", codeUnknownPath))
		return
	}
	b, err := a.bind.AuthenticateDevice(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if _, err := a.accounts.DeleteAccount(r.Context(), lifecycle.Deletion{
		AccountID: b.AccountID, Actor: audit.Member, ClientID: a.bind.Config().AppClientID, IP: a.clientIP(r),
	}); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]string{
		"status": "deleted", "message": catalog.From(r.Context()).Text("account.deleted"),
	})
}
