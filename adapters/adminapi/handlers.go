package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/support"
)

// foundJSON is one member a search found.
type foundJSON struct {
	KVNR         string `json:"kvnr"`
	GivenName    string `json:"given_name,omitempty"`
	FamilyName   string `json:"family_name,omitempty"`
	BirthDate    string `json:"birth_date,omitempty"`
	Registration string `json:"registration"`
}

// GET /members?kvnr=… or ?family_name=…&birth_date=…[&given_name=…][&limit=…]
func (a *API) searchMembers(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	fs, err := a.svc.SearchMembers(r.Context(), ag, support.Search{
		KVNR: q.Get("kvnr"), FamilyName: q.Get("family_name"), GivenName: q.Get("given_name"), BirthDate: q.Get("birth_date"),
		Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]foundJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, foundJSON{KVNR: string(f.KVNR), GivenName: f.GivenName, FamilyName: f.FamilyName,
			BirthDate: f.BirthDate, Registration: string(f.Registration)})
	}
	return ok(w, r, map[string]any{"members": out})
}

func intParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fault.Coded(fault.Invalid, "adminapi", support.CodeQuery, name)
	}
	return n, nil
}

type addressJSON struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	Locality   string `json:"locality"`
	Country    string `json:"country,omitempty"`
}

type memberJSON struct {
	GivenName    string      `json:"given_name"`
	FamilyName   string      `json:"family_name"`
	BirthDate    string      `json:"birth_date"`
	Address      addressJSON `json:"address"`
	Email        string      `json:"email,omitempty"`
	InsuredFrom  *time.Time  `json:"insured_from,omitempty"`
	InsuredUntil *time.Time  `json:"insured_until,omitempty"`
}

