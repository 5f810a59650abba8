// Package httpapi is the Service-App's JSON API under /app/v1: requesting a
// password letter, activating the app with it, and the enrollment steps.
// The API is described by openapi.yaml, which the server also serves. It
// translates JSON to the calls of core/registration and core errors to RFC
// 9457 problem documents; it decides nothing.
//
// Layer: adapter. Imports: core, ports, standard library; never another adapter.
package httpapi
