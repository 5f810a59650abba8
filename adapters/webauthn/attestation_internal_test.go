package webauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

func TestGoogleRoots(t *testing.T) {
	var got []string
	rest := []byte(googleRootsPEM)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !c.IsCA || c.CheckSignatureFrom(c) != nil {
			t.Errorf("%v is not a self-signed CA", c.Subject)
		}
		sum := sha256.Sum256(c.Raw)
		got = append(got, hex.EncodeToString(sum[:]))
	}
	if !slices.Equal(got, googleRootFingerprints) {
		t.Errorf("Google roots changed:\n got %q\nwant %q", got, googleRootFingerprints)
	}
}

// vectorChain returns the x5c of a recorded android-key response.
func vectorChain(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	certs, _, err := x5c(p.Response.AttestationObject.AttStatement)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func TestKeyDescriptionOfVectors(t *testing.T) {
	for _, tc := range []struct {
		file, packages, digest string
		hardware               bool
	}{
		{"testdata/android-key-device.json", "com.google.android.gsf,com.google.android.gms",
			"f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83", true},
		{"testdata/android-key-fido-conformance.json", "com.android.keystore.androidkeystoredemo",
			"74cfcb507488f529108591c7a505919f327732fbc1d803526aea980006d2d898", false},
	} {
		chain := vectorChain(t, tc.file)
		k, err := parseKeyDescription(chain[0])
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if k.packageName() != tc.packages || len(k.signatureDigests) != 1 || hex.EncodeToString(k.signatureDigests[0]) != tc.digest || k.hardwareBacked() != tc.hardware {
			t.Errorf("%s: %q %x hardware=%v", tc.file, k.packageName(), k.signatureDigests, k.hardwareBacked())
		}
	}
	google := pool(t, []byte(googleRootsPEM))
	if chainsTo(vectorChain(t, "testdata/android-key-fido-conformance.json"), google, time.Now()) {
		t.Error("the FIDO conformance root chains to Google")
	}
	device := vectorChain(t, "testdata/android-key-device.json")
	if !chainsTo(device, google, time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC)) || chainsTo(device, google, time.Now()) {
		t.Error("the device chain is trusted when expired or not when current")
	}
	// Only a root is a root: the chain's own last certificate is not one.
	if chainsTo(device, x509.NewCertPool(), time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC)) {
		t.Error("a chain trusts itself")
	}
}

func pool(t *testing.T, pemData []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemData) {
		t.Fatal("no certificates")
	}
	return p
}

// keySpec is what a fake Android Keystore writes into a key description.
type keySpec struct {
	attestationLevel, keyMintLevel int
	packages                       []string
	digests                        [][]byte
	// appIDInHardware puts attestationApplicationId in the hardware list
	// (real devices put it in the software list).
	appIDInHardware bool
	appID           []byte // raw attestationApplicationId DER, instead of the above
	noAppID         bool
	// The root of trust: by default in the hardware list, locked and
	// verified (bootState 0).
	unlocked       bool
	bootState      int
	noRoot         bool
	rootInSoftware bool
	rootRaw        []byte // raw RootOfTrust DER, instead of the above
}

func der(t testing.TB, v any, params string) []byte {
	t.Helper()
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func explicit(t testing.TB, tag int, inner []byte) []byte {
	return der(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: inner}, "")
}

func sequence(t testing.TB, elements ...[]byte) []byte {
	return der(t, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: slices.Concat(elements...)}, "")
}

// keyDescriptionDER encodes s as the Android key description extension.
func keyDescriptionDER(t testing.TB, s keySpec) []byte {
	t.Helper()
	appID := s.appID
	if appID == nil {
		id := attestationApplicationID{SignatureDigests: s.digests}
		for i, p := range s.packages {
			id.PackageInfos = append(id.PackageInfos, attestationPackageInfo{PackageName: []byte(p), Version: int64(i + 1)})
		}
		appID = der(t, id, "")
	}
	appIDField := explicit(t, tagAttestationApplicationID, der(t, appID, ""))
	hw := [][]byte{
		explicit(t, 1, der(t, []int{2}, "set")), // purpose: sign
		explicit(t, 702, der(t, 0, "")),         // origin: generated
	}
	var sw [][]byte
	rot := s.rootRaw
	if rot == nil {
		rot = der(t, rawRootOfTrust{
			VerifiedBootKey: make([]byte, 32), DeviceLocked: !s.unlocked,
			VerifiedBootState: asn1.Enumerated(s.bootState), VerifiedBootHash: make([]byte, 32),
		}, "")
	}
	switch {
	case s.noRoot:
	case s.rootInSoftware:
		sw = append(sw, explicit(t, tagRootOfTrust, rot))
	default:
		hw = append(hw, explicit(t, tagRootOfTrust, rot))
	}
	switch {
	case s.noAppID:
	case s.appIDInHardware:
		hw = append(hw, appIDField)
	default:
		sw = append(sw, appIDField)
	}
	return der(t, rawKeyDescription{
		AttestationVersion:       300,
		AttestationSecurityLevel: asn1.Enumerated(s.attestationLevel),
		KeyMintVersion:           300,
		KeyMintSecurityLevel:     asn1.Enumerated(s.keyMintLevel),
		AttestationChallenge:     make([]byte, 32),
		UniqueID:                 []byte{},
		SoftwareEnforced:         asn1.RawValue{FullBytes: sequence(t, sw...)},
		HardwareEnforced:         asn1.RawValue{FullBytes: sequence(t, hw...)},
	}, "")
}

