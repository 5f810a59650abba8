// Package dpop is the reference Service-App's DPoP key (RFC 9449): a
// software P-256 key that makes DPoP proofs for the token, userinfo and
// introspection requests, and whose RFC 7638 thumbprint is the jkt Pforte
// binds the app's tokens to. The key lives in memory and in the app's
// state file (MarshalJSON, the private key as PKCS#8).
//
// Proofs are written by hand with the standard library (ES256, typ
// dpop+jwt, the public key in the jwk header), as a phone would write
// them; the package never imports Pforte's server packages or a JOSE
// library, so that its tests check the server's verifier instead of
// agreeing with it by construction.
//
// Layer: cmd (a library of the pforte-app command, used by its commands
// and by tests). Imports: standard library only.
package dpop
