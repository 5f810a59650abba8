package webauthn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

const (
	rpID   = "pforte.example"
	origin = "https://pforte.example"

	publicMalformed = webauthn.CodeMalformed
	publicFailed    = webauthn.CodeFailed
)

// appOrigin is the Android app's origin: the hash of its signing
// certificate.
var appOrigin = func() string {
	d := sha256.Sum256([]byte("insurer app signing certificate"))
	return webauthn.AndroidOriginPrefix + base64.RawURLEncoding.EncodeToString(d[:])
}()

var ctx = context.Background()

// clock is a settable now for the ceremony.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCeremony(t testing.TB, now func() time.Time) *webauthn.Ceremony {
	t.Helper()
	c, err := webauthn.New(webauthn.Config{RPID: rpID, RPName: "Pforte Test", Origins: []string{origin, appOrigin}}, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func member(t testing.TB) devicekey.User {
	t.Helper()
	h := make([]byte, 32)
	rand.Read(h)
	return devicekey.User{Handle: h, Name: "M123456789", DisplayName: "Erika Mustermann"}
}

var (
	rp          = virtualwebauthn.RelyingParty{Name: "Pforte Test", ID: rpID, Origin: origin}
	development = device.Policy{AllowUnattested: true}
	production  = device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{strings.Repeat("ab", 32)}, AllowPacked: true}
)

