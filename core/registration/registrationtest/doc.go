// Package registrationtest provides World, one in-memory fake of every
// port the registration use case and the letter proofing method use, for
// their tests (like net/http/httptest for net/http).
//
// Layer: core use case test helper. Imports: standard library, core domain
// packages (account, enrollment, fault, kvnr, letter, member, proofing) and
// ports (letters, store). Never net/http or a storage library.
package registrationtest
