package webauthn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/ports/devicekey"
)

func TestAppleRoot(t *testing.T) {
	b, _ := pem.Decode([]byte(appleRootPEM))
	if b == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.Raw)
	if hex.EncodeToString(sum[:]) != "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932" ||
		!c.IsCA || c.CheckSignatureFrom(c) != nil || c.Subject.CommonName != "Apple App Attestation Root CA" {
		t.Errorf("not Apple's App Attestation root: %x %v", sum, c.Subject)
	}
}

const testAppID = "ABCDE12345.de.example.serviceapp"

// appAttestCA stands in for Apple's App Attestation CA: a root and an
// intermediate of our own, the shape of Apple's chain.
type appAttestCA struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func newAppAttestCA(t *testing.T) appAttestCA {
	t.Helper()
	rootKey := newKey(t)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fake App Attestation Root CA"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	root := mustCert(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	interKey := newKey(t)
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Fake App Attestation CA 1"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return appAttestCA{root: root, inter: mustCert(t, interTmpl, root, &interKey.PublicKey, rootKey), interKey: interKey}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t *testing.T, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// appAttestSpec is what a fake Secure Enclave and App Attest service put
// into one attestation; mutate changes the honest values.
type appAttestSpec struct {
	appID    string
	aaguid   []byte
	counter  uint32
	origin   string
	typ      string
	nonce    func(honest []byte) []byte // what the CA certifies
	keyID    func(honest []byte) []byte // the credential id the app sends
	coseKey  *ecdsa.PublicKey           // nil: the certified key
	noNonce  bool
	expired  bool // the credential certificate expired yesterday
	flags    byte
	chainCut bool // send the leaf without the intermediate
}

// appAttestResponse answers the registration options of state as an iOS
// app with App Attest would.
func (ca appAttestCA) appAttestResponse(t *testing.T, state []byte, s appAttestSpec, now time.Time) []byte {
	t.Helper()
	resp, _ := ca.appAttestKey(t, state, s, now)
	return resp
}

// appAttestKey is appAttestResponse that also returns the key.
func (ca appAttestCA) appAttestKey(t *testing.T, state []byte, s appAttestSpec, now time.Time) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	var sess gowebauthn.SessionData
	if err := json.Unmarshal(state, &sess); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	point, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	keyID := sha256.Sum256(point.Bytes())
	credID := keyID[:]
	if s.keyID != nil {
		credID = s.keyID(keyID[:])
	}
	cosePub := &key.PublicKey
	if s.coseKey != nil {
		cosePub = s.coseKey
	}
	cp, _ := cosePub.ECDH()
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         coseP256, XCoord: cp.Bytes()[1:33], YCoord: cp.Bytes()[33:],
	})
	if err != nil {
		t.Fatal(err)
	}
	rpIDHash := sha256.Sum256([]byte(s.appID))
	authData := slices.Concat(rpIDHash[:], []byte{0x40 | s.flags}, binary.BigEndian.AppendUint32(nil, s.counter), s.aaguid,
		binary.BigEndian.AppendUint16(nil, uint16(len(keyID))), keyID[:], cose)
	clientData, err := json.Marshal(map[string]any{"type": s.typ, "challenge": sess.Challenge, "origin": s.origin})
	if err != nil {
		t.Fatal(err)
	}
	clientDataHash := sha256.Sum256(clientData)
	nonce := sha256.Sum256(slices.Concat(authData, clientDataHash[:]))
	certified := nonce[:]
	if s.nonce != nil {
		certified = s.nonce(nonce[:])
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: hex.EncodeToString(keyID[:])},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if s.expired {
		leafTmpl.NotBefore, leafTmpl.NotAfter = now.Add(-72*time.Hour), now.Add(-24*time.Hour)
	}
	if !s.noNonce {
		leafTmpl.ExtraExtensions = []pkix.Extension{{Id: oidAppAttestNonce, Value: sequence(t, explicit(t, 1, der(t, certified, "")))}}
	}
	leaf := mustCert(t, leafTmpl, ca.inter, &key.PublicKey, ca.interKey)
	x5c := []any{leaf.Raw, ca.inter.Raw}
	if s.chainCut {
		x5c = x5c[:1]
	}
	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      formatAppAttest,
		"attStmt":  map[string]any{"x5c": x5c, "receipt": []byte("receipt")},
		"authData": authData,
	})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp, err := json.Marshal(map[string]any{
		"id": b64(credID), "rawId": b64(credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(clientData), "attestationObject": b64(attObj)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp, key
}

// assertSpec is what a fake App Attest assertion carries.
type assertSpec struct {
	appID   string
	counter uint32
	flags   byte
	typ     string
	// webauthnDigest signs SHA-256(authData ‖ clientDataHash) as the
	// digest, as a WebAuthn authenticator would, instead of App Attest's
	// SHA-256 of that nonce.
	webauthnDigest bool
}

// appAttestAssertion answers the assertion options of state as an iOS
// app with DCAppAttestService.generateAssertion would.
func appAttestAssertion(t *testing.T, state []byte, key *ecdsa.PrivateKey, credID []byte, s assertSpec) []byte {
	t.Helper()
	var sess gowebauthn.SessionData
	if err := json.Unmarshal(state, &sess); err != nil {
		t.Fatal(err)
	}
	rpIDHash := sha256.Sum256([]byte(s.appID))
	authData := slices.Concat(rpIDHash[:], []byte{s.flags}, binary.BigEndian.AppendUint32(nil, s.counter))
	clientData, err := json.Marshal(map[string]any{"type": s.typ, "challenge": sess.Challenge, "origin": "https://login.example.de"})
	if err != nil {
		t.Fatal(err)
	}
	clientDataHash := sha256.Sum256(clientData)
	nonce := sha256.Sum256(slices.Concat(authData, clientDataHash[:]))
	digest := sha256.Sum256(nonce[:])
	if s.webauthnDigest {
		digest = nonce
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	resp, err := json.Marshal(map[string]any{
		"id": b64(credID), "rawId": b64(credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(clientData), "authenticatorData": b64(authData), "signature": b64(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestAppAttest registers App Attest keys made with a CA of our own
// standing in for Apple's, and shows what the verifier refuses outright
// (a statement that does not prove what it claims) and what the policy
// refuses (a valid statement of the wrong app, environment or chain).
func TestAppAttest(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	ca := newAppAttestCA(t)
	c, err := New(Config{RPID: "login.example.de", Origins: []string{"https://login.example.de"}, AppleAppID: testAppID},
		func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	fakeRoots := x509.NewCertPool()
	fakeRoots.AddCert(ca.root)
	appleRoots := c.appleRoots
	c.appleRoots = fakeRoots
	prod := device.Policy{AppleAppID: testAppID}
	dev := device.Policy{AppleAppID: testAppID, AllowAppAttestDevelop: true}
	good := appAttestSpec{appID: testAppID, aaguid: device.AAGUIDAppAttest, origin: "https://login.example.de", typ: "webauthn.create"}
	other := newKey(t)
	flip := func(b []byte) []byte { b = slices.Clone(b); b[0] ^= 1; return b }

	for _, tc := range []struct {
		name   string
		mutate func(*appAttestSpec)
		roots  *x509.CertPool
		policy device.Policy
		failed bool       // the verifier refuses: Unauthenticated
		want   fault.Code // else the policy's answer
	}{
		{"production key", func(*appAttestSpec) {}, nil, prod, false, ""},
		{"development key in production", func(s *appAttestSpec) { s.aaguid = device.AAGUIDAppAttestDevelop }, nil, prod, false, device.CodeAppDevelop},
		{"development key in development", func(s *appAttestSpec) { s.aaguid = device.AAGUIDAppAttestDevelop }, nil, dev, false, ""},
		{"other AAGUID", func(s *appAttestSpec) { s.aaguid = make([]byte, 16) }, nil, dev, false, device.CodeUntrusted},
		{"other app (RP id)", func(s *appAttestSpec) { s.appID = "ZZZZZ99999.com.evil.app" }, nil, prod, false, device.CodeOtherApp},
		{"issuer as RP id", func(s *appAttestSpec) { s.appID = "login.example.de" }, nil, prod, false, device.CodeOtherApp},
		{"chain to Apple's real root", func(*appAttestSpec) {}, appleRoots, prod, false, device.CodeUntrusted},
		{"chain to another CA", func(*appAttestSpec) {}, pool(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newAppAttestCA(t).root.Raw})), prod, false, device.CodeUntrusted},
		{"no intermediate", func(s *appAttestSpec) { s.chainCut = true }, nil, prod, false, device.CodeUntrusted},
		{"expired credential certificate", func(s *appAttestSpec) { s.expired = true }, nil, prod, false, device.CodeUntrusted},
		{"backup eligible", func(s *appAttestSpec) { s.flags = 0x08 }, nil, prod, false, device.CodeSynced},
		{"App Attest not configured", func(*appAttestSpec) {}, nil, device.Policy{AllowPacked: true}, false, device.CodeFormat},
		{"wrong nonce", func(s *appAttestSpec) { s.nonce = flip }, nil, prod, true, ""},
		{"nonce of another challenge", func(s *appAttestSpec) {
			s.nonce = func([]byte) []byte { n := sha256.Sum256([]byte("another challenge")); return n[:] }
		}, nil, prod, true, ""},
		{"no nonce extension", func(s *appAttestSpec) { s.noNonce = true }, nil, prod, true, ""},
		{"key id not the key's hash", func(s *appAttestSpec) { s.keyID = flip }, nil, prod, true, ""},
		{"credential key not the certified one", func(s *appAttestSpec) { s.coseKey = &other.PublicKey }, nil, prod, true, ""},
		{"counter not 0", func(s *appAttestSpec) { s.counter = 1 }, nil, prod, true, ""},
		{"foreign origin", func(s *appAttestSpec) { s.origin = "https://evil.example" }, nil, prod, true, ""},
		{"assertion client data", func(s *appAttestSpec) { s.typ = "webauthn.get" }, nil, prod, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.appleRoots = fakeRoots
			if tc.roots != nil {
				c.appleRoots = tc.roots
			}
			_, state, err := c.RegistrationOptions(context.Background(), devicekey.User{Handle: []byte("member-1"), Name: "m", DisplayName: "M"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := good
			tc.mutate(&s)
			key, err := c.VerifyRegistration(context.Background(), state, ca.appAttestResponse(t, state, s, now))
			if tc.failed {
				if code, _ := fault.CodeOf(err); !errors.Is(err, fault.Unauthenticated) || code != CodeFailed {
					t.Fatalf("verified: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := key.Attestation
			if a.Format != formatAppAttest || key.SignCount != 0 || len(key.CredentialID) != 32 || len(key.PublicKey) == 0 {
				t.Errorf("reported %+v", key)
			}
			code, _ := fault.CodeOf(tc.policy.Accept(a))
			if code != tc.want {
				t.Errorf("policy: %q, want %q (%+v)", code, tc.want, a)
			}
		})
	}

	// A malformed nonce extension is no nonce.
	for name, ext := range map[string][]byte{
		"not DER":           {0x30, 0x05},
		"no [1]":            sequence(t, der(t, make([]byte, 32), "")),
		"short nonce":       sequence(t, explicit(t, 1, der(t, make([]byte, 16), ""))),
		"trailing elements": sequence(t, explicit(t, 1, der(t, make([]byte, 32), "")), der(t, 1, "")),
	} {
		leaf := mustCert(t, &x509.Certificate{
			SerialNumber: big.NewInt(9), NotBefore: now, NotAfter: now.Add(time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: oidAppAttestNonce, Value: ext}},
		}, ca.inter, &other.PublicKey, ca.interKey)
		if _, err := appAttestNonce(leaf); err == nil {
			t.Errorf("%s: nonce read", name)
		}
	}
}

// TestAppAttestAssertion: a bound App Attest key logs in with App
// Attest's assertions, and only with its own, correctly signed ones.
func TestAppAttestAssertion(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	ca := newAppAttestCA(t)
	c, err := New(Config{RPID: "login.example.de", Origins: []string{"https://login.example.de"}, AppleAppID: testAppID},
		func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	c.appleRoots = pool(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}))
	ctx := context.Background()
	_, state, err := c.RegistrationOptions(ctx, devicekey.User{Handle: []byte("member-1"), Name: "m", DisplayName: "M"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, priv := ca.appAttestKey(t, state, appAttestSpec{appID: testAppID, aaguid: device.AAGUIDAppAttest, origin: "https://login.example.de", typ: "webauthn.create"}, now)
	nk, err := c.VerifyRegistration(ctx, state, resp)
	if err != nil {
		t.Fatal(err)
	}
	bound := devicekey.Key{CredentialID: nk.CredentialID, PublicKey: nk.PublicKey}
	good := assertSpec{appID: testAppID, counter: 1, typ: "webauthn.get"}
	for _, tc := range []struct {
		name   string
		mutate func(*assertSpec)
		key    *ecdsa.PrivateKey
		ok     bool
	}{
		{"the bound key", func(*assertSpec) {}, priv, true},
		{"another key", func(*assertSpec) {}, newKey(t), false},
		{"WebAuthn's digest", func(s *assertSpec) { s.webauthnDigest = true }, priv, false},
		{"registration client data", func(s *assertSpec) { s.typ = "webauthn.create" }, priv, false},
		{"issuer's RP id hash", func(s *assertSpec) { s.appID = "login.example.de" }, priv, false},
		{"another app's RP id hash", func(s *assertSpec) { s.appID = "ZZZZZ99999.com.evil.app" }, priv, false},
		{"backup eligible", func(s *assertSpec) { s.flags = 0x08 }, priv, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, state, err := c.AssertionOptions(ctx, [][]byte{nk.CredentialID})
			if err != nil {
				t.Fatal(err)
			}
			s := good
			tc.mutate(&s)
			got, err := c.VerifyAssertion(ctx, state, appAttestAssertion(t, state, tc.key, nk.CredentialID, s), bound)
			if !tc.ok {
				if !errors.Is(err, fault.Unauthenticated) {
					t.Fatalf("verified: %+v %v", got, err)
				}
				return
			}
			if err != nil || got.SignCount != 1 || got.UserVerified || !slices.Equal(got.CredentialID, nk.CredentialID) {
				t.Fatalf("%+v %v", got, err)
			}
		})
	}
}
