package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/pin"
)

// Insecure direct object references: a member, or a client, names a
// resource that is not theirs in the app API, on the account page or in
// the admin API. Each is refused as if the resource did not exist, and
// the other member's resource is untouched.

func init() {
	addAttacks(
		attack{id: "IDOR-01", name: "App API: rename another member's device with one's own device proof", source: "Pforte: IDOR (OWASP API1:2023)", run: attackRenameOthersDevice},
		attack{id: "IDOR-02", name: "App API: revoke another member's device with one's own device proof", source: "Pforte: IDOR (OWASP API1:2023)", run: attackRevokeOthersDevice},
		attack{id: "IDOR-03", name: "App API: answer another member's device challenge with one's own key", source: "Pforte: IDOR, WebAuthn L3 §7.2 step 6", run: attackOthersChallenge},
		attack{id: "IDOR-04", name: "App API: the enrollment token of a finished enrollment binds another device", source: "Pforte: IDOR, enrollment session replay", run: attackFinishedEnrollment},
		attack{id: "IDOR-05", name: "Account page: rename or remove another member's device", source: "Pforte: IDOR (OWASP API1:2023)", run: attackAccountOthersDevice},
		attack{id: "IDOR-06", name: "Account page: end another member's session or revoke their consent", source: "Pforte: IDOR (OWASP API1:2023)", run: attackAccountOthersSession},
		attack{id: "IDOR-07", name: "Account page: an action posted with another browser's CSRF token", source: "Pforte: account page, RFC 9700 §4.7", run: attackAccountCSRF},
		attack{id: "IDOR-08", name: "Admin API without a token, or with a token that is not one", source: "Pforte: admin API (OWASP API2:2023)", run: attackAdminNoToken},
		attack{id: "IDOR-09", name: "Admin API with a member's access token", source: "Pforte: admin API (OWASP API5:2023)", run: attackAdminMemberToken},
		attack{id: "IDOR-10", name: "Admin API with a client token without the admin scope", source: "Pforte: admin API (OWASP API5:2023)", run: attackAdminWrongScope},
		attack{id: "IDOR-11", name: "Admin API: another member's device named under a member's path", source: "Pforte: IDOR (OWASP API1:2023)", run: attackAdminCrossMember},
		attack{id: "IDOR-12", name: "UserInfo of a member with an access token of another member's login", source: "OpenID Connect Core §5.3", run: attackUserinfoOtherMember},
	)
}

// erikaPhone is the first member's phone of an account world, as the
// device API helpers want it.
func (aw *accountWorld) erikaPhone() *phone {
	return &phone{auth: aw.phone.Key, binding: aw.phone.BindingID, name: "Telefon von Erika", pin: appPIN}
}

// wantUntouched checks that the second member's phone is as it was.
func (aw *accountWorld) wantUntouched(t *testing.T) {
	t.Helper()
	if d := aw.in.stored(t, aw.phone2); d.Name != "Telefon von Max" || d.Status != "active" {
		t.Fatalf("the other member's device changed: %+v", d)
	}
}

func attackRenameOthersDevice(t *testing.T) {
	aw := newAccountWorld(t)
	ph := aw.erikaPhone()
	proof := aw.in.proof(t, ph, appPIN)
	before := aw.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, aw.in.base+"/app/v1/devices/"+aw.phone2+"/rename", map[string]any{"proof": proof, "name": "Meins"}, nil)
	wantProblem(t, r, http.StatusNotFound, "not_found")
	// The proof was spent (single use) and Erika's device was used; Max's
	// device is untouched.
	aw.in.unchanged(t, before, "challenges", "device_bindings")
	aw.wantUntouched(t)
}

func attackRevokeOthersDevice(t *testing.T) {
	aw := newAccountWorld(t)
	ph := aw.erikaPhone()
	before := aw.in.fingerprint(t)
	r := aw.in.manage(t, "/"+aw.phone2+"/revoke", aw.in.proof(t, ph, appPIN))
	wantProblem(t, r, http.StatusNotFound, "not_found")
	aw.in.unchanged(t, before, "challenges", "device_bindings")
	aw.wantUntouched(t)
	// Erika's own device is still hers and still works.
	if len(aw.in.devices(t, ph)) != 1 {
		t.Fatal("Erika's device list changed")
	}
}

func attackOthersChallenge(t *testing.T) {
	aw := newAccountWorld(t)
	ph := aw.erikaPhone()
	// A challenge for Max's binding, answered with Erika's key and PIN.
	// The attacker's app drops the allow list, which names Max's key.
	id, options := challengeOf(t, aw.in.deviceChallenge(t, aw.phone2))
	proof := ph.answer(t, aw.in, id, withoutAllowList(t, options), appPIN)
	before := aw.in.fingerprint(t)
	r := sendJSON(t, http.MethodPost, aw.in.base+"/app/v1/devices/list", map[string]any{"proof": proof}, nil)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("another member's challenge answered with Erika's key: status %d: %s", r.status, r.body)
	}
	// The challenge is spent; no PIN was counted against Max (the key
	// failed first), nothing else changed.
	aw.in.unchanged(t, before, "challenges", "audit_events")
	if d := aw.in.stored(t, aw.phone2); d.PIN != (pin.Counter{}) {
		t.Fatalf("Max's PIN counter moved: %+v", d.PIN)
	}
}

