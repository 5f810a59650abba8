// Package oidc is the OpenID Connect and OAuth 2.0 HTTP adapter. It serves
// discovery (OpenID Connect and RFC 8414), JWKS, authorize, token,
// userinfo, introspection, revocation and end_session, translating HTTP to
// the calls of core/authz and core errors to OAuth errors.
//
// The token, introspection, revocation and end_session endpoints run on
// github.com/zitadel/oidc/v3's op.Server routing and request decoding, with
// Pforte's own op.Server implementation. Authorize, userinfo, discovery and
// JWKS are Pforte's own handlers, because the library cannot render errors
// before the redirect URI is validated as a page, has no RFC 9207 iss
// parameter, offers no conditional requests for JWKS, and its legacy path
// lets a confidential client skip PKCE. Decisions are made in core/authz;
// this package decides nothing.
//
// Layer: adapter. Imports: core, ports, zitadel/oidc, chi, standard library;
// never another adapter.
package oidc