// fakeCA is an attestation CA of our own, standing in for Google's.
type fakeCA struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newFakeCA(t *testing.T) fakeCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{SerialNumber: "fake-android-root"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return fakeCA{root: root, key: key}
}

// issue returns the chain [leaf, root] of a key with extension ext (nil:
// none).
func (ca fakeCA) issue(t *testing.T, ext []byte) []*x509.Certificate {
	t.Helper()
	return ca.issueSerial(t, ext, 1)
}

// issueSerial is issue with the leaf's serial number.
func (ca fakeCA) issueSerial(t *testing.T, ext []byte, serial int64) []*x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Android Keystore Key"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2048, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if ext != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidKeyDescription, Value: ext}}
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf, ca.root}
}

// attObj is an android-key attestation object as go-webauthn hands it over
// after verification.
func attObj(chain []*x509.Certificate, flags protocol.AuthenticatorFlags) protocol.AttestationObject {
	var x []any
	for _, c := range chain {
		x = append(x, c.Raw)
	}
	return protocol.AttestationObject{
		Format:       "android-key",
		AttStatement: map[string]any{"alg": int64(-7), "sig": []byte{1}, "x5c": x},
		AuthData: protocol.AuthenticatorData{
			Flags:   flags | protocol.FlagUserPresent | protocol.FlagAttestedCredentialData,
			AttData: protocol.AttestedCredentialData{AAGUID: make([]byte, 16)},
		},
	}
}

