package webauthn

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/ports/devicekey"
)

// formatAppAttest is Apple App Attest's attestation statement format.
// go-webauthn v0.18.2 does not verify it (it knows only Apple's anonymous
// "apple" format), so this file does, following Apple's "Validating apps
// that connect to your server" (DeviceCheck documentation), steps 1–9.
const formatAppAttest = "apple-appattest"

// oidAppAttestNonce is the credential certificate's extension that holds
// the nonce Apple's CA certified.
var oidAppAttestNonce = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 2}

// appleRootPEM is the Apple App Attestation Root CA, published by Apple
// at https://www.apple.com/certificateauthority/Apple_App_Attestation_Root_CA.pem
// (P-384, valid 2020-03-18 to 2045-03-15). TestAppleRoot pins its SHA-256
// fingerprint 1cb9823b…c932 and its self-signature.
const appleRootPEM = `-----BEGIN CERTIFICATE-----
MIICITCCAaegAwIBAgIQC/O+DvHN0uD7jG5yH2IXmDAKBggqhkjOPQQDAzBSMSYw
JAYDVQQDDB1BcHBsZSBBcHAgQXR0ZXN0YXRpb24gUm9vdCBDQTETMBEGA1UECgwK
QXBwbGUgSW5jLjETMBEGA1UECAwKQ2FsaWZvcm5pYTAeFw0yMDAzMTgxODMyNTNa
Fw00NTAzMTUwMDAwMDBaMFIxJjAkBgNVBAMMHUFwcGxlIEFwcCBBdHRlc3RhdGlv
biBSb290IENBMRMwEQYDVQQKDApBcHBsZSBJbmMuMRMwEQYDVQQIDApDYWxpZm9y
bmlhMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAERTHhmLW07ATaFQIEVwTtT4dyctdh
NbJhFs/Ii2FdCgAHGbpphY3+d8qjuDngIN3WVhQUBHAoMeQ/cLiP1sOUtgjqK9au
Yen1mMEvRq9Sk3Jm5X8U62H+xTD3FE9TgS41o0IwQDAPBgNVHRMBAf8EBTADAQH/
MB0GA1UdDgQWBBSskRBTM72+aEH/pwyp5frq5eWKoTAOBgNVHQ8BAf8EBAMCAQYw
CgYIKoZIzj0EAwMDaAAwZQIwQgFGnByvsiVbpTKwSga0kP0e8EeDS4+sQmTvb7vn
53O5+FRXgeLhpJ06ysC5PrOyAjEAp5U4xDgEgllF7En3VcE3iexZZtKeYnpqtijV
oyFraWVIyd/dganmrduC1bmTBGwD
-----END CERTIFICATE-----
`

// verifyAppAttest checks an apple-appattest attestation object whose
// client data go-webauthn's parser read and the caller verified (type,
// challenge, origin). The app hands DCAppAttestService.attestKey the
// SHA-256 of its clientDataJSON as clientDataHash, and sends the key id
// as the credential id. What the statement proves cryptographically is
// checked here, an error meaning "not a valid App Attest statement":
//
//   - the nonce SHA-256(authData ‖ clientDataHash) is the one in the
//     credential certificate's extension 1.2.840.113635.100.8.2, so the
//     authenticator data (and with it the key, the App ID hash, the AAGUID
//     and the counter) is the one Apple's CA certified for this challenge;
//   - the key id is the SHA-256 of the certificate's public key (an
//     uncompressed P-256 point) and equals the credential id, both in the
//     response and in the authenticator data;
//   - the COSE key of the authenticator data is the certificate's key;
//   - the counter is 0: a new key.
//
// What the policy decides is reported: whether the chain verifies to
// Apple's root now (Trusted), the App ID when the RP id hash is the hash
// of appID (PackageName), the AAGUID (production or development), BE/BS.
// The optional receipt (for Apple's fraud metric) is not evaluated.
func verifyAppAttest(parsed *protocol.ParsedCredentialCreationData, appleRoots *x509.CertPool, appID string, now time.Time) (device.Attestation, error) {
	ao := parsed.Response.AttestationObject
	ad := ao.AuthData
	a := device.Attestation{
		Format:         formatAppAttest,
		BackupEligible: ad.Flags.HasBackupEligible(),
		BackedUp:       ad.Flags.HasBackupState(),
		AAGUID:         slices.Clone(ad.AttData.AAGUID),
	}
	certs, _, err := x5c(ao.AttStatement)
	if err != nil {
		return a, err
	}
	if len(certs) == 0 {
		return a, errors.New("apple-appattest statement without certificates")
	}
	clientDataHash := sha256.Sum256(parsed.Raw.AttestationResponse.ClientDataJSON)
	nonce := sha256.Sum256(slices.Concat(ao.RawAuthData, clientDataHash[:]))
	certified, err := appAttestNonce(certs[0])
	if err != nil {
		return a, err
	}
	if subtle.ConstantTimeCompare(certified, nonce[:]) != 1 {
		return a, errors.New("apple-appattest: the nonce is not the certified one")
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return a, errors.New("apple-appattest: the credential certificate has no ECDSA key")
	}
	ek, err := pub.ECDH()
	if err != nil || ek.Curve() != ecdh.P256() {
		return a, errors.New("apple-appattest: the credential certificate's key is not P-256")
	}
	keyID := sha256.Sum256(ek.Bytes())
	if !bytes.Equal(parsed.RawID, keyID[:]) || !bytes.Equal(ad.AttData.CredentialID, keyID[:]) {
		return a, errors.New("apple-appattest: the key id is not the hash of the certified key")
	}
	cose, err := webauthncose.ParsePublicKey(ad.AttData.CredentialPublicKey)
	if err != nil {
		return a, fmt.Errorf("apple-appattest: credential key: %w", err)
	}
	ec, ok := cose.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Curve != coseP256 || !bytes.Equal(slices.Concat([]byte{4}, ec.XCoord, ec.YCoord), ek.Bytes()) {
		return a, errors.New("apple-appattest: the credential key is not the certified key")
	}
	if ad.Counter != 0 {
		return a, errors.New("apple-appattest: the counter of a new key is not 0")
	}
	a.Trusted = chainsTo(certs, appleRoots, now)
	if want := sha256.Sum256([]byte(appID)); appID != "" && bytes.Equal(ad.RPIDHash, want[:]) {
		a.PackageName = appID
	}
	return a, nil
}

