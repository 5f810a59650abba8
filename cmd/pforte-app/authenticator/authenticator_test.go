package authenticator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// The round trips run against Pforte's WebAuthn adapter: the tests of
// adapters/webauthn may not import cmd/ (the dependency rule), so the
// reference client's authenticator is checked against the server here.

const (
	rpID   = "pforte.example"
	origin = "https://pforte.example"
)

var (
	ctx       = context.Background()
	appOrigin = func() string {
		d := sha256.Sum256([]byte("insurer app signing certificate"))
		return webauthn.AndroidOriginPrefix + base64.RawURLEncoding.EncodeToString(d[:])
	}()
	development = device.Policy{AllowUnattested: true}
	production  = device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{strings.Repeat("ab", 32)}, AllowPacked: true}
)

func ceremony(t *testing.T, roots ...*x509.Certificate) *webauthn.Ceremony {
	t.Helper()
	c, err := webauthn.New(webauthn.Config{RPID: rpID, Origins: []string{origin, appOrigin}, PackedRoots: roots}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newAuthenticator(t *testing.T) *authenticator.Authenticator {
	t.Helper()
	a, err := authenticator.New()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func member() devicekey.User {
	h := make([]byte, 32)
	rand.Read(h)
	return devicekey.User{Handle: h, Name: "M123456789", DisplayName: "Erika Mustermann"}
}

// register runs a registration ceremony; the authenticator's own refusal
// fails the test.
func register(t *testing.T, c *webauthn.Ceremony, a *authenticator.Authenticator, from string, opts ...authenticator.Option) (devicekey.NewKey, error) {
	t.Helper()
	options, state, err := c.RegistrationOptions(ctx, member(), nil)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Register(options, from, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c.VerifyRegistration(ctx, state, response)
}

func assert(t *testing.T, c *webauthn.Ceremony, a *authenticator.Authenticator, key devicekey.Key, from string, opts ...authenticator.Option) (devicekey.Assertion, error) {
	t.Helper()
	options, state, err := c.AssertionOptions(ctx, [][]byte{key.CredentialID})
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Assert(options, from, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c.VerifyAssertion(ctx, state, response, key)
}

func stored(k devicekey.NewKey) devicekey.Key {
	return devicekey.Key{CredentialID: k.CredentialID, PublicKey: k.PublicKey, SignCount: k.SignCount}
}

func wantKind(t *testing.T, name string, err error, kind fault.Kind) {
	t.Helper()
	t.Logf("%s: %v", name, err)
	if err == nil {
		t.Errorf("%s: accepted", name)
	} else if got := fault.KindOf(err); got != kind {
		t.Errorf("%s: kind %v, want %v (%v)", name, got, kind, err)
	}
}

func TestRoundTrip(t *testing.T) {
	c := ceremony(t)
	for _, from := range []string{origin, appOrigin} {
		a := newAuthenticator(t)
		key, err := register(t, c, a, from)
		if err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		att := key.Attestation
		if string(key.CredentialID) != string(a.CredentialID()) || string(key.PublicKey) != string(a.PublicKey()) || key.SignCount != 0 {
			t.Errorf("%s: key %+v", from, key)
		}
		if att.Format != "packed" || !att.Self || att.Trusted || att.BackupEligible || att.BackedUp || att.HardwareBacked() {
			t.Errorf("%s: attestation %+v", from, att)
		}
		if err := development.Accept(att); err != nil {
			t.Errorf("%s: development refuses: %v", from, err)
		}
		if err := production.Accept(att); !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: production accepts a software key: %v", from, err)
		}
		k := stored(key)
		for want := uint32(1); want <= 3; want++ {
			got, err := assert(t, c, a, k, from)
			if err != nil {
				t.Fatalf("%s: assertion %d: %v", from, want, err)
			}
			if got.SignCount != want || !got.UserVerified || string(got.CredentialID) != string(key.CredentialID) {
				t.Errorf("%s: assertion %+v, want count %d", from, got, want)
			}
			if k.SignCount, err = device.CounterAfter(k.SignCount, got.SignCount); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestNoneAttestation(t *testing.T) {
	c := ceremony(t)
	key, err := register(t, c, newAuthenticator(t), origin, authenticator.Format(authenticator.FormatNone))
	if err != nil {
		t.Fatal(err)
	}
	if key.Attestation.Format != "none" || key.Attestation.Self || key.Attestation.Trusted {
		t.Errorf("attestation %+v", key.Attestation)
	}
	if development.Accept(key.Attestation) != nil || production.Accept(key.Attestation) == nil {
		t.Error("none must be accepted in development only")
	}
}

// TestResponseShape: the JSON is WebAuthn Level 3's RegistrationResponseJSON.
func TestResponseShape(t *testing.T) {
	c := ceremony(t)
	a := newAuthenticator(t)
	options, _, err := c.RegistrationOptions(ctx, member(), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := a.Register(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ID, RawID, Type, AuthenticatorAttachment string
		Response                                 struct {
			ClientDataJSON, AttestationObject, AuthenticatorData, PublicKey string
			PublicKeyAlgorithm                                              int
			Transports                                                      []string
		}
		ClientExtensionResults map[string]any
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != r.RawID || r.Type != "public-key" || r.AuthenticatorAttachment != "platform" || r.ClientExtensionResults == nil ||
		r.Response.PublicKeyAlgorithm != -7 || len(r.Response.Transports) != 1 || r.Response.Transports[0] != "internal" {
		t.Errorf("response %+v", r)
	}
	spki, _ := base64.RawURLEncoding.DecodeString(r.Response.PublicKey)
	if pub, err := x509.ParsePKIXPublicKey(spki); err != nil || pub.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("publicKey: %v", err)
	}
	cdj, _ := base64.RawURLEncoding.DecodeString(r.Response.ClientDataJSON)
	var cd map[string]any
	if err := json.Unmarshal(cdj, &cd); err != nil || cd["type"] != "webauthn.create" || cd["origin"] != origin || cd["crossOrigin"] != false {
		t.Errorf("client data %s", cdj)
	}
	ad, _ := base64.RawURLEncoding.DecodeString(r.Response.AuthenticatorData)
	rpHash := sha256.Sum256([]byte(rpID))
	// rpIdHash ‖ flags UP|UV|AT, BE = BS = 0 ‖ counter 0 ‖ AAGUID ‖ length ‖ id ‖ key
	if len(ad) < 55 || string(ad[:32]) != string(rpHash[:]) || ad[32] != 0x45 || string(ad[33:37]) != "\x00\x00\x00\x00" ||
		string(ad[55:87]) != string(a.CredentialID()) || string(ad[87:]) != string(a.PublicKey()) {
		t.Errorf("authenticator data %x", ad)
	}
}

// TestPersisted: the app keeps the authenticator in its state file and
// goes on from where it was.
func TestPersisted(t *testing.T) {
	c := ceremony(t)
	a := newAuthenticator(t)
	key, err := register(t, c, a, origin)
	if err != nil {
		t.Fatal(err)
	}
	k := stored(key)
	if _, err := assert(t, c, a, k, origin); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(data, &fields)
	der, _ := base64.StdEncoding.DecodeString(fields["private_key_pkcs8"].(string))
	if _, err := x509.ParsePKCS8PrivateKey(der); err != nil || fields["sign_count"] != 1.0 || fields["rp_id"] != rpID {
		t.Errorf("persisted %s: %v", data, err)
	}
	var b authenticator.Authenticator
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	got, err := assert(t, c, &b, k, origin)
	if err != nil || got.SignCount != 2 {
		t.Errorf("restored authenticator: %+v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"credential_id":"AQ","private_key_pkcs8":"AAAA"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), new(authenticator.Authenticator)); err == nil {
			t.Errorf("restored from %s", bad)
		}
	}
}

func TestRegistrationRefused(t *testing.T) {
	c := ceremony(t)
	other := newAuthenticator(t)
	for _, tc := range []struct {
		name string
		from string
		opts []authenticator.Option
		kind fault.Kind
	}{
		{"wrong challenge", origin, []authenticator.Option{authenticator.Challenge([]byte("0123456789abcdef0123456789abcdef"))}, fault.Unauthenticated},
		{"wrong RP id", origin, []authenticator.Option{authenticator.RPID("evil.example")}, fault.Unauthenticated},
		{"origin not configured", "https://other.pforte.example", nil, fault.Unauthenticated},
		{"app origin not configured", webauthn.AndroidOriginPrefix + "AAAA", nil, fault.Unauthenticated},
		{"signed by another key", origin, []authenticator.Option{authenticator.SignedBy(other)}, fault.Unauthenticated},
		{"tampered signature", origin, []authenticator.Option{authenticator.CorruptSignature()}, fault.Unauthenticated},
		{"user not present", origin, []authenticator.Option{authenticator.WithoutUserPresence()}, fault.Unauthenticated},
		{"assertion client data", origin, []authenticator.Option{authenticator.ClientDataType("webauthn.get")}, fault.Unauthenticated},
	} {
		_, err := register(t, c, newAuthenticator(t), tc.from, tc.opts...)
		wantKind(t, tc.name, err, tc.kind)
	}

	// Without user verification the key is still bound (UV is preferred,
	// not required: the release PIN is Pforte's knowledge factor).
	if _, err := register(t, c, newAuthenticator(t), origin, authenticator.WithoutUserVerification()); err != nil {
		t.Errorf("without UV: %v", err)
	}

	// A response is bound to its challenge: it does not answer a fresh one.
	a := newAuthenticator(t)
	options, state, _ := c.RegistrationOptions(ctx, member(), nil)
	response, err := a.Register(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	_, fresh, _ := c.RegistrationOptions(ctx, member(), nil)
	_, err = c.VerifyRegistration(ctx, fresh, response)
	wantKind(t, "replayed against a fresh challenge", err, fault.Unauthenticated)
	if _, err := c.VerifyRegistration(ctx, state, response); err != nil {
		t.Errorf("the response to its own challenge: %v", err)
	}
}

// TestBackupEligible: a key that claims to be a synced passkey is reported
// so, and refused by the policy.
func TestBackupEligible(t *testing.T) {
	c := ceremony(t)
	for name, opt := range map[string]authenticator.Option{"eligible": authenticator.BackupEligible(), "backed up": authenticator.BackedUp()} {
		key, err := register(t, c, newAuthenticator(t), origin, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !key.Attestation.BackupEligible {
			t.Errorf("%s: reported %+v", name, key.Attestation)
		}
		if err := development.Accept(key.Attestation); !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: accepted: %v", name, err)
		}
	}
}

func TestAssertionRefused(t *testing.T) {
	c := ceremony(t)
	a := newAuthenticator(t)
	key, err := register(t, c, a, origin)
	if err != nil {
		t.Fatal(err)
	}
	k := stored(key)
	other := newAuthenticator(t)
	for _, tc := range []struct {
		name string
		from string
		opts []authenticator.Option
	}{
		{"wrong challenge", origin, []authenticator.Option{authenticator.Challenge([]byte("0123456789abcdef0123456789abcdef"))}},
		{"wrong RP id", origin, []authenticator.Option{authenticator.RPID("evil.example")}},
		{"origin not configured", "https://other.pforte.example", nil},
		{"signed by another key", origin, []authenticator.Option{authenticator.SignedBy(other)}},
		{"tampered signature", origin, []authenticator.Option{authenticator.CorruptSignature()}},
		{"user not present", origin, []authenticator.Option{authenticator.WithoutUserPresence()}},
		{"backup eligible", origin, []authenticator.Option{authenticator.BackupEligible()}},
		{"registration client data", origin, []authenticator.Option{authenticator.ClientDataType("webauthn.create")}},
	} {
		_, err := assert(t, c, a, k, tc.from, tc.opts...)
		wantKind(t, tc.name, err, fault.Unauthenticated)
	}

	// Replay: one response answers its own state only.
	options, state, _ := c.AssertionOptions(ctx, [][]byte{k.CredentialID})
	response, err := a.Assert(options, origin)
	if err != nil {
		t.Fatal(err)
	}
	_, fresh, _ := c.AssertionOptions(ctx, [][]byte{k.CredentialID})
	_, err = c.VerifyAssertion(ctx, fresh, response, k)
	wantKind(t, "replayed against a fresh challenge", err, fault.Unauthenticated)

	// Another member's key cannot stand in for this one.
	otherKey, err := register(t, c, other, origin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.VerifyAssertion(ctx, state, response, stored(otherKey))
	wantKind(t, "verified against another key", err, fault.Unauthenticated)
	_, err = c.VerifyAssertion(ctx, state, []byte("{"), k)
	wantKind(t, "malformed", err, fault.Invalid)
}

// TestCounterRollback: the adapter reports what a clone reports; core
// refuses it.
func TestCounterRollback(t *testing.T) {
	c := ceremony(t)
	a := newAuthenticator(t)
	key, err := register(t, c, a, origin)
	if err != nil {
		t.Fatal(err)
	}
	k := stored(key)
	for range 3 {
		got, err := assert(t, c, a, k, origin)
		if err != nil {
			t.Fatal(err)
		}
		if k.SignCount, err = device.CounterAfter(k.SignCount, got.SignCount); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []uint32{0, 2, 3} {
		got, err := assert(t, c, a, k, origin, authenticator.Counter(n))
		if err != nil || got.SignCount != n {
			t.Fatalf("counter %d: %+v, %v", n, got, err)
		}
		if _, err := device.CounterAfter(k.SignCount, got.SignCount); !errors.Is(err, fault.Forbidden) {
			t.Errorf("counter %d after %d accepted: %v", n, k.SignCount, err)
		}
	}
	if a.SignCount() != 3 {
		t.Errorf("stored counter moved to %d", a.SignCount())
	}
}

// TestClientRules: what a real client and authenticator refuse before
// anything reaches the server.
func TestClientRules(t *testing.T) {
	c := ceremony(t)
	a := newAuthenticator(t)
	key, err := register(t, c, a, origin)
	if err != nil {
		t.Fatal(err)
	}
	excluding, _, err := c.RegistrationOptions(ctx, member(), [][]byte{{1}, key.CredentialID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Register(excluding, origin); err == nil {
		t.Error("registered a credential on the exclude list")
	}
	options, _, _ := c.RegistrationOptions(ctx, member(), nil)
	if _, err := newAuthenticator(t).Register(options, "https://evil.example"); err == nil {
		t.Error("registered for an RP id that does not belong to the origin")
	}
	allowOther, _, _ := c.AssertionOptions(ctx, [][]byte{{1, 2, 3}})
	if _, err := a.Assert(allowOther, origin); err == nil {
		t.Error("asserted with a credential the allow list does not name")
	}
	for name, o := range map[string]string{
		"no ES256":       `{"rp":{"id":"pforte.example"},"user":{"id":"AQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-257}]}`,
		"roaming only":   `{"rp":{"id":"pforte.example"},"user":{"id":"AQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","authenticatorSelection":{"authenticatorAttachment":"cross-platform"}}`,
		"no challenge":   `{"rp":{"id":"pforte.example"},"user":{"id":"AQ"}}`,
		"no user":        `{"rp":{"id":"pforte.example"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		"not JSON":       `{`,
		"no RP for apps": `{"user":{"id":"AQ"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`,
	} {
		from := origin
		if name == "no RP for apps" {
			from = appOrigin
		}
		if _, err := newAuthenticator(t).Register([]byte(o), from); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
	// The navigator.credentials form {"publicKey": …} works too.
	options, state, _ := c.RegistrationOptions(ctx, member(), nil)
	response, err := newAuthenticator(t).Register([]byte(`{"publicKey":`+string(options)+`}`), origin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyRegistration(ctx, state, response); err != nil {
		t.Error(err)
	}
}

// attestationCA is a CA of our own: for packed attestation it is the
// configured trust anchor of an authenticator vendor; for android-key it
// stands in for Google.
type attestationCA struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newAttestationCA(t *testing.T) attestationCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Attestation Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	return attestationCA{root: root, key: key}
}

func (ca attestationCA) issue(t *testing.T, pub *ecdsa.PublicKey, subject pkix.Name, ext []pkix.Extension) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, ExtraExtensions: ext,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestPackedWithCertificate: basic packed attestation is Trusted exactly
// when its chain ends in a configured root.
func TestPackedWithCertificate(t *testing.T) {
	ca := newAttestationCA(t)
	attKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// §8.2.1: the subject names the vendor, OU "Authenticator Attestation".
	leaf := ca.issue(t, &attKey.PublicKey, pkix.Name{Country: []string{"DE"}, Organization: []string{"Pforte Test"},
		OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test Authenticator"}, nil)
	opt := authenticator.AttestationCertificate(attKey, leaf, ca.root.Raw)

	key, err := register(t, ceremony(t, ca.root), newAuthenticator(t), origin, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a := key.Attestation; a.Format != "packed" || a.Self || !a.Trusted {
		t.Errorf("with the root configured: %+v", a)
	} else if err := production.Accept(a); err != nil {
		t.Errorf("production refuses a trusted packed key: %v", err)
	}

	key, err = register(t, ceremony(t), newAuthenticator(t), origin, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a := key.Attestation; a.Trusted || a.Self {
		t.Errorf("without the root: %+v", a)
	} else if err := production.Accept(a); !errors.Is(err, fault.Forbidden) {
		t.Errorf("production accepts an untrusted packed key: %v", err)
	}

	_, err = register(t, ceremony(t, ca.root), newAuthenticator(t), origin, opt, authenticator.CorruptSignature())
	wantKind(t, "packed with a bad signature", err, fault.Unauthenticated)
}

// TestAndroidKeyNotFromGoogle: an android-key attestation whose chain
// ends in another root than Google's is refused, however well it is
// formed.
func TestAndroidKeyNotFromGoogle(t *testing.T) {
	ca := newAttestationCA(t)
	issue := func(pub *ecdsa.PublicKey, clientDataHash []byte) ([][]byte, error) {
		ext, err := keyDescription(clientDataHash)
		if err != nil {
			return nil, err
		}
		leaf := ca.issue(t, pub, pkix.Name{CommonName: "Android Keystore Key"},
			[]pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}, Value: ext}})
		return [][]byte{leaf, ca.root.Raw}, nil
	}
	_, err := register(t, ceremony(t, ca.root), newAuthenticator(t), appOrigin, authenticator.AndroidKey(issue))
	wantKind(t, "android-key from another root", err, fault.Unauthenticated)
}

// keyDescription is a TEE key description for de.example.serviceapp.
func keyDescription(challenge []byte) ([]byte, error) {
	explicit := func(tag int, v any, params string) asn1.RawValue {
		inner, _ := asn1.MarshalWithParams(v, params)
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: inner}
	}
	digest := sha256.Sum256([]byte("insurer app signing certificate"))
	appID, err := asn1.Marshal(struct {
		Packages []struct {
			Name    []byte
			Version int
		} `asn1:"set"`
		Digests [][]byte `asn1:"set"`
	}{Packages: []struct {
		Name    []byte
		Version int
	}{{[]byte("de.example.serviceapp"), 1}}, Digests: [][]byte{digest[:]}})
	if err != nil {
		return nil, err
	}
	type list []asn1.RawValue
	return asn1.Marshal(struct {
		Version      int
		Level        asn1.Enumerated
		KeyMint      int
		KeyMintLevel asn1.Enumerated
		Challenge    []byte
		UniqueID     []byte
		Software     list
		TEE          list
	}{300, 1, 300, 1, challenge, []byte{},
		list{explicit(709, appID, "")},
		list{explicit(1, []int{2}, "set"), explicit(702, 0, "")}})
}
