// Package authz is Pforte's authorization server: the OAuth 2.0 and OpenID
// Connect rules, independent of HTTP. It validates authorization requests,
// completes them after the member's login, issues and redeems codes, mints
// and rotates tokens, and answers introspection, revocation and userinfo.
//
// Everything a security reviewer must check lives here: PKCE on every code,
// single-use codes that revoke what they issued when replayed, refresh token
// rotation with family revocation on reuse, token lifetimes, client
// authentication rules, which claims a client receives and under which sub
// (pairwise per sector), pushed authorization requests (RFC 9126) and the
// DPoP rules (RFC 9449: proofs, nonces, replay, key binding; see dpop.go).
//
// Layer: core use case. Imports: standard library, core domain packages and
// ports (store, token). Never net/http or a protocol library: adapters/oidc
// translates HTTP to these calls.
package authz
