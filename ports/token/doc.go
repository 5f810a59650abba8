// Package token is the port for signing and verifying Pforte's own JWTs and
// for verifying clients' signed assertions. The core builds claims and
// decides; the adapter does the JOSE.
//
// Layer: ports. Imports: standard library, core/dpop.
package token