type accountJSON struct {
	ID          string     `json:"id"`
	Proofing    string     `json:"proofing"`
	PasswordSet bool       `json:"password_set"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

type deviceJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Platform    string     `json:"platform"`
	Status      string     `json:"status"`
	PINSet      bool       `json:"pin_set"`
	PINFailures int        `json:"pin_failures"`
	PINBlocked  bool       `json:"pin_blocked"`
	PINRetryAt  *time.Time `json:"pin_retry_at,omitempty"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

type letterJSON struct {
	ID             string     `json:"id"`
	State          string     `json:"state"`
	VoidReason     string     `json:"void_reason,omitempty"`
	FailedAttempts int        `json:"failed_attempts"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	HandedOverAt   *time.Time `json:"handed_over_at,omitempty"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	ActivatedAt    *time.Time `json:"activated_at,omitempty"`
	VoidedAt       *time.Time `json:"voided_at,omitempty"`
}

type loginJSON struct {
	Time     *time.Time `json:"time"`
	Kind     string     `json:"kind"`
	ClientID string     `json:"client_id,omitempty"`
}

type lockoutJSON struct {
	PasswordFailures  int        `json:"password_failures"`
	PasswordNotBefore *time.Time `json:"password_not_before,omitempty"`
	AccountLocked     bool       `json:"account_locked"`
	BlockedDevices    []string   `json:"blocked_devices"`
}

type statusJSON struct {
	KVNR           string       `json:"kvnr"`
	Registration   string       `json:"registration"`
	Member         *memberJSON  `json:"member,omitempty"`
	Account        *accountJSON `json:"account,omitempty"`
	Devices        []deviceJSON `json:"devices"`
	Lockouts       lockoutJSON  `json:"lockouts"`
	Letter         *letterJSON  `json:"letter,omitempty"`
	LastLogins     []loginJSON  `json:"last_logins"`
	ActiveSessions int          `json:"active_sessions"`
}

// GET /members/{kvnr}
func (a *API) memberStatus(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	st, err := a.svc.MemberStatus(r.Context(), ag, k)
	if err != nil {
		return err
	}
	out := statusJSON{KVNR: string(st.KVNR), Registration: string(st.Registration), Devices: []deviceJSON{},
		LastLogins: []loginJSON{}, ActiveSessions: st.ActiveSessions,
		Lockouts: lockoutJSON{PasswordFailures: st.PasswordFailures, PasswordNotBefore: ts(st.PasswordNotBefore),
			AccountLocked: st.Registration == support.Locked, BlockedDevices: []string{}}}
	if st.InDirectory {
		m := st.Member
		out.Member = &memberJSON{GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate,
			Address: addressJSON{Street: m.Address.Street, PostalCode: m.Address.PostalCode, Locality: m.Address.Locality, Country: m.Address.Country},
			Email:   m.Email, InsuredFrom: ts(m.InsuredFrom), InsuredUntil: ts(m.InsuredUntil)}
	}
	if st.HasAccount {
		out.Account = &accountJSON{ID: st.AccountID, Proofing: st.Proofing.String(), PasswordSet: st.PasswordSet,
			CreatedAt: ts(st.CreatedAt), UpdatedAt: ts(st.UpdatedAt)}
	}
	for _, d := range st.Devices {
		out.Devices = append(out.Devices, deviceJSON{ID: d.ID, Name: d.Name, Platform: string(d.Platform), Status: string(d.Status),
			PINSet: d.PINSet, PINFailures: d.PINFailures, PINBlocked: d.PINBlocked, PINRetryAt: ts(d.PINRetryAt),
			CreatedAt: ts(d.CreatedAt), LastUsedAt: ts(d.LastUsedAt), RevokedAt: ts(d.RevokedAt)})
		if d.PINBlocked || d.Status == "blocked" {
			out.Lockouts.BlockedDevices = append(out.Lockouts.BlockedDevices, d.ID)
		}
	}
	if st.HasLetter {
		l := st.Letter
		out.Letter = &letterJSON{ID: l.ID, State: string(l.State), VoidReason: l.VoidReason, FailedAttempts: l.FailedAttempts,
			CreatedAt: ts(l.CreatedAt), HandedOverAt: ts(l.HandedOverAt), ExpiresAt: ts(l.ExpiresAt),
			ActivatedAt: ts(l.ActivatedAt), VoidedAt: ts(l.VoidedAt)}
	}
	for _, e := range st.LastLogins {
		out.LastLogins = append(out.LastLogins, loginJSON{Time: ts(e.Time), Kind: string(e.Kind), ClientID: e.ClientID})
	}
	return ok(w, r, out)
}

// letterRequest is the body of POST /members/{kvnr}/letters.
type letterRequest struct {
	OverrideInterval bool   `json:"override_interval"`
	Reason           string `json:"reason"`
}

func (a *API) orderLetter(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	var in letterRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	l, err := a.svc.OrderLetter(r.Context(), ag, k, in.OverrideInterval, in.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusCreated, "application/json", map[string]any{
		"letter": letterJSON{ID: l.ID, State: string(l.State), CreatedAt: ts(l.CreatedAt), ExpiresAt: ts(l.ExpiresAt)},
	})
	return nil
}

// lostRequest is the body of POST /members/{kvnr}/letters/lost.
type lostRequest struct {
	Reason string `json:"reason"`
}

// reportLetterLost voids the member's current letter as lost and sends a
// new one when the guard admits it (200 either way: the letter is voided;
// the body says whether a new one went out, or from when it can).
func (a *API) reportLetterLost(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	var in lostRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	res, err := a.svc.ReportLetterLost(r.Context(), ag, k, in.Reason)
	if err != nil {
		return err
	}
	out := map[string]any{
		"voided": letterJSON{ID: res.Voided.ID, State: string(res.Voided.State), VoidReason: res.Voided.VoidReason,
			CreatedAt: ts(res.Voided.CreatedAt), VoidedAt: ts(res.Voided.VoidedAt)},
	}
	if res.Replacement.ID != "" {
		out["replacement"] = letterJSON{ID: res.Replacement.ID, State: string(res.Replacement.State),
			CreatedAt: ts(res.Replacement.CreatedAt), HandedOverAt: ts(res.Replacement.HandedOverAt), ExpiresAt: ts(res.Replacement.ExpiresAt)}
	}
	if t := ts(res.NextPossible); t != nil {
		out["next_possible"] = t
	}
	if res.Refused != "" {
		out["refused"] = res.Refused
	}
	return ok(w, r, out)
}

func (a *API) unblockDevice(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	changed, err := a.svc.UnblockDevice(r.Context(), ag, k, r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"changed": changed})
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	if err := a.svc.RevokeDevice(r.Context(), ag, k, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) revokeAllDevices(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	n, err := a.svc.RevokeAllDevices(r.Context(), ag, k)
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"revoked": n})
}

func (a *API) endSessions(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	n, err := a.svc.EndSessions(r.Context(), ag, k)
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"ended": n})
}

// reasonRequest is the body of lock and unlock.
type reasonRequest struct {
	Reason string `json:"reason"`
}

