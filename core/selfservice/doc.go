// Package selfservice is the member's account page: devices, browser
// sessions, consents, the password and the recent security events of one
// account, for the member who logged in to it with two factors.
//
// The account page is a relying party of Pforte like any online form: a
// built-in confidential client (Client, id DefaultClientID) that needs
// loa.Substantial (password and the app's confirmation). It sends the
// browser to the authorization endpoint with state, nonce and PKCE
// (Begin), takes the code at its callback and redeems it in process
// through core/authz, with no HTTP to itself, and verifies the ID token
// as a relying party must: signature, iss, aud, azp, exp, nonce, acr and
// sid (Finish).
//
//	browser  GET /account           no account login: Begin → /authorize (state, nonce, S256)
//	browser  GET /account/callback  Finish: code redeemed, ID token checked, the login names
//	                                the browser's SSO session (sid)
//	browser  every request          Authenticate: the login's sid is the browser's current
//	                                SSO session, still active and at least substantial
//	browser  password change        Begin(ForPassword): prompt=login, max_age=0, so the member
//	                                types the current password and confirms in the app; the
//	                                callback gives a single-use Ticket for the new password
//
// What a security reviewer checks here: the page's login lives no longer
// than the SSO session it was made in (logging out anywhere, a revoked
// device or "sign out everywhere" end it at once), and never at a lower
// level; every action names an object by id and is refused unless that
// object is the logged-in account's own (another member's device,
// consent or session is NotFound, the same answer as an unknown id); the
// cookie values are MACed under a key derived from the master key, so a
// browser cannot make one up; a password ticket comes only from a fresh
// two-factor login of this session, holds 10 minutes and is spent once.
//
// Layer: core use case. Imports: standard library, core packages and ports.
package selfservice
