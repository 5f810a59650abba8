// Package authenticator is the reference Service-App's device key: a
// software WebAuthn platform authenticator with one P-256 key. It reads the
// creation and request options Pforte sends (the JSON the real apps hand to
// the platform) and answers with what a platform authenticator and its
// client produce: clientDataJSON for the given origin, authenticator data
// with the UP and UV flags, BE = 0, the attested credential data with the
// COSE key, a signature counter that grows with every assertion, and a
// `packed` self attestation (or `none`), all in the base64url JSON
// encoding of WebAuthn Level 3 (RegistrationResponseJSON,
// AuthenticationResponseJSON).
//
// The key lives in memory and in the app's state file (MarshalJSON): it is
// a software key, which is why Pforte accepts it only where unattested
// keys are allowed (development). Options build deliberately wrong
// responses for tests: another challenge or RP id, the backup-eligible
// flag, a counter that goes backwards, a signature by another key.
//
// Layer: cmd (a library of the pforte-app command, used by its commands
// and by tests). Imports: standard library and github.com/fxamacker/cbor/v2;
// it never imports Pforte's server packages or a WebAuthn server library,
// so that it checks them instead of agreeing with them by construction.
package authenticator
