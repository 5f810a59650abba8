package webauthn_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/pforte-id/pforte/adapters/webauthn"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// vector is a recorded registration response and the ceremony it answered.
type vector struct {
	file, rpID, origin string
}

var (
	// A key made on a real Android device, its chain valid in January 2025.
	deviceVector = vector{"testdata/android-key-device.json", "localhost", "http://localhost:8000"}
	// The FIDO conformance tool's software attestation with its own root.
	conformanceVector = vector{"testdata/android-key-fido-conformance.json", "dev.dontneeda.pw", "https://dev.dontneeda.pw"}
)

// verify runs VerifyRegistration on v with a state as RegistrationOptions
// would have made it for the recorded challenge.
func (v vector) verify(t *testing.T, now time.Time) (device.Attestation, error) {
	t.Helper()
	response, err := os.ReadFile(v.file)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Response struct{ ClientDataJSON string }
	}
	if err := json.Unmarshal(response, &r); err != nil {
		t.Fatal(err)
	}
	var cd struct{ Challenge string }
	raw, _ := base64.RawURLEncoding.DecodeString(r.Response.ClientDataJSON)
	if err := json.Unmarshal(raw, &cd); err != nil {
		t.Fatal(err)
	}
	state, err := json.Marshal(gowebauthn.SessionData{
		Challenge:      cd.Challenge,
		RelyingPartyID: v.rpID,
		UserID:         []byte("member handle"),
		Expires:        now.Add(time.Minute),
		CredParams:     []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := webauthn.New(webauthn.Config{RPID: v.rpID, Origins: []string{v.origin}}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	key, err := c.VerifyRegistration(ctx, state, response)
	return key.Attestation, err
}

// TestAndroidKeyDevice: a real device's attestation, read from its key
// description and checked against Google's roots.
func TestAndroidKeyDevice(t *testing.T) {
	january2025 := time.Date(2025, 1, 20, 12, 0, 0, 0, time.UTC)
	a, err := deviceVector.verify(t, january2025)
	if err != nil {
		t.Fatal(err)
	}
	const gmsDigest = "f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83"
	if a.Format != "android-key" || !a.Trusted || !a.HardwareBacked() || a.Self || a.BackupEligible || a.BackedUp {
		t.Errorf("attestation %+v", a)
	}
	// Google Play Services made this key: two packages share its user id.
	if a.PackageName != "com.google.android.gsf,com.google.android.gms" {
		t.Errorf("package %q", a.PackageName)
	}
	if len(a.SigningCertDigests) != 1 || hex.EncodeToString(a.SigningCertDigests[0]) != gmsDigest {
		t.Errorf("digests %x", a.SigningCertDigests)
	}

	// The policy compares what was read: everything matches, the key is
	// accepted; one thing differs, it is refused with that reason.
	matching := device.Policy{AndroidPackage: a.PackageName, AndroidCertDigests: []string{gmsDigest}}
	if err := matching.Accept(a); err != nil {
		t.Errorf("matching policy refuses: %v", err)
	}
	for name, p := range map[string]device.Policy{
		"wrong package":                   {AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{gmsDigest}},
		"one package of a shared user id": {AndroidPackage: "com.google.android.gms", AndroidCertDigests: []string{gmsDigest}},
		"wrong digest":                    {AndroidPackage: a.PackageName, AndroidCertDigests: []string{strings.Repeat("ab", 32)}},
	} {
		if err := p.Accept(a); !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Today the remotely provisioned intermediates have long expired: the
	// attestation still verifies (go-webauthn checks lineage only), but
	// the chain is no longer current, so it is not Trusted.
	today, err := deviceVector.verify(t, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if today.Trusted {
		t.Error("an expired chain is reported as trusted")
	}
	if err := matching.Accept(today); !errors.Is(err, fault.Forbidden) {
		t.Errorf("expired chain accepted: %v", err)
	}
}

// TestAndroidKeyNotGoogle: an android-key chain that does not end in
// Google's roots is refused outright by go-webauthn (its §8.4 check), so it
// never reaches the policy.
func TestAndroidKeyNotGoogle(t *testing.T) {
	_, err := conformanceVector.verify(t, time.Now())
	wantKind(t, "FIDO conformance root", err, fault.Unauthenticated)
	var pe *protocol.Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Details, "cert chain") {
		t.Errorf("refused for another reason: %v", err)
	}
}
