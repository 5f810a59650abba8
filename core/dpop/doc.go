// Package dpop holds the rules of DPoP proofs (RFC 9449, OAuth 2.0
// Demonstrating Proof of Possession), independent of JOSE.
//
// A driving adapter receives the DPoP header, hands it to a
// token.DPoPVerifier (the keys adapter checks typ, alg, the embedded public
// key and the signature and extracts the claims into a Proof), and then asks
// Policy.Check whether the proof fits the request: the method (htm), the
// URL (htu, normalised as RFC 9449 §4.3 asks), the age (iat), the access
// token it accompanies (ath) and, when required, a server nonce. Replay of
// a proof is stopped by the caller through store.Replay with
// Proof.ReplayKey until Policy.ReplayUntil; binding a token to the key is
// the comparison of its cnf.jkt with Proof.JKT (Proof.BoundTo).
//
// Server nonces (RFC 9449 §8 and §9) come from a NonceSource: an HMAC over
// a time slot under a key every replica shares, so any replica can check a
// nonce another one issued without shared state.
//
// Errors are fault.Unauthenticated with a public text for the client's
// error_description and the code CodeInvalidProof (OAuth error
// invalid_dpop_proof) or CodeUseNonce (use_dpop_nonce: answer with a fresh
// DPoP-Nonce header).
//
// Layer: core domain. Imports: standard library and core/fault.
package dpop
