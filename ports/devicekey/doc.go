// Package devicekey is the port for the WebAuthn ceremonies with the
// Service-App's hardware-bound key: creating registration and assertion
// options, and verifying what the app answers. The adapter does the
// cryptography and the attestation statement checks; core decides which
// attestations it accepts and what a sign counter means.
//
// Layer: ports. Imports: standard library, core domain packages.
package devicekey
