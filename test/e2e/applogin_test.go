package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/pin"
)

// The app login: the Service-App is a native public client (RFC 8252). It
// sends its authorization request with PKCE, takes the request id from
// the redirect to the login page instead of following it, asks the app
// API for a challenge bound to its device binding and that request, signs
// it with the bound key, sends it with the release PIN, and gets the
// redirect to its own redirect URI with the code. Tokens are plain bearer
// tokens here; DPoP is the token endpoint's business.

// appLoginScopes is what the app asks for.
var appLoginScopes = []string{"openid", "profile", "offline_access"}

// appAuthorize sends rp's authorization request for a (plus extra
// parameters) without following the redirect, and returns the
// authorization request id from the redirect to the login page.
func (rp *relyingParty) appAuthorize(t *testing.T, a attempt, extra url.Values) string {
	t.Helper()
	u, err := url.Parse(rp.authURL(a))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	r := get(t, u.String(), nil)
	if r.status != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302: %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	id := loc.Query().Get("id")
	if loc.Path != "/login" || id == "" {
		t.Fatalf("authorize redirected to %s, want /login?id=<request id>", loc)
	}
	return id
}

// loginChallenge asks for a login challenge of request id for binding.
func (in *instance) loginChallenge(t *testing.T, id, binding string) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/logins/"+url.PathEscape(id)+"/challenge",
		map[string]string{"binding_id": binding}, nil)
}

// loginProof fetches a login challenge of request id for ph and answers
// it with PIN p.
func (in *instance) loginProof(t *testing.T, ph *phone, id, p string, opts ...authenticator.Option) map[string]any {
	t.Helper()
	ch, options := challengeOf(t, in.loginChallenge(t, id, ph.binding))
	return ph.answer(t, in, ch, options, p, opts...)
}

// completeLogin sends proof for request id.
func (in *instance) completeLogin(t *testing.T, id string, proof map[string]any) result {
	t.Helper()
	return sendJSON(t, http.MethodPost, in.base+"/app/v1/logins/"+url.PathEscape(id), proof, nil)
}

// redirectOf checks a 200 login answer and returns its redirect_uri.
func redirectOf(t *testing.T, r result) *url.URL {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("login: status %d, want 200: %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on a login answer", cc)
	}
	// The redirect; with a code also when the device must be confirmed
	// again, with an OAuth error nothing else.
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["redirect_uri"] == "" {
		t.Fatalf("login answer: %v: %s", err, r.body)
	}
	u, err := url.Parse(body["redirect_uri"])
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if u.Query().Get("code") != "" {
		want = 2
		if by, err := time.Parse(time.RFC3339, body["reconfirm_by"]); err != nil || !by.After(time.Now().Add(24*time.Hour)) {
			t.Fatalf("login answer: reconfirm_by %q (%v): %s", body["reconfirm_by"], err, r.body)
		}
	}
	if len(body) != want {
		t.Fatalf("login answer: %d fields, want %d: %s", len(body), want, r.body)
	}
	return u
}

// appIDClaims are the ID token claims the app login decides.
type appIDClaims struct {
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime *int64   `json:"auth_time"`
}

