package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/adapters/proofing/eid/devbroker"
	"github.com/pforte-id/pforte/cmd/pforte-app/appclient"
	"github.com/pforte-id/pforte/core/member"
)

// Attacks on the registration, step-up and recovery with the electronic
// ID card: the confirmation is bound to the app that began it, by its
// token and its PKCE verifier, and to the member number it began for.

func init() {
	addAttacks(
		attack{id: "EID-01", name: "Relay: the attacker's app begins an eID registration and sends the member the link to confirm", source: "Pforte: eID relay, RFC 9700 §4.5 (by analogy)", run: attackEIDRelay},
		attack{id: "EID-02", name: "Another person's ID card confirms a registration for the member's number", source: "Pforte: eID attribute matching", run: attackEIDOtherCard},
		attack{id: "EID-03", name: "A stolen phone begins a recovery and guesses the eID confirmation code", source: "Pforte: eID recovery", run: attackEIDRecoveryGuess},
		attack{id: "EID-04", name: "A step-up's confirmation code redeemed as a registration", source: "Pforte: eID step-up", run: attackEIDStepUpAsRegistration},
	)
}

// eidVictim is a server with the eID method whose directory holds the
// member and another person, each with an ID card at the broker.
func eidVictim(t *testing.T) (eidServer, member.Member) {
	t.Helper()
	w := newWorld(t)
	m := applicant("Hannelore", "Kückelhahn", "1958-03-14", w.clock.Now())
	other := applicant("Wiebke", "Oltmanns", "1990-11-02", w.clock.Now())
	in := w.startWithEID(t, sqliteEngine, []devbroker.Identity{
		cardOf(m, "c0ffee00112233445566778899aabbcc"), cardOf(other, "0123456789abcdef0123456789abcdef"),
	}, nil)
	in.importMembers(t, m, other)
	return in, m
}

func attackEIDRelay(t *testing.T) {
	in, m := eidVictim(t)
	mallory := in.beginEID(t, m.KVNR.String())
	// The member confirms the relayed link with her card; the code goes to
	// the app link on her own phone.
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, mallory.authURL, "confirm", "0")))
	before := in.fingerprint(t)
	// Mallory's app holds the token and the verifier, not the code: its
	// token opens nothing, and guesses do not either.
	if r := in.enrollmentStatus(t, mallory.token); r.status != http.StatusUnauthorized {
		t.Fatalf("Mallory's status: %d %s", r.status, r.body)
	}
	for _, guess := range []string{"x", strings.Repeat("A", 43)} {
		wantProblem(t, in.redeem(t, mallory.token, guess, mallory.verifier), http.StatusUnauthorized, "unauthenticated")
	}
	in.unchanged(t, before)
	// The member's app holds the code but not Mallory's token and
	// verifier: refused, and the code is spent, so a code leaked later
	// is useless.
	own := in.beginEID(t, m.KVNR.String())
	wantProblem(t, in.redeem(t, own.token, code, own.verifier), http.StatusUnauthorized, "unauthenticated")
	wantProblem(t, in.redeem(t, mallory.token, code, mallory.verifier), http.StatusUnauthorized, "unauthenticated")
	if _, err := in.srv.Store().AccountByKVNR(t.Context(), m.KVNR); err == nil {
		t.Fatal("an account was created")
	}
}

func attackEIDOtherCard(t *testing.T) {
	in, m := eidVictim(t)
	app := in.beginEID(t, m.KVNR.String())
	before := in.fingerprint(t)
	// The attacker confirms with Wiebke's card (the second at the broker).
	page := in.backAtPforte(t, atBroker(t, app.authURL, "confirm", "1"))
	if page.status != http.StatusBadRequest || !strings.Contains(string(page.body), "passen nicht zu den Daten") ||
		strings.Contains(string(page.body), eidAppReturn) {
		t.Fatalf("callback with another person's card: %d %s", page.status, page.body)
	}
	if r := in.enrollmentStatus(t, app.token); r.status != http.StatusUnauthorized {
		t.Fatalf("the session after the refusal: %d %s", r.status, r.body)
	}
	// The pending proofing is closed; no account, no card linked.
	in.unchanged(t, before, "proofings", "audit_events")
	if _, err := in.srv.Store().AccountByKVNR(t.Context(), m.KVNR); err == nil {
		t.Fatal("an account was created")
	}
}

func attackEIDRecoveryGuess(t *testing.T) {
	w := newWorld(t)
	m := applicant("Imke", "Feddersen", "1983-09-14", w.clock.Now())
	in, ph := w.letterMember(t, sqliteEngine, m)
	// The thief has the phone (its key answers without the PIN) but not
	// the member's ID card: the recovery begins, the confirmation never
	// comes, and guessed codes set nothing.
	verifier, challenge := appclient.NewVerifier()
	_, token := in.beginRecovery(t, ph, challenge)
	before := in.fingerprint(t)
	for _, guess := range []string{"", "x", strings.Repeat("A", 43)} {
		r := in.confirmRecovery(t, ph, token, guess, verifier, map[string]string{"new_pin": "271836", "new_password": "Deichschaf-im-Abendrot"})
		if r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest {
			t.Fatalf("recovery with the code %q: %d %s", guess, r.status, r.body)
		}
	}
	// The key's challenges are spent; PIN, password and level are as they
	// were.
	in.unchanged(t, before, "challenges", "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 {
		t.Fatalf("PIN counter %+v", b.PIN)
	}
	if !in.passwordIs(t, m, devicePassword) {
		t.Fatal("the password changed")
	}
	if a := in.account(t, m); a.Proofing.String() != "substantial" {
		t.Fatalf("the account's level: %v", a.Proofing)
	}
}

func attackEIDStepUpAsRegistration(t *testing.T) {
	w := newWorld(t)
	m := applicant("Tjark", "Oltmanns", "1979-05-21", w.clock.Now())
	in, ph := w.letterMember(t, sqliteEngine, m)
	verifier, challenge := appclient.NewVerifier()
	r := sendJSON(t, http.MethodPost, in.base+"/app/v1/step-up", map[string]any{
		"proof": in.proof(t, ph, ph.pin), "return_uri": eidAppReturn, "code_challenge": challenge, "code_challenge_method": "S256",
	}, nil)
	begun := r.json(t)
	if r.status != http.StatusCreated {
		t.Fatalf("step-up: %d %s", r.status, r.body)
	}
	token, _ := begun["step_up_token"].(string)
	code := codeAtApp(t, in.backAtPforte(t, atBroker(t, begun["authorization_url"].(string), "confirm", "0")))
	before := in.fingerprint(t)
	// A registration's endpoint opens no enrollment session with it (one
	// would let the holder bind a new phone and set a new PIN).
	wantProblem(t, in.redeem(t, token, code, verifier), http.StatusUnauthorized, "unauthenticated")
	in.unchanged(t, before, "proofing_confirmations", "proofings")
	if r := in.enrollmentStatus(t, token); r.status != http.StatusUnauthorized {
		t.Fatalf("the step-up token as an enrollment token: %d %s", r.status, r.body)
	}
	if a := in.account(t, m); a.Proofing.String() != "substantial" {
		t.Fatalf("the account's level: %v", a.Proofing)
	}
}
