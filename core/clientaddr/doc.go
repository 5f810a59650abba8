// Package clientaddr is the rule that names the address a request came
// from, for rate limits and password throttling: the peer, or, when the
// peer is a trusted reverse proxy, the right-most address in
// X-Forwarded-For that is not a trusted proxy itself. The left part of the
// header is whatever the client wrote and proves nothing, so an attacker
// cannot pick the address their guesses are counted against.
//
// Layer: core domain. Imports: standard library.
package clientaddr
