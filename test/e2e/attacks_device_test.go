package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/member"
)

// Attacks on the device binding: registration responses replayed, carried
// to another challenge, origin or relying party, keys that are no device
// binding (a synced passkey, an unattested key in production), and
// assertions of the bound key that a copy, another key or a relay made.

func init() {
	addAttacks(
		attack{id: "DEVICE-01", name: "Registration response replayed after the binding", source: "WebAuthn L3 §7.1 step 14 (challenge)", run: attackRegistrationReplayed},
		attack{id: "DEVICE-02", name: "Registration response sent for another challenge", source: "WebAuthn L3 §7.1 step 14 (challenge)", run: attackRegistrationOtherChallenge},
		attack{id: "DEVICE-03", name: "Registration response made for another origin", source: "WebAuthn L3 §7.1 step 15 (origin)", run: attackRegistrationOtherOrigin},
		attack{id: "DEVICE-04", name: "Registration response for another relying party id", source: "WebAuthn L3 §7.1 step 17 (rpIdHash)", run: attackRegistrationOtherRPID},
		attack{id: "DEVICE-05", name: "A synced passkey (backup eligible) bound as the device key", source: "Pforte: device binding; WebAuthn L3 §6.1.3 (BE flag)", run: attackSyncedPasskey},
		attack{id: "DEVICE-06", name: "Self attestation in the production policy", source: "Pforte: attestation policy; WebAuthn L3 §8.2 (packed, self)", run: attackSelfAttestation},
		attack{id: "DEVICE-07", name: "No attestation (\"none\") in the production policy", source: "Pforte: attestation policy; WebAuthn L3 §8.7 (none)", run: attackNoAttestation},
		attack{id: "DEVICE-08", name: "Self attestation signed by another key than the one bound", source: "WebAuthn L3 §8.2 (packed, self)", run: attackAttestationOtherKey},
		attack{id: "DEVICE-09", name: "Sign counter rollback: a copy of the device key answers", source: "WebAuthn L3 §6.1.1 (signature counter)", run: attackCounterRollback},
		attack{id: "DEVICE-10", name: "Assertion signed by another key", source: "WebAuthn L3 §7.2 step 21 (signature)", run: attackAssertionOtherKey},
		attack{id: "DEVICE-11", name: "Device challenge answered twice", source: "WebAuthn L3 §13.4.3 (replay)", run: attackDeviceChallengeReplay},
		attack{id: "DEVICE-12", name: "Assertion without user presence", source: "WebAuthn L3 §7.2 step 16 (UP flag)", run: attackAssertionWithoutPresence},
		attack{id: "DEVICE-13", name: "Assertion by the member's other device for this binding's challenge", source: "WebAuthn L3 §7.2 step 5 (allowCredentials)", run: attackAssertionOtherBinding},
		attack{id: "DEVICE-14", name: "Assertion carried to another challenge of the same binding", source: "WebAuthn L3 §7.2 step 12 (challenge)", run: attackAssertionOtherChallenge},
		attack{id: "DEVICE-15", name: "Assertion for another relying party id", source: "WebAuthn L3 §7.2 step 15 (rpIdHash)", run: attackAssertionOtherRPID},
		attack{id: "DEVICE-16", name: "Registration response sent as an assertion", source: "WebAuthn L3 §7.2 step 11 (type webauthn.get)", run: attackAssertionCreateType},
		attack{id: "DEVICE-17", name: "Another member's credential id registered with the attacker's key", source: "WebAuthn L3 §7.1 step 22 (credential id registered)", run: attackRegistrationCredentialIDTaken},
		attack{id: "DEVICE-18", name: "Registration challenge of another member's enrollment session", source: "Pforte: device binding (session)", run: attackRegistrationOtherSession},
		attack{id: "DEVICE-19", name: "A copy of the key that claims not to count (counter 0)", source: "WebAuthn L3 §6.1.1 (signature counter)", run: attackCounterZero},
		attack{id: "DEVICE-20", name: "Assertion of the bound key claiming to be a synced passkey", source: "WebAuthn L3 §6.1.3 (BE, BS flags)", run: attackAssertionBackupEligible},
		attack{id: "DEVICE-21", name: "Basic attestation by the attacker's own CA in the production policy", source: "Pforte: attestation policy; WebAuthn L3 §8.2 (packed, x5c)", run: attackAttestationOwnCA},
		attack{id: "DEVICE-22", name: "Registration with a credential id longer than 1023 bytes", source: "WebAuthn L3 §7.1 step 23 (credentialId length)", run: attackRegistrationLongCredentialID},
		attack{id: "DEVICE-23", name: "Registration without user presence", source: "WebAuthn L3 §7.1 step 18 (UP flag)", run: attackRegistrationWithoutPresence},
		attack{id: "DEVICE-24", name: "Assertion made for another origin", source: "WebAuthn L3 §7.2 step 13 (origin)", run: attackAssertionOtherOrigin},
	)
}

