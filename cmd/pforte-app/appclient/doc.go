// Package appclient is the reference Service-App's client of Pforte: the
// native login (OAuth 2.0 for Native Apps, RFC 8252) with the device key
// and the release PIN, and the session it opens.
//
// Login runs the whole flow as the phone does it: a pushed authorization
// request (RFC 9126) with PKCE S256 and the DPoP key's thumbprint
// (dpop_jkt), the authorization request by reference, the login challenge
// of the app API, the assertion of the bound device key and the PIN, the
// redirect with code, state and iss (RFC 9207), and the code exchange with
// a DPoP proof (RFC 9449). The ID token is verified with coreos/go-oidc
// (signature, issuer, audience, expiry, nonce, at_hash). Refresh, UserInfo
// and Revoke use the session's tokens with proofs of the same key; every
// DPoP-Nonce the server sends is remembered, and a use_dpop_nonce answer
// is retried once with the new nonce.
//
// The package also reads the app API's problem documents (Problem), which
// the other pforte-app commands share.
//
// It imports no server package of Pforte, so that the tests that drive it
// check the server instead of agreeing with it by construction.
//
// Layer: cmd (a library of the pforte-app command, used by its commands,
// the end-to-end tests and the benchmarks). Imports: standard library,
// coreos/go-oidc, cmd/pforte-app/authenticator and cmd/pforte-app/dpop.
package appclient
