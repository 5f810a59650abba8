// Package account is a member's login account at Pforte: the credentials and
// the proofing level, as opposed to the insurer's master data (core/member).
//
// Layer: core domain. Imports: standard library, core/fault, core/kvnr, core/loa.
package account
