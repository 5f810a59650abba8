// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// in a test's process, for the tests of the mail adapter, of the operator
// commands and the end-to-end tests: each brings the backend that keeps
// what it needs of the sessions.
//
// Layer: test support of the mail adapter. Imports: go-smtp and the
// standard library; only _test.go files and test/ import it.
package mailtest
