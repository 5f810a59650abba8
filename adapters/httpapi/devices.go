package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// The device binding and release PIN endpoints. Enrollment steps carry the
// enrollment token; everything after enrollment is authenticated per
// request by the bound key (a WebAuthn assertion over a fresh challenge)
// and the release PIN: possession and knowledge each time.

// challengeResponse carries WebAuthn options for the app to pass to the
// platform authenticator.
type challengeResponse struct {
	ChallengeID string          `json:"challenge_id"`
	Options     json.RawMessage `json:"options"`
	ExpiresIn   int             `json:"expires_in"`
}

func challengeOut(id string, options []byte) challengeResponse {
	return challengeResponse{ChallengeID: id, Options: options, ExpiresIn: int(device.ChallengeTTL / time.Second)}
}

func (a *API) enrollmentToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeTokenMissing))
	}
	return token, ok
}

func (a *API) beginBinding(w http.ResponseWriter, r *http.Request) {
	token, ok := a.enrollmentToken(w, r)
	if !ok {
		return
	}
	id, options, err := a.bind.BeginBinding(r.Context(), token)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", challengeOut(id, options))
}

// bindRequest is the body of POST /enrollment/device.
type bindRequest struct {
	ChallengeID string          `json:"challenge_id"`
	Response    json.RawMessage `json:"response"`
	Name        string          `json:"name"`
	Platform    string          `json:"platform"`
}

// deviceOut is a device as the app sees it: never a key or hash.
type deviceOut struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Platform   string     `json:"platform"`
	Status     string     `json:"status"`
	PINSet     bool       `json:"pin_set"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Current    bool       `json:"current,omitempty"`
	// ReconfirmBy is when the device needs a re-confirmation (POST
	// /devices/reconfirm); the app tells the member ahead of time.
	ReconfirmBy *time.Time `json:"reconfirm_by,omitempty"`
}

func (a *API) finishBinding(w http.ResponseWriter, r *http.Request) {
	token, ok := a.enrollmentToken(w, r)
	if !ok {
		return
	}
	var in bindRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	b, err := a.bind.FinishBinding(r.Context(), token, in.ChallengeID, in.Response, in.Name,
		device.Platform(in.Platform), a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", deviceOut{
		ID: b.ID, Name: b.Name, Platform: string(b.Platform), Status: string(b.Status), CreatedAt: b.CreatedAt.UTC(),
	})
}

// pinRequest is the body of PUT /enrollment/pin.
type pinRequest struct {
	PIN string `json:"pin"`
}

func (a *API) setPIN(w http.ResponseWriter, r *http.Request) {
	token, ok := a.enrollmentToken(w, r)
	if !ok {
		return
	}
	var in pinRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	acc, err := a.bind.SetPIN(r.Context(), token, in.PIN, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]string{"account_status": string(acc.Status)})
}

func (a *API) beginDeviceAuth(w http.ResponseWriter, r *http.Request) {
	id, options, err := a.bind.BeginDeviceAuth(r.Context(), r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", challengeOut(id, options))
}

// proof is possession (an assertion over a challenge) and knowledge (the
// release PIN), sent with every device management request.
type proof struct {
	ChallengeID string          `json:"challenge_id"`
	Assertion   json.RawMessage `json:"assertion"`
	PIN         string          `json:"pin"`
}

// managementRequest is the body of the device management endpoints.
type managementRequest struct {
	Proof proof  `json:"proof"`
	Name  string `json:"name,omitempty"`
}

// authenticated decodes a management request and authenticates its proof.
func (a *API) authenticated(w http.ResponseWriter, r *http.Request) (device.Binding, managementRequest, bool) {
	var in managementRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return device.Binding{}, in, false
	}
	b, err := a.bind.AuthenticateDevice(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return device.Binding{}, in, false
	}
	return b, in, true
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	b, _, ok := a.authenticated(w, r)
	if !ok {
		return
	}
	ds, err := a.bind.ListDevices(r.Context(), b)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	out := make([]deviceOut, len(ds))
	for i, d := range ds {
		out[i] = deviceOut{ID: d.ID, Name: d.Name, Platform: string(d.Platform), Status: string(d.Status),
			PINSet: d.PINSet, CreatedAt: d.CreatedAt.UTC(), Current: d.Current}
		if !d.LastUsedAt.IsZero() {
			t := d.LastUsedAt.UTC()
			out[i].LastUsedAt = &t
		}
		if !d.ReconfirmBy.IsZero() {
			t := d.ReconfirmBy.UTC()
			out[i].ReconfirmBy = &t
		}
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]any{"devices": out})
}

func (a *API) renameDevice(w http.ResponseWriter, r *http.Request) {
	b, in, ok := a.authenticated(w, r)
	if !ok {
		return
	}
	if err := a.bind.RenameDevice(r.Context(), b, r.PathValue("id"), in.Name, a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request) {
	b, _, ok := a.authenticated(w, r)
	if !ok {
		return
	}
	if err := a.bind.RevokeDevice(r.Context(), b, r.PathValue("id"), a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) revokeOtherDevices(w http.ResponseWriter, r *http.Request) {
	b, _, ok := a.authenticated(w, r)
	if !ok {
		return
	}
	n, err := a.bind.RevokeOtherDevices(r.Context(), b, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusOK, "application/json", map[string]int{"revoked": n})
}

// pinResetRequest is the body of POST /pin/reset: the bound key and the
// account password stand in for the forgotten or blocked PIN.
type pinResetRequest struct {
	ChallengeID string          `json:"challenge_id"`
	Assertion   json.RawMessage `json:"assertion"`
	Password    string          `json:"password"`
	NewPIN      string          `json:"new_pin"`
}

func (a *API) resetPIN(w http.ResponseWriter, r *http.Request) {
	var in pinResetRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if err := a.bind.ResetPIN(r.Context(), in.ChallengeID, in.Assertion, in.Password, in.NewPIN, a.clientIP(r)); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// reconfirmRequest is the body of POST /devices/reconfirm: the bound key,
// the release PIN and the account password confirm the device again.
type reconfirmRequest struct {
	Proof    proof  `json:"proof"`
	Password string `json:"password"`
}

// reconfirm confirms the device of the proof again (binding.Reconfirm) and
// answers when the next re-confirmation is due.
func (a *API) reconfirm(w http.ResponseWriter, r *http.Request) {
	var in reconfirmRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	b, err := a.bind.Reconfirm(r.Context(), in.Proof.ChallengeID, in.Proof.Assertion, in.Proof.PIN, in.Password, a.clientIP(r))
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	by := a.bind.Config().Reconfirm.By(b)
	writeJSON(w, r, http.StatusOK, "application/json", map[string]time.Time{"reconfirm_by": by.UTC()})
}
