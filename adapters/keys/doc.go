// Package keys is the adapter for Pforte's token signing keys and for the
// JOSE work of the token port: it signs and verifies Pforte's own JWTs
// (ES256), publishes the JWKS, verifies clients' signed assertions
// (private_key_jwt) against their JWKS, and seals secrets at rest under the
// master key.
//
// Keys live in the store (store.SigningKeys) with their private parts sealed
// (AES-256-GCM under a sub-key of the master key); a Ring loads them, applies
// the rotation rule of core/signkey, and keeps the parsed private key in
// memory so that signing never touches the store or re-parses a key. Several
// replicas share one key set through the store: each reloads it every
// Config.Refresh, and ApplyKeyPlan lets exactly one of them win a rotation.
//
// AssertionVerifier is independent of the ring: it checks clients' JWTs
// against the JWKS each client registered, with asymmetric algorithms only.
// Sealer and DeriveKey are for any secret kept at rest or keyed by the
// master key (each use under its own HKDF purpose). DPoPVerifier checks the
// signature and form of DPoP proofs (RFC 9449) and hands their claims to
// core/dpop, which decides.
//
// Layer: adapter. Imports: standard library, core (fault, signkey, dpop), ports
// (store, token) and github.com/lestrrat-go/jwx/v3; never another adapter.
package keys
