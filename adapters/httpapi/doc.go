// Package httpapi is the Service-App's JSON API under /app/v1: requesting a
// password letter, activating the app with it, the enrollment steps, device
// management, and the login step of the app's native OpenID Connect login
// (key assertion + release PIN for one authorization request, answered
// with the redirect to the app's redirect URI). The API is described by
// openapi.yaml, which the server also serves. It translates JSON to the
// calls of core/registration, core/binding and core/applogin, core errors
// to RFC 9457 problem documents (one table, problem.go: the code, and the
// message catalog's text in the language of the request's
// Accept-Language), and an authorization error for the client to its error
// redirect; it decides nothing. The request's language also goes into the
// context, so that the e-mails a request causes are written in it.
//
// Layer: adapter. Imports: core, ports, catalog, standard library; never another adapter.
package httpapi
