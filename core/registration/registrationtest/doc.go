// Package registrationtest provides World, every port the registration
// use case and the letter proofing method use, for their tests (like
// net/http/httptest for net/http): the store ports passed on to the real
// store the test opens (sqlstore on SQLite, which the conformance suite
// checks), with a call log and injection points, a renderer and an outbox
// in memory, and a clock.
//
// Layer: core use case test helper. Imports: standard library, core domain
// packages (account, coretest, enrollment, fault, kvnr, letter, member, proof) and
// ports (letterprint, store). Never net/http or a storage library: the
// test hands the store in.
package registrationtest
