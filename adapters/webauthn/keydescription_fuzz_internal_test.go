package webauthn

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
)

// FuzzKeyDescription fuzzes the key description extension of an
// android-key attestation certificate: DER that the phone (or whoever
// controls the attestation key of a software keystore) writes. The parser
// must refuse or read it without panicking, and what it reads must come
// from the input.
func FuzzKeyDescription(f *testing.F) {
	digest := sha256.Sum256([]byte("insurer app signing certificate"))
	for _, s := range []keySpec{
		{attestationLevel: 1, keyMintLevel: 1, packages: []string{"de.example.serviceapp"}, digests: [][]byte{digest[:]}},
		{attestationLevel: 2, keyMintLevel: 2, packages: []string{"a", "b"}, appIDInHardware: true},
		{attestationLevel: 0, keyMintLevel: 0, noAppID: true},
		{attestationLevel: 1, keyMintLevel: 1, appID: []byte{0x30, 0x05, 0x01}},
	} {
		f.Add(keyDescriptionDER(f, s))
	}
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ext []byte) {
		cert := &x509.Certificate{Extensions: []pkix.Extension{{Id: oidKeyDescription, Value: ext}}}
		k, err := parseKeyDescription(cert)
		if err != nil {
			return
		}
		for _, d := range k.signatureDigests {
			if len(d) > len(ext) {
				t.Fatalf("a digest of %d bytes from %d bytes of input", len(d), len(ext))
			}
		}
		if len(k.packageName()) > len(ext) {
			t.Fatalf("package names of %d bytes from %d bytes of input", len(k.packageName()), len(ext))
		}
	})
}
