// Package grant holds what an authorization server remembers between
// requests: authorization requests, codes, refresh token families and issued
// access tokens.
//
// Layer: core domain. Imports: standard library, core/fault, core/loa.
package grant
