package httpapi

import (
	"net/http"
	"time"

	"github.com/pforte-id/pforte/catalog"
	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/fault"
)

// The app login (OAuth 2.0 for Native Apps, RFC 8252): the app sends its
// authorization request with PKCE to /authorize, takes the request id from
// the redirect to /login?id=<id> instead of showing a page, and completes
// the login here with its device key and release PIN. The answer is the
// redirect to the app's own redirect URI, with the code — or with the
// OAuth error — as a browser would have got it.

// loginChallengeRequest is the body of POST /logins/{id}/challenge.
type loginChallengeRequest struct {
	BindingID string `json:"binding_id"`
}

func (a *API) beginLogin(w http.ResponseWriter, r *http.Request) {
	var in loginChallengeRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	id, options, err := a.logins.Begin(r.Context(), r.PathValue("id"), in.BindingID)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", challengeOut(id, options))
}

// loginResponse is the answer of POST /logins/{id}: where the app goes on,
// exactly as a browser would be redirected.
type loginResponse struct {
	RedirectURI string `json:"redirect_uri"`
	// Code and Detail, with an error for the client that the app can act
	// on itself: login.step_up_eid (run POST /step-up, then log in again)
	// and the member's text in the language of Accept-Language.
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
	// ReconfirmBy, on a completed login, is when the device needs a
	// re-confirmation (POST /devices/{id}/reconfirm): the app tells the
	// member ahead of time.
	ReconfirmBy *time.Time `json:"reconfirm_by,omitempty"`
}

func (a *API) completeLogin(w http.ResponseWriter, r *http.Request) {
	var in proof
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	done, err := a.logins.CompleteLogin(r.Context(), r.PathValue("id"), in.ChallengeID, in.Assertion, in.PIN, a.clientIP(r))
	back, toClient := fault.RedirectOf(err)
	switch {
	case err != nil && toClient:
		// The member authenticated, but not as the request asks (a level
		// the account does not reach): an OAuth error for the client, on
		// its validated redirect URI, which the app reads like a browser
		// redirect. Not a problem document: the login step did its job.
		_, wi := wireOf(fault.KindOf(err))
		out := loginResponse{}
		if code, _ := fault.CodeOf(err); code == applogin.CodeStepUpEID {
			// OpenID Connect's error for a login that cannot meet the
			// requested authentication (acr_values high); the app runs
			// the eID step-up and logs in again.
			wi.oauth = "unmet_authentication_requirements"
			out.Code, out.Detail = string(code), catalog.From(r.Context()).Error(err)
		}
		out.RedirectURI = a.logins.ErrorRedirect(back, wi.oauth, catalog.Describe(err))
		writeJSON(w, r, http.StatusOK, "application/json", out)
	case err != nil:
		writeProblem(w, r, a.log, err)
	default:
		out := loginResponse{RedirectURI: done.RedirectURI}
		if !done.ReconfirmBy.IsZero() {
			by := done.ReconfirmBy.UTC()
			out.ReconfirmBy = &by
		}
		writeJSON(w, r, http.StatusOK, "application/json", out)
	}
}
