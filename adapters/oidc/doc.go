// Package oidc is the OpenID Connect and OAuth 2.0 HTTP adapter. It serves
// discovery (OpenID Connect and RFC 8414), JWKS, authorize, pushed
// authorization requests (/par), token, userinfo, introspection, revocation
// and end_session, translating HTTP to the calls of core/authz and core
// errors to OAuth errors (errors.go holds the tables) with English
// descriptions, and to pages for the member in the language of the
// browser's Accept-Language (words from the message catalog). It reads the one DPoP header of a request,
// verifies its JOSE layer with a token.DPoPVerifier and hands the proof to
// core with the endpoint's path; core decides whether it fits.
//
// The token, introspection, revocation and end_session endpoints run on
// github.com/zitadel/oidc/v3's op.Server routing and request decoding, with
// Pforte's own op.Server implementation. Authorize, PAR, userinfo, discovery and
// JWKS are Pforte's own handlers, because the library cannot render errors
// before the redirect URI is validated as a page, has no RFC 9207 iss
// parameter, offers no conditional requests for JWKS, and its legacy path
// lets a confidential client skip PKCE. Decisions are made in core/authz;
// this package decides nothing.
//
// Layer: adapter. Imports: core, ports (token), catalog, zitadel/oidc, chi,
// standard library; never another adapter.
package oidc