// bindVictim is a member on a fresh SQLite server started with opts whose
// enrollment session waits for the device.
func bindVictim(t *testing.T, opts ...startOption) (*instance, member.Member, string) {
	t.Helper()
	w := newWorld(t)
	m := applicant("Tjark", "Onnen", "1983-03-14", w.clock.Now())
	in, token := w.readyToBind(t, sqliteEngine, m, opts...)
	return in, m, token
}

// wantBindings checks that m has exactly n device bindings.
func (in *instance) wantBindings(t *testing.T, m member.Member, n int) {
	t.Helper()
	if bs, err := in.srv.Store().ListBindings(t.Context(), in.account(t, m).ID); err != nil || len(bs) != n {
		t.Fatalf("bindings %+v, %v; want %d", bs, err, n)
	}
}

// bindsAfterwards checks that the member's enrollment goes on: a key that
// stays on the phone is bound, and the PIN completes the account.
func (in *instance) bindsAfterwards(t *testing.T, token string) {
	t.Helper()
	in.bindPhone(t, token, "Tjarks Telefon")
	wantActive(t, in.setPIN(t, token, "583920"))
}

// refusedBinding registers a new key with opts for a fresh challenge and
// sends it: the answer, the fingerprint taken after the challenge, and
// the key.
func refusedBinding(t *testing.T, in *instance, token, platform string, opts ...authenticator.Option) (result, fingerprint) {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	id, resp := in.register(t, token, a, opts...)
	before := in.fingerprint(t)
	return in.bindDevice(t, token, id, resp, "Angreifer", platform), before
}

func attackRegistrationReplayed(t *testing.T) {
	in, m, token := bindVictim(t)
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	id, resp := in.register(t, token, a)
	if r := in.bindDevice(t, token, id, resp, "Tjarks Telefon", "software"); r.status != http.StatusCreated {
		t.Fatalf("bind: %d %s", r.status, r.body)
	}
	before := in.fingerprint(t)
	// The answer, captured on its way, sent again: a second binding of
	// the same key, or one in the attacker's name.
	wantCode(t, in.bindDevice(t, token, id, resp, "Angreifer", "software"), http.StatusUnauthorized, "unauthenticated", "challenge.unknown")
	in.unchanged(t, before)
	in.wantBindings(t, m, 1)
	wantActive(t, in.setPIN(t, token, "583920"))
}