func attackFinishedEnrollment(t *testing.T) {
	w := newWorld(t)
	e := w.enroll(t, sqliteEngine, applicant("Hauke", "Rickmers", "1979-03-14", w.clock.Now()), appPIN)
	before := e.in.fingerprint(t)
	// The enrollment session's token, kept by an attacker after the member
	// finished, asks for a binding challenge, a password and a PIN.
	// A finished enrollment's session is over: every use answers that it
	// expired.
	wantProblem(t, e.in.bindingChallenge(t, bearerHeader(e.token)), http.StatusGone, "expired")
	wantProblem(t, e.in.setPIN(t, e.token, "135792"), http.StatusGone, "expired")
	wantProblem(t, e.in.setPassword(t, e.token, "Ein-ganz-anderes-Passwort-2026"), http.StatusGone, "expired")
	e.in.unchanged(t, before, "audit_events")
	if len(e.in.devices(t, e.phone)) != 1 {
		t.Fatal("the member's devices changed")
	}
}

// accountAttacker is Erika on her account page in browser b, and Max's
// session id and consent, which she must not touch.
func accountAttacker(t *testing.T) (aw *accountWorld, b *browser, page result, otherSID string) {
	t.Helper()
	aw = newAccountWorld(t)
	st := aw.in.srv.Store()
	ob := newBrowser(t)
	oa := newAttempt("openid")
	p := aw.webRP.authorize(t, ob, oa, nil)
	aw.webRP.exchange(t, aw.webRP.checkCallback(t, callback(t, ob.submitLogin(t, aw.in.base, p, aw.other, memberPassword)), oa), oa)
	if _, err := st.GrantConsent(t.Context(), otherID, aw.w.portal.ID, []string{"profile"}, aw.w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ss, err := st.ActiveSessions(t.Context(), otherID, aw.w.clock.Now())
	if err != nil || len(ss) != 1 {
		t.Fatalf("the other member's session: %+v %v", ss, err)
	}
	b = newBrowser(t)
	return aw, b, aw.logIn(t, b), ss[0].ID
}

// wantNotYours checks the account page's answer to an action on something
// that is not the member's.
func wantNotYours(t *testing.T, r result, what string) {
	t.Helper()
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "gibt es in Ihrem Konto nicht") {
		t.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
}

func attackAccountOthersDevice(t *testing.T) {
	aw, b, page, _ := accountAttacker(t)
	before := aw.in.fingerprint(t)
	wantNotYours(t, aw.act(t, b, page, "rename_device", aw.phone2, url.Values{"name": {"Meins"}}), "rename")
	wantNotYours(t, aw.act(t, b, page, "revoke_device", aw.phone2, nil), "revoke")
	aw.in.unchanged(t, before, "sessions")
	aw.wantUntouched(t)
}

func attackAccountOthersSession(t *testing.T) {
	aw, b, page, otherSID := accountAttacker(t)
	before := aw.in.fingerprint(t)
	wantNotYours(t, aw.act(t, b, page, "end_session", otherSID, nil), "end session")
	wantNotYours(t, aw.act(t, b, page, "revoke_consent", aw.w.portal.ID, nil), "revoke consent")
	aw.in.unchanged(t, before, "sessions")
	st := aw.in.srv.Store()
	if s, err := st.SessionByID(t.Context(), otherSID); err != nil || !s.EndedAt.IsZero() {
		t.Fatalf("the other member's session: %+v %v", s, err)
	}
	if _, err := st.ConsentOf(t.Context(), otherID, aw.w.portal.ID); err != nil {
		t.Fatalf("the other member's consent: %v", err)
	}
}

func attackAccountCSRF(t *testing.T) {
	aw, b, _, _ := accountAttacker(t)
	// The attacker's own browser on its own account page (Max's page would
	// do as well): a valid token, but of another browser.
	other := newBrowser(t)
	otherPage := aw.logIn(t, other)
	before := aw.in.fingerprint(t)
	r := aw.act(t, b, otherPage, "revoke_device", aw.phone.BindingID, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("another browser's CSRF token: status %d", r.status)
	}
	if r := b.post(t, aw.in.base+"/account", url.Values{"action": {"revoke_device"}, "id": {aw.phone.BindingID}}); r.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: status %d", r.status)
	}
	aw.in.unchanged(t, before, "sessions")
	if d := aw.in.stored(t, aw.phone.BindingID); d.Status != "active" {
		t.Fatalf("the device was revoked by a refused form: %+v", d)
	}
}