func (a *API) lock(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	var in reasonRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	changed, err := a.svc.Lock(r.Context(), ag, k, in.Reason)
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"changed": changed, "registration": support.Locked})
}

func (a *API) unlock(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	var in reasonRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if err := a.svc.Unlock(r.Context(), ag, k, in.Reason); err != nil {
		return err
	}
	return ok(w, r, map[string]any{"changed": true, "registration": support.Registered})
}

// DELETE /members/{kvnr} {"reason": "…"}: the account and what belongs to
// it (core/lifecycle.DeleteAccount, by support).
func (a *API) deleteMember(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	k, err := pathKVNR(r)
	if err != nil {
		return err
	}
	var in reasonRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if err := a.svc.DeleteMember(r.Context(), ag, k, in.Reason); err != nil {
		return err
	}
	return ok(w, r, map[string]any{"deleted": true})
}

type eventJSON struct {
	ID        string            `json:"id"`
	Time      *time.Time        `json:"time"`
	Kind      string            `json:"kind"`
	Actor     string            `json:"actor"`
	AccountID string            `json:"account_id,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// GET /audit?kvnr=…&from=…&to=…&kind=…&kind=…&limit=…
func (a *API) audit(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	q := r.URL.Query()
	var from, to time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fault.Coded(fault.Invalid, "adminapi", support.CodeQuery, p.name)
			}
			*p.dst = t
		}
	}
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	es, err := a.svc.Audit(r.Context(), ag, support.AuditQuery{KVNR: q.Get("kvnr"), Kinds: q["kind"], From: from, To: to, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]eventJSON, 0, len(es))
	for _, e := range es {
		out = append(out, eventJSON{ID: e.ID, Time: ts(e.Time), Kind: string(e.Kind), Actor: string(e.Actor),
			AccountID: e.AccountID, ClientID: e.ClientID, Detail: e.Detail})
	}
	return ok(w, r, map[string]any{"events": out})
}

type clientJSON struct {
	ID                     string     `json:"id"`
	Name                   string     `json:"name"`
	NameEN                 string     `json:"name_en,omitempty"`
	Kind                   string     `json:"kind"`
	AuthMethod             string     `json:"auth_method"`
	RedirectURIs           []string   `json:"redirect_uris"`
	PostLogoutRedirectURIs []string   `json:"post_logout_redirect_uris"`
	GrantTypes             []string   `json:"grant_types"`
	Scopes                 []string   `json:"scopes"`
	Declared               bool       `json:"declared"`
	PreviousSecretUntil    *time.Time `json:"previous_secret_valid_until,omitempty"`
}

func clientOut(c support.Client) clientJSON {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return clientJSON{ID: c.ID, Name: c.Name, NameEN: c.NameEN, Kind: string(c.Kind), AuthMethod: string(c.AuthMethod),
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), Declared: c.Declared,
		PreviousSecretUntil: ts(c.PreviousSecretUntil)}
}

func (a *API) client(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	c, err := a.svc.Client(r.Context(), ag, r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, r, clientOut(c))
}

// clientEditRequest is the body of PATCH /clients/{id}: the fields given
// change, the others stay.
type clientEditRequest struct {
	Name                   *string   `json:"name"`
	NameEN                 *string   `json:"name_en"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
}

func (a *API) editClient(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	var in clientEditRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	c, err := a.svc.EditClient(r.Context(), ag, r.PathValue("id"), support.ClientEdit(in))
	if err != nil {
		return err
	}
	return ok(w, r, clientOut(c))
}

// rotateRequest is the body of POST /clients/{id}/secret.
type rotateRequest struct {
	// PreviousValidUntil is when the current secret stops (absent: a
	// day from now).
	PreviousValidUntil *time.Time `json:"previous_valid_until"`
	// Immediately ends the current secret at once (a leaked secret).
	Immediately bool `json:"immediately"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	var in rotateRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	var until time.Time
	if in.PreviousValidUntil != nil {
		if in.Immediately {
			return fault.Coded(fault.Invalid, "adminapi", support.CodeQuery, "immediately")
		}
		until = *in.PreviousValidUntil
	}
	secret, c, err := a.svc.RotateSecret(r.Context(), ag, r.PathValue("id"), until, in.Immediately)
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"client_secret": secret, "client": clientOut(c)})
}

func (a *API) finishRollover(w http.ResponseWriter, r *http.Request, ag support.Agent) error {
	had, err := a.svc.FinishRollover(r.Context(), ag, r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, r, map[string]any{"changed": had})
}
