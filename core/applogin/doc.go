// Package applogin is the native login of the Service-App (OAuth 2.0 for
// Native Apps, RFC 8252): the app, a public client, sends an authorization
// request with PKCE and completes the login step through the app API
// instead of a web page, with its bound device key and the release PIN.
//
// The sequence, and who calls what:
//
//	app → /authorize (PKCE S256)      authz.Authorize: pending request, redirect to /login?id=<id>
//	app API  POST /logins/{id}/challenge  Begin: request pending, unexpired, of a native client →
//	                                      binding.BeginLogin: challenge bound to binding AND request
//	app API  POST /logins/{id}            Complete: binding.AuthenticateLogin (key + PIN, one atomic
//	                                      PIN check) → authz.CompleteLogin (acr_values, max_age) →
//	                                      the client's redirect URI with code, state and iss
//	app → /token (code_verifier)      tokens, their family tied to the binding
//
// What a security reviewer checks here: only authorization requests of
// native clients can be completed this way (online forms and partner
// portals log in with the password page; confirming a web login in the
// app is a later step with number matching, not this one); the challenge
// answers only the request it was issued for (core/binding); and an
// authorization request the login cannot satisfy ends as an error for the
// client, with a text that says why.
//
// max_age needs nothing of its own: every app login checks a fresh PIN,
// so its authentication time is the time of the request that completes
// the login, and any max_age is met by construction.
//
// Layer: core use case. Imports: standard library and core packages
// (authz, binding, client, fault, grant, loa); it reaches the ports only
// through those use cases. Never net/http: adapters/httpapi translates
// HTTP to these calls.
package applogin
