// Package e2e holds the end-to-end tests: the real server, built by the
// composition root cmd/pforte/server exactly as `pforte serve` builds it,
// listens on a loopback port and is driven over HTTP by real clients —
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2 for the relying
// parties, a cookie-keeping HTTP client for the member's browser on the
// login page, the reference client's software platform authenticator for
// the app's device key, and an SMTP relay (github.com/emersion/go-smtp)
// in the test process for the members' notifications. Every scenario runs
// on SQLite and, when PFORTE_TEST_POSTGRES_DSN is set, on PostgreSQL in a
// schema of its own (PFORTE_TEST_REQUIRE_POSTGRES=1 turns a missing DSN
// into a failure).
//
// Layer: test. Imports: anything; nothing imports it.
package e2e