// adminTarget is an account world with the support client, whose admin
// token the attacker does not have, and the calls the attacker tries: each
// would change a member or a client, or read what support reads.
func adminTarget(t *testing.T) (*accountWorld, string) {
	t.Helper()
	secret := client.GenerateSecret()
	return newAccountWorld(t, func(w *world) startOption { return w.withSupportClient(secret) }), secret
}

// adminCalls are the calls an attacker tries on the first member and the
// web form.
func (aw *accountWorld) adminCalls() []struct{ method, path string } {
	member := "/members/" + memberKVNR.String()
	return []struct{ method, path string }{
		{"GET", member}, {"DELETE", member}, {"POST", member + "/lock"}, {"DELETE", member + "/devices"},
		{"DELETE", member + "/devices/" + aw.phone.BindingID}, {"DELETE", member + "/sessions"}, {"POST", member + "/letters"},
		{"GET", "/audit?kvnr=" + memberKVNR.String()}, {"GET", "/members?family_name=Musterfrau"},
		{"PATCH", "/clients/" + aw.w.web.ID}, {"POST", "/clients/" + aw.w.web.ID + "/secret"},
	}
}

// wantAdminRefused sends every admin call with tok and checks each is
// refused with status and changes nothing.
func (aw *accountWorld) wantAdminRefused(t *testing.T, tok string, status int) {
	t.Helper()
	before := aw.in.fingerprint(t)
	for _, c := range aw.adminCalls() {
		var body any
		if c.method != "GET" && c.method != "DELETE" {
			body = map[string]any{"reason": "Angriff", "name": "Böse"}
		}
		r := aw.in.admin(t, c.method, c.path, tok, body)
		if r.status != status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, r.status, status, r.body)
		}
	}
	aw.in.unchanged(t, before)
	if d := aw.in.stored(t, aw.phone.BindingID); d.Status != "active" {
		t.Fatalf("the member's device: %+v", d)
	}
}

func attackAdminNoToken(t *testing.T) {
	aw, _ := adminTarget(t)
	aw.wantAdminRefused(t, "", http.StatusUnauthorized)
	aw.wantAdminRefused(t, "not-a-token", http.StatusUnauthorized)
}

func attackAdminMemberToken(t *testing.T) {
	aw, _ := adminTarget(t)
	tok := aw.webRP.login(t, "openid").access
	aw.wantAdminRefused(t, tok, http.StatusForbidden)
}

func attackAdminWrongScope(t *testing.T) {
	aw, secret := adminTarget(t)
	// The service client asks for admin (not registered for it: the
	// token endpoint refuses or drops the scope), the support client
	// itself without the admin scope.
	svc, status := aw.in.clientToken(t, aw.w.svc.ID, aw.w.svc.secret, "admin claims.read")
	if status == http.StatusOK {
		aw.wantAdminRefused(t, svc, http.StatusForbidden)
	}
	noScope, _ := aw.in.clientToken(t, "e2e-support", secret, "claims.read")
	aw.wantAdminRefused(t, noScope, http.StatusForbidden)
}

func attackAdminCrossMember(t *testing.T) {
	aw, secret := adminTarget(t)
	tok, _ := aw.in.clientToken(t, "e2e-support", secret, "admin")
	before := aw.in.fingerprint(t)
	// Max's phone under Erika's path: not found, not revoked.
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/members/" + memberKVNR.String() + "/devices/" + aw.phone2},
		{"POST", "/members/" + memberKVNR.String() + "/devices/" + aw.phone2 + "/unblock"},
	} {
		r := aw.in.admin(t, c.method, c.path, tok, map[string]string{"reason": "Angriff"})
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404: %s", c.method, c.path, r.status, r.body)
		}
	}
	aw.in.unchanged(t, before, "audit_events")
	aw.wantUntouched(t)
}

func attackUserinfoOtherMember(t *testing.T) {
	aw := newAccountWorld(t)
	// Max logs in at the web form; his token answers for him only,
	// whatever the request says.
	b := newBrowser(t)
	a := newAttempt("openid", "profile")
	page := aw.webRP.authorize(t, b, a, nil)
	tok := aw.webRP.exchange(t, aw.webRP.checkCallback(t, callback(t, b.submitLogin(t, aw.in.base, page, aw.other, memberPassword)), a), a)
	before := aw.in.fingerprint(t)
	for _, q := range []string{"", "?sub=" + memberID, "?kvnr=" + memberKVNR.String()} {
		r := get(t, aw.in.base+"/userinfo"+q, map[string]string{"Authorization": "Bearer " + tok.access})
		m := r.json(t)
		if r.status != http.StatusOK || m["sub"] != tok.idToken.Subject || strings.Contains(string(r.body), "Erika") {
			t.Fatalf("userinfo%s: %d %s", q, r.status, r.body)
		}
	}
	aw.in.unchanged(t, before)
}

// withoutAllowList removes allowCredentials from WebAuthn request options.
func withoutAllowList(t *testing.T, options []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(options, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "allowCredentials")
	if pk, ok := m["publicKey"].(map[string]any); ok {
		delete(pk, "allowCredentials")
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