// appLogin runs the whole app login of ph for rp and returns the
// verified tokens and the ID token's claims.
func (in *instance) appLogin(t *testing.T, rp *relyingParty, ph *phone, extra url.Values) (tokens, appIDClaims) {
	t.Helper()
	a := newAttempt(appLoginScopes...)
	id := rp.appAuthorize(t, a, extra)
	code := rp.checkCallback(t, redirectOf(t, in.completeLogin(t, id, in.loginProof(t, ph, id, ph.pin))), a)
	tok := rp.exchange(t, code, a)
	var c appIDClaims
	if err := tok.idToken.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func TestAppLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Hauke", "Petersen", "1976-10-03", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		acct := in.account(t, m)
		rp := in.rp(t, w.app, nil)

		w.clock.Advance(time.Minute)
		loginAt := w.clock.Now()
		tok, c := in.appLogin(t, rp, ph, nil)
		if tok.idToken.Subject == "" || tok.idToken.Subject == m.KVNR.String() {
			t.Errorf("sub %q: stable, opaque, never the KVNR", tok.idToken.Subject)
		}
		if c.ACR != "http://eidas.europa.eu/LoA/substantial" {
			t.Errorf("acr %q, want substantial for a letter-proofed member", c.ACR)
		}
		if !slices.Equal(c.AMR, []string{"hwk", "pin", "mfa"}) {
			t.Errorf("amr %v, want [hwk pin mfa]", c.AMR)
		}
		if c.AuthTime == nil || *c.AuthTime != loginAt.Unix() {
			t.Errorf("auth_time %v, want %d", c.AuthTime, loginAt.Unix())
		}
		if tok.refresh == "" {
			t.Fatal("no refresh token for the app")
		}
		b := in.stored(t, ph.binding)
		if b.SignCount != 1 || b.PIN.Failures != 0 || !b.LastUsedAt.Equal(loginAt) || b.AccountID != acct.ID {
			t.Errorf("binding after the login: sign count %d, failures %d, last used %v", b.SignCount, b.PIN.Failures, b.LastUsedAt)
		}

		// The refresh token rotates while the binding is there.
		next, err := rp.refresh(tok.refresh)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.refresh {
			t.Fatalf("refresh token not rotated")
		}
		if !active(w.introspect(t, in, next.AccessToken)) {
			t.Fatal("the refreshed access token is not active")
		}

		// The member removes the phone (with the phone's own proof): its
		// token family goes with it, in the same transaction.
		if r := in.manage(t, "/"+url.PathEscape(ph.binding)+"/revoke", in.proof(t, ph, ph.pin)); r.status != http.StatusNoContent {
			t.Fatalf("revoke: status %d: %s", r.status, r.body)
		}
		_, err = rp.refresh(next.RefreshToken)
		if code, status := oauthError(t, err); code != "invalid_grant" || status != http.StatusBadRequest {
			t.Fatalf("refresh after the revocation: %s %d, want invalid_grant 400", code, status)
		}
		if active(w.introspect(t, in, next.AccessToken)) {
			t.Error("the access token of the revoked binding's family is still active")
		}
		// And the phone cannot log in again.
		id := rp.appAuthorize(t, newAttempt(appLoginScopes...), nil)
		wantProblem(t, in.loginChallenge(t, id, ph.binding), http.StatusForbidden, "forbidden")
	})
}

// TestAppLoginRevokedByStore: RevokeBindings (support, "log out
// everywhere") revokes the families of every binding it revokes.
func TestAppLoginRevokedByStore(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Tade", "Lorenzen", "1988-06-21", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		rp := in.rp(t, w.app, nil)
		tok, _ := in.appLogin(t, rp, ph, nil)
		n, err := in.srv.Store().RevokeBindings(t.Context(), in.account(t, m).ID, "", w.clock.Now())
		if err != nil || n != 1 {
			t.Fatalf("RevokeBindings: %d, %v", n, err)
		}
		_, err = rp.refresh(tok.refresh)
		if code, _ := oauthError(t, err); code != "invalid_grant" {
			t.Fatalf("refresh after RevokeBindings: %s, want invalid_grant", code)
		}
	})
}