func attackRegistrationOtherChallenge(t *testing.T) {
	in, m, token := bindVictim(t)
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	// The answer to the first challenge, sent with the id of the second.
	_, resp := in.register(t, token, a)
	second, _ := challengeOf(t, in.bindingChallenge(t, bearerHeader(token)))
	before := in.fingerprint(t)
	wantCode(t, in.bindDevice(t, token, second, resp, "Angreifer", "software"), http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackRegistrationOtherOrigin(t *testing.T) {
	in, m, token := bindVictim(t)
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	// A page on another port of the same host (the RP id localhost
	// matches it) relays the creation options to the member's phone.
	id, options := challengeOf(t, in.bindingChallenge(t, bearerHeader(token)))
	resp, err := a.Register(options, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	before := in.fingerprint(t)
	wantCode(t, in.bindDevice(t, token, id, resp, "Angreifer", "software"), http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackRegistrationOtherRPID(t *testing.T) {
	in, m, token := bindVictim(t)
	r, before := refusedBinding(t, in, token, "software", authenticator.RPID("evil.example"))
	wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackSyncedPasskey(t *testing.T) {
	in, m, token := bindVictim(t)
	for _, opt := range []authenticator.Option{authenticator.BackupEligible(), authenticator.BackedUp()} {
		r, before := refusedBinding(t, in, token, "software", opt)
		wantCode(t, r, http.StatusForbidden, "forbidden", string(device.CodeSynced))
		in.unchanged(t, before, "challenges")
	}
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackSelfAttestation(t *testing.T) {
	in, m, token := bindVictim(t, production)
	// The platform claimed is Android's; the key proves nothing of it.
	r, before := refusedBinding(t, in, token, "android", authenticator.Format(authenticator.FormatPacked))
	wantCode(t, r, http.StatusForbidden, "forbidden", string(device.CodeSelfAttested))
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	wantProblem(t, in.setPIN(t, token, "583920"), http.StatusForbidden, "forbidden")
}

func attackNoAttestation(t *testing.T) {
	in, m, token := bindVictim(t, production)
	r, before := refusedBinding(t, in, token, "android", authenticator.Format(authenticator.FormatNone))
	wantCode(t, r, http.StatusForbidden, "forbidden", string(device.CodeUnattested))
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	wantProblem(t, in.setPIN(t, token, "583920"), http.StatusForbidden, "forbidden")
}

func attackAttestationOtherKey(t *testing.T) {
	in, m, token := bindVictim(t)
	other, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	r, before := refusedBinding(t, in, token, "software", authenticator.Format(authenticator.FormatPacked), authenticator.SignedBy(other))
	wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

// ownCA issues a packed attestation certificate (WebAuthn L3 §8.2.1) for
// a new key from a root of its own: the attestation a vendor's would be,
// by a vendor nobody trusts. It returns the key and the chain, leaf first.
func ownCA(t *testing.T, now time.Time) (*ecdsa.PrivateKey, [][]byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Angreifer Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Angreifer GmbH"},
		OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Angreifer Authenticator"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), BasicConstraintsValid: true}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &attKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return attKey, [][]byte{leafDER, caDER}
}

func attackAttestationOwnCA(t *testing.T) {
	in, m, token := bindVictim(t, production)
	key, chain := ownCA(t, in.clock.Now())
	r, before := refusedBinding(t, in, token, "android", authenticator.Format(authenticator.FormatPacked),
		authenticator.AttestationCertificate(key, chain...))
	wantCode(t, r, http.StatusForbidden, "forbidden", string(device.CodeUntrusted))
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	wantProblem(t, in.setPIN(t, token, "583920"), http.StatusForbidden, "forbidden")
}

// deviceVictim is a member enrolled with one phone (PIN 583920) on a
// fresh SQLite server started with opts, who used it twice.
func deviceVictim(t *testing.T, opts ...startOption) (*world, enrolled) {
	t.Helper()
	w := newWorld(t)
	m := applicant("Eilert", "Bruns", "1978-08-30", w.clock.Now())
	e := w.enroll(t, sqliteEngine, m, "583920", opts...)
	e.in.devices(t, e.phone)
	e.in.devices(t, e.phone)
	return w, e
}

// keyRefused sends a proof of ph with the right PIN whose assertion
// opts make wrong, and checks that it is refused before the PIN is
// looked at: nothing counted, nothing changed; the phone goes on.
func keyRefused(t *testing.T, e enrolled, status int, kind, code string, opts ...authenticator.Option) {
	t.Helper()
	in, ph := e.in, e.phone
	proof := in.proof(t, ph, ph.pin, opts...)
	count := in.stored(t, ph.binding).SignCount
	before := in.fingerprint(t)
	wantCode(t, in.manage(t, "/list", proof), status, kind, code)
	in.unchanged(t, before, "challenges")
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.Status != device.Active || b.SignCount != count {
		t.Fatalf("binding after the refused assertion: %s, %+v, sign count %d", b.Status, b.PIN, b.SignCount)
	}
	in.devices(t, ph)
}

func attackCounterRollback(t *testing.T) {
	w, e := deviceVictim(t)
	in, ph := e.in, e.phone
	rp := in.rp(t, w.web, nil)
	// A copy of the key, made after the second use, answers with its own
	// counter: the binding is suspect, the counter stays at 2.
	proof := in.proof(t, ph, ph.pin, authenticator.Counter(2))
	before := in.fingerprint(t)
	wantCode(t, in.manage(t, "/list", proof), http.StatusForbidden, "forbidden", "device.gone")
	in.unchanged(t, before, "challenges", "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.Status != device.Suspect || b.SignCount != 2 || b.PIN.Failures != 0 {
		t.Fatalf("after the rollback: %s, sign count %d, %+v", b.Status, b.SignCount, b.PIN)
	}
	if kinds, _ := in.auditKinds(t, in.account(t, e.m).ID); kinds[audit.DeviceSuspect] != 1 {
		t.Fatalf("audit %v: want one device.suspect", kinds)
	}
	// Which copy is the member's is not known: the phone is refused too,
	// and the member still logs in on the web with the password.
	wantCode(t, in.deviceChallenge(t, ph.binding), http.StatusForbidden, "forbidden", "device.gone")
	if !in.webLogin(t, rp, newBrowser(t), e.m.KVNR.String(), devicePassword) {
		t.Fatal("the password no longer logs in after the rollback")
	}
}

func attackCounterZero(t *testing.T) {
	_, e := deviceVictim(t)
	in, ph := e.in, e.phone
	// The key counted (2); a copy that answers with 0, as keys that do not
	// count do, is a counter that did not grow.
	proof := in.proof(t, ph, ph.pin, authenticator.Counter(0))
	before := in.fingerprint(t)
	wantCode(t, in.manage(t, "/list", proof), http.StatusForbidden, "forbidden", "device.gone")
	in.unchanged(t, before, "challenges", "device_bindings", "audit_events")
	if b := in.stored(t, ph.binding); b.Status != device.Suspect || b.SignCount != 2 || b.PIN.Failures != 0 {
		t.Fatalf("after the zero counter: %s, sign count %d, %+v", b.Status, b.SignCount, b.PIN)
	}
}

func attackAssertionBackupEligible(t *testing.T) {
	_, e := deviceVictim(t)
	for _, opt := range []authenticator.Option{authenticator.BackupEligible(), authenticator.BackedUp()} {
		keyRefused(t, e, http.StatusUnauthorized, "unauthenticated", "device.key_unverified", opt)
	}
}

func attackAssertionOtherKey(t *testing.T) {
	_, e := deviceVictim(t)
	other, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	keyRefused(t, e, http.StatusUnauthorized, "unauthenticated", "device.key_unverified", authenticator.SignedBy(other))
}

func attackDeviceChallengeReplay(t *testing.T) {
	_, e := deviceVictim(t)
	in, ph := e.in, e.phone
	proof := in.proof(t, ph, ph.pin)
	if r := in.manage(t, "/list", proof); r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	before := in.fingerprint(t)
	// The captured request sent again: to list, to revoke, with a PIN
	// guess instead of the PIN.
	wantCode(t, in.manage(t, "/list", proof), http.StatusUnauthorized, "unauthenticated", "challenge.unknown")
	wantCode(t, in.manage(t, "/"+ph.binding+"/revoke", proof), http.StatusUnauthorized, "unauthenticated", "challenge.unknown")
	proof["pin"] = "750913"
	wantCode(t, in.manage(t, "/list", proof), http.StatusUnauthorized, "unauthenticated", "challenge.unknown")
	in.unchanged(t, before)
	in.devices(t, ph)
}

func attackAssertionWithoutPresence(t *testing.T) {
	_, e := deviceVictim(t)
	keyRefused(t, e, http.StatusUnauthorized, "unauthenticated", "device.key_unverified", authenticator.WithoutUserPresence())
}

// secondPhone binds a second phone (PIN p) to e's member a week later,
// through a new letter, as a member with a new phone does.
func (w *world) secondPhone(t *testing.T, e enrolled, p string) *phone {
	t.Helper()
	in := e.in
	w.clock.Advance(8 * 24 * time.Hour)
	accepted(t, in.requestLetter(t, e.m.KVNR.String(), e.m.BirthDate, nil))
	in.wantWork(t, 1, 1)
	lp := w.readLetter(t, in, e.m.KVNR)
	token := enrollmentToken(t, in.activate(t, e.m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	ph := in.bindPhone(t, token, "Tablet von "+e.m.GivenName)
	wantActive(t, in.setPIN(t, token, p))
	ph.pin = p
	return ph
}

func attackAssertionOtherBinding(t *testing.T) {
	w, e := deviceVictim(t)
	in, ph := e.in, e.phone
	tablet := w.secondPhone(t, e, "907153")
	// The challenge names the phone; the tablet's key answers it, with
	// the tablet's PIN and with the phone's.
	for _, p := range []string{tablet.pin, ph.pin} {
		id, options := challengeOf(t, in.deviceChallenge(t, ph.binding))
		proof := tablet.answer(t, in, id, withoutAllowList(t, options), p)
		before := in.fingerprint(t)
		wantCode(t, in.manage(t, "/"+tablet.binding+"/rename", proof), http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
		in.unchanged(t, before, "challenges")
	}
	for _, d := range []*phone{ph, tablet} {
		if b := in.stored(t, d.binding); b.PIN.Failures != 0 || b.Status != device.Active {
			t.Fatalf("binding %s after the refused answers: %s %+v", d.name, b.Status, b.PIN)
		}
		if ds := in.devices(t, d); len(ds) != 2 {
			t.Fatalf("devices %+v", ds)
		}
	}
}

func attackAssertionOtherChallenge(t *testing.T) {
	_, e := deviceVictim(t)
	in, ph := e.in, e.phone
	first, options := challengeOf(t, in.deviceChallenge(t, ph.binding))
	proof := ph.answer(t, in, first, options, ph.pin)
	second, _ := challengeOf(t, in.deviceChallenge(t, ph.binding))
	before := in.fingerprint(t)
	// The answer to the first challenge, sent with the id of the second.
	proof["challenge_id"] = second
	wantCode(t, in.manage(t, "/list", proof), http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	// The second was spent; the first still answers its own challenge.
	proof["challenge_id"] = first
	if r := in.manage(t, "/list", proof); r.status != http.StatusOK {
		t.Fatalf("the answer to its own challenge: %d %s", r.status, r.body)
	}
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.SignCount != 3 {
		t.Fatalf("binding %+v, sign count %d", b.PIN, b.SignCount)
	}
}

func attackAssertionOtherRPID(t *testing.T) {
	_, e := deviceVictim(t)
	keyRefused(t, e, http.StatusUnauthorized, "unauthenticated", "device.key_unverified", authenticator.RPID("evil.example"))
}

func attackAssertionCreateType(t *testing.T) {
	_, e := deviceVictim(t)
	keyRefused(t, e, http.StatusUnauthorized, "unauthenticated", "device.key_unverified", authenticator.ClientDataType("webauthn.create"))
}

// attackerEnrollment is a second member on in, whose enrollment session
// (the attacker's, with a letter of their own) waits for the device.
func (w *world) attackerEnrollment(t *testing.T, in *instance) (member.Member, string) {
	t.Helper()
	m := applicant("Enno", "Folkerts", "1981-11-11", w.clock.Now())
	in.importMembers(t, m)
	accepted(t, in.requestLetter(t, m.KVNR.String(), m.BirthDate, nil))
	in.wantWork(t, 1, 1)
	lp := w.readLetter(t, in, m.KVNR)
	token := enrollmentToken(t, in.activate(t, m.KVNR.String(), lp.initialPassword, lp.code))
	in.passwordSet(t, token)
	return m, token
}

// withCredentialID is a new key of its own that calls itself id.
func withCredentialID(t *testing.T, id []byte) *authenticator.Authenticator {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	state["credential_id"] = base64.RawURLEncoding.EncodeToString(id)
	if raw, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	forged := new(authenticator.Authenticator)
	if err := json.Unmarshal(raw, forged); err != nil {
		t.Fatal(err)
	}
	return forged
}

func attackRegistrationCredentialIDTaken(t *testing.T) {
	w, e := deviceVictim(t)
	in, ph := e.in, e.phone
	m, token := w.attackerEnrollment(t, in)
	// The victim's credential id is no secret: every challenge's options
	// for the binding name it. The attacker's key takes it as its own.
	id, resp := in.register(t, token, withCredentialID(t, ph.auth.CredentialID()))
	before := in.fingerprint(t)
	wantCode(t, in.bindDevice(t, token, id, resp, "Angreifer", "software"), http.StatusConflict, "conflict", "device.key_bound")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	if b := in.stored(t, ph.binding); b.AccountID != in.account(t, e.m).ID || b.SignCount != 2 {
		t.Fatalf("the victim's binding %+v", b)
	}
	in.devices(t, ph)
}

func attackRegistrationOtherSession(t *testing.T) {
	w := newWorld(t)
	m := applicant("Tjark", "Onnen", "1983-03-14", w.clock.Now())
	in, token := w.readyToBind(t, sqliteEngine, m)
	attacker, own := w.attackerEnrollment(t, in)
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	// The victim's phone answers its own session's challenge; the
	// attacker relays the answer into the attacker's session, to bind the
	// victim's key to the attacker's account.
	id, resp := in.register(t, token, a)
	before := in.fingerprint(t)
	wantCode(t, in.bindDevice(t, own, id, resp, "Angreifer", "software"), http.StatusUnauthorized, "unauthenticated", "challenge.other_enrollment")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, attacker, 0)
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackRegistrationLongCredentialID(t *testing.T) {
	in, m, token := bindVictim(t)
	// A key that names itself with 1024 bytes: stored, it would be a
	// credential no authenticator has.
	id, resp := in.register(t, token, withCredentialID(t, bytes.Repeat([]byte{0x5a}, 1024)))
	before := in.fingerprint(t)
	wantCode(t, in.bindDevice(t, token, id, resp, "Angreifer", "software"), http.StatusBadRequest, "invalid", "device.answer_malformed")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackRegistrationWithoutPresence(t *testing.T) {
	in, m, token := bindVictim(t)
	r, before := refusedBinding(t, in, token, "software", authenticator.WithoutUserPresence())
	wantCode(t, r, http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	in.wantBindings(t, m, 0)
	in.bindsAfterwards(t, token)
}

func attackAssertionOtherOrigin(t *testing.T) {
	_, e := deviceVictim(t)
	in, ph := e.in, e.phone
	// A page on another port of the host relays the request options to
	// the phone (the RP id localhost matches it) and sends its answer.
	id, options := challengeOf(t, in.deviceChallenge(t, ph.binding))
	a, err := ph.auth.Assert(options, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	count := in.stored(t, ph.binding).SignCount
	before := in.fingerprint(t)
	wantCode(t, in.manage(t, "/list", map[string]any{"challenge_id": id, "assertion": json.RawMessage(a), "pin": ph.pin}),
		http.StatusUnauthorized, "unauthenticated", "device.key_unverified")
	in.unchanged(t, before, "challenges")
	if b := in.stored(t, ph.binding); b.PIN.Failures != 0 || b.SignCount != count || b.Status != device.Active {
		t.Fatalf("binding after the relayed answer: %s %+v, sign count %d", b.Status, b.PIN, b.SignCount)
	}
	in.devices(t, ph)
}