// ec2Credential is a virtualwebauthn P-256 credential whose coordinates
// have no leading zero byte: virtualwebauthn encodes them without their
// leading zeros (big.Int.Bytes), which go-webauthn rightly refuses, so one
// key in 128 would fail at random.
func ec2Credential(t testing.TB) virtualwebauthn.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := k.PublicKey.Bytes(); err != nil || p[1] == 0 || p[33] == 0 { // 0x04 ‖ x ‖ y
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// virtualRegister runs a registration with a virtualwebauthn authenticator.
func virtualRegister(t testing.TB, c *webauthn.Ceremony, auth virtualwebauthn.Authenticator, cred virtualwebauthn.Credential) (devicekey.NewKey, error) {
	t.Helper()
	options, state, err := c.RegistrationOptions(ctx, member(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	return c.VerifyRegistration(ctx, state, []byte(virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *o)))
}

func TestOptions(t *testing.T) {
	c := newCeremony(t, nil)
	excluded := [][]byte{{1, 2, 3}, {4, 5, 6}}
	options, state, err := c.RegistrationOptions(ctx, member(t), excluded)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		RP               struct{ ID, Name string }
		User             struct{ ID, Name, DisplayName string }
		Challenge        string
		PubKeyCredParams []struct {
			Type string
			Alg  int
		}
		Timeout                int
		ExcludeCredentials     []struct{ Type, ID string }
		AuthenticatorSelection struct {
			AuthenticatorAttachment string
			ResidentKey             string
			RequireResidentKey      *bool
			UserVerification        string
		}
		Attestation string
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	sel := o.AuthenticatorSelection
	switch {
	case o.RP.ID != rpID || o.RP.Name != "Pforte Test":
		t.Errorf("rp %+v", o.RP)
	case len(o.PubKeyCredParams) != 1 || o.PubKeyCredParams[0].Alg != -7 || o.PubKeyCredParams[0].Type != "public-key":
		t.Errorf("pubKeyCredParams %+v, want ES256 only", o.PubKeyCredParams)
	case o.Attestation != "direct":
		t.Errorf("attestation %q", o.Attestation)
	case sel.AuthenticatorAttachment != "platform" || sel.ResidentKey != "discouraged" || sel.RequireResidentKey == nil || *sel.RequireResidentKey || sel.UserVerification != "preferred":
		t.Errorf("authenticatorSelection %+v", sel)
	case o.Timeout != 180000:
		t.Errorf("timeout %d ms, want 3 min", o.Timeout)
	case len(o.ExcludeCredentials) != 2 || o.ExcludeCredentials[1].ID != "BAUG" || o.ExcludeCredentials[1].Type != "public-key":
		t.Errorf("excludeCredentials %+v", o.ExcludeCredentials)
	}
	// The state is go-webauthn's session: it carries the challenge.
	var s struct{ Challenge string }
	if err := json.Unmarshal(state, &s); err != nil || s.Challenge == "" || s.Challenge != o.Challenge {
		t.Errorf("state challenge %q, options challenge %q (%v)", s.Challenge, o.Challenge, err)
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(o.Challenge); len(raw) < 16 {
		t.Errorf("challenge of %d bytes, want >= 16 (128 bit)", len(raw))
	}

	options, _, err = c.AssertionOptions(ctx, excluded)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Challenge        string
		RPID             string `json:"rpId"`
		AllowCredentials []struct{ Type, ID string }
		UserVerification string
	}
	if err := json.Unmarshal(options, &a); err != nil {
		t.Fatal(err)
	}
	if a.RPID != rpID || a.UserVerification != "preferred" || len(a.AllowCredentials) != 2 || a.AllowCredentials[0].ID != "AQID" {
		t.Errorf("request options %+v", a)
	}
	if _, _, err := c.AssertionOptions(ctx, nil); err == nil {
		t.Error("assertion options without credentials")
	}
	if _, _, err := c.RegistrationOptions(ctx, devicekey.User{Name: "x"}, nil); err == nil {
		t.Error("registration options without a user handle")
	}
}

// TestVirtualAuthenticator runs both ceremonies with
// github.com/descope/virtualwebauthn, an authenticator written by others.
func TestVirtualAuthenticator(t *testing.T) {
	c := newCeremony(t, nil)
	auth := virtualwebauthn.NewAuthenticator()
	cred := ec2Credential(t)
	key, err := virtualRegister(t, c, auth, cred)
	if err != nil {
		t.Fatal(err)
	}
	a := key.Attestation
	if string(key.CredentialID) != string(cred.ID) || a.Format != "packed" || !a.Self || a.Trusted || a.BackupEligible || a.BackedUp || len(a.AAGUID) != 16 {
		t.Fatalf("key %x, attestation %+v", key.CredentialID, a)
	}
	if err := development.Accept(a); err != nil {
		t.Errorf("development refuses self attestation: %v", err)
	}
	if err := production.Accept(a); !errors.Is(err, fault.Forbidden) {
		t.Errorf("production accepts self attestation: %v", err)
	}

	stored := devicekey.Key{CredentialID: key.CredentialID, PublicKey: key.PublicKey, SignCount: key.SignCount}
	for want := uint32(1); want <= 2; want++ {
		cred.Counter = want
		options, state, err := c.AssertionOptions(ctx, [][]byte{{9, 9, 9}, key.CredentialID})
		if err != nil {
			t.Fatal(err)
		}
		o, err := virtualwebauthn.ParseAssertionOptions(string(options))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.VerifyAssertion(ctx, state, []byte(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *o)), stored)
		if err != nil {
			t.Fatal(err)
		}
		if got.SignCount != want || !got.UserVerified || string(got.CredentialID) != string(cred.ID) {
			t.Errorf("assertion %+v, want count %d", got, want)
		}
		if stored.SignCount, err = device.CounterAfter(stored.SignCount, got.SignCount); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackupEligible: a synced passkey is reported as one, and the policy
// refuses it in every environment.
func TestBackupEligible(t *testing.T) {
	c := newCeremony(t, nil)
	for _, opts := range []virtualwebauthn.AuthenticatorOptions{{BackupEligible: true}, {BackupEligible: true, BackupState: true}} {
		key, err := virtualRegister(t, c, virtualwebauthn.NewAuthenticatorWithOptions(opts), ec2Credential(t))
		if err != nil {
			t.Fatal(err)
		}
		if !key.Attestation.BackupEligible || key.Attestation.BackedUp != opts.BackupState {
			t.Errorf("%+v reported as %+v", opts, key.Attestation)
		}
		if err := development.Accept(key.Attestation); !errors.Is(err, fault.Forbidden) {
			t.Errorf("%+v accepted: %v", opts, err)
		}
	}
	// Backed up without being backup eligible is not a state an
	// authenticator can be in (WebAuthn §6.3.3).
	_, err := virtualRegister(t, c, virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{BackupState: true}), ec2Credential(t))
	wantKind(t, "BS without BE", err, fault.Unauthenticated)
}

// wantKind checks the kind and that the client sees only Pforte's own text.
func wantKind(t *testing.T, name string, err error, kind fault.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", name)
		return
	}
	t.Logf("%s: %v", name, err)
	if got := fault.KindOf(err); got != kind {
		t.Errorf("%s: kind %v, want %v (%v)", name, got, kind, err)
	}
	want := map[fault.Kind]fault.Code{fault.Invalid: publicMalformed, fault.Unauthenticated: publicFailed}[kind]
	if got, _ := fault.CodeOf(err); got != want {
		t.Errorf("%s: code %q, want %q", name, got, want)
	}
}

func TestRegistrationRefused(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	c := newCeremony(t, clk.now)
	auth := virtualwebauthn.NewAuthenticator()
	cred := ec2Credential(t)
	fresh := func() (options *virtualwebauthn.AttestationOptions, state []byte) {
		t.Helper()
		raw, state, err := c.RegistrationOptions(ctx, member(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := virtualwebauthn.ParseAttestationOptions(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		return o, state
	}
	o, state := fresh()
	good := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *o)
	if _, err := c.VerifyRegistration(ctx, state, []byte(good)); err != nil {
		t.Fatalf("the good response fails: %v", err)
	}

	_, state2 := fresh()
	for _, tc := range []struct {
		name     string
		state    []byte
		response string
		kind     fault.Kind
	}{
		{"replayed against a fresh challenge", state2, good, fault.Unauthenticated},
		{"wrong challenge", state, virtualwebauthn.CreateAttestationResponse(rp, auth, cred, virtualwebauthn.AttestationOptions{Challenge: []byte("0123456789abcdef0123456789abcdef")}), fault.Unauthenticated},
		{"wrong origin", state, withRP(t, state, auth, cred, virtualwebauthn.RelyingParty{ID: rpID, Origin: "https://evil.example"}), fault.Unauthenticated},
		{"subdomain origin not configured", state, withRP(t, state, auth, cred, virtualwebauthn.RelyingParty{ID: rpID, Origin: "https://app.pforte.example"}), fault.Unauthenticated},
		{"unconfigured app origin", state, withRP(t, state, auth, cred, virtualwebauthn.RelyingParty{ID: rpID, Origin: "android:apk-key-hash:AAAA"}), fault.Unauthenticated},
		{"wrong RP id", state, withRP(t, state, auth, cred, virtualwebauthn.RelyingParty{ID: "evil.example", Origin: origin}), fault.Unauthenticated},
		{"user not present", state, withAuth(t, state, virtualwebauthn.AuthenticatorOptions{UserNotPresent: true}, cred), fault.Unauthenticated},
		{"RSA key", state, withAuth(t, state, virtualwebauthn.AuthenticatorOptions{}, virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeRSA)), fault.Unauthenticated},
		{"tampered credential key", state, tamper(t, good, "attestationObject"), fault.Unauthenticated},
		{"tampered client data", state, tamper(t, good, "clientDataJSON"), fault.Unauthenticated},
		{"not JSON", state, "{", fault.Invalid},
		{"empty object", state, "{}", fault.Invalid},
		{"id and rawId differ", state, strings.Replace(good, `"id":"`, `"id":"AA`, 1), fault.Invalid},
		{"attestation object not CBOR", state, setField(t, good, "attestationObject", "AAAA"), fault.Invalid},
	} {
		_, err := c.VerifyRegistration(ctx, tc.state, []byte(tc.response))
		wantKind(t, tc.name, err, tc.kind)
	}

	// The state expires after the timeout (3 minutes).
	o, state = fresh()
	late := virtualwebauthn.CreateAttestationResponse(rp, auth, cred, *o)
	clk.t = clk.t.Add(3 * time.Minute)
	_, err := c.VerifyRegistration(ctx, state, []byte(late))
	wantKind(t, "expired state", err, fault.Unauthenticated)

	if _, err := c.VerifyRegistration(ctx, []byte("not a state"), []byte(good)); fault.KindOf(err) != fault.Internal {
		t.Errorf("corrupt state: %v", err)
	}
}

// challengeOf returns the challenge in state.
func challengeOf(t *testing.T, state []byte) []byte {
	t.Helper()
	var s struct{ Challenge string }
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(s.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withRP(t *testing.T, state []byte, auth virtualwebauthn.Authenticator, cred virtualwebauthn.Credential, r virtualwebauthn.RelyingParty) string {
	return virtualwebauthn.CreateAttestationResponse(r, auth, cred, virtualwebauthn.AttestationOptions{Challenge: challengeOf(t, state)})
}

func withAuth(t *testing.T, state []byte, opts virtualwebauthn.AuthenticatorOptions, cred virtualwebauthn.Credential) string {
	return virtualwebauthn.CreateAttestationResponse(rp, virtualwebauthn.NewAuthenticatorWithOptions(opts), cred, virtualwebauthn.AttestationOptions{Challenge: challengeOf(t, state)})
}

type response struct {
	ID       string            `json:"id"`
	RawID    string            `json:"rawId"`
	Type     string            `json:"type"`
	Response map[string]string `json:"response"`
}

func decode(t *testing.T, s string) response {
	t.Helper()
	var r response
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func encode(t *testing.T, r response) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func b64d(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tamper changes a response member after it was signed: it flips the
// last bit of binary members and adds a blank to the client data, which
// keeps its meaning and changes its hash.
func tamper(t *testing.T, s, field string) string {
	t.Helper()
	r := decode(t, s)
	b := b64d(t, r.Response[field])
	if field == "clientDataJSON" {
		b = append([]byte("{ "), b[1:]...)
	} else {
		b[len(b)-1] ^= 0x01
	}
	r.Response[field] = base64.RawURLEncoding.EncodeToString(b)
	return encode(t, r)
}

func setField(t *testing.T, s, field, value string) string {
	t.Helper()
	r := decode(t, s)
	r.Response[field] = value
	return encode(t, r)
}

func TestAssertionRefused(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	c := newCeremony(t, clk.now)
	auth := virtualwebauthn.NewAuthenticator()
	cred := ec2Credential(t)
	key, err := virtualRegister(t, c, auth, cred)
	if err != nil {
		t.Fatal(err)
	}
	stored := devicekey.Key{CredentialID: key.CredentialID, PublicKey: key.PublicKey, SignCount: 5}
	fresh := func() (virtualwebauthn.AssertionOptions, []byte) {
		t.Helper()
		raw, state, err := c.AssertionOptions(ctx, [][]byte{key.CredentialID})
		if err != nil {
			t.Fatal(err)
		}
		o, err := virtualwebauthn.ParseAssertionOptions(string(raw))
		if err != nil {
			t.Fatal(err)
		}
		return *o, state
	}
	assert := func(r virtualwebauthn.RelyingParty, opts virtualwebauthn.AuthenticatorOptions, cr virtualwebauthn.Credential, o virtualwebauthn.AssertionOptions) string {
		return virtualwebauthn.CreateAssertionResponse(r, virtualwebauthn.NewAuthenticatorWithOptions(opts), cr, o)
	}
	cred.Counter = 6
	o, state := fresh()
	good := assert(rp, virtualwebauthn.AuthenticatorOptions{}, cred, o)
	if _, err := c.VerifyAssertion(ctx, state, []byte(good), stored); err != nil {
		t.Fatalf("the good assertion fails: %v", err)
	}
	_, state2 := fresh()
	thief := cred
	thief.Key = ec2Credential(t).Key
	wrongChallenge := o
	wrongChallenge.Challenge = []byte("0123456789abcdef0123456789abcdef")
	otherKey, err := virtualRegister(t, c, auth, ec2Credential(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		state    []byte
		response string
		key      devicekey.Key
		kind     fault.Kind
	}{
		{"replayed against a fresh challenge", state2, good, stored, fault.Unauthenticated},
		{"wrong challenge", state, assert(rp, virtualwebauthn.AuthenticatorOptions{}, cred, wrongChallenge), stored, fault.Unauthenticated},
		{"wrong origin", state, assert(virtualwebauthn.RelyingParty{ID: rpID, Origin: "https://evil.example"}, virtualwebauthn.AuthenticatorOptions{}, cred, o), stored, fault.Unauthenticated},
		{"wrong RP id", state, assert(virtualwebauthn.RelyingParty{ID: "evil.example", Origin: origin}, virtualwebauthn.AuthenticatorOptions{}, cred, o), stored, fault.Unauthenticated},
		{"signed by another key", state, assert(rp, virtualwebauthn.AuthenticatorOptions{}, thief, o), stored, fault.Unauthenticated},
		{"verified against another bound key", state, good, devicekey.Key{CredentialID: key.CredentialID, PublicKey: otherKey.PublicKey}, fault.Unauthenticated},
		{"from a key the caller did not name", state, good, devicekey.Key{CredentialID: otherKey.CredentialID, PublicKey: otherKey.PublicKey}, fault.Unauthenticated},
		{"tampered signature", state, tamper(t, good, "signature"), stored, fault.Unauthenticated},
		{"tampered authenticator data", state, tamper(t, good, "authenticatorData"), stored, fault.Unauthenticated},
		{"user not present", state, assert(rp, virtualwebauthn.AuthenticatorOptions{UserNotPresent: true}, cred, o), stored, fault.Unauthenticated},
		{"backup eligible now", state, assert(rp, virtualwebauthn.AuthenticatorOptions{BackupEligible: true}, cred, o), stored, fault.Unauthenticated},
		{"not JSON", state, "[", stored, fault.Invalid},
		{"no id", state, `{"type":"public-key","response":{}}`, stored, fault.Invalid},
		{"authenticator data too short", state, setField(t, good, "authenticatorData", "AAAA"), stored, fault.Invalid},
	} {
		_, err := c.VerifyAssertion(ctx, tc.state, []byte(tc.response), tc.key)
		wantKind(t, tc.name, err, tc.kind)
	}

	// Not allowed by the state: options for the other key only.
	raw, onlyOther, err := c.AssertionOptions(ctx, [][]byte{otherKey.CredentialID})
	if err != nil {
		t.Fatal(err)
	}
	oo, _ := virtualwebauthn.ParseAssertionOptions(string(raw))
	_, err = c.VerifyAssertion(ctx, onlyOther, []byte(assert(rp, virtualwebauthn.AuthenticatorOptions{}, cred, *oo)), stored)
	wantKind(t, "credential not in the allow list", err, fault.Unauthenticated)

	o, state = fresh()
	late := assert(rp, virtualwebauthn.AuthenticatorOptions{}, cred, o)
	clk.t = clk.t.Add(3 * time.Minute)
	_, err = c.VerifyAssertion(ctx, state, []byte(late), stored)
	wantKind(t, "expired state", err, fault.Unauthenticated)
}

// TestCounterReportedNotJudged: a counter that goes backwards passes the
// adapter with the value the authenticator reported; core refuses it.
func TestCounterReportedNotJudged(t *testing.T) {
	c := newCeremony(t, nil)
	auth := virtualwebauthn.NewAuthenticator()
	cred := ec2Credential(t)
	key, err := virtualRegister(t, c, auth, cred)
	if err != nil {
		t.Fatal(err)
	}
	raw, state, err := c.AssertionOptions(ctx, [][]byte{key.CredentialID})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := virtualwebauthn.ParseAssertionOptions(string(raw))
	cred.Counter = 3
	got, err := c.VerifyAssertion(ctx, state, []byte(virtualwebauthn.CreateAssertionResponse(rp, auth, cred, *o)),
		devicekey.Key{CredentialID: key.CredentialID, PublicKey: key.PublicKey, SignCount: 7})
	if err != nil || got.SignCount != 3 {
		t.Fatalf("assertion %+v, %v", got, err)
	}
	if _, err := device.CounterAfter(7, got.SignCount); !errors.Is(err, fault.Forbidden) {
		t.Errorf("core accepts a counter going from 7 to 3: %v", err)
	}
}
