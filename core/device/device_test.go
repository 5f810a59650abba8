package device_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

func TestPolicyAccept(t *testing.T) {
	digest := sha256.Sum256([]byte("insurer signing certificate"))
	prod := device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{hex.EncodeToString(digest[:])}, AllowPacked: true}
	dev := prod
	dev.AllowUnattested = true
	android := device.Attestation{Format: "android-key", Trusted: true,
		AttestationLevel: device.LevelTEE, KeyLevel: device.LevelTEE, BootState: device.BootVerified, DeviceLocked: true,
		PackageName: "de.example.serviceapp", SigningCertDigests: [][]byte{digest[:]}}
	open := prod
	open.AllowOpenDevice = true
	other := sha256.Sum256([]byte("someone else"))
	const appID = "ABCDE12345.de.example.serviceapp"
	ios := prod
	ios.AppleAppID = appID
	iosDev := ios
	iosDev.AllowAppAttestDevelop = true
	apple := device.Attestation{Format: "apple-appattest", Trusted: true, PackageName: appID, AAGUID: device.AAGUIDAppAttest}
	for _, tc := range []struct {
		name      string
		p         device.Policy
		a         device.Attestation
		wantAllow bool
		want      fault.Code
	}{
		{"android hardware key of the app", prod, android, true, ""},
		{"android StrongBox key", prod, with(android, func(a *device.Attestation) {
			a.AttestationLevel, a.KeyLevel = device.LevelStrongBox, device.LevelStrongBox
		}), true, ""},
		{"android software key", prod, with(android, func(a *device.Attestation) { a.KeyLevel = device.LevelSoftware }), false, device.CodeNotHardware},
		{"android software attestation", prod, with(android, func(a *device.Attestation) { a.AttestationLevel = device.LevelSoftware }), false, device.CodeNotHardware},
		{"android no security level", prod, with(android, func(a *device.Attestation) { a.AttestationLevel, a.KeyLevel = "", "" }), false, device.CodeNotHardware},
		{"android software key, open device allowed", open, with(android, func(a *device.Attestation) { a.KeyLevel = device.LevelSoftware }), false, device.CodeNotHardware},
		{"android unlocked bootloader", prod, with(android, func(a *device.Attestation) { a.DeviceLocked = false }), false, device.CodeBootloader},
		{"android unverified boot", prod, with(android, func(a *device.Attestation) { a.BootState = device.BootUnverified }), false, device.CodeBootState},
		{"android self-signed boot", prod, with(android, func(a *device.Attestation) { a.BootState = device.BootSelfSigned }), false, device.CodeBootState},
		{"android failed boot", prod, with(android, func(a *device.Attestation) { a.BootState = device.BootFailed }), false, device.CodeBootState},
		{"android no root of trust", prod, with(android, func(a *device.Attestation) { a.BootState, a.DeviceLocked = "", false }), false, device.CodeBootloader},
		{"android unlocked, open device allowed", open, with(android, func(a *device.Attestation) { a.DeviceLocked, a.BootState = false, device.BootUnverified }), true, ""},
		{"android revoked certificate", prod, with(android, func(a *device.Attestation) { a.Revocation, a.RevocationChecked = device.CertRevoked, true }), false, device.CodeRevoked},
		{"android suspended certificate", prod, with(android, func(a *device.Attestation) { a.Revocation, a.RevocationChecked = device.CertSuspended, true }), false, device.CodeSuspended},
		{"android unknown revocation status", prod, with(android, func(a *device.Attestation) { a.Revocation = "WITHDRAWN" }), false, device.CodeRevoked},
		{"android revoked, open device allowed", open, with(android, func(a *device.Attestation) { a.Revocation = device.CertRevoked }), false, device.CodeRevoked},
		{"android checked, not listed", prod, with(android, func(a *device.Attestation) { a.RevocationChecked = true }), true, ""},
		{"android untrusted chain", prod, with(android, func(a *device.Attestation) { a.Trusted = false }), false, device.CodeNotHardware},
		{"app attest production key", ios, apple, true, ""},
		{"app attest without configured app", prod, apple, false, device.CodeFormat},
		{"app attest untrusted chain", ios, with(apple, func(a *device.Attestation) { a.Trusted = false }), false, device.CodeUntrusted},
		{"app attest other app", ios, with(apple, func(a *device.Attestation) { a.PackageName = "" }), false, device.CodeOtherApp},
		{"app attest development key in production", ios, with(apple, func(a *device.Attestation) { a.AAGUID = device.AAGUIDAppAttestDevelop }), false, device.CodeAppDevelop},
		{"app attest development key allowed", iosDev, with(apple, func(a *device.Attestation) { a.AAGUID = device.AAGUIDAppAttestDevelop }), true, ""},
		{"app attest other AAGUID", iosDev, with(apple, func(a *device.Attestation) { a.AAGUID = make([]byte, 16) }), false, device.CodeUntrusted},
		{"app attest synced", ios, with(apple, func(a *device.Attestation) { a.BackupEligible = true }), false, device.CodeSynced},
		{"android other package", prod, with(android, func(a *device.Attestation) { a.PackageName = "com.evil" }), false, device.CodeOtherApp},
		{"android other signer", prod, with(android, func(a *device.Attestation) { a.SigningCertDigests = [][]byte{other[:]} }), false, device.CodeAppSigner},
		{"android without configured package", device.Policy{}, android, false, device.CodeOtherApp},
		{"backup eligible", dev, with(android, func(a *device.Attestation) { a.BackupEligible = true }), false, device.CodeSynced},
		{"backed up", dev, device.Attestation{Format: "none", BackedUp: true}, false, device.CodeSynced},
		{"packed trusted", prod, device.Attestation{Format: "packed", Trusted: true}, true, ""},
		{"packed untrusted", prod, device.Attestation{Format: "packed"}, false, device.CodeUntrusted},
		{"packed self in production", prod, device.Attestation{Format: "packed", Self: true}, false, device.CodeSelfAttested},
		{"packed self in development", dev, device.Attestation{Format: "packed", Self: true}, true, ""},
		{"none in production", prod, device.Attestation{Format: "none"}, false, device.CodeUnattested},
		{"none in development", dev, device.Attestation{Format: "none"}, true, ""},
		{"unknown format", dev, device.Attestation{Format: "tpm"}, false, device.CodeFormat},
	} {
		err := tc.p.Accept(tc.a)
		if (err == nil) != tc.wantAllow {
			t.Errorf("%s: %v, want allow=%v", tc.name, err, tc.wantAllow)
		}
		if code, _ := fault.CodeOf(err); code != tc.want {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.want)
		}
		if err != nil && !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: kind %v", tc.name, fault.KindOf(err))
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	digest := sha256.Sum256([]byte("insurer signing certificate"))
	android := device.Policy{AndroidPackage: "de.example.serviceapp", AndroidCertDigests: []string{hex.EncodeToString(digest[:])}}
	for _, tc := range []struct {
		name  string
		p     device.Policy
		field string // empty: valid
	}{
		{"android app", android, ""},
		{"iOS app only", device.Policy{AppleAppID: "ABCDE12345.de.example.serviceapp"}, ""},
		{"iOS development", device.Policy{AppleAppID: "ABCDE12345.de.example.serviceapp", AllowAppAttestDevelop: true}, ""},
		{"nothing accepted", device.Policy{}, "device.Policy.AndroidPackage"},
		{"App ID without team", device.Policy{AppleAppID: "de.example.serviceapp"}, "device.Policy.AppleAppID"},
		{"App ID lower-case team", device.Policy{AppleAppID: "abcde12345.de.example"}, "device.Policy.AppleAppID"},
		{"App ID empty bundle", device.Policy{AppleAppID: "ABCDE12345."}, "device.Policy.AppleAppID"},
		{"App ID with space", device.Policy{AppleAppID: "ABCDE12345.de example"}, "device.Policy.AppleAppID"},
		{"development without App ID", with2(android, func(p *device.Policy) { p.AllowAppAttestDevelop = true }), "device.Policy.AllowAppAttestDevelop"},
		{"open devices", with2(android, func(p *device.Policy) { p.AllowOpenDevice = true }), ""},
	} {
		err := tc.p.Validate()
		var f *fault.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &f) || f.Op != tc.field || f.Kind != fault.Invalid):
			t.Errorf("%s: %v, want Invalid in %s", tc.name, err, tc.field)
		}
	}
}

func with2(p device.Policy, f func(*device.Policy)) device.Policy {
	f(&p)
	return p
}

func with(a device.Attestation, f func(*device.Attestation)) device.Attestation {
	f(&a)
	return a
}

func TestCounterAfter(t *testing.T) {
	for _, tc := range []struct {
		stored, reported, want uint32
		ok                     bool
	}{
		{0, 0, 0, true}, {0, 1, 1, true}, {5, 6, 6, true}, {5, 5, 5, false}, {5, 4, 5, false}, {5, 0, 5, false},
	} {
		got, err := device.CounterAfter(tc.stored, tc.reported)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("CounterAfter(%d, %d) = %d, %v", tc.stored, tc.reported, got, err)
		}
	}
}

func TestNameOK(t *testing.T) {
	for name, ok := range map[string]bool{"Annas Pixel 8": true, "": false, "   ": false, "a\nb": false,
		"Ä": true, string(make([]rune, 65)): false} {
		if (device.NameOK(name) == nil) != ok {
			t.Errorf("NameOK(%q) want %v", name, ok)
		}
	}
}
