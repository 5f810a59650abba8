package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// Attacks of the OAuth 2.0 Security Best Current Practice (RFC 9700) on
// the code flow of a web form (client_secret_basic, password login).

func init() {
	addAttacks(
		attack{id: "OAUTH-01", name: "Code injection: a stolen code redeemed by another client", source: "RFC 9700 §4.5", run: attackCodeOtherClient},
		attack{id: "OAUTH-02", name: "Code injection: a stolen code redeemed with the attacker's PKCE verifier", source: "RFC 9700 §4.5.3", run: attackCodeWrongVerifier},
		attack{id: "OAUTH-03", name: "PKCE downgrade: the code redeemed without a verifier", source: "RFC 9700 §4.8", run: attackPKCEDowngrade},
	)
}

// webVictim is a server whose member has logged in at the web form: the
// code of that login, not yet redeemed, and its attempt.
type webVictim struct {
	w    *world
	in   *instance
	rp   *relyingParty
	a    attempt
	code string
}

func newWebVictim(t *testing.T) webVictim {
	t.Helper()
	w := newWorld(t)
	in := w.start(t, sqliteEngine.storage(t))
	rp := in.rp(t, w.web, nil)
	a := newAttempt("openid", "profile", "offline_access")
	return webVictim{w: w, in: in, rp: rp, a: a, code: rp.code(t, a)}
}

// redeemedByVictim checks that the code still works for the member's
// client after the refused attack: the attack spent nothing.
func (v webVictim) redeemedByVictim(t *testing.T) {
	t.Helper()
	tok := v.rp.exchange(t, v.code, v.a)
	if !active(v.w.introspect(t, v.in, tok.access)) {
		t.Fatal("the member's token is not active")
	}
}

func attackCodeOtherClient(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	// The attacker is a registered client too (the partner portal) and
	// redeems the web form's code with its own credentials.
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {v.code}, "redirect_uri": {v.rp.conf.RedirectURL},
		"code_verifier": {v.a.verifier}, "client_id": {v.w.portal.ID}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {v.w.portal.assertion(t, v.in.issuer+"/token", v.in.clock.Now())},
	}
	wantOAuthError(t, postForm(t, v.in.base+"/token", form, nil), http.StatusBadRequest, "invalid_grant")
	// No token was issued; the code is spent (a code someone else holds
	// is compromised), so the member's client starts again.
	v.in.unchanged(t, before, "auth_codes", "replay_values")
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
}

func attackCodeWrongVerifier(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, oauth2.GenerateVerifier(), v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
	v.in.unchanged(t, before, "auth_codes")
	// One wrong verifier spends the code: guessing verifiers is one try,
	// and the member's client starts again.
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, v.a.verifier, v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_grant")
}

func attackPKCEDowngrade(t *testing.T) {
	v := newWebVictim(t)
	before := v.in.fingerprint(t)
	wantOAuthError(t, v.w.exchangeRaw(t, v.in, v.code, "", v.rp.conf.RedirectURL), http.StatusBadRequest, "invalid_request")
	v.in.unchanged(t, before)
	v.redeemedByVictim(t)
}
