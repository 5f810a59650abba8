// Package backchannel delivers logout tokens to relying parties when a
// member's session ends (OpenID Connect Back-Channel Logout 1.0).
//
// Whoever ends a session (RP-initiated logout, a revoked device, a
// lockout, an account change) calls Enqueue, or EnqueueSession, with the
// session's sid and the relying parties it served. That writes one job
// per relying party with a backchannel_logout_uri into a durable queue in
// the database (store.LogoutJobs) and returns; the caller never waits for
// a relying party. Workers (Run, in every replica) claim due jobs under a
// lease, sign a fresh logout token per attempt (typ logout+jwt; iss, aud,
// iat, exp, jti, sid, sub, events; never a nonce) and post it through
// ports/logoutdelivery. A delivered job is removed; a failed one is tried
// again after a growing, jittered wait (logoutjob.Backoff) until
// Config.GiveUpAfter has passed since the session ended, and then it is
// removed with an audit event (audit.BackchannelLogoutGivenUp).
//
// Once per replica set: a job is leased to one worker at a time, and the
// lease (Config.Lease) outlasts a delivery, whose time Config.Timeout
// bounds. Only a worker that stops between sending and recording (a crash,
// or a database that does not answer for longer than the lease) leaves a
// job that another worker sends again; relying parties treat a logout
// token for a session they already ended as done (§2.7).
//
// What a security reviewer checks here: the token names the member only
// by the sub the relying party knows (pairwise where it has a sector); it
// lives Config.TokenTTL; a relying party that was removed, or no longer
// has a back-channel logout URI, gets nothing more; no token or secret
// reaches a log or the audit trail.
//
// Layer: core use case. Imports: standard library, core packages and
// ports. Never net/http: adapters/backchannel carries the token.
package backchannel
