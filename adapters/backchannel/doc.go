// Package backchannel is the HTTP adapter of the logout delivery port
// (ports/logoutdelivery): it posts a logout token to a relying party's
// back-channel logout endpoint as OpenID Connect Back-Channel Logout 1.0
// §2.5 describes (POST, application/x-www-form-urlencoded, logout_token).
//
// It decides nothing about what is sent or when (core/backchannel does):
// it carries one request, within bounds an endpoint cannot stretch. Only
// 200 and 204 count as delivered. A redirect is not followed (the token
// would go to a place the relying party did not register); it is a failed
// delivery. At most Config.MaxResponse bytes of the answer are read, and
// the whole exchange, body included, ends at Config.Timeout or when the
// caller's context ends, whichever comes first, so an endpoint that
// answers slowly or sends without end cannot hold a worker. Errors name
// the reason ("status 503", "timeout", "connection refused") and never
// the token.
//
// Layer: adapters. Imports: standard library, core/fault, ports; never
// another adapter.
package backchannel