// TestAppLoginRefusals is the bad input of the app login, each on its
// own authorization request of one enrolled member.
func TestAppLoginRefusals(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Swaantje", "Bruns", "1981-12-24", w.clock.Now())
		e := w.enroll(t, eng, m, "583920")
		in, ph := e.in, e.phone
		rp := in.rp(t, w.app, nil)
		const wrongPIN = "750913"
		fresh := func() (attempt, string) {
			a := newAttempt(appLoginScopes...)
			return a, rp.appAuthorize(t, a, nil)
		}

		t.Run("wrong PIN", func(t *testing.T) {
			a, id := fresh()
			r := in.completeLogin(t, id, in.loginProof(t, ph, id, wrongPIN))
			detail := wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
			if r.header.Get("Pforte-PIN-Attempts-Remaining") != "4" || !strings.Contains(detail, "Verbleibende Versuche: 4") {
				t.Errorf("wrong PIN: remaining header %q, detail %q", r.header.Get("Pforte-PIN-Attempts-Remaining"), detail)
			}
			if b := in.stored(t, ph.binding); b.PIN.Failures != 1 {
				t.Errorf("failures %d after a wrong PIN, want 1", b.PIN.Failures)
			}
			// The same request completes with the right PIN, and the
			// counter starts again.
			rp.checkCallback(t, redirectOf(t, in.completeLogin(t, id, in.loginProof(t, ph, id, ph.pin))), a)
			if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
				t.Errorf("failures %d after the right PIN", b.PIN.Failures)
			}
		})

		t.Run("assertion for another authorization request", func(t *testing.T) {
			a1, id1 := fresh()
			_, id2 := fresh()
			proof := in.loginProof(t, ph, id1, ph.pin)
			detail := wantProblem(t, in.completeLogin(t, id2, proof), http.StatusUnauthorized, "unauthenticated")
			if !strings.Contains(detail, "anderen Anmeldung") {
				t.Errorf("detail %q", detail)
			}
			// Used up: not even its own request can have it now.
			wantProblem(t, in.completeLogin(t, id1, proof), http.StatusUnauthorized, "unauthenticated")
			rp.checkCallback(t, redirectOf(t, in.completeLogin(t, id1, in.loginProof(t, ph, id1, ph.pin))), a1)
		})

		t.Run("replayed challenge", func(t *testing.T) {
			_, id := fresh()
			proof := in.loginProof(t, ph, id, wrongPIN)
			wantProblem(t, in.completeLogin(t, id, proof), http.StatusUnauthorized, "unauthenticated")
			proof["pin"] = ph.pin
			detail := wantProblem(t, in.completeLogin(t, id, proof), http.StatusUnauthorized, "unauthenticated")
			if !strings.Contains(detail, "schon verwendet") {
				t.Errorf("detail %q", detail)
			}
			// A login done cannot be done twice: the code took the
			// request's place.
			a2, id2 := fresh()
			proof = in.loginProof(t, ph, id2, ph.pin)
			rp.checkCallback(t, redirectOf(t, in.completeLogin(t, id2, proof)), a2)
			wantProblem(t, in.completeLogin(t, id2, proof), http.StatusNotFound, "not_found")
			wantProblem(t, in.loginChallenge(t, id2, ph.binding), http.StatusNotFound, "not_found")
		})

		t.Run("expired challenge", func(t *testing.T) {
			_, id := fresh()
			proof := in.loginProof(t, ph, id, ph.pin)
			w.clock.Advance(device.ChallengeTTL)
			detail := wantProblem(t, in.completeLogin(t, id, proof), http.StatusGone, "expired")
			if !strings.Contains(detail, "abgelaufen") {
				t.Errorf("detail %q", detail)
			}
		})

		t.Run("device management challenge", func(t *testing.T) {
			_, id := fresh()
			wantProblem(t, in.completeLogin(t, id, in.proof(t, ph, ph.pin)), http.StatusUnauthorized, "unauthenticated")
			// And the other way round.
			wantProblem(t, in.manage(t, "/list", in.loginProof(t, ph, id, ph.pin)), http.StatusUnauthorized, "unauthenticated")
		})

		t.Run("signed by another key", func(t *testing.T) {
			other, err := authenticator.New()
			if err != nil {
				t.Fatal(err)
			}
			_, id := fresh()
			wantProblem(t, in.completeLogin(t, id, in.loginProof(t, ph, id, ph.pin, authenticator.SignedBy(other))),
				http.StatusUnauthorized, "unauthenticated")
		})

		t.Run("web client refused", func(t *testing.T) {
			web := in.rp(t, w.web, nil)
			id := web.appAuthorize(t, newAttempt("openid"), nil)
			detail := wantProblem(t, in.loginChallenge(t, id, ph.binding), http.StatusForbidden, "forbidden")
			if !strings.Contains(detail, "Browser") {
				t.Errorf("detail %q", detail)
			}
			// An app proof for another request cannot complete it either.
			_, own := fresh()
			wantProblem(t, in.completeLogin(t, id, in.loginProof(t, ph, own, ph.pin)), http.StatusForbidden, "forbidden")
		})

		t.Run("unknown request", func(t *testing.T) {
			wantProblem(t, in.loginChallenge(t, "no-such-request", ph.binding), http.StatusNotFound, "not_found")
		})

		t.Run("acr high for a letter-proofed member", func(t *testing.T) {
			a := newAttempt(appLoginScopes...)
			id := rp.appAuthorize(t, a, url.Values{"acr_values": {"http://eidas.europa.eu/LoA/high"}})
			u := redirectOf(t, in.completeLogin(t, id, in.loginProof(t, ph, id, ph.pin)))
			q := u.Query()
			if u.Scheme+"://"+u.Host+u.Path != w.app.RedirectURIs[0] || q.Get("error") != "access_denied" ||
				q.Get("state") != a.state || q.Get("iss") != in.issuer || q.Get("code") != "" {
				t.Fatalf("error redirect %s", u)
			}
			if d := q.Get("error_description"); !strings.Contains(d, "level of assurance high") || !strings.Contains(d, "eID") {
				t.Errorf("error_description %q", d)
			}
		})

		t.Run("max_age 0 is met by the fresh PIN", func(t *testing.T) {
			w.clock.Advance(time.Hour)
			_, c := in.appLogin(t, rp, ph, url.Values{"max_age": {"0"}})
			if c.AuthTime == nil || *c.AuthTime != w.clock.Now().Unix() {
				t.Errorf("auth_time %v, want now", c.AuthTime)
			}
		})
	})
}

