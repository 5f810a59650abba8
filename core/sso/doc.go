// Package sso is single sign-on and logout everywhere in the browser: it
// drives the SSO session (core/session) between the authorization server
// (core/authz) and the login pages.
//
//	browser  GET /login?id=…     Resume: the browser's session answers the request (a code, no
//	                              page), or asks for the app's confirmation only (step-up), or
//	                              the login page is shown; prompt=none never shows a page: it
//	                              answers login_required, interaction_required or consent_required
//	browser  after a web login    Begin: a new session (the browser's old one ends), its secret in
//	                              a __Host- cookie; StepUp raises it after the app's confirmation
//	browser  /end_session         End: the session ends, every token family issued in it is
//	                              revoked in the same transaction, and each relying party it
//	                              served with a backchannel_logout_uri gets a logout token
//	app/ops  device revoked       EndOfBinding: the sessions the device confirmed end the same way
//
// What a security reviewer checks here: a session is found only by the
// hash of a 256-bit secret the browser holds; it never answers a request
// above its level, older than max_age, after prompt=login, or for a
// member other than the one a hint names; ending it cannot race a code
// exchange into a surviving token family (the store ends and revokes in
// one transaction, and refuses families for ended sessions); the
// relying parties are told even when Pforte crashes between ending the
// session and queueing the logout tokens (Sweep).
//
// Layer: core use case. Imports: standard library, core packages and ports.
package sso
