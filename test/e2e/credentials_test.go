package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/session"
)

// The member's credential changes in the app, end to end: the forgotten
// password set anew with the device key and the release PIN, then used on
// the web login; the refusals that change nothing; and the new letter,
// whose activation sets a new password too.

const forgottenReset = "Möwenflug-über-dem-Priel"

// resetPassword posts proof and pw to POST /app/v1/password/reset.
func (in *instance) resetPassword(t *testing.T, proof map[string]any, pw string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/password/reset", map[string]any{"proof": proof, "new_password": pw}, nil)
}

// webLogin logs in to the web form in browser br with member number k and
// password pw; true when the relying party received a code.
func (in *instance) webLogin(t *testing.T, rp *relyingParty, br *browser, k, pw string) bool {
	t.Helper()
	at := newAttempt("openid")
	r := br.submitLogin(t, in.base, br.get(t, rp.authURL(at)), k, pw)
	switch r.status {
	case http.StatusFound:
		rp.checkCallback(t, callback(t, r), at)
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("web login: status %d:\n%s", r.status, r.body)
	return false
}

// passwordIs reports whether pw is m's stored password.
func (in *instance) passwordIs(t *testing.T, m member.Member, pw string) bool {
	t.Helper()
	h, err := password.NewHasher(password.DefaultParams, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := h.Verify(t.Context(), pw, in.account(t, m).PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestForgottenPasswordViaDeviceAndPIN: the member who forgot the
// password sets a new one in the app with the device key and the PIN. The
// browser logged in with the old password is logged out, the web login
// takes the new password and refuses the old one, and the member is told.
func TestForgottenPasswordViaDeviceAndPIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		relay := startMailRelay(t)
		m := applicant("Hauke", "Haien", "1969-05-17", w.clock.Now())
		m.Email = "hauke@example.org"
		e := w.enroll(t, eng, m, "583920", relay.notifier(t))
		in, ph := e.in, e.phone
		rp := in.rp(t, w.web, nil)
		acct := in.account(t, m)

		// A browser logged in with the old password.
		before := newBrowser(t)
		if !in.webLogin(t, rp, before, m.KVNR.String(), devicePassword) {
			t.Fatal("the web login with the password from the registration failed")
		}
		if ss, err := in.srv.Store().ActiveSessions(t.Context(), acct.ID, w.clock.Now()); err != nil || len(ss) != 1 {
			t.Fatalf("sessions before the reset: %d, %v", len(ss), err)
		}
		mails := len(relay.messages())

		// A refused new password costs no PIN attempt.
		r := in.resetPassword(t, in.proof(t, ph, ph.pin), "Hauke Haien 1969")
		if detail := wantProblem(t, r, http.StatusBadRequest, "invalid"); !strings.Contains(detail, "Namen") {
			t.Errorf("refused password: %q", detail)
		}
		if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
			t.Fatalf("a refused password counted a PIN attempt: %+v", b.PIN)
		}

		r = in.resetPassword(t, in.proof(t, ph, ph.pin), forgottenReset)
		if r.status != http.StatusNoContent {
			t.Fatalf("reset: status %d: %s", r.status, r.body)
		}
		if !in.passwordIs(t, m, forgottenReset) || in.passwordIs(t, m, devicePassword) {
			t.Fatal("the stored password is not the new one")
		}
		ss, err := in.srv.Store().ActiveSessions(t.Context(), acct.ID, w.clock.Now())
		if err != nil || len(ss) != 0 {
			t.Fatalf("sessions after the reset: %+v, %v", ss, err)
		}
		// The browser of the old password must log in again.
		page := before.get(t, rp.authURL(newAttempt("openid")))
		if page.status != http.StatusOK || !bytes.Contains(page.body, []byte(`name="password"`)) {
			t.Fatalf("the old browser was not asked to log in again: status %d", page.status)
		}
		if in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), devicePassword) {
			t.Fatal("the old password still logs in")
		}
		if !in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), forgottenReset) {
			t.Fatal("the new password does not log in")
		}
		// The app goes on with the same key and PIN.
		if ds := in.devices(t, ph); len(ds) != 1 || ds[0].Status != "active" {
			t.Fatalf("devices after the reset: %+v", ds)
		}

		kinds, events := in.auditKinds(t, acct.ID)
		if kinds[audit.PasswordSet] < 1 {
			t.Fatalf("audit %v", kinds)
		}
		var set audit.Event
		for _, ev := range events {
			if ev.Kind == audit.PasswordSet && ev.Detail["via"] == "app_reset" {
				set = ev
			}
			if ev.Kind == audit.SessionEnded && ev.Detail["reason"] != string(session.EndPassword) {
				t.Errorf("session ended for %q", ev.Detail["reason"])
			}
		}
		if set.Detail["binding"] != ph.binding {
			t.Fatalf("password.set of the reset: %+v", set)
		}
		wantCleanAudit(t, events, []string{ph.pin}, forgottenReset, devicePassword)
		msgs := relay.messages()[mails:]
		if len(msgs) != 1 {
			t.Fatalf("%d mails, want 1", len(msgs))
		}
		wantMail(t, msgs[0], m.Email, "Passwort neu festgelegt", "mit der Freigabe-PIN neu festgelegt", "„"+ph.name+"“",
			"Alle Anmeldungen im Browser wurden beendet")
		wantNoSecrets(t, "the mail", msgs[0].raw, []string{ph.pin}, forgottenReset)
		wantNoSecrets(t, "the log", in.logs.String(), nil, forgottenReset, devicePassword)
	})
}