// TestAppLoginBlockedBinding: five wrong PINs in logins block the phone;
// it gets no login challenge until the PIN is reset.
func TestAppLoginBlockedBinding(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		w := newWorld(t)
		m := applicant("Fenna", "Ahrends", "1990-03-09", w.clock.Now())
		noDelays := func(o *server.Options) { o.Binding.PIN = pin.Policy{MaxFailures: 5, DelayFrom: 3} }
		e := w.enroll(t, eng, m, "583920", noDelays)
		in, ph := e.in, e.phone
		rp := in.rp(t, w.app, nil)
		a := newAttempt(appLoginScopes...)
		id := rp.appAuthorize(t, a, nil)
		for i := range 4 {
			r := in.completeLogin(t, id, in.loginProof(t, ph, id, "750913"))
			wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
			if got := r.header.Get("Pforte-PIN-Attempts-Remaining"); got != string(rune('0'+4-i)) {
				t.Errorf("attempt %d: remaining %q", i+1, got)
			}
		}
		r := in.completeLogin(t, id, in.loginProof(t, ph, id, "750913"))
		wantProblem(t, r, http.StatusLocked, "locked")
		if got := r.header.Get("Pforte-PIN-Attempts-Remaining"); got != "0" {
			t.Errorf("remaining %q after the lockout", got)
		}
		r = in.loginChallenge(t, id, ph.binding)
		if detail := wantProblem(t, r, http.StatusLocked, "locked"); !strings.Contains(detail, "gesperrt") {
			t.Errorf("detail %q", detail)
		}
		if b := in.stored(t, ph.binding); b.Status != device.Blocked {
			t.Fatalf("binding status %s, want blocked", b.Status)
		}
		// The member resets the PIN with the password; the pending
		// request completes.
		if r := in.resetPIN(t, ph, devicePassword, "264813"); r.status != http.StatusNoContent {
			t.Fatalf("reset PIN: %d %s", r.status, r.body)
		}
		ph.pin = "264813"
		rp.checkCallback(t, redirectOf(t, in.completeLogin(t, id, in.loginProof(t, ph, id, ph.pin))), a)
	})
}