// appAttestNonce returns the nonce of a credential certificate:
//
//	SEQUENCE { [1] EXPLICIT OCTET STRING }
func appAttestNonce(cert *x509.Certificate) ([]byte, error) {
	var ext []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidAppAttestNonce) {
			if ext != nil {
				return nil, errors.New("apple-appattest: nonce extension appears twice")
			}
			ext = e.Value
		}
	}
	if ext == nil {
		return nil, errors.New("apple-appattest: no nonce extension")
	}
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(ext, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence || seq.Class != asn1.ClassUniversal {
		return nil, errors.New("apple-appattest: the nonce extension is not a SEQUENCE")
	}
	var tagged asn1.RawValue
	if rest, err := asn1.Unmarshal(seq.Bytes, &tagged); err != nil || len(rest) != 0 || tagged.Class != asn1.ClassContextSpecific || tagged.Tag != 1 {
		return nil, errors.New("apple-appattest: the nonce extension holds no [1] field")
	}
	var nonce []byte
	if rest, err := asn1.Unmarshal(tagged.Bytes, &nonce); err != nil || len(rest) != 0 || len(nonce) != sha256.Size {
		return nil, errors.New("apple-appattest: the nonce is not a SHA-256 OCTET STRING")
	}
	return nonce, nil
}

// verifyAppAttestAssertion verifies an assertion of an App Attest key:
// DCAppAttestService.generateAssertion's signature and authenticator data
// over the SHA-256 of the app's clientDataJSON, sent in the WebAuthn
// assertion form. go-webauthn cannot check it: the RP id hash is that of
// the App ID, App Attest sets no user presence flag, and the Secure
// Enclave signs the nonce SHA-256(authData ‖ clientDataHash) as its
// message, so the ECDSA digest is SHA-256(nonce) where WebAuthn's is the
// nonce itself (Apple, "Validating apps that connect to your server",
// "Verify the assertion"). The caller checked that the RP id hash is the
// configured App ID's and that the credential is key's. Checked here: the
// client data (type webauthn.get, the state's challenge, a configured
// origin) and the signature with key.PublicKey; BE/BS must be clear as for
// any bound key. The counter is reported for core to compare.
func (c *Ceremony) verifyAppAttestAssertion(s gowebauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData, key devicekey.Key,
	fail func(error) (devicekey.Assertion, error)) (devicekey.Assertion, error) {
	cfg := c.wa.Config
	if err := parsed.Response.CollectedClientData.Verify(s.Challenge, protocol.AssertCeremony, s.GetOrigins(cfg.RPOrigins),
		cfg.RPOpaqueOrigins, cfg.RPTopOrigins, cfg.RPTopOriginVerificationMode, cfg.RPAllowCrossOrigin); err != nil {
		return fail(err)
	}
	pub, err := ecdsaKey(key.PublicKey)
	if err != nil {
		return fail(err)
	}
	raw := parsed.Raw.AssertionResponse
	clientDataHash := sha256.Sum256(raw.ClientDataJSON)
	nonce := sha256.Sum256(slices.Concat([]byte(raw.AuthenticatorData), clientDataHash[:]))
	digest := sha256.Sum256(nonce[:])
	if !ecdsa.VerifyASN1(pub, digest[:], parsed.Response.Signature) {
		return fail(errors.New("apple-appattest: the assertion's signature does not verify"))
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if flags.HasBackupEligible() || flags.HasBackupState() {
		return fail(errors.New("backup eligible or backed up: not the bound key"))
	}
	return devicekey.Assertion{
		CredentialID: slices.Clone(parsed.RawID),
		SignCount:    parsed.Response.AuthenticatorData.Counter,
	}, nil
}

// ecdsaKey reads a stored COSE ES256 P-256 key.
func ecdsaKey(cose []byte) (*ecdsa.PublicKey, error) {
	k, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(webauthncose.EC2PublicKeyData)
	if !ok || ec.Curve != coseP256 || len(ec.XCoord) != 32 || len(ec.YCoord) != 32 {
		return nil, errors.New("the stored key is not a P-256 key")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, ec.XCoord, ec.YCoord))
}
