// Package fault is the one error type of Pforte.
//
// Layer: core (innermost). Imports: standard library only.
//
// Every error that crosses a package boundary is a *Error with a Kind; no
// other error type does. What a caller needs beyond the kind travels on
// the same type: a Code (the stable name of what happened, whose words for
// people live in the message catalog, package catalog) with its Params;
// Remaining, RetryAt and RetryAfter for a counted or delayed attempt (the
// release PIN, a rate limit); and a Redirect when an authorization error
// may go to the client's validated redirect URI. Public is a diagnostic
// for a client's developer or an operator, in English.
//
// Each driving adapter (oidc, httpapi, webui) maps kinds and codes to its
// wire form in one table; clients see the catalog's text of the code or of
// the kind, or a Public diagnostic, never err.Error(), which may carry
// internal detail.
package fault