// TestPasswordResetRefusals: a reset whose device was revoked after the
// proof was made, or whose device is blocked, is refused and changes
// nothing; a wrong PIN counts toward the lockout; malformed and oversized
// bodies are refused before anything is looked at.
func TestPasswordResetRefusals(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Elke", "Volkerts", "1975-10-02", w.clock.Now())
		e := w.enroll(t, eng, m, "583920", trustLoopback)
		in, ph := e.in, e.phone
		hash := in.account(t, m).PasswordHash
		unchanged := func(what string) {
			t.Helper()
			if in.account(t, m).PasswordHash != hash {
				t.Fatalf("%s changed the password", what)
			}
		}

		// Bad bodies: nothing counted, nothing changed.
		for _, tc := range []struct {
			name, contentType, body string
			status                  int
		}{
			{"not JSON", "application/json", `{"proof":`, http.StatusBadRequest},
			{"form", "application/x-www-form-urlencoded", "new_password=" + forgottenReset, http.StatusBadRequest},
			{"unknown field", "application/json", `{"proof":{},"new_password":"x","kvnr":"` + m.KVNR.String() + `"}`, http.StatusBadRequest},
			{"current password", "application/json", `{"proof":{},"new_password":"x","current_password":"y"}`, http.StatusBadRequest},
			{"oversized", "application/json", `{"proof":{},"new_password":"` + strings.Repeat("x", 64<<10) + `"}`, http.StatusRequestEntityTooLarge},
		} {
			req, err := http.NewRequest(http.MethodPost, in.base+"/app/v1/password/reset", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			if r := do(t, req); r.status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
			}
		}
		unchanged("a bad body")

		// A wrong PIN counts, as at every login.
		r := in.resetPassword(t, in.proof(t, ph, "904417"), forgottenReset)
		wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
		wantPINHeaders(t, r, 4, 0, w.clock.Now())
		if b := in.stored(t, ph.binding); b.PIN.Failures != 1 {
			t.Fatalf("PIN counter %+v after a wrong PIN in a reset", b.PIN)
		}
		unchanged("a wrong PIN")
		// A refused new password is refused before the PIN is looked at:
		// the count stays as it is, neither raised nor reset.
		if r := in.resetPassword(t, in.proof(t, ph, ph.pin), "abababababab"); r.status != http.StatusBadRequest {
			t.Fatalf("weak password: status %d", r.status)
		}
		if b := in.stored(t, ph.binding); b.PIN.Failures != 1 {
			t.Fatalf("PIN counter %+v after a refused new password", b.PIN)
		}

		// A blocked device: four more wrong PINs block it, then even the
		// right one is refused, and the password stays.
		for i := range 4 {
			r := in.resetPassword(t, in.proof(t, ph, "904417"), forgottenReset)
			if r.status != http.StatusUnauthorized && r.status != http.StatusLocked {
				t.Fatalf("wrong PIN %d: status %d: %s", i+1, r.status, r.body)
			}
			w.clock.Advance(10 * time.Minute)
		}
		if b := in.stored(t, ph.binding); b.Status != device.Blocked {
			t.Fatalf("after five wrong PINs: %s %+v", b.Status, b.PIN)
		}
		wantProblem(t, in.resetPassword(t, in.proof(t, ph, ph.pin), forgottenReset), http.StatusLocked, "locked")
		unchanged("a blocked device")
		// The PIN is reset with the password (still the old one), which
		// unblocks the device.
		if r := in.resetPIN(t, ph, devicePassword, "271836"); r.status != http.StatusNoContent {
			t.Fatalf("PIN reset: %d %s", r.status, r.body)
		}
		ph.pin = "271836"

		// A revoked device: the proof was made before the revocation.
		held := in.proof(t, ph, ph.pin)
		if r := in.manage(t, "/"+ph.binding+"/revoke", in.proof(t, ph, ph.pin)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantProblem(t, in.resetPassword(t, held, forgottenReset), http.StatusForbidden, "forbidden")
		wantProblem(t, in.deviceChallenge(t, ph.binding), http.StatusForbidden, "forbidden")
		unchanged("a revoked device")
		kinds, _ := in.auditKinds(t, in.account(t, m).ID)
		if kinds[audit.PINFailed] != 4 || kinds[audit.PINLocked] != 1 {
			t.Errorf("audit %v: want 4 × pin.failed and 1 × pin.locked", kinds)
		}
		for _, ev := range mustEvents(t, in, m) {
			if ev.Kind == audit.PasswordSet && ev.Detail["via"] == "app_reset" {
				t.Fatalf("a refused reset was recorded: %+v", ev)
			}
		}
	})
}

