// Package webauthn implements the device key ceremonies (ports/devicekey)
// with github.com/go-webauthn/webauthn for one relying party: the issuer's
// host, the configured app origins ("android:apk-key-hash:…" for the
// Android app, the issuer origin for the iOS app and the reference client).
//
// go-webauthn verifies what WebAuthn specifies: the challenge, the origin,
// the RP id hash, the user presence flag, ES256 as the only algorithm, the
// attestation statement's signature and, for android-key, that the chain
// ends in Google's hardware attestation root. This package then reports
// what the statement says, honestly and without deciding: the format, the
// BE/BS flags, the AAGUID, whether a packed statement is self attestation,
// whether the chain verifies to a trust anchor (Google's roots for
// android-key, Config.PackedRoots for packed), and for android-key the
// security level and the app (package name, signing certificate digests)
// from the key description extension, with its root of trust (verified
// boot state, bootloader lock) and the status of the chain's certificates
// on Google's attestation status list (RevocationList). core/device.Policy
// decides.
//
// Apple App Attest ("apple-appattest"), which go-webauthn does not
// verify, is verified here (appattest.go): the nonce in the credential
// certificate, the key id, the counter 0, the chain to Apple's App
// Attestation root, and the App ID hash as RP id hash.
//
// Sign counters are reported, not judged: core compares them
// (device.CounterAfter). Errors carry a fault kind and a generic public
// text; go-webauthn's own messages stay in the cause, for logs only.
//
// Layer: adapter. Imports: standard library, core/device, core/fault,
// ports/devicekey, github.com/go-webauthn/webauthn; never another adapter.
package webauthn
