// Package member is the insurer's master data of an insured person, as the
// member directory reports it. Pforte reads it; it does not own it.
//
// Layer: core domain. Imports: standard library, core/kvnr.
package member