func mustEvents(t *testing.T, in *instance, m member.Member) []audit.Event {
	t.Helper()
	_, events := in.auditKinds(t, in.account(t, m).ID)
	return events
}

// TestConcurrentPasswordResets: one proof sent many times at once sets the
// password once; the others find the challenge used.
func TestConcurrentPasswordResets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Ocke", "Peters", "1980-01-23", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		proof := in.proof(t, ph, ph.pin)
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				pw := forgottenReset + "-" + string(rune('A'+i))
				statuses[i] = in.resetPassword(t, proof, pw).status
			})
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusNoContent:
				won++
			case http.StatusUnauthorized:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if won != 1 {
			t.Fatalf("%d resets of one proof succeeded: %v", won, statuses)
		}
		sets := 0
		for _, ev := range mustEvents(t, in, m) {
			if ev.Kind == audit.PasswordSet && ev.Detail["via"] == "app_reset" {
				sets++
			}
		}
		if sets != 1 || in.stored(t, ph.binding).PIN.Failures != 0 {
			t.Fatalf("%d resets recorded, PIN %+v", sets, in.stored(t, ph.binding).PIN)
		}
	})
}

// TestNewLetterSetsANewPassword: a member who forgot the password and
// cannot use the device orders a new letter; its activation opens an
// enrollment session for the existing account, and the password set there
// is the account's at once: the web login takes it and refuses the old one.
func TestNewLetterSetsANewPassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Wienke", "Haien", "1990-06-30", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in := e.in
		rp := in.rp(t, w.web, nil)
		acct := in.account(t, m)

		w.clock.Advance(8 * 24 * time.Hour) // past the interval between letters
		accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
		in.wantWork(t, 1, 1)
		lp := w.readLetter(t, in, m.KVNR)
		token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
		if r := in.setPassword(t, token, forgottenReset); r.status != http.StatusNoContent {
			t.Fatalf("set password: %d %s", r.status, r.body)
		}
		if a := in.account(t, m); a.ID != acct.ID || !a.CanLogIn() {
			t.Fatalf("account after the new letter: %+v", a)
		}
		if in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), devicePassword) {
			t.Fatal("the old password still logs in")
		}
		if !in.webLogin(t, rp, newBrowser(t), m.KVNR.String(), forgottenReset) {
			t.Fatal("the password of the new letter's enrollment does not log in")
		}
	})
}
