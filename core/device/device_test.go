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
	android := device.Attestation{Format: "android-key", Trusted: true, HardwareBacked: true,
		PackageName: "de.example.serviceapp", SigningCertDigests: [][]byte{digest[:]}}
	other := sha256.Sum256([]byte("someone else"))
	for _, tc := range []struct {
		name      string
		p         device.Policy
		a         device.Attestation
		wantAllow bool
	}{
		{"android hardware key of the app", prod, android, true},
		{"android software key", prod, with(android, func(a *device.Attestation) { a.HardwareBacked = false }), false},
		{"android untrusted chain", prod, with(android, func(a *device.Attestation) { a.Trusted = false }), false},
		{"android other package", prod, with(android, func(a *device.Attestation) { a.PackageName = "com.evil" }), false},
		{"android other signer", prod, with(android, func(a *device.Attestation) { a.SigningCertDigests = [][]byte{other[:]} }), false},
		{"android without configured package", device.Policy{}, android, false},
		{"backup eligible", dev, with(android, func(a *device.Attestation) { a.BackupEligible = true }), false},
		{"backed up", dev, device.Attestation{Format: "none", BackedUp: true}, false},
		{"packed trusted", prod, device.Attestation{Format: "packed", Trusted: true}, true},
		{"packed untrusted", prod, device.Attestation{Format: "packed"}, false},
		{"packed self in production", prod, device.Attestation{Format: "packed", Self: true}, false},
		{"packed self in development", dev, device.Attestation{Format: "packed", Self: true}, true},
		{"none in production", prod, device.Attestation{Format: "none"}, false},
		{"none in development", dev, device.Attestation{Format: "none"}, true},
		{"unknown format", dev, device.Attestation{Format: "tpm"}, false},
	} {
		err := tc.p.Accept(tc.a)
		if (err == nil) != tc.wantAllow {
			t.Errorf("%s: %v, want allow=%v", tc.name, err, tc.wantAllow)
		}
		if err != nil && !errors.Is(err, fault.Forbidden) {
			t.Errorf("%s: kind %v", tc.name, fault.KindOf(err))
		}
	}
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