// TestAndroidKeyPolicy builds android-key attestations with a CA of our
// own, reads them as the adapter does, and shows which ones the production
// policy accepts. With Google's roots none is Trusted; with the fake root
// standing in for Google's, only the right app's hardware key passes.
func TestAndroidKeyPolicy(t *testing.T) {
	ca := newFakeCA(t)
	fakeRoots := x509.NewCertPool()
	fakeRoots.AddCert(ca.root)
	googleRoots := pool(t, []byte(googleRootsPEM))
	now := time.Now()
	appDigest := sha256.Sum256([]byte("insurer signing certificate"))
	otherDigest := sha256.Sum256([]byte("someone else's certificate"))
	policy := device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{hex.EncodeToString(appDigest[:])}}
	good := keySpec{attestationLevel: 1, keyMintLevel: 1, packages: []string{"de.example.serviceapp"}, digests: [][]byte{appDigest[:]}}

	for _, tc := range []struct {
		name   string
		spec   func(*keySpec)
		flags  protocol.AuthenticatorFlags
		accept bool
	}{
		{"the app's TEE key", func(*keySpec) {}, 0, true},
		{"the app's StrongBox key", func(s *keySpec) { s.attestationLevel, s.keyMintLevel = 2, 2 }, 0, true},
		{"application id in the hardware list", func(s *keySpec) { s.appIDInHardware = true }, 0, true},
		{"wrong package", func(s *keySpec) { s.packages = []string{"com.evil.app"} }, 0, false},
		{"app sharing its user id", func(s *keySpec) { s.packages = []string{"de.example.serviceapp", "com.evil.app"} }, 0, false},
		{"wrong signing certificate", func(s *keySpec) { s.digests = [][]byte{otherDigest[:]} }, 0, false},
		{"second signing certificate", func(s *keySpec) { s.digests = [][]byte{otherDigest[:], appDigest[:]} }, 0, true},
		{"software attestation", func(s *keySpec) { s.attestationLevel, s.keyMintLevel = 0, 0 }, 0, false},
		{"software key, TEE attestation", func(s *keySpec) { s.keyMintLevel = 0 }, 0, false},
		{"no application id", func(s *keySpec) { s.noAppID = true }, 0, false},
		{"unlocked bootloader", func(s *keySpec) { s.unlocked = true }, 0, false},
		{"self-signed boot", func(s *keySpec) { s.bootState = 1 }, 0, false},
		{"unverified boot", func(s *keySpec) { s.bootState = 2 }, 0, false},
		{"failed boot", func(s *keySpec) { s.bootState = 3 }, 0, false},
		{"unknown boot state", func(s *keySpec) { s.bootState = 7 }, 0, false},
		{"no root of trust", func(s *keySpec) { s.noRoot = true }, 0, false},
		{"root of trust only in the software list", func(s *keySpec) { s.rootInSoftware = true }, 0, false},
		{"StrongBox key, TEE attestation", func(s *keySpec) { s.keyMintLevel = 2 }, 0, true},
		{"unknown security level", func(s *keySpec) { s.attestationLevel, s.keyMintLevel = 3, 3 }, 0, false},
		{"backup eligible", func(*keySpec) {}, protocol.FlagBackupEligible, false},
		{"backed up", func(*keySpec) {}, protocol.FlagBackupEligible | protocol.FlagBackupState, false},
	} {
		s := good
		tc.spec(&s)
		ao := attObj(ca.issue(t, keyDescriptionDER(t, s)), tc.flags)

		a, err := report(ao, nil, googleRoots, nil, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.Trusted {
			t.Errorf("%s: our own CA is trusted as Google", tc.name)
		}
		if err := policy.Accept(a); !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: accepted without Google's root: %v", tc.name, err)
		}

		a, err = report(ao, nil, fakeRoots, nil, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !a.Trusted || a.Format != "android-key" || a.Self {
			t.Errorf("%s: %+v", tc.name, a)
		}
		// DER sorts the members of a SET OF, so compare sets.
		wantPackages, wantDigests := slices.Sorted(slices.Values(s.packages)), hexes(s.digests)
		if s.noAppID {
			wantPackages, wantDigests = nil, nil
		}
		hw := func(l int) bool { return l == 1 || l == 2 }
		wantBoot, wantLocked := bootStates[asn1.Enumerated(s.bootState)], !s.unlocked
		if s.noRoot || s.rootInSoftware {
			wantBoot, wantLocked = "", false
		}
		if a.HardwareBacked() != (hw(s.attestationLevel) && hw(s.keyMintLevel)) ||
			a.BootState != wantBoot || a.DeviceLocked != wantLocked || a.RevocationChecked ||
			!slices.Equal(slices.Sorted(slices.Values(strings.Split(a.PackageName, ","))), orEmpty(wantPackages)) ||
			!slices.Equal(hexes(a.SigningCertDigests), wantDigests) {
			t.Errorf("%s: read %+v", tc.name, a)
		}
		err = policy.Accept(a)
		if (err == nil) != tc.accept {
			t.Errorf("%s: policy says %v, want accept=%v", tc.name, err, tc.accept)
		}
	}

	// Statements that do not parse are errors, not empty reports.
	for name, ext := range map[string][]byte{
		"no key description":     nil,
		"not DER":                {0x30, 0x03, 0x02},
		"application id not DER": keyDescriptionDER(t, keySpec{attestationLevel: 1, keyMintLevel: 1, appID: []byte{0x30, 0x05, 0x01}}),
		"root of trust not DER":  keyDescriptionDER(t, keySpec{attestationLevel: 1, keyMintLevel: 1, rootRaw: []byte{0x30, 0x03, 0x04, 0x05}}),
		"root of trust twice": func() []byte {
			// Two rootOfTrust fields in the hardware list: which would count?
			rot := der(t, rawRootOfTrust{VerifiedBootKey: []byte{1}, DeviceLocked: true}, "")
			return der(t, rawKeyDescription{
				AttestationVersion: 300, AttestationSecurityLevel: 1, KeyMintVersion: 300, KeyMintSecurityLevel: 1,
				AttestationChallenge: []byte{}, UniqueID: []byte{},
				SoftwareEnforced: asn1.RawValue{FullBytes: sequence(t)},
				HardwareEnforced: asn1.RawValue{FullBytes: sequence(t, explicit(t, tagRootOfTrust, rot), explicit(t, tagRootOfTrust, rot))},
			}, "")
		}(),
	} {
		if _, err := report(attObj(ca.issue(t, ext), 0), nil, fakeRoots, nil, now); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// hexes returns the sorted hex encodings of bs.
func hexes(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, hex.EncodeToString(b))
	}
	slices.Sort(out)
	return out
}

// orEmpty is what strings.Split returns for an empty string.
func orEmpty(s []string) []string {
	if len(s) == 0 {
		return []string{""}
	}
	return s
}

func TestPackedReport(t *testing.T) {
	ca := newFakeCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	chain := ca.issue(t, nil)
	withChain := attObj(chain, 0)
	withChain.Format = "packed"
	self := attObj(nil, 0)
	self.Format = "packed"
	delete(self.AttStatement, "x5c")
	none := protocol.AttestationObject{Format: "none", AuthData: withChain.AuthData}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		ao    protocol.AttestationObject
		roots *x509.CertPool
		want  device.Attestation
	}{
		{"chain to a configured root", withChain, roots, device.Attestation{Format: "packed", Trusted: true}},
		{"chain, no roots configured", withChain, nil, device.Attestation{Format: "packed"}},
		{"self attestation", self, roots, device.Attestation{Format: "packed", Self: true}},
		{"none", none, roots, device.Attestation{Format: "none"}},
	} {
		a, err := report(tc.ao, tc.roots, nil, nil, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		a.AAGUID = nil
		if a.Format != tc.want.Format || a.Trusted != tc.want.Trusted || a.Self != tc.want.Self || a.HardwareBacked() || a.PackageName != "" {
			t.Errorf("%s: %+v, want %+v", tc.name, a, tc.want)
		}
	}
	bad := withChain
	bad.AttStatement = map[string]any{"x5c": []any{"not bytes"}}
	if _, err := report(bad, roots, nil, nil, now); err == nil {
		t.Error("malformed x5c reported")
	}
}
