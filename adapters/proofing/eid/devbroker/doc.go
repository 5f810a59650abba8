// Package devbroker is a DEVELOPMENT eID broker: an OpenID Connect
// provider, built on zitadel/oidc's op package, that stands in for a real
// eID service on a developer's machine and in tests. Instead of reading an
// ID card it shows a page on which the developer picks one of a list of
// identities (given to it as data) and confirms; it then signs that
// identity's attributes with the configured claim names and acr. It
// proves nothing about anybody: it listens on loopback addresses only and
// refuses to start when told the environment is production.
//
// It serves discovery, JWKS, authorize (with PKCE), token and userinfo, as
// the eID adapter (adapters/proofing/eid) uses them.
//
// Layer: adapters (part of the eID adapter, for development). Imports:
// core/fault, zitadel/oidc, go-jose, standard library.
package devbroker
