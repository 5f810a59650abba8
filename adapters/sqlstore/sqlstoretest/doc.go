// Package sqlstoretest opens fresh SQLite and PostgreSQL databases for
// tests: one file or one schema per test, removed when the test ends.
//
// Layer: test support of the sqlstore adapter. Imports: the adapter and the
// standard library; only _test.go files and test/ import it.
//
// PostgreSQL runs when PFORTE_TEST_POSTGRES_DSN names a server. Without it
// the PostgreSQL tests are skipped, and the first package of a `go test`
// run that skips one says so on the terminal, once, with the command that
// runs them; PFORTE_TEST_REQUIRE_POSTGRES=1 (set by CI) turns the skip
// into a failure, so that CI never passes by skipping.
//
// Open gives the tests of other packages a migrated store on SQLite: the
// use cases in core run their tests on the real store, whose behaviour the
// conformance suite (ports/store/storetest) checks, instead of on
// hand-written copies of it.
package sqlstoretest
