// Package httpapi is the Service-App's JSON API under /app/v1: requesting a
// password letter, activating the app with it, the enrollment steps, device
// management, and the login step of the app's native OpenID Connect login
// (key assertion + release PIN for one authorization request, answered
// with the redirect to the app's redirect URI). The API is described by
// openapi.yaml, which the server also serves. It translates JSON to the
// calls of core/registration, core/binding and core/applogin, core errors
// to RFC 9457 problem documents, and an authorization error for the client
// to its error redirect; it decides nothing.
//
// Layer: adapter. Imports: core, ports, standard library; never another adapter.
package httpapi
